package identity

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/risk"
)

// Customer is one customer account. The ID is stable and random; the email
// is stored normalised. Email is "" for a customer who signed up by phone
// alone; Phone is then set: every customer has at least one of the two (the
// stores refuse to create a customer with neither, and SetPhone to take
// the number of a customer without an address).
type Customer struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	// Phone is the customer's phone number in E.164 form (+447700900123),
	// unique among customers; it changes only through SetPhone, which
	// moves the phone index with it. PhoneVerified: a code texted to it
	// was typed back.
	Phone         string `json:"phone,omitempty"`
	PhoneVerified bool   `json:"phone_verified,omitempty"`
	// SMSFactor: the customer asked for a code texted to Phone as their
	// second factor at sign-in (a restricted authenticator: see
	// HasSMSFactor). It counts only while Phone is verified.
	SMSFactor   bool      `json:"sms_factor,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	LastLoginAt time.Time `json:"last_login_at,omitzero"`
	// PasswordHash is a PHC-formatted argon2id hash, parameters included;
	// empty when the customer has no password.
	PasswordHash string `json:"password_hash,omitempty"`
	// PasswordResetRequired: the password (an imported legacy hash of a
	// weak scheme) is not enough to sign in; the customer is sent a reset
	// link once they prove it (authflow.PasswordSignIn).
	PasswordResetRequired bool `json:"password_reset_required,omitempty"`
	// SupportCode is a code the customer asked for on their account page
	// to prove who they are to a support agent on the phone: its hash
	// and end (authflow's assisted service).
	SupportCode *SupportCode `json:"support_code,omitempty"`
	// ViewCode is a code the customer gave a support agent to see the
	// account as they do, for a short while (the same shape).
	ViewCode *SupportCode `json:"view_code,omitempty"`
	// FactorRemoval is a support agent's request to remove the customer's
	// second factors (authflow's assisted service), pending.
	FactorRemoval *FactorRemoval `json:"factor_removal,omitempty"`

	// Second factors and remembered browsers (see factors.go).
	TOTP *TOTP `json:"totp,omitempty"`
	// RecoveryCodes are the hashes of the unused recovery codes.
	RecoveryCodes  []string        `json:"recovery_codes,omitempty"`
	Passkeys       []Passkey       `json:"passkeys,omitempty"`
	TrustedDevices []TrustedDevice `json:"trusted_devices,omitempty"`

	// Name is how the customer is addressed (from a provider's profile,
	// or the profile field "name").
	Name string `json:"name,omitempty"`
	// Profile holds the other profile fields the operator declared, by
	// field name.
	Profile map[string]string `json:"profile,omitempty"`

	// Roles (sorted, no repeats) and Attributes say who the customer is to
	// the operator's sites (see roles.go).
	Roles      []string          `json:"roles,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`

	// APIKeys are the customer's personal API keys (see apikey.go).
	APIKeys []APIKey `json:"api_keys,omitempty"`

	// Sightings are the customer's recent sign-ins — when, where, on what
	// device — for the risk signals (at most 10, at most 90 days).
	Sightings risk.History `json:"sightings,omitempty"`

	// Apps are the provider clients holding tokens of the customer (see
	// apps.go).
	Apps []AppGrant `json:"apps,omitempty"`
	// SessionsEndedAt is when every session of the customer was last
	// ended ("sign out everywhere", a reset): tokens issued from a session
	// that began before it end too, even one that had expired already.
	SessionsEndedAt time.Time `json:"sessions_ended_at,omitzero"`

	// Identities are the linked provider accounts (see federated.go).
	Identities []LinkedIdentity `json:"identities,omitempty"`

	// ErasureAt, when set, is when the account is to be deleted (the
	// customer asked, with a grace period; see Eraser.ScheduleErasure).
	ErasureAt time.Time `json:"erasure_at,omitzero"`
}

// Errors shared by every Store implementation.
var (
	ErrNotFound   = errors.New("identity: not found")
	ErrEmailTaken = errors.New("identity: email already registered")
	ErrBadEmail   = errors.New("identity: invalid email address")
)

// NewID returns a new random customer id: 160 bits, lower-case base32,
// prefixed so ids are recognisable in logs and headers.
func NewID() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥1.24)
	return "u_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// RFC 5321 limits: a forward path, and its local part.
const (
	maxEmailLen = 254
	maxLocalLen = 64
)

// isHostname reports whether d is dot-separated letters, digits and
// hyphens: no domain literal such as "[127.0.0.1]", which would have the
// mail relay connect to an address the visitor chose.
func isHostname(d string) bool {
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// NormalizeEmail validates a customer-typed address and returns its
// canonical form: trimmed, lower-cased, a bare addr-spec (no display name).
// Lower-casing the local part is a deliberate choice: customers expect
// "Jane@Example.com" and "jane@example.com" to be one account.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxEmailLen {
		return "", ErrBadEmail
	}
	// ASCII only: the mailer cannot send to anything else (no SMTPUTF8).
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return "", ErrBadEmail
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", fmt.Errorf("%w: %q", ErrBadEmail, s)
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 {
		return "", ErrBadEmail
	}
	domain := s[at+1:]
	if at > maxLocalLen || !strings.Contains(domain, ".") || !isHostname(domain) {
		return "", ErrBadEmail
	}
	return strings.ToLower(s), nil
}

// Handle is how the customer is named to them and their authenticators
// (a passkey's user name): the address, or the number of a customer who
// signed up by phone.
func (c *Customer) Handle() string {
	if c.Email == "" {
		return c.Phone
	}
	return c.Email
}

// ContactVerified reports whether the account's way to reach its
// customer is proven: the address, or — for a customer without one — the
// phone number.
func (c *Customer) ContactVerified() bool {
	if c.Email == "" {
		return c.Phone != "" && c.PhoneVerified
	}
	return c.EmailVerified
}

// SupportCode is a customer's code for a support agent: only its hash.
type SupportCode struct {
	Hash  []byte    `json:"hash"`
	Until time.Time `json:"until"`
}

// FactorRemoval is a support agent's pending request to remove the
// customer's second factors: at the end of a cooling-off period (At), or
// at once when a second agent approves (At zero).
type FactorRemoval struct {
	Agent     string    `json:"agent"`
	Requested time.Time `json:"requested"`
	At        time.Time `json:"at,omitzero"`
	Reason    string    `json:"reason"`
	Ticket    string    `json:"ticket,omitempty"`
}

// RemoveSecondFactors removes every second factor of the customer — the
// authenticator app, passkeys, recovery codes, texted codes (the number
// stays, unverified as a factor: a lost phone is what this is for) — and
// the browsers remembered after one.
func (c *Customer) RemoveSecondFactors() {
	c.TOTP, c.Passkeys, c.RecoveryCodes, c.FactorRemoval = nil, nil, nil, nil
	c.SMSFactor = false
	c.ForgetDevices()
}
