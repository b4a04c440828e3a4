package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// TokenKind names what a one-time token is for.
type TokenKind string

// Token kinds.
const (
	TokenVerifyEmail   TokenKind = "verify_email"
	TokenResetPassword TokenKind = "reset_password"
	// TokenAgentCase is a support agent's case: one customer the agent
	// is helping, verified or not (authflow's assisted service), under
	// the hash of the case id.
	TokenAgentCase TokenKind = "agent_case"
	// TokenCancelRemoval is the link that cancels a support agent's
	// pending removal of the customer's second factors.
	TokenCancelRemoval TokenKind = "cancel_factor_removal"
	// TokenNotMe is the "this wasn't me" link of a mail telling the
	// customer of a sign-in (authflow.NotMe).
	TokenNotMe TokenKind = "not_me"
	// TokenMagicLink is a mailed sign-in link.
	TokenMagicLink TokenKind = "magic_link"
	// TokenEmailCode is the six-digit code mailed with a sign-in link,
	// stored under a hash of the code and the requesting browser's nonce.
	TokenEmailCode TokenKind = "email_code"
	// TokenEmailCodeAttempts counts wrong guesses at an email code, stored
	// under the requesting browser's binding. Without it the code is dead.
	TokenEmailCodeAttempts TokenKind = "email_code_attempts"
	// TokenSecondFactor is a sign-in or step-up waiting for a second
	// factor, stored under the hash of a nonce the browser holds.
	TokenSecondFactor TokenKind = "second_factor"
	// TokenTOTPEnrol holds an authenticator secret shown to the customer
	// until they confirm it with a code.
	TokenTOTPEnrol TokenKind = "totp_enrol"
	// TokenCeremony holds a WebAuthn ceremony's state, stored under the
	// hash of its challenge.
	TokenCeremony TokenKind = "webauthn_ceremony"
	// TokenFederatedAttempt is a provider sign-in under way, stored under
	// the hash of its state parameter, bound to the browser that began it.
	TokenFederatedAttempt TokenKind = "oidc_attempt"
	// TokenPendingLink is a provider identity waiting for its account's
	// customer to sign in, stored under the hash of the browser's nonce.
	TokenPendingLink TokenKind = "oidc_link"
	// TokenEmailChange is a mailed link that confirms a new address.
	TokenEmailChange TokenKind = "email_change"
	// TokenPhoneChange is a phone number waiting for the code texted to
	// it (PhoneChange), stored under a hash of the key of the session
	// that asked: only that browser can type the code.
	TokenPhoneChange TokenKind = "phone_change"
	// TokenPhoneSignIn is a sign-in (or sign-up) by phone waiting for the
	// code texted to the number typed (PhoneSignIn), stored under a hash
	// of the nonce the browser that asked keeps.
	TokenPhoneSignIn TokenKind = "phone_signin"
	// TokenSignUpConsent marks a customer who signed up without a form
	// asking for the consent purposes (through a provider), stored under
	// the hash of a nonce held by the browser that signed up.
	TokenSignUpConsent TokenKind = "signup_consent"
	// TokenInvitation is a mailed link that grants a role to the account
	// of the address it was sent to (authflow.Invite).
	TokenInvitation TokenKind = "invitation"
	// TokenOAuthRequest is an authorization request to the site's OpenID
	// Provider waiting for its customer, under the hash of its id.
	TokenOAuthRequest TokenKind = "oauth_request"
	// TokenOAuthCode is an authorization code, under the hash of the code:
	// single use, at most OAuthCodeTTL.
	TokenOAuthCode TokenKind = "oauth_code"
	// TokenOAuthRefresh is a refresh token, under the hash of the token;
	// TokenOAuthRefreshSpent marks one already rotated (its reuse revokes
	// the family); TokenOAuthFamilyRevoked marks a revoked family, under
	// the hash of the family id.
	TokenOAuthRefresh       TokenKind = "oauth_refresh"
	TokenOAuthRefreshSpent  TokenKind = "oauth_refresh_spent"
	TokenOAuthFamilyRevoked TokenKind = "oauth_family_revoked"
	// TokenOAuthSessionClient notes that a client holds tokens of a
	// provider session (OAuthSessionClient), so back-channel logout is
	// sent to it and to no client that never had one.
	TokenOAuthSessionClient TokenKind = "oauth_session_client"
	// TokenLogoutSeen remembers a back-channel logout token taken, until
	// it expires (LogoutSeen), so a replay is refused.
	TokenLogoutSeen TokenKind = "oauth_logout_seen"
	// TokenOAuthDevice is a device authorization request (RFC 8628),
	// under the hash of its device code; TokenOAuthUserCode the code the
	// customer types for it, under a hash of the issuer and the code;
	// TokenOAuthDeviceAnswer the customer's answer and TokenOAuthDevicePoll
	// the device's last poll, both under the device code's hash.
	TokenOAuthDevice       TokenKind = "oauth_device"
	TokenOAuthUserCode     TokenKind = "oauth_user_code"
	TokenOAuthDeviceAnswer TokenKind = "oauth_device_answer"
	TokenOAuthDevicePoll   TokenKind = "oauth_device_poll"
)

