package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const testAud = "shop.example.com"

type fixture struct {
	key     *ecdsa.PrivateKey
	jwks    atomic.Pointer[jose.JSONWebKeySet] // what the "gateway" publishes
	fetches atomic.Int32
	srv     *httptest.Server
	v       *Verifier
	now     time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{key: genKey(t), now: time.Unix(1_800_000_000, 0)}
	f.publish(map[string]*ecdsa.PrivateKey{"k1": f.key})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f.jwks.Load())
	}))
	t.Cleanup(f.srv.Close)
	f.v = NewVerifier(f.srv.URL, "https://shop.example.com", f.srv.Client())
	f.v.now = func() time.Time { return f.now }
	return f
}

func (f *fixture) publish(keys map[string]*ecdsa.PrivateKey) {
	set := &jose.JSONWebKeySet{}
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
	}
	f.jwks.Store(set)
}

func genKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (f *fixture) claims() map[string]any {
	return map[string]any{
		"iss": "https://shop.example.com", "sub": "u_123", "aud": testAud,
		"email": "ada@example.com", "email_verified": true, "amr": []string{"pwd"},
		"acr": "aal1", "auth_time": f.now.Unix() - 60, "sid": "s_1",
		"iat": f.now.Unix(), "exp": f.now.Add(5 * time.Minute).Unix(),
	}
}

func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyValid(t *testing.T) {
	f := newFixture(t)
	tok := sign(t, jose.ES256, f.key, "k1", f.claims())
	claims, err := f.v.Verify(context.Background(), tok, testAud)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims["sub"] != "u_123" || claims["email"] != "ada@example.com" || claims["email_verified"] != true {
		t.Fatalf("unexpected claims: %v", claims)
	}
	// Audience as an array, and exp just inside the leeway.
	c := f.claims()
	c["aud"] = []string{"other.example", testAud}
	c["exp"] = f.now.Add(-20 * time.Second).Unix()
	if _, err := f.v.Verify(context.Background(), sign(t, jose.ES256, f.key, "k1", c), testAud); err != nil {
		t.Fatalf("Verify with aud array / leeway: %v", err)
	}
	if n := f.fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1 (cached)", n)
	}
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	good := sign(t, jose.ES256, f.key, "k1", f.claims())
	pubDER, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	with := func(mod func(c map[string]any)) string {
		c := f.claims()
		mod(c)
		return sign(t, jose.ES256, f.key, "k1", c)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + b64([]byte(`{"sub":"admin","aud":"shop.example.com","exp":1900000000}`)) + "." + parts[2]
	payload, _ := json.Marshal(f.claims())
	none := b64([]byte(`{"alg":"none","kid":"k1"}`)) + "." + b64(payload) + "."

	cases := map[string]struct{ tok, aud, want string }{
		"wrong aud":       {good, "evil.example.com", "audience"},
		"empty aud":       {good, "", "no expected audience"},
		"aud missing":     {with(func(c map[string]any) { delete(c, "aud") }), testAud, "audience"},
		"expired":         {with(func(c map[string]any) { c["exp"] = f.now.Add(-time.Minute).Unix() }), testAud, "expired"},
		"no exp":          {with(func(c map[string]any) { delete(c, "exp") }), testAud, "missing exp"},
		"exp not number":  {with(func(c map[string]any) { c["exp"] = "soon" }), testAud, "exp is not a number"},
		"iat in future":   {with(func(c map[string]any) { c["iat"] = f.now.Add(time.Hour).Unix() }), testAud, "iat"},
		"wrong issuer":    {with(func(c map[string]any) { c["iss"] = "https://evil.example" }), testAud, "issuer"},
		"hs256 pub key":   {sign(t, jose.HS256, pubDER, "k1", f.claims()), testAud, "not ES256"},
		"alg none":        {none, testAud, "not ES256"},
		"unknown kid":     {sign(t, jose.ES256, genKey(t), "k2", f.claims()), testAud, "unknown kid"},
		"other key, k1":   {sign(t, jose.ES256, genKey(t), "k1", f.claims()), testAud, "bad signature"},
		"no kid":          {sign(t, jose.ES256, f.key, "", f.claims()), testAud, "missing kid"},
		"tampered":        {tampered, testAud, "bad signature"},
		"truncated sig":   {parts[0] + "." + parts[1] + "." + parts[2][:10], testAud, "bad signature"},
		"json serialized": {`{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, testAud, "malformed"},
		"garbage":         {"not-a-token", testAud, "malformed"},
		"empty":           {"", testAud, "empty"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			claims, err := f.v.Verify(context.Background(), tc.tok, tc.aud)
			if err == nil {
				t.Fatalf("Verify succeeded, want error; claims %v", claims)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	if _, err := f.v.Verify(context.Background(), good, testAud); err != nil {
		t.Fatalf("good token after rejections: %v", err)
	}
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.v.Verify(ctx, sign(t, jose.ES256, f.key, "k1", f.claims()), testAud); err != nil {
		t.Fatal(err)
	}
	// The gateway rotates: it now publishes k2 next to k1.
	k2 := genKey(t)
	f.publish(map[string]*ecdsa.PrivateKey{"k1": f.key, "k2": k2})
	tok := sign(t, jose.ES256, k2, "k2", f.claims())

	// Within 30s of the last fetch an unknown kid does not refetch.
	f.now = f.now.Add(10 * time.Second)
	if _, err := f.v.Verify(ctx, tok, testAud); err == nil || !strings.Contains(err.Error(), "unknown kid") {
		t.Fatalf("want unknown kid error, got %v", err)
	}
	if n := f.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	// After 30s it refetches and picks k2 up.
	f.now = f.now.Add(25 * time.Second)
	if _, err := f.v.Verify(ctx, tok, testAud); err != nil {
		t.Fatalf("k2 after refetch: %v", err)
	}
	if n := f.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	// A flood of unknown kids right after does not refetch.
	for i := 0; i < 5; i++ {
		if _, err := f.v.Verify(ctx, sign(t, jose.ES256, genKey(t), "k9", f.claims()), testAud); err == nil {
			t.Fatal("want error for unknown kid")
		}
	}
	if n := f.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	// Known kids keep verifying from the cache.
	if _, err := f.v.Verify(ctx, sign(t, jose.ES256, f.key, "k1", f.claims()), testAud); err != nil {
		t.Fatalf("k1: %v", err)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	v := NewVerifier(srv.URL, "", nil)
	k := genKey(t)
	tok := sign(t, jose.ES256, k, "k1", map[string]any{"aud": testAud, "exp": time.Now().Add(time.Minute).Unix()})
	if _, err := v.Verify(context.Background(), tok, testAud); err == nil {
		t.Fatal("want error when JWKS is unavailable")
	}
}
