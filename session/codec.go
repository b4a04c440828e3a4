package session

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/securecookie"
)

// CookieName is the session cookie. The __Host- prefix makes browsers
// insist on Secure, Path=/ and no Domain, so no other host can set it.
const CookieName = "__Host-frontdoor"

// Key sizes: HMAC-SHA256 with a 64-byte key, AES-256.
const (
	HashKeyLen  = 64
	BlockKeyLen = 32
)

// Codec turns bearer tokens into cookie values and back: authenticated
// (HMAC-SHA256) and encrypted (AES-256-CTR, as securecookie does), bound
// to the site, and dated so a cookie older than the absolute timeout is
// refused even if the session record were to survive.
type Codec struct {
	sc *securecookie.SecureCookie
}

// NewCodec returns a Codec. maxAge is the absolute session lifetime.
func NewCodec(hashKey, blockKey []byte, maxAge time.Duration) (*Codec, error) {
	if len(hashKey) < 32 {
		return nil, fmt.Errorf("session: cookie hash key is %d bytes, want ≥32", len(hashKey))
	}
	if len(blockKey) != 32 {
		return nil, fmt.Errorf("session: cookie block key is %d bytes, want 32 (AES-256)", len(blockKey))
	}
	sc := securecookie.New(hashKey, blockKey).
		SetSerializer(securecookie.NopEncoder{}).
		MaxAge(int(maxAge / time.Second)).
		MaxLength(1024)
	return &Codec{sc: sc}, nil
}

// GenerateCookieKeys returns fresh random hash and block keys, concatenated.
func GenerateCookieKeys() ([]byte, error) {
	b := make([]byte, HashKeyLen+BlockKeyLen)
	_, err := rand.Read(b)
	return b, err
}

// SplitCookieKeys splits what GenerateCookieKeys returned.
func SplitCookieKeys(b []byte) (hashKey, blockKey []byte, err error) {
	if len(b) != HashKeyLen+BlockKeyLen {
		return nil, nil, errors.New("session: stored cookie keys have the wrong length")
	}
	return b[:HashKeyLen], b[HashKeyLen:], nil
}

// binding names the cookie per site: a cookie minted for one site fails
// the MAC on another even though both share keys.
func binding(site string) string { return CookieName + "|" + site }

// Encode returns the cookie value carrying token for site.
func (c *Codec) Encode(site, token string) (string, error) {
	v, err := c.sc.Encode(binding(site), []byte(token))
	if err != nil {
		return "", fmt.Errorf("session: encode cookie: %w", err)
	}
	return v, nil
}

// Decode returns the token in a cookie value, or an error for anything
// forged, tampered with, minted for another site, or too old.
func (c *Codec) Decode(site, value string) (string, error) {
	var token []byte
	if err := c.sc.Decode(binding(site), value, &token); err != nil {
		return "", fmt.Errorf("session: decode cookie: %w", err)
	}
	if len(token) == 0 || len(token) > 64 {
		return "", errors.New("session: decode cookie: bad token")
	}
	return string(token), nil
}
