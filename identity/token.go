package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// TokenKind names what a one-time token is for.
type TokenKind string

// Token kinds.
const (
	TokenVerifyEmail   TokenKind = "verify_email"
	TokenResetPassword TokenKind = "reset_password"
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
)

// Lifetimes of the mailed links.
const (
	// VerifyTokenTTL is how long an email verification link works.
	VerifyTokenTTL = 24 * time.Hour
	// ResetTokenTTL is how long a password reset link works: short, since
	// whoever holds it can take over the account.
	ResetTokenTTL = 30 * time.Minute
	// MagicLinkTTL is how long a mailed sign-in link works.
	MagicLinkTTL = 15 * time.Minute
	// EmailCodeTTL is how long a mailed sign-in code works.
	EmailCodeTTL = 10 * time.Minute
	// EmailCodeMaxAttempts is how many wrong codes kill an email code.
	EmailCodeMaxAttempts = 5
	// SecondFactorTTL is how long a sign-in waits for its second factor.
	SecondFactorTTL = 10 * time.Minute
	// SecondFactorMaxAttempts is how many wrong codes end the wait.
	SecondFactorMaxAttempts = 5
	// CeremonyTTL is how long a passkey ceremony may take.
	CeremonyTTL = 5 * time.Minute
)

// Token is a one-time token as stored: only its hash is kept.
type Token struct {
	Kind       TokenKind `json:"kind"`
	Hash       []byte    `json:"hash"`
	CustomerID string    `json:"customer_id"`
	ExpiresAt  time.Time `json:"expires_at"`
	// PasswordHash, on an email verification token, is the argon2id hash of
	// the password chosen in the sign-up that sent the link. Verifying
	// through the link makes that password the account's, so an address's
	// password only takes effect once someone proves they read its mail: a
	// stranger who signs up first with the address cannot keep a password
	// the owner never chose.
	PasswordHash string `json:"password_hash,omitempty"`
	// Binding, on a sign-in link, is the hash of a nonce held in a cookie
	// by the browser that asked for it: only that browser is signed in by
	// the link.
	Binding []byte `json:"binding,omitempty"`
	// Redirect, on a sign-in link or code, is where to go once signed in.
	Redirect string `json:"redirect,omitempty"`
	// Attempts, on an email code attempts counter, is how many wrong codes
	// were typed.
	Attempts int `json:"attempts,omitempty"`
	// Methods, on a sign-in waiting for its second factor, are the methods
	// already proven (RFC 8176 names).
	Methods []string `json:"methods,omitempty"`
	// Data is kind-specific state: the secret of a TOTP enrolment, the
	// WebAuthn session data of a ceremony.
	Data []byte `json:"data,omitempty"`
	// Purpose, on a WebAuthn ceremony or a second-factor wait, says what
	// it is for (e.g. login, register, signup, stepup).
	Purpose string `json:"purpose,omitempty"`
}

// tokenBytes is 256 bits, well above the 128-bit floor.
const tokenBytes = 32

// NewToken returns a fresh secret to hand to the customer and the token
// record (holding only its hash) to store.
func NewToken(kind TokenKind, customerID string, ttl time.Duration, now time.Time) (secret string, t *Token) {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:])
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, &Token{Kind: kind, Hash: HashToken(secret), CustomerID: customerID, ExpiresAt: now.Add(ttl)}
}

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
