package session

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// AssertionTTL is the lifetime of an identity assertion (≤ 5 minutes).
const AssertionTTL = 5 * time.Minute

// Claims of the identity assertion handed to backends.
type Claims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      string   `json:"aud"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified"`
	AMR           []string `json:"amr,omitempty"`
	ACR           string   `json:"acr,omitempty"`
	AuthTime      int64    `json:"auth_time"`
	SID           string   `json:"sid"`
	IssuedAt      int64    `json:"iat"`
	Expiry        int64    `json:"exp"`
}

// SID is the session handle published in assertions: derived from the
// storage key, so it names the session without being a bearer secret.
func SID(s *Session) string {
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
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]cachedAssertion
	puts  int
}

type cachedAssertion struct {
	token    string
	kid      string
	authTime time.Time
	acr      string
	amr      []string
	email    string
	verified bool
	refresh  time.Time
	expires  time.Time
}

// NewAssertions returns a signer over ring.
func NewAssertions(ring *KeyRing) *Assertions {
	return &Assertions{ring: ring, Now: time.Now, cache: make(map[string]cachedAssertion)}
}

// Ring returns the key ring assertions are signed with.
func (a *Assertions) Ring() *KeyRing { return a.ring }

// For returns a compact JWS in which issuer asserts the session's customer
// to audience.
func (a *Assertions) For(s *Session, issuer, audience string) (string, error) {
	now := a.Now()
	ck := s.Key + "|" + issuer + "|" + audience
	st := a.ring.state.Load()
	a.mu.Lock()
	c, ok := a.cache[ck]
	a.mu.Unlock()
	if ok && now.Before(c.refresh) && c.kid == st.current.KID && c.authTime.Equal(s.AuthTime) &&
		c.acr == s.ACR && c.email == s.Email && c.verified == s.EmailVerified && slices.Equal(c.amr, s.AMR) {
		return c.token, nil
	}
	exp := now.Add(AssertionTTL)
	if s.ExpiresAt.Before(exp) {
		exp = s.ExpiresAt
	}
	payload, err := json.Marshal(Claims{
		Issuer: issuer, Subject: s.UserID, Audience: audience, Email: s.Email, EmailVerified: s.EmailVerified,
		AMR: s.AMR, ACR: s.ACR, AuthTime: s.AuthTime.Unix(), SID: SID(s), IssuedAt: now.Unix(), Expiry: exp.Unix(),
	})
	if err != nil {
		return "", err
	}
	jws, err := st.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("session: sign assertion: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("session: serialise assertion: %w", err)
	}
	a.mu.Lock()
	a.cache[ck] = cachedAssertion{token: token, kid: st.current.KID, authTime: s.AuthTime, acr: s.ACR, amr: s.AMR,
		email: s.Email, verified: s.EmailVerified, refresh: now.Add(exp.Sub(now) / 2), expires: exp}
	if a.puts++; a.puts >= 1024 {
		a.puts = 0
		for k, e := range a.cache {
			if !now.Before(e.expires) {
				delete(a.cache, k)
			}
		}
	}
	a.mu.Unlock()
	return token, nil
}
