package risk

import (
	"fmt"
	"slices"
	"strings"
)

// Action is what a policy does about a signal.
type Action string

const (
	// Allow: nothing (the signal is still logged and told to backends).
	Allow Action = "allow"
	// Notify: the customer is told (mail with a "this wasn't me" link).
	Notify Action = "notify"
	// StepUp: the account's second factor, or a code mailed to the
	// verified address when it has none, before the sign-in completes.
	StepUp Action = "stepup"
	// Deny: the sign-in is refused.
	Deny Action = "deny"
	// Reset: the sign-in continues only through a password reset
	// (breached_password).
	Reset Action = "reset"
)

var actions = []Action{Allow, Notify, StepUp, Deny, Reset}

// Level is how risky a decision judged a sign-in or a request:
// X-Frontdoor-Risk.
type Level string

const (
	Low    Level = "low"
	Medium Level = "medium"
	High   Level = "high"
)

// severity is each signal's own level.
var severity = map[Signal]Level{
	NewDevice: Low, NewNetwork: Low, NewCountry: Medium, AnonymousNetwork: Medium, RecentFailures: Medium,
	ImpossibleTravel: High, BreachedPassword: High, SessionMoved: High, SessionNetwork: Low,
}

// Mode: enforce acts; audit decides, logs and tells backends, but acts on
// nothing.
type Mode string

const (
	Enforce Mode = "enforce"
	Audit   Mode = "audit"
)

// Policy maps signals to actions (a site's risk { … } block).
type Policy struct {
	Actions map[Signal][]Action `json:"actions,omitempty"`
	Mode    Mode                `json:"mode,omitempty"`
}

// DefaultPolicy is what a site with an empty risk block does: customers
// almost never see a second prompt — only for what is really off.
func DefaultPolicy() Policy {
	return Policy{Mode: Enforce, Actions: map[Signal][]Action{
		NewDevice:        {Notify},
		NewCountry:       {Notify},
		NewNetwork:       {Allow},
		ImpossibleTravel: {StepUp, Notify},
		AnonymousNetwork: {Allow},
		BreachedPassword: {Reset},
		RecentFailures:   {StepUp},
		SessionMoved:     {StepUp},
		SessionNetwork:   {Allow},
	}}
}

// defaultActions are DefaultPolicy's, for signals a policy leaves out.
var defaultActions = DefaultPolicy().Actions

// Set sets a signal's actions, as the Caddyfile names them; the error
// says what is allowed.
func (p *Policy) Set(signal string, names ...string) error {
	s := Signal(signal)
	if !slices.Contains(Signals, s) {
		return fmt.Errorf("unknown signal %q (known: %s)", signal, joinSignals())
	}
	if len(names) == 0 {
		return fmt.Errorf("%s needs an action (allow, notify, stepup, deny%s)", signal, map[bool]string{true: ", reset"}[s == BreachedPassword])
	}
	var acts []Action
	for _, n := range names {
		a := Action(n)
		if !slices.Contains(actions, a) || a == Reset && s != BreachedPassword {
			return fmt.Errorf("%s: unknown action %q (allow, notify, stepup, deny%s)", signal, n, map[bool]string{true: ", reset"}[s == BreachedPassword])
		}
		if !slices.Contains(acts, a) {
			acts = append(acts, a)
		}
	}
	if len(acts) > 1 && slices.Contains(acts, Allow) {
		return fmt.Errorf("%s: allow cannot be combined with other actions", signal)
	}
	if p.Actions == nil {
		p.Actions = map[Signal][]Action{}
	}
	p.Actions[s] = acts
	return nil
}

func joinSignals() string {
	names := make([]string, len(Signals))
	for i, s := range Signals {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// Decision is a policy's answer to the findings of one sign-in or
// request: explainable (the findings say why), and acted on only in
// enforce mode.
type Decision struct {
	Level    Level     `json:"level"`
	Findings []Finding `json:"findings,omitempty"`
	// Actions are what the policy asks, strongest first (deny, reset,
	// stepup, notify); empty: allow.
	Actions []Action `json:"actions,omitempty"`
	// Enforced: the actions are carried out (mode enforce).
	Enforced bool `json:"enforced"`
}

// Decide applies the policy to the findings.
func (p Policy) Decide(findings []Finding) Decision {
	d := Decision{Level: Low, Findings: findings, Enforced: p.Mode != Audit}
	for _, f := range findings {
		if rank(severity[f.Signal]) > rank(d.Level) {
			d.Level = severity[f.Signal]
		}
		acts, ok := p.Actions[f.Signal]
		if !ok {
			acts = defaultActions[f.Signal]
		}
		for _, a := range acts {
			if a != Allow && !slices.Contains(d.Actions, a) {
				d.Actions = append(d.Actions, a)
			}
		}
	}
	order := []Action{Deny, Reset, StepUp, Notify}
	slices.SortFunc(d.Actions, func(a, b Action) int { return slices.Index(order, a) - slices.Index(order, b) })
	return d
}

// Asks reports whether the decision, enforced, asks for a.
func (d Decision) Asks(a Action) bool { return d.Enforced && slices.Contains(d.Actions, a) }

// Signals lists the decision's signals (the assertion's risk claim).
func (d Decision) Signals() []string {
	out := make([]string, len(d.Findings))
	for i, f := range d.Findings {
		out[i] = string(f.Signal)
	}
	return out
}

// Max returns the higher of two levels ("" counts as low).
func Max(a, b Level) Level {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

func rank(l Level) int {
	switch l {
	case High:
		return 2
	case Medium:
		return 1
	}
	return 0
}
