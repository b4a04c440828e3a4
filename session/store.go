package session

import (
	"context"
	"errors"
	"time"
)

// Session is one signed-in browser as stored. It is addressed by Key, the
// SHA-256 of the bearer token in the cookie, so a copy of the store does not
// hand out live sessions.
type Session struct {
	Key    string `json:"key"`
	UserID string `json:"user_id"`
	// Email and EmailVerified are a snapshot taken at sign-in, so the hot
	// path needs no customer lookup.
	Email         string    `json:"email,omitempty"`
	EmailVerified bool      `json:"email_verified,omitempty"`
	Site          string    `json:"site,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	LastSeen      time.Time `json:"last_seen"`
	// AuthTime is when the customer last proved who they are.
	AuthTime time.Time `json:"auth_time"`
	// ExpiresAt is the absolute end of the session.
	ExpiresAt time.Time `json:"expires_at"`
	// AMR lists the authentication methods used (RFC 8176 names).
	AMR []string `json:"amr,omitempty"`
	// ACR is the assurance level reached (aal1, aal2).
	ACR string `json:"acr,omitempty"`
	// IdP names the OpenID Provider of a provider sign-in ("google").
	IdP string `json:"idp,omitempty"`
	// Family ties sessions that end together: a session signed in again
	// (step-up, a second factor) keeps its predecessor's, and a site's
	// single sign-on session carries the provider session's. Empty: the
	// session is a family of its own. SID names the family.
	Family string `json:"family,omitempty"`
	// IDToken is the ID token a single sign-on from a provider of another
	// deployment came with: signing out here ends the provider's session
	// with it (its end_session's id_token_hint).
	IDToken string `json:"id_token,omitempty"`
	// UserAgent and IP describe the device for the account page; IP is
	// also where the session signed in, which a site judging risk holds
	// its later requests against.
	UserAgent string `json:"user_agent,omitempty"`
	IP        string `json:"ip,omitempty"`
	// Risk is the risk level the site's policy gave the sign-in (low,
	// medium, high; "" when none judged it), RiskSignals its signals,
	// space-separated: what backends are told for the session's requests.
	Risk        string `json:"risk,omitempty"`
	RiskSignals string `json:"risk_signals,omitempty"`
	// Actor is who acts in the customer's name in this session (a
	// support agent viewing as the customer, with their consent): told to
	// backends, refused where only the customer may go.
	Actor string `json:"actor,omitempty"`
}

// ErrNotFound means no such session (never existed, expired or revoked).
var ErrNotFound = errors.New("session: not found")

// Store persists sessions and the secrets the session layer needs (cookie
// keys, assertion signing keys). Implementations must be safe for concurrent
// use; the behaviour they must show is the table in session/sessiontest.
type Store interface {
	// Create stores a new session; an existing key is an error.
	Create(ctx context.Context, s *Session) error
	// Get returns the session or ErrNotFound. It may return expired
	// sessions; the Manager checks expiry.
	Get(ctx context.Context, key string) (*Session, error)
	// Touch records activity; ErrNotFound if the session is gone.
	Touch(ctx context.Context, key string, lastSeen time.Time) error
	// Delete removes one session; deleting a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteUser removes every session of the user and returns how many.
	DeleteUser(ctx context.Context, userID string) (int, error)
	// ListUser returns the user's sessions.
	ListUser(ctx context.Context, userID string) ([]*Session, error)

	// Secret returns the named secret, creating it with create if absent.
	// When several callers race, all get the value that was stored first.
	Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error)
	// SwapSecret replaces the named secret with next only if it still holds
	// prev; it reports whether it did.
	SwapSecret(ctx context.Context, name string, prev, next []byte) (bool, error)

	// MarkEnded notes that the session family sid of the user ended on
	// purpose (a sign-out, a revocation — not an expiry), until then: the
	// provider refuses refresh tokens of it and the edge its access
	// tokens. A mark whose time is past need not be kept.
	MarkEnded(ctx context.Context, userID, sid string, until time.Time) error
	// Ended reports whether a mark for the user's sid is kept and not past
	// its time (wall time: a store may hand expiry to its backend).
	Ended(ctx context.Context, userID, sid string) (bool, error)

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
}

// UserCounter is a Store that can count a customer's sessions without
// reading them. The count may include sessions that have expired but are
// not yet removed: it is an upper bound on what ListUser returns, so a
// count within a cap proves the cap holds.
type UserCounter interface {
	CountUser(ctx context.Context, userID string) (int, error)
}
