package session

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
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
	// flow seals the short-lived state of a sign-in in flight (EncodeFlow).
	flow *securecookie.SecureCookie

	// recent remembers successful decodes for a moment: decoding (HMAC,
	// AES, base64) is most of the per-request cost, and a browser sends
	// the same cookie many times a second.
	mu     sync.RWMutex
	recent map[string]decoded
}

type decoded struct {
	site, token, key string
	until            time.Time
}

const (
	decodeCacheTTL = 2 * time.Second
	decodeCacheMax = 1 << 16
)

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
	flow := securecookie.New(hashKey, blockKey).
		SetSerializer(securecookie.NopEncoder{}).
		MaxAge(int(FlowMaxAge / time.Second)).
		MaxLength(3072)
	return &Codec{sc: sc, flow: flow, recent: make(map[string]decoded)}, nil
}

// FlowMaxAge is how long a sealed sign-in in flight (EncodeFlow) is
// accepted: the time a customer has to sign in at a provider.
const FlowMaxAge = 15 * time.Minute

// EncodeFlow seals data for the cookie name of site: authenticated,
// encrypted, dated, and bound to both, so it opens under no other name or
// site (the PKCE verifier, state and nonce of a single sign-on).
func (c *Codec) EncodeFlow(name, site string, data []byte) (string, error) {
	v, err := c.flow.Encode("flow|"+name+"|"+site, data)
	if err != nil {
		return "", fmt.Errorf("session: seal %s: %w", name, err)
	}
	return v, nil
}

// DecodeFlow opens what EncodeFlow sealed for the same name and site, if
// it is younger than FlowMaxAge.
func (c *Codec) DecodeFlow(name, site, value string) ([]byte, error) {
	var data []byte
	if err := c.flow.Decode("flow|"+name+"|"+site, value, &data); err != nil {
		return nil, fmt.Errorf("session: open %s: %w", name, err)
	}
	return data, nil
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

// DecodeKey is Decode returning the session's storage key too, served from
// a short cache of recent successful decodes.
func (c *Codec) DecodeKey(site, value string, now time.Time) (token, key string, err error) {
	c.mu.RLock()
	d, ok := c.recent[value]
	c.mu.RUnlock()
	if ok && d.site == site && now.Before(d.until) {
		return d.token, d.key, nil
	}
	if token, err = c.Decode(site, value); err != nil {
		return "", "", err
	}
	key = KeyOf(token)
	c.mu.Lock()
	if len(c.recent) >= decodeCacheMax {
		clear(c.recent)
	}
	c.recent[value] = decoded{site: site, token: token, key: key, until: now.Add(decodeCacheTTL)}
	c.mu.Unlock()
	return token, key, nil
}

// Decode returns the token in a cookie value, or an error for anything
// forged, tampered with, minted for another site, or too old.
func (c *Codec) Decode(site, value string) (string, error) {
	var token []byte
	if err := c.sc.Decode(binding(site), value, &token); err != nil {
		return "", fmt.Errorf("session: decode cookie: %w", err)
	}
	if len(token) == 0 || len(token) > 128 {
		return "", errors.New("session: decode cookie: bad token")
	}
	return string(token), nil
}
