package session

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AssertionTTL is the lifetime of an identity assertion (≤ 5 minutes).
const AssertionTTL = 5 * time.Minute

// Claims of the identity assertion handed to backends.
type Claims struct {
	Issuer        string `json:"iss"`
	Subject       string `json:"sub"`
	Audience      string `json:"aud"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified"`
	// PhoneNumber is the customer's verified phone number (E.164), if
	// any: for a customer who signed up by phone, their only contact.
	PhoneNumber         string   `json:"phone_number,omitempty"`
	PhoneNumberVerified bool     `json:"phone_number_verified,omitempty"`
	AMR                 []string `json:"amr,omitempty"`
	ACR                 string   `json:"acr,omitempty"`
	AuthTime            int64    `json:"auth_time"`
	SID                 string   `json:"sid"`
	IssuedAt            int64    `json:"iat"`
	Expiry              int64    `json:"exp"`
	// IdP names the OpenID Provider the customer signed in with.
	IdP string `json:"idp,omitempty"`
	// Consent is the customer's answer on each consent purpose the site
	// lists: purpose id → "granted" or "denied".
	Consent map[string]string `json:"consent,omitempty"`
	// Profile holds the profile fields the site names that the customer
	// has given: field name → value.
	Profile map[string]string `json:"profile,omitempty"`
	// Roles are the customer's roles; Attrs the attributes the site lists
	// that the customer has.
	Roles []string          `json:"roles,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
	// Act names who acts for the customer (an API key, an agent);
	// Scope is what it may do.
	Act   *Actor `json:"act,omitempty"`
	Scope string `json:"scope,omitempty"`
	// ClientID names the app whose access token the customer's request
	// came with (RFC 9068 client_id).
	ClientID string `json:"client_id,omitempty"`
	// Risk is how risky the site's risk policy judges the session's
	// sign-in and this request, and why (a site without one: absent).
	Risk *RiskClaim `json:"risk,omitempty"`
}

// RiskClaim is the risk claim: level low, medium or high, and the
// signals that made it (new_device, session_moved, …).
type RiskClaim struct {
	Level   string   `json:"level"`
	Signals []string `json:"signals,omitempty"`
}

// Actor is the act claim (RFC 8693).
type Actor struct {
	Sub string `json:"sub"`
}

// Extra is what the gateway states beside the session in an assertion.
// The zero Extra adds nothing.
type Extra struct {
	// Consent is the consent header value, "a=granted, b=denied", from
	// which the consent claim is made; "" for none.
	Consent string
	// Profile is the profile fields the site names that the customer has
	// given, in the site's order (none given: nil).
	Profile []Field
	// Roles is the customer's roles, comma-separated ("" for none).
	Roles string
	// Attrs is the attributes the site lists that the customer has, in
	// the site's order.
	Attrs []Field
	// Actor is who acts for the customer (an API key's id), Scope what it
	// may do ("" for a person's session).
	Actor, Scope string
	// Client is the app whose access token the request came with ("" for
	// none).
	Client string
	// Risk is the risk level ("" when the site judges none) and
	// RiskSignals its signals, space-separated.
	Risk, RiskSignals string
	// Phone is the customer's verified phone number (E.164), "" for none:
	// read from the account, not the session, so a change shows at once.
	Phone string
}

// Field is one profile field's or attribute's value.
type Field struct{ Name, Value string }

// actClaim is the act claim of an actor, nil for none.
func actClaim(actor string) *Actor {
	if actor == "" {
		return nil
	}
	return &Actor{Sub: actor}
}

// riskClaim is the risk claim, nil when the site judges no risk.
func riskClaim(level, signals string) *RiskClaim {
	if level == "" {
		return nil
	}
	return &RiskClaim{Level: level, Signals: strings.Fields(signals)}
}

// rolesClaim turns the roles header value into the claim.
func rolesClaim(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// fieldsClaim turns fields into a claim.
func fieldsClaim(fs []Field) map[string]string {
	if len(fs) == 0 {
		return nil
	}
	m := make(map[string]string, len(fs))
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

// consentClaim turns the header form into the claim.
func consentClaim(v string) map[string]string {
	if v == "" {
		return nil
	}
	m := make(map[string]string)
	for item := range strings.SplitSeq(v, ",") {
		if k, val, ok := strings.Cut(strings.TrimSpace(item), "="); ok {
			m[k] = val
		}
	}
	return m
}

// SID is the session handle published in assertions and tokens: the
// session's family (Session.Family) when it joined one, else derived from
// the storage key, so it names the session without being a bearer secret.
func SID(s *Session) string {
	if s.Family != "" {
		return s.Family
	}
	h := s.Key
	if i := strings.LastIndexByte(h, '.'); i >= 0 {
		h = h[i+1:]
	}
	if len(h) > 22 {
		return h[:22]
	}
	return h
}

// Assertions signs identity assertions and caches them per session and
// audience, re-signing only when half the lifetime has passed or the
// session changed. The cache lives as long as the KeyRing's owner.
type Assertions struct {
	ring *KeyRing

	mu    sync.RWMutex
	cache map[stampKey]*Stamp
	puts  int
}

type stampKey struct{ key, issuer, audience string }

// Stamp is what a backend is told of one session: the signed assertion and
// the plain values beside it, worked out once and shared by every request
// of the session until the assertion is re-signed. Read only.
type Stamp struct {
	Assertion string
	// Header values.
	UserID, Email, EmailVerified, AuthTime, AMR string
	// Placeholder-only values.
	AuthTimeRFC3339, ACR, SID string
	// Consent is the consent header value the assertion states.
	Consent string
	// Profile is the profile fields the assertion states (read only).
	Profile []Field
	// Roles and Attrs are the roles and attributes it states (read only).
	Roles string
	Attrs []Field
	// Actor and Scope are who acts and what it may do; Client the app.
	Actor, Scope, Client string
	// Risk and RiskSignals are the risk level and signals it states.
	Risk, RiskSignals string
	// Phone is the verified phone number it states ("" for none).
	Phone string

	memo     atomic.Pointer[any]
	kid      string
	authTime time.Time
	amr      []string
	verified bool
	refresh  time.Time
	expires  time.Time
}

// NewAssertions returns a signer over ring, on the ring's clock.
func NewAssertions(ring *KeyRing) *Assertions {
	return &Assertions{ring: ring, cache: make(map[stampKey]*Stamp)}
}

// Ring returns the key ring assertions are signed with.
func (a *Assertions) Ring() *KeyRing { return a.ring }

// For returns a compact JWS in which issuer asserts the session's customer
// to audience.
func (a *Assertions) For(s *Session, issuer, audience string) (string, error) {
	st, err := a.Stamp(s, issuer, audience)
	if err != nil {
		return "", err
	}
	return st.Assertion, nil
}

// Memo returns what derive makes of the stamp, made once per stamp: a
// caller keeps values it derives from the session's identity (pre-boxed
// placeholder values, say) beside the assertion, for as long as the stamp
// is served. Every caller must pass the same derive.
func (st *Stamp) Memo(derive func(*Stamp) any) any {
	if v := st.memo.Load(); v != nil {
		return *v
	}
	v := derive(st)
	st.memo.CompareAndSwap(nil, &v)
	return *st.memo.Load()
}

// fits reports whether st still describes s (and x) under the current key.
func (st *Stamp) fits(s *Session, x Extra, kid string, now time.Time) bool {
	if !now.Before(st.refresh) || st.kid != kid || st.Consent != x.Consent || st.Roles != x.Roles || st.Actor != x.Actor || st.Scope != x.Scope || st.Client != x.Client ||
		st.Risk != x.Risk || st.RiskSignals != x.RiskSignals || st.Phone != x.Phone ||
		!slices.Equal(st.Profile, x.Profile) || !slices.Equal(st.Attrs, x.Attrs) {
		return false
	}
	// Compared field by field, never by pointer: a caller may hand in the
	// same *Session changed in place.
	return st.authTime.Equal(s.AuthTime) && st.ACR == s.ACR && st.Email == s.Email &&
		st.verified == s.EmailVerified && slices.Equal(st.amr, s.AMR)
}

// Stamp returns the assertion for s and the values sent beside it, signing
// anew when the cached one is past half its life, the signing key rotated
// or the session's identity changed.
func (a *Assertions) Stamp(s *Session, issuer, audience string) (*Stamp, error) {
	return a.StampExtra(s, issuer, audience, Extra{})
}

// StampExtra is Stamp stating x too; a change of x re-signs at once.
func (a *Assertions) StampExtra(s *Session, issuer, audience string, x Extra) (*Stamp, error) {
	now := a.ring.now()
	ck := stampKey{s.Key, issuer, audience}
	st := a.ring.state.Load()
	a.mu.RLock()
	c := a.cache[ck]
	a.mu.RUnlock()
	if c != nil && c.fits(s, x, st.current.KID, now) {
		return c, nil
	}
	exp := now.Add(AssertionTTL)
	if s.ExpiresAt.Before(exp) {
		exp = s.ExpiresAt
	}
	sid := SID(s)
	payload, err := json.Marshal(Claims{
		Issuer: issuer, Subject: s.UserID, Audience: audience, Email: s.Email, EmailVerified: s.EmailVerified,
		AMR: s.AMR, ACR: s.ACR, IdP: s.IdP, AuthTime: s.AuthTime.Unix(), SID: sid, IssuedAt: now.Unix(), Expiry: exp.Unix(),
		Consent: consentClaim(x.Consent), Profile: fieldsClaim(x.Profile),
		Roles: rolesClaim(x.Roles), Attrs: fieldsClaim(x.Attrs), Act: actClaim(x.Actor), Scope: x.Scope, ClientID: x.Client,
		Risk: riskClaim(x.Risk, x.RiskSignals), PhoneNumber: x.Phone, PhoneNumberVerified: x.Phone != "",
	})
	if err != nil {
		return nil, err
	}
	jws, err := st.signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("session: sign assertion: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("session: serialise assertion: %w", err)
	}
	c = &Stamp{
		Assertion: token, UserID: s.UserID, Email: s.Email, EmailVerified: strconv.FormatBool(s.EmailVerified),
		AuthTime: strconv.FormatInt(s.AuthTime.Unix(), 10), AMR: strings.Join(s.AMR, " "),
		AuthTimeRFC3339: s.AuthTime.UTC().Format(time.RFC3339), ACR: s.ACR, SID: sid, Consent: x.Consent, Profile: x.Profile, Roles: x.Roles, Attrs: x.Attrs, Actor: x.Actor, Scope: x.Scope, Client: x.Client,
		Risk: x.Risk, RiskSignals: x.RiskSignals, Phone: x.Phone,
		kid: st.current.KID, authTime: s.AuthTime, amr: s.AMR, verified: s.EmailVerified,
		refresh: now.Add(exp.Sub(now) / 2), expires: exp,
	}
	a.mu.Lock()
	a.cache[ck] = c
	if a.puts++; a.puts >= 1024 {
		a.puts = 0
		for k, e := range a.cache {
			if !now.Before(e.expires) {
				delete(a.cache, k)
			}
		}
	}
	a.mu.Unlock()
	return c, nil
}
