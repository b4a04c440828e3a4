package caddymodule

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// signProof signs claims as a DPoP proof with key (alg), the public key
// embedded unless jwk names another header value.
func signProof(t *testing.T, alg jose.SignatureAlgorithm, key any, typ string, claims map[string]any, jwk any) string {
	t.Helper()
	opts := (&jose.SignerOptions{EmbedJWK: jwk == nil}).WithType(jose.ContentType(typ))
	if jwk != nil {
		opts = opts.WithHeader("jwk", jwk)
	}
	return signJWS(t, jose.SigningKey{Algorithm: alg, Key: key}, opts, claims)
}

func TestCheckDPoPProof(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const htu = "https://api.example.com/orders"
	htus := []string{htu}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"htm": "GET", "htu": htu, "iat": now.Unix(), "jti": "j1", "ath": athOf("tok")}
		if mod != nil {
			mod(c)
		}
		return c
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)

	for _, ok := range []struct {
		name string
		alg  jose.SignatureAlgorithm
		key  any
		pub  any
	}{
		{"ES256", jose.ES256, ec, &ec.PublicKey},
		{"ES384", jose.ES384, ec384, &ec384.PublicKey},
		{"RS256", jose.RS256, rsaKey, &rsaKey.PublicKey},
		{"PS256", jose.PS256, rsaKey, &rsaKey.PublicKey},
		{"EdDSA", jose.EdDSA, ed, ed.Public()},
	} {
		p, err := checkDPoPProof(signProof(t, ok.alg, ok.key, dpopType, claims(nil), nil), "GET", htus, now, "tok")
		if err != nil {
			t.Fatalf("%s: %v", ok.name, err)
		}
		tp, _ := (&jose.JSONWebKey{Key: ok.pub}).Thumbprint(crypto.SHA256)
		if p.JKT != base64.RawURLEncoding.EncodeToString(tp) || p.JTI != "j1" || p.HTU != htu || !p.IAT.Equal(now) {
			t.Fatalf("%s: %+v", ok.name, p)
		}
	}
	// Normalised htu: host case, default port, query and fragment.
	for _, u := range []string{"https://API.example.com:443/orders", "https://api.example.com/orders?x=1#f", "HTTPS://api.example.com/orders"} {
		if _, err := checkDPoPProof(signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["htu"] = u }), nil), "GET", htus, now, "tok"); err != nil {
			t.Errorf("htu %s: %v", u, err)
		}
	}
	// At the token endpoint no ath is asked.
	if _, err := checkDPoPProof(signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { delete(c, "ath") }), nil), "GET", htus, now, ""); err != nil {
		t.Fatalf("no ath, no token: %v", err)
	}

	pub, _ := json.Marshal(jose.JSONWebKey{Key: &ec.PublicKey})
	bad := map[string]string{
		"empty":           "",
		"not a JWS":       "a.b",
		"alg none":        base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"dpop+jwt","jwk":`+string(pub)+`}`)) + "." + b64json(claims(nil)) + ".",
		"HS256":           signProof(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), dpopType, claims(nil), map[string]string{"kty": "oct", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}),
		"typ JWT":         signProof(t, jose.ES256, ec, "JWT", claims(nil), nil),
		"no jwk":          mintJWT(t, jose.ES256, ec, "", dpopType, claims(nil)),
		"private jwk":     signProof(t, jose.ES256, ec, dpopType, claims(nil), jose.JSONWebKey{Key: ec}),
		"other key's jwk": signProof(t, jose.ES256, ec, dpopType, claims(nil), jose.JSONWebKey{Key: &ec384.PublicKey}),
		"RSA 1024":        signProof(t, jose.RS256, smallRSA, dpopType, claims(nil), nil),
		"htm":             signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["htm"] = "POST" }), nil),
		"htm case":        signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["htm"] = "get" }), nil),
		"htu path":        signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["htu"] = htu + "/1" }), nil),
		"htu port":        signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["htu"] = "https://api.example.com:8443/orders" }), nil),
		"htu scheme":      signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["htu"] = "http://api.example.com/orders" }), nil),
		"htu relative":    signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["htu"] = "/orders" }), nil),
		"no iat":          signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { delete(c, "iat") }), nil),
		"iat string":      signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["iat"] = "now" }), nil),
		"iat old":         signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["iat"] = now.Add(-dpopWindow - time.Second).Unix() }), nil),
		"iat ahead":       signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["iat"] = now.Add(clockSkew + time.Second).Unix() }), nil),
		"no jti":          signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { delete(c, "jti") }), nil),
		"long jti":        signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["jti"] = strings.Repeat("j", 65) }), nil),
		"no ath":          signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { delete(c, "ath") }), nil),
		"wrong ath":       signProof(t, jose.ES256, ec, dpopType, claims(func(c map[string]any) { c["ath"] = athOf("other") }), nil),
	}
	for name, raw := range bad {
		if p, err := checkDPoPProof(raw, "GET", htus, now, "tok"); err == nil || !isDPoPError(err) {
			t.Errorf("%s: accepted (%+v, %v)", name, p, err)
		}
	}
	// A tampered payload no longer verifies.
	good := signProof(t, jose.ES256, ec, dpopType, claims(nil), nil)
	parts := strings.Split(good, ".")
	parts[1] = b64json(claims(func(c map[string]any) { c["jti"] = "j2" }))
	if _, err := checkDPoPProof(strings.Join(parts, "."), "GET", htus, now, "tok"); err == nil {
		t.Error("tampered payload accepted")
	}
}

func TestRequestHTUs(t *testing.T) {
	r := httptest.NewRequest("GET", "https://Shop.Test:443/api/x?y=1", nil)
	r.TLS = &tls.ConnectionState{}
	got := requestHTUs(r, "https://login.example.com")
	if len(got) != 2 || got[0] != "https://shop.test/api/x" || got[1] != "https://login.example.com/api/x" {
		t.Fatalf("htus: %v", got)
	}
	r = httptest.NewRequest("GET", "http://shop.test:8080/", nil)
	r.TLS = nil
	if got := requestHTUs(r, ""); len(got) != 1 || got[0] != "http://shop.test:8080/" {
		t.Fatalf("plain http: %v", got)
	}
	r.Host = "evil.test/x@"
	if got := requestHTUs(r, ""); len(got) != 0 {
		t.Fatalf("a malformed Host: %v", got)
	}
}

func TestDPoPFirstUse(t *testing.T) {
	b := &backend{dpopSeen: botdefense.NewMemorySeen()}
	now := time.Unix(1_800_000_000, 0)
	p := &dpopProof{JKT: "k", HTU: "https://a/x", JTI: "j", IAT: now}
	ctx := context.Background()
	if ok, err := b.dpopFirstUse(ctx, p, now); !ok || err != nil {
		t.Fatalf("first use: %v %v", ok, err)
	}
	if ok, _ := b.dpopFirstUse(ctx, p, now.Add(dpopWindow)); ok {
		t.Fatal("a replay within the window passed")
	}
	// Another key's or URL's jti is its own.
	for _, q := range []*dpopProof{{JKT: "k2", HTU: p.HTU, JTI: "j", IAT: now}, {JKT: "k", HTU: "https://a/y", JTI: "j", IAT: now}} {
		if ok, _ := b.dpopFirstUse(ctx, q, now); !ok {
			t.Fatalf("%+v counted as a replay", q)
		}
	}
}