// Lifetimes of the mailed links.
const (
	// VerifyTokenTTL is how long an email verification link works.
	VerifyTokenTTL = 24 * time.Hour
	// ResetTokenTTL is how long a password reset link works: short, since
	// whoever holds it can take over the account.
	ResetTokenTTL = 30 * time.Minute
	// AgentCaseTTL is how long a support agent's case stays open.
	AgentCaseTTL = 2 * time.Hour
	// NotMeTTL is how long a "this wasn't me" link works.
	NotMeTTL = 7 * 24 * time.Hour
	// MagicLinkTTL is how long a mailed sign-in link works.
	MagicLinkTTL = 15 * time.Minute
	// EmailChangeTTL is how long a new address's confirmation link works.
	EmailChangeTTL = 24 * time.Hour
	// InvitationTTL is how long an invitation works unless the operator
	// says otherwise; InvitationMaxTTL the longest it may.
	InvitationTTL    = 7 * 24 * time.Hour
	InvitationMaxTTL = 30 * 24 * time.Hour
	// EmailCodeTTL is how long a mailed sign-in code works.
	EmailCodeTTL = 10 * time.Minute
	// EmailCodeMaxAttempts is how many wrong codes kill an email code.
	EmailCodeMaxAttempts = 5
	// PhoneCodeTTL is how long a texted code confirming a phone number
	// works; PhoneCodeMaxTries how many wrong codes kill it.
	PhoneCodeTTL      = 10 * time.Minute
	PhoneCodeMaxTries = 5
	// SecondFactorTTL is how long a sign-in waits for its second factor.
	SecondFactorTTL = 10 * time.Minute
	// SecondFactorMaxAttempts is how many wrong codes end the wait.
	SecondFactorMaxAttempts = 5
	// CeremonyTTL is how long a passkey ceremony may take.
	CeremonyTTL = 5 * time.Minute
	// OAuthRequestTTL is how long an authorization request waits for its
	// customer to sign in.
	OAuthRequestTTL = 15 * time.Minute
	// OAuthCodeTTL is how long an authorization code works.
	OAuthCodeTTL = 60 * time.Second
	// OAuthRefreshTTL is how long a refresh token (and the record of its
	// family) lives unused.
	OAuthRefreshTTL = 30 * 24 * time.Hour
)

// Token is a one-time token as stored: only its hash is kept. What it
// carries besides depends on its kind: one Payload, set by NewToken or
// NewTokenUnder, read with PayloadOf, and encoded with the record, so the
// stores keep a token as one opaque value.
type Token struct {
	Kind       TokenKind
	Hash       []byte
	CustomerID string
	ExpiresAt  time.Time
	payload    Payload
}

// tokenBytes is 256 bits, well above the 128-bit floor.
const tokenBytes = 32

// NewToken returns a fresh secret to hand to the customer and the token
// record of p's kind (holding only the secret's hash) to store.
func NewToken(p Payload, customerID string, ttl time.Duration, now time.Time) (secret string, t *Token) {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:])
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, NewTokenUnder(HashToken(secret), p, customerID, now.Add(ttl))
}

// NewTokenUnder returns the token record of p's kind stored under a hash
// the caller made (of a nonce, of a code and a nonce, of a challenge).
func NewTokenUnder(hash []byte, p Payload, customerID string, expiresAt time.Time) *Token {
	return &Token{Kind: p.TokenKind(), Hash: hash, CustomerID: customerID, ExpiresAt: expiresAt, payload: p}
}

// ErrPayloadKind is reading or setting a token's payload as one of another
// kind than the token's.
var ErrPayloadKind = errors.New("identity: token payload of another kind")

// PayloadOf returns t's payload as a P, the payload type of t's kind; a P
// of another kind is ErrPayloadKind, never a zero value.
func PayloadOf[P Payload](t *Token) (P, error) {
	var zero P
	if t == nil {
		return zero, fmt.Errorf("%w: no token, want %T", ErrPayloadKind, zero)
	}
	p, ok := t.payload.(P)
	if !ok || p.TokenKind() != t.Kind {
		return zero, fmt.Errorf("%w: %s token holds %T, want %T", ErrPayloadKind, t.Kind, t.payload, zero)
	}
	return p, nil
}

// SetPayload replaces t's payload with p (a counter one higher, say),
// which must be of t's kind.
func (t *Token) SetPayload(p Payload) error {
	if p == nil || p.TokenKind() != t.Kind {
		return fmt.Errorf("%w: %s token given %T", ErrPayloadKind, t.Kind, p)
	}
	t.payload = p
	return nil
}

// Payload returns t's payload; PayloadOf reads it as its type.
func (t *Token) Payload() Payload { return t.payload }

// HashToken returns the storage hash of a token secret. The secret carries
// 256 bits of entropy, so a plain SHA-256 is enough.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// ParseTokenSecret rejects values that cannot be a token before any store
// lookup is made.
func ParseTokenSecret(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != tokenBytes {
		return "", fmt.Errorf("identity: malformed token")
	}
	return s, nil
}
