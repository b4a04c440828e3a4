package events

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Event is one thing that happened to a customer or a site. Its id is
// stable: the per-customer audit trail, the audit stream and every
// webhook delivery of it carry the same one, so a receiver deduplicates
// on it.
type Event struct {
	ID   string    `json:"id"`
	Type string    `json:"type"`
	Time time.Time `json:"timestamp"`
	// Site is the host the event happened on (empty: no one site, e.g. an
	// operator's action on the admin API).
	Site string `json:"site,omitempty"`
	// Customer is the customer's id (empty: not about one customer, e.g. a
	// sign-in failure for an address without an account, or a surge).
	Customer string `json:"customer_id,omitempty"`
	// Email is the customer's address, added at delivery to webhooks
	// that opt in (include_email); never stored with the event.
	Email string `json:"email,omitempty"`
	// IP and UserAgent are the client's, when the event came from one.
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// Data holds the event's own fields (see Types); never a secret.
	Data map[string]string `json:"data,omitempty"`
}

// Event types. The README's events reference lists each with its fields.
const (
	CustomerCreated          = "customer.created"
	CustomerExported         = "customer.exported"
	CustomerDeleted          = "customer.deleted"
	CustomerDeletionAsked    = "customer.deletion_scheduled"
	CustomerDeletionCanceled = "customer.deletion_cancelled"
	CustomerInvited          = "customer.invited"
	CustomerLookedUp         = "customer.looked_up"
	EmailVerified            = "email.verified"
	EmailChanged             = "email.changed"
	PhoneVerified            = "phone.verified"
	PhoneRemoved             = "phone.removed"
	SignInSucceeded          = "signin.succeeded"
	SignInFailed             = "signin.failed"
	FactorAdded              = "factor.added"
	FactorRemoved            = "factor.removed"
	FactorUsed               = "factor.used"
	FactorFlagged            = "factor.flagged"
	FactorRemovalAsked       = "factor.removal_scheduled"
	FactorRemovalCanceled    = "factor.removal_cancelled"
	PasswordChanged          = "password.changed"
	SessionRevoked           = "session.revoked"
	DevicesForgotten         = "devices.forgotten"
	ConsentChanged           = "consent.changed"
	ProfileUpdated           = "profile.updated"
	IdentityLinked           = "identity.linked"
	IdentityUnlinked         = "identity.unlinked"
	RoleGranted              = "role.granted"
	RoleRemoved              = "role.removed"
	AttributesSet            = "attributes.set"
	APIKeyCreated            = "api_key.created"
	APIKeyRevoked            = "api_key.revoked"
	APIKeyNewNetwork         = "api_key.new_network"
	AppRevoked               = "app.revoked"
	DelegationGranted        = "delegation.granted"
	DelegationRevoked        = "delegation.revoked"
	RiskDecision             = "risk.decision"
	RiskNotMe                = "risk.not_me"
	AgentAction              = "agent.action"
	SurgeStarted             = "defense.surge_started"
	SurgeEnded               = "defense.surge_ended"
)

// Types lists every event type, in the order the README documents them.
var Types = []string{
	CustomerCreated, CustomerInvited, CustomerExported, CustomerDeletionAsked, CustomerDeletionCanceled,
	CustomerDeleted, CustomerLookedUp, EmailVerified, EmailChanged, PhoneVerified, PhoneRemoved, SignInSucceeded, SignInFailed,
	FactorAdded, FactorRemoved, FactorUsed, FactorFlagged, FactorRemovalAsked, FactorRemovalCanceled,
	PasswordChanged, SessionRevoked, DevicesForgotten, ConsentChanged, ProfileUpdated,
	IdentityLinked, IdentityUnlinked, RoleGranted, RoleRemoved, AttributesSet,
	APIKeyCreated, APIKeyRevoked, APIKeyNewNetwork, AppRevoked, DelegationGranted, DelegationRevoked,
	RiskDecision, RiskNotMe, AgentAction, SurgeStarted, SurgeEnded,
}

// NewID returns a new event id: "evt_", then 26 characters of Crockford
// base32 over 48 bits of milliseconds and 80 random bits (a ULID), so ids
// sort by time and never repeat.
func NewID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go ≥1.24)
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	var out [26]byte
	// 128 bits as 26 five-bit digits, most significant first (the top
	// digit holds the two leftover bits).
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return "evt_" + string(out[:])
}

// Filter is a list of type patterns: a type ("consent.changed"), a family
// ("customer.*") or everything ("*").
type Filter []string

// ParseFilter checks patterns against the known types: a pattern that
// matches none is a typo the operator hears of.
func ParseFilter(patterns []string) (Filter, error) {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil || strings.ContainsAny(p, "?[]\\") {
			return nil, fmt.Errorf("events: %q is not an event type or a pattern such as customer.*", p)
		}
		if !slices.ContainsFunc(Types, func(t string) bool { return matchOne(p, t) }) {
			return nil, fmt.Errorf("events: %q matches no event type (known: %s)", p, strings.Join(Types, ", "))
		}
	}
	return Filter(patterns), nil
}

// Match reports whether typ is one the filter takes; an empty filter takes
// every type.
func (f Filter) Match(typ string) bool {
	if len(f) == 0 {
		return true
	}
	return slices.ContainsFunc(f, func(p string) bool { return matchOne(p, typ) })
}

func matchOne(pattern, typ string) bool {
	ok, _ := path.Match(pattern, typ)
	return ok
}
