package authflow

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/risk"
	"github.com/frontdoorhq/frontdoor/session"
)

// ExportVersion is the version of the export document's schema
// (docs/export-schema.json); it rises with any change a reader could
// notice.
const ExportVersion = 1

// ExportSchemaID names the schema an export follows.
const ExportSchemaID = "https://frontdoor.dev/schemas/export/v1.json"

// Consent is what export and erasure need of the consent records: the
// customer's records, each encoded as JSON as it is, and their
// anonymisation under a key. ConsentOf adapts the consent store.
type Consent interface {
	ConsentRecords(ctx context.Context, customerID string) ([]any, error)
	Anonymise(ctx context.Context, customerID string, key []byte) error
}

// ConsentSource is the consent store as it offers its records (the
// consent package's store: ConsentOf[consent.Record](store)).
type ConsentSource[R any] interface {
	Records(ctx context.Context, customerID string) ([]R, error)
	Anonymise(ctx context.Context, customerID string, key []byte) error
}

// ConsentOf adapts a consent store to Consent.
func ConsentOf[R any](s ConsentSource[R]) Consent { return consentOf[R]{s} }

type consentOf[R any] struct{ s ConsentSource[R] }

func (c consentOf[R]) ConsentRecords(ctx context.Context, id string) ([]any, error) {
	rs, err := c.s.Records(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out, nil
}

func (c consentOf[R]) Anonymise(ctx context.Context, id string, key []byte) error {
	return c.s.Anonymise(ctx, id, key)
}

// AccountData is what export and erasure need of the customer store.
type AccountData interface {
	Customer(ctx context.Context, id string) (*identity.Customer, error)
	Events(ctx context.Context, customerID string, limit int) ([]identity.Event, error)
	identity.Eraser
}

// SessionList lists a customer's sessions (session.Manager).
type SessionList interface {
	List(ctx context.Context, userID string) ([]*session.Session, error)
}

// Export is the document a customer (or an operator for them) takes
// away: everything kept about them, and no secret, hash or token. Its
// shape is docs/export-schema.json.
type Export struct {
	Schema     string          `json:"$schema"`
	Version    int             `json:"version"`
	ExportedAt time.Time       `json:"exported_at"`
	Profile    ExportProfile   `json:"profile"`
	Addresses  []ExportAddress `json:"addresses"`
	// Phones are the account's phone numbers (one at most, for now).
	Phones         []ExportPhone    `json:"phone_numbers,omitempty"`
	Identities     []ExportIdentity `json:"linked_identities"`
	Factors        ExportFactors    `json:"factors"`
	Sessions       []ExportSession  `json:"sessions"`
	PendingTokens  []ExportToken    `json:"pending_tokens"`
	Audit          []identity.Event `json:"audit_trail"`
	ConsentRecords []any            `json:"consent_records"`
	// APIKeys are the customer's personal API keys: never the key, nor
	// its hash.
	APIKeys []ExportAPIKey `json:"api_keys,omitempty"`
	// Apps are the provider clients holding the customer's tokens: never
	// a token, nor a refresh token family's id.
	Apps []ExportApp `json:"apps,omitempty"`
	// RecentSignIns are the sign-ins the risk signals compare with: when,
	// roughly where, on what device (a keyed hash of its cookie).
	RecentSignIns risk.History `json:"recent_sign_ins,omitempty"`
}

// ExportApp is an app's grant.
type ExportApp struct {
	Issuer     string    `json:"issuer"`
	ClientID   string    `json:"client_id"`
	Scopes     []string  `json:"scopes,omitempty"`
	GrantedAt  time.Time `json:"granted_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	// An agent acting for the customer, until Until, last from
	// LastUsedNetwork (never its grant's id).
	Agent           bool      `json:"agent,omitempty"`
	Until           time.Time `json:"until,omitzero"`
	LastUsedNetwork string    `json:"last_used_network,omitempty"`
}

// ExportAPIKey is a personal API key's metadata.
type ExportAPIKey struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Hint            string    `json:"hint"`
	Paths           []string  `json:"paths,omitempty"`
	Methods         []string  `json:"methods,omitempty"`
	Scopes          []string  `json:"scopes,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	LastUsedAt      time.Time `json:"last_used_at,omitzero"`
	LastUsedNetwork string    `json:"last_used_network,omitempty"`
	// RecentNetworks are the networks it was used from in the last
	// minutes (the many-networks signal).
	RecentNetworks []identity.KeyNetwork `json:"recent_networks,omitempty"`
	ManyNetworksAt time.Time             `json:"many_networks_at,omitzero"`
}

// ExportProfile is the account itself.
type ExportProfile struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Fields are the other profile fields the customer gave (field name →
	// value).
	Fields map[string]string `json:"fields,omitempty"`
	// Roles and Attributes are what the operator's sites know the
	// customer as.
	Roles       []string          `json:"roles,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	LastLoginAt time.Time         `json:"last_login_at,omitzero"`
	ErasureAt   time.Time         `json:"erasure_scheduled_at,omitzero"`
}

// ExportAddress is an email address of the account.
type ExportAddress struct {
	Email    string `json:"email"`
	Verified bool   `json:"verified"`
	Primary  bool   `json:"primary"`
}

// ExportPhone is a phone number of the account.
type ExportPhone struct {
	Phone    string `json:"phone"`
	Verified bool   `json:"verified"`
}

// ExportIdentity is a linked provider account.
type ExportIdentity struct {
	Provider      string    `json:"provider"`
	Issuer        string    `json:"issuer"`
	Subject       string    `json:"subject"`
	Email         string    `json:"email,omitempty"`
	EmailVerified bool      `json:"email_verified"`
	LinkedAt      time.Time `json:"linked_at"`
	LastUsedAt    time.Time `json:"last_used_at,omitzero"`
	Roles         []string  `json:"roles,omitempty"`
}

// ExportFactors describes how the customer signs in: which factors, when
// made and used; never their secrets or hashes.
type ExportFactors struct {
	Password          bool                  `json:"password"`
	TOTP              *ExportTOTP           `json:"totp"`
	RecoveryCodesLeft int                   `json:"recovery_codes_left"`
	Passkeys          []ExportPasskey       `json:"passkeys"`
	TrustedDevices    []ExportTrustedDevice `json:"trusted_devices"`
}

// ExportTOTP is an authenticator app.
type ExportTOTP struct {
	CreatedAt time.Time `json:"created_at"`
}

// ExportPasskey is a passkey's metadata.
type ExportPasskey struct {
	Name       string    `json:"name,omitempty"`
	Synced     bool      `json:"synced"`
	Transports []string  `json:"transports,omitempty"`
	Flagged    bool      `json:"flagged"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// ExportTrustedDevice is a browser remembered for the second factor.
type ExportTrustedDevice struct {
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ExportSession is a signed-in browser.
type ExportSession struct {
	Site      string    `json:"site,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	IP        string    `json:"ip,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	AuthTime  time.Time `json:"auth_time"`
	ExpiresAt time.Time `json:"expires_at"`
	Methods   []string  `json:"methods,omitempty"`
	Level     string    `json:"level,omitempty"`
	Provider  string    `json:"provider,omitempty"`
	// Risk and RiskSignals: how risky the site judged the sign-in, why.
	Risk        string   `json:"risk,omitempty"`
	RiskSignals []string `json:"risk_signals,omitempty"`
}

// ExportToken is a pending one-time token (a link or code mailed, a
// sign-in waiting): what it is for and until when, never the token.
type ExportToken struct {
	Kind      string    `json:"kind"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ExportInput names the customer and who asks.
type ExportInput struct {
	CustomerID string
	Client     Client
	// Operator's reason, when an operator exports for the customer.
	Operator bool
	Reason   string
}

// Export gathers everything kept about a customer; identity.ErrNotFound
// if there is none. The export is recorded in their audit trail.
func (f *Flows) Export(ctx context.Context, in ExportInput) (*Export, error) {
	c, err := f.Data.Customer(ctx, in.CustomerID)
	if err != nil {
		return nil, err
	}
	x := &Export{Schema: ExportSchemaID, Version: ExportVersion, ExportedAt: f.now().UTC(),
		Profile:   ExportProfile{ID: c.ID, Name: c.Name, Fields: c.Profile, Roles: c.Roles, Attributes: c.Attributes, CreatedAt: c.CreatedAt, LastLoginAt: c.LastLoginAt, ErasureAt: c.ErasureAt},
		Addresses: []ExportAddress{},
		Factors: ExportFactors{Password: c.PasswordHash != "", RecoveryCodesLeft: len(c.RecoveryCodes),
			Passkeys: []ExportPasskey{}, TrustedDevices: []ExportTrustedDevice{}},
		Identities: []ExportIdentity{}, Sessions: []ExportSession{}, PendingTokens: []ExportToken{},
		Audit: []identity.Event{}, ConsentRecords: []any{}}
	if c.Email != "" { // none for a customer who signed up by phone
		x.Addresses = append(x.Addresses, ExportAddress{Email: c.Email, Verified: c.EmailVerified, Primary: true})
	}
	if c.Phone != "" {
		x.Phones = []ExportPhone{{Phone: c.Phone, Verified: c.PhoneVerified}}
	}
	if c.TOTP != nil {
		x.Factors.TOTP = &ExportTOTP{CreatedAt: c.TOTP.CreatedAt}
	}
	for _, p := range c.Passkeys {
		x.Factors.Passkeys = append(x.Factors.Passkeys, ExportPasskey{Name: p.Name, Synced: p.BackupState, Transports: p.Transports,
			Flagged: p.Flagged, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt})
	}
	for _, d := range c.TrustedDevices {
		x.Factors.TrustedDevices = append(x.Factors.TrustedDevices, ExportTrustedDevice{Name: d.Name, CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt})
	}
	for _, k := range c.APIKeys {
		x.APIKeys = append(x.APIKeys, ExportAPIKey{ID: k.ID, Name: k.Name, Hint: k.Hint, Paths: k.Paths, Methods: k.Methods, Scopes: k.Scopes,
			CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, LastUsedNetwork: k.LastUsedNetwork,
			RecentNetworks: k.RecentNetworks, ManyNetworksAt: k.ManyNetworksAt})
	}
	x.RecentSignIns = c.Sightings
	for _, a := range c.Apps {
		x.Apps = append(x.Apps, ExportApp{Issuer: a.Issuer, ClientID: a.ClientID, Scopes: a.Scopes, GrantedAt: a.GrantedAt, LastUsedAt: a.LastUsedAt,
			Agent: a.Agent, Until: a.Until, LastUsedNetwork: a.LastUsedNetwork})
	}
	for _, li := range c.Identities {
		x.Identities = append(x.Identities, ExportIdentity{Provider: li.Provider, Issuer: li.Issuer, Subject: li.Subject, Email: li.Email,
			EmailVerified: li.EmailVerified, LinkedAt: li.LinkedAt, LastUsedAt: li.LastUsedAt, Roles: li.Roles})
	}
	if f.SessionList != nil {
		all, err := f.SessionList.List(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("authflow: export: sessions: %w", err)
		}
		for _, s := range all {
			x.Sessions = append(x.Sessions, ExportSession{Site: s.Site, UserAgent: s.UserAgent, IP: s.IP, CreatedAt: s.CreatedAt,
				LastSeen: s.LastSeen, AuthTime: s.AuthTime, ExpiresAt: s.ExpiresAt, Methods: s.AMR, Level: s.ACR, Provider: s.IdP,
				Risk: s.Risk, RiskSignals: strings.Fields(s.RiskSignals)})
		}
	}
	toks, err := f.Data.PendingTokens(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("authflow: export: tokens: %w", err)
	}
	for _, t := range toks {
		x.PendingTokens = append(x.PendingTokens, ExportToken{Kind: string(t.Kind), ExpiresAt: t.ExpiresAt})
	}
	if f.ConsentData != nil {
		rs, err := f.ConsentData.ConsentRecords(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("authflow: export: consent records: %w", err)
		}
		x.ConsentRecords = append(x.ConsentRecords, rs...)
	}
	// The export itself is in the trail it carries.
	f.auditDetail(ctx, in.Client, c.ID, identity.EventExported, operatorDetail(in.Operator, in.Reason))
	events, err := f.Data.Events(ctx, c.ID, identity.MaxEvents)
	if err != nil {
		return nil, fmt.Errorf("authflow: export: audit trail: %w", err)
	}
	x.Audit = append(x.Audit, events...)
	return x, nil
}

// operatorDetail is the audit detail of something an operator did for a
// customer: their reason.
func operatorDetail(operator bool, reason string) string {
	if !operator {
		return ""
	}
	return "operator: " + reason
}
