package authflow

import (
	"context"
	"errors"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/risk"
	"github.com/frontdoorhq/frontdoor/session"
)

// Customers is what the journeys need of the customer store.
type Customers interface {
	CreateCustomer(ctx context.Context, c *identity.Customer) error
	Customer(ctx context.Context, id string) (*identity.Customer, error)
	CustomerByEmail(ctx context.Context, email string) (*identity.Customer, error)
	UpdateCustomer(ctx context.Context, id string, fn func(*identity.Customer) error) (*identity.Customer, error)
	ChangeEmail(ctx context.Context, id, email string) (*identity.Customer, error)
	// The phone number and its index (identity.PhoneStore).
	identity.PhoneStore
	// Linked provider identities (identity.IdentityStore).
	identity.IdentityStore
	// Personal API keys (identity.APIKeyStore).
	identity.APIKeyStore
}

// Tokens is what the journeys need of the one-time token store.
type Tokens interface {
	PutToken(ctx context.Context, t *identity.Token) error
	ConsumeToken(ctx context.Context, kind identity.TokenKind, hash []byte, now time.Time) (*identity.Token, error)
}

// Hasher hashes and checks passwords (identity.Hasher: argon2id, bounded
// by its own queue; identity.ErrHasherBusy when that is full).
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, encoded, password string) (needsRehash bool, err error)
}

// Notifier tells a customer something by mail. The HTTP side knows the
// site's origin and templates, so it builds the links and words; the
// journeys say only what to send, to whom, with which secret. ctx carries
// the values of the request that caused the mail (the HTTP side reads the
// customer's language there), also when the mail is sent from queued
// work (later).
type Notifier interface {
	// Verify mails a verification link holding secret; passkey marks a
	// passkey-first sign-up.
	Verify(ctx context.Context, c *identity.Customer, secret string, passkey bool)
	// AlreadyRegistered tells the owner of a verified account that
	// someone tried to sign up with its address.
	AlreadyRegistered(ctx context.Context, c *identity.Customer)
	// Reset mails a password reset link holding secret.
	Reset(ctx context.Context, c *identity.Customer, secret string)
	// SignInLink mails a sign-in link holding secret, and code.
	SignInLink(ctx context.Context, c *identity.Customer, secret, code string)
	// ConfirmNewEmail mails a new address the link holding secret that
	// makes it the account's.
	ConfirmNewEmail(ctx context.Context, email, secret string)
	// EmailInUse tells the owner of an address that someone tried to
	// move another account to it.
	EmailInUse(ctx context.Context, email string)
	// EmailChanged tells the old address that the account moved to the
	// new one.
	EmailChanged(ctx context.Context, old, new string)
	// Invitation mails the link holding secret that grants role to the
	// account of email, working until expires.
	Invitation(ctx context.Context, email, secret, role string, expires time.Time)
	// NewSignIn tells the customer of a sign-in the risk policy asked to
	// be told of (where, on what, when, why).
	NewSignIn(ctx context.Context, c *identity.Customer, s risk.Sighting, d risk.Decision)
	// RiskCode mails the code of a risk step-up.
	RiskCode(ctx context.Context, c *identity.Customer, code string)
	// SupportCode mails the code a support agent's caller reads back
	// (assisted service).
	SupportCode(ctx context.Context, c *identity.Customer, code string)
	// FactorRemoval tells the customer a support agent asked to remove
	// their second factors at `at`, with a cancel link's secret; a zero
	// at: they were removed.
	FactorRemoval(ctx context.Context, c *identity.Customer, at time.Time, cancelSecret string)
}

// Sessions is what the journeys need of the session store: starting
// sessions and ending them (a reset ends them all; a failed step-up its
// own).
type Sessions interface {
	Create(ctx context.Context, n session.New) (token string, s *session.Session, err error)
	Revoke(ctx context.Context, key string) error
	// Retire removes a session its successor replaces (not an end).
	Retire(ctx context.Context, key string) error
	RevokeUser(ctx context.Context, userID string) (int, error)
	// EndFamilies marks session families (an agent's grant) ended.
	EndFamilies(ctx context.Context, userID string, sids ...string) error
}

// Events records security events on an account (identity.Store).
type Events interface {
	AppendEvent(ctx context.Context, id string, e identity.Event) error
}

// TrailPublisher is an Events that publishes the entries it records
// itself (the gateway's: it writes an entry and its webhook deliveries at
// once); the journeys then leave publishing them to it.
type TrailPublisher interface {
	Events
	PublishesTrail()
}

// FailureLimit counts failures of an account at the edge (botdefense):
// Over tells whether the account is over its limit (and for how long),
// Failed counts one more.
type FailureLimit interface {
	Over(ctx context.Context, account string) (over bool, retryAfter time.Duration, err error)
	Failed(ctx context.Context, account string) error
}

// Queue runs work off the response path (see SignUp); Do reports false
// when the work cannot be queued.
type Queue interface {
	Do(job func(ctx context.Context)) bool
}

