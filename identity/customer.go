package identity

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Customer is one customer account. The ID is stable and random; the email
// is stored normalised.
type Customer struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
	LastLoginAt   time.Time `json:"last_login_at,omitzero"`
	// PasswordHash is a PHC-formatted argon2id hash, parameters included;
	// empty when the customer has no password.
	PasswordHash string `json:"password_hash,omitempty"`
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

// maxEmailLen is the RFC 5321 limit on a forward path.
const maxEmailLen = 254

// NormalizeEmail validates a customer-typed address and returns its
// canonical form: trimmed, lower-cased, a bare addr-spec (no display name).
// Lower-casing the local part is a deliberate choice: customers expect
// "Jane@Example.com" and "jane@example.com" to be one account.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxEmailLen || !utf8.ValidString(s) {
		return "", ErrBadEmail
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == ' ' {
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
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", ErrBadEmail
	}
	return strings.ToLower(s), nil
}
