package identity

import (
	"strings"

	"github.com/frontdoorhq/frontdoor/risk"
)

// RiskNote is a sign-in's risk decision and the sighting it adds to the
// customer's history once the sign-in completes; a second-factor wait
// carries it across the second step.
type RiskNote struct {
	Decision risk.Decision `json:"decision"`
	Sighting risk.Sighting `json:"sighting"`
	// Notify: the customer is told of the sign-in once it completes.
	Notify bool `json:"notify,omitempty"`
}

// Audit event kinds of the risk judgement.
const (
	// EventRiskDecision: a sign-in's signals and what the policy made of
	// them (detail: level, signals, actions, audit or enforce).
	EventRiskDecision = "risk_decision"
	// EventRiskRefused: a sign-in the policy refused.
	EventRiskRefused = "risk_refused"
	// EventNotMe: the customer followed a mail's "this wasn't me" link:
	// every session ended, remembered devices forgotten, a reset mailed.
	EventNotMe = "not_me"
)

// Level is the decision's risk level, "" for no note (nil-safe).
func (n *RiskNote) Level() string {
	if n == nil {
		return ""
	}
	return string(n.Decision.Level)
}

// SignalList is the decision's signals, space-separated ("" for none).
func (n *RiskNote) SignalList() string {
	if n == nil {
		return ""
	}
	return strings.Join(n.Decision.Signals(), " ")
}
