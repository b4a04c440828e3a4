package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	clockLeeway     = 30 * time.Second // allowed clock skew for exp, iat and nbf
	refetchInterval = 30 * time.Second // an unknown kid refetches the JWKS at most this often
	maxTokenLen     = 16 << 10         // largest assertion we parse
	maxJWKSBytes    = 1 << 20          // largest JWKS response we read
)

// Verifier checks Frontdoor identity assertions (compact JWS, ES256) against
// the gateway's JWKS. It is safe for concurrent use.
type Verifier struct {
	jwksURL string
	issuer  string
	client  *http.Client
	now     func() time.Time

	fetchMu sync.Mutex // serialises JWKS fetches

	mu        sync.RWMutex
	keys      map[string]*ecdsa.PublicKey
	lastFetch time.Time // time of the last fetch attempt, successful or not
}

// NewVerifier returns a Verifier that loads keys from jwksURL. If issuer is not
// empty the "iss" claim must equal it. A nil client means one with a 5s timeout.
func NewVerifier(jwksURL, issuer string, client *http.Client) *Verifier {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return &Verifier{
		jwksURL: jwksURL,
		issuer:  issuer,
		client:  client,
		now:     time.Now,
		keys:    map[string]*ecdsa.PublicKey{},
	}
}

// Verify checks the signature and claims of token for the given audience and
// returns the verified claims. Numbers in the claims are json.Number values.
func (v *Verifier) Verify(ctx context.Context, token, audience string) (map[string]any, error) {
	if audience == "" {
		return nil, errors.New("no expected audience")
	}
	if token == "" {
		return nil, errors.New("empty assertion")
	}
	if len(token) > maxTokenLen {
		return nil, errors.New("assertion too large")
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("malformed assertion or algorithm not ES256: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("expected exactly one signature")
	}
	hdr := jws.Signatures[0].Protected
	if hdr.Algorithm != string(jose.ES256) {
		return nil, errors.New("algorithm not ES256")
	}
	for _, name := range []jose.HeaderKey{"crit", "b64"} {
		if _, ok := hdr.ExtraHeaders[name]; ok {
			return nil, fmt.Errorf("unsupported header %q", name)
		}
	}
	if hdr.KeyID == "" {
		return nil, errors.New("missing kid")
	}
	key, err := v.key(ctx, hdr.KeyID)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, errors.New("bad signature")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, errors.New("claims are not a JSON object")
	}
	if err := v.checkClaims(claims, audience); err != nil {
		return nil, err
	}
	return claims, nil
}

func (v *Verifier) checkClaims(c map[string]any, audience string) error {
	now := v.now()
	exp, ok, err := numericDate(c, "exp")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("missing exp")
	}
	if now.After(exp.Add(clockLeeway)) {
		return errors.New("assertion expired")
	}
	if iat, ok, err := numericDate(c, "iat"); err != nil {
		return err
	} else if ok && iat.After(now.Add(clockLeeway)) {
		return errors.New("iat is in the future")
	}
	if nbf, ok, err := numericDate(c, "nbf"); err != nil {
		return err
	} else if ok && nbf.After(now.Add(clockLeeway)) {
		return errors.New("assertion not yet valid")
	}
	if !audienceContains(c["aud"], audience) {
		return fmt.Errorf("audience does not contain %q", audience)
	}
	if v.issuer != "" {
		if iss, _ := c["iss"].(string); iss != v.issuer {
			return errors.New("unexpected issuer")
		}
	}
	return nil
}

func numericDate(c map[string]any, name string) (time.Time, bool, error) {
	raw, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, ok := raw.(json.Number)
	if !ok {
		return time.Time{}, false, fmt.Errorf("%s is not a number", name)
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, false, fmt.Errorf("%s is not a valid date", name)
	}
	return time.Unix(int64(f), 0), true, nil
}

func audienceContains(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, e := range a {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// key returns the public key for kid, fetching the JWKS when kid is unknown,
// at most once per refetchInterval.
func (v *Verifier) key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	v.mu.RLock()
	k := v.keys[kid]
	v.mu.RUnlock()
	if k != nil {
		return k, nil
	}

	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	v.mu.RLock()
	k, last := v.keys[kid], v.lastFetch
	v.mu.RUnlock()
	if k != nil {
		return k, nil // another request fetched it meanwhile
	}
	now := v.now()
	if !last.IsZero() && now.Sub(last) < refetchInterval {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	v.mu.Lock()
	v.lastFetch = now
	v.mu.Unlock()

	// A cancelled request must not waste the fetch budget; the client's
	// timeout still bounds the call.
	keys, err := v.fetch(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	v.mu.Lock()
	v.keys = keys
	v.mu.Unlock()
	if k = keys[kid]; k == nil {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	return k, nil
}

// fetch downloads the JWKS and keeps the usable ES256 public keys.
func (v *Verifier) fetch(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			continue // skip key types we do not understand
		}
		pub, ok := jwk.Key.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() || jwk.KeyID == "" {
			continue
		}
		if (jwk.Use != "" && jwk.Use != "sig") || (jwk.Algorithm != "" && jwk.Algorithm != string(jose.ES256)) {
			continue
		}
		keys[jwk.KeyID] = pub
	}
	return keys, nil
}