// later queues job, which runs with the queue's context carrying the
// values of ctx, the request's: what job mails goes out as the request
// would have sent it (its language), while the queue alone decides when
// job is cut short.
func (f *Flows) later(ctx context.Context, job func(ctx context.Context)) bool {
	return f.Later.Do(func(qctx context.Context) { job(valuesOf{qctx, ctx}) })
}

// valuesOf is a context with the deadline and cancellation of one and the
// values of both (its own first).
type valuesOf struct {
	context.Context
	values context.Context
}

func (c valuesOf) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}

// Clock is the time every journey reads, injected so tests move it.
type Clock func() time.Time

// Flows runs the journeys of one site over its dependencies.
type Flows struct {
	Customers Customers
	Tokens    Tokens
	Hasher    Hasher
	Policy    identity.PasswordPolicy
	Notify    Notifier
	Later     Queue
	Clock     Clock
	Sessions  Sessions
	Events    Events
	// SecondFactorLimit counts wrong second-factor answers per customer
	// (nil: no limit but the wait's own).
	SecondFactorLimit FailureLimit
	// Phone turns the account's phone number on (nil: off; phone.go).
	Phone *PhoneSettings
	// Risk judges sign-ins against the customer's recent ones (nil: no
	// judgement; see risk.go).
	Risk *RiskSettings
	// Assist is the edge defence's part in assisted service (nil: none);
	// CoolingOff how long an agent's removal of second factors waits for
	// the customer to object (0: DefaultCoolingOff).
	Assist     AssistDefence
	CoolingOff time.Duration
	// OnMigration, when set, is told of legacy password hashes: "imported"
	// (an import kept one) and "replaced" (a sign-in replaced one by
	// argon2id) — the metrics' migrated and remaining.
	OnMigration func(event string)
	// Legacy is the system customers are being moved from: a password
	// sign-in for an address Frontdoor does not know asks it (lazy
	// migration, legacy.go; nil: never).
	Legacy LegacyAuth
	// Data is the customer store for export and erasure; SessionList
	// lists a customer's sessions for the export; ConsentData is the
	// consent records as export and erasure see them (nil: none kept,
	// exported as an empty list).
	Data        AccountData
	SessionList SessionList
	ConsentData Consent
	// ErasureKey keys the hash consent records are anonymised to.
	ErasureKey []byte
	// ErasureGrace is how long an account asked to be deleted waits
	// (0: at once); a sign-in meanwhile cancels.
	ErasureGrace time.Duration
	// ForgetAccount removes the edge defences' counters of an address
	// (nil: none kept).
	ForgetAccount func(ctx context.Context, email string) error
	// OnError hears of failures no customer is waiting for (queued work).
	OnError func(msg string, err error)
	// Purposes are the consent purposes sign-up asks for; Consent keeps
	// the answers; Site is the site's host, recorded with them.
	Purposes consent.Purposes
	Consent  ConsentRecords
	Site     string
	// WebAuthn is the site's passkey relying party (its id and origin
	// from the configuration, never from a request).
	WebAuthn *webauthn.WebAuthn
	// Publish hears of every event (events.Event): the audit trail's
	// entries and what has no trail entry (a customer created, an address
	// verified, consent changed, an account deleted). Nil: none.
	Publish func(ctx context.Context, e events.Event)
	// OnWarn hears of best-effort work that failed (a security event not
	// recorded, a browser not remembered); OnDebug of answers refused,
	// with the library's reason.
	OnWarn, OnDebug func(msg string, err error)
}

// putBackTimeout bounds restoring a token after a failure.
const putBackTimeout = 5 * time.Second

func (f *Flows) now() time.Time {
	if f.Clock == nil {
		return time.Now() // no clock injected (a zero Flows): wall time
	}
	return f.Clock()
}

func (f *Flows) debug(msg string, err error) {
	if f.OnDebug != nil {
		f.OnDebug(msg, err)
	}
}

func (f *Flows) warn(msg string, err error) {
	if f.OnWarn != nil {
		f.OnWarn(msg, err)
	}
}

func (f *Flows) failed(msg string, err error) {
	if f.OnError != nil {
		f.OnError(msg, err)
	}
}

// Outcome is what a journey's step came to; the HTTP side switches on its
// type.
type Outcome interface{ outcome() }

// Invalid: the input has field errors (field name → reason); nothing was
// done.
type Invalid struct{ Fields map[string]error }

// Reasons a field is invalid, besides identity's password policy errors.
var (
	ErrEmailInvalid     = errors.New("authflow: not an email address")
	ErrPasswordMismatch = errors.New("authflow: the two passwords differ")
	ErrPasswordMissing  = errors.New("authflow: no password")
	ErrPasswordTooLong  = errors.New("authflow: password longer than any accepted")
)

// Busy: the work could not be queued; try again shortly. It says nothing
// about the customer.
type Busy struct{}

func (Invalid) outcome() {}
func (Busy) outcome()    {}
