package caddymodule

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/frontdoorhq/frontdoor/internal/oidctest"
)

// signLogout signs claims as a logout token with key (kid), typ typ.
func signLogout(t *testing.T, key *ecdsa.PrivateKey, kid, typ string, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := sig.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

// ssoBackchannelScenario: the client site's back-channel logout endpoint
// ends the family a valid logout token names, and refuses every other
// token — and a valid one replayed.
var ssoBackchannelScenario = scenario{"back-channel logout at a client site", func(t *testing.T, g *gateway) {
	c := g.signUp("sso-bcl@example.com")
	b := g.on("brand-b.test")
	if r, hops := g.walk(t, c, b.url("/app/home")); r.status != http.StatusOK {
		t.Fatalf("brand: %d after %v", r.status, hops)
	}
	claims := assertionClaims(t, g)
	kid, key := backendOf(t).assertions.Ring().SigningKey()
	now := time.Now()
	good := map[string]any{"iss": g.url(""), "aud": "brand", "sub": claims["sub"], "sid": claims["sid"], "jti": "j-1",
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}
	with := func(k string, v any) map[string]any {
		m := maps.Clone(good)
		m["jti"] = "j-" + k
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	post := func(tok string) int {
		return b.do(b.newClient(), http.MethodPost, "/.frontdoor/sso/logout", url.Values{"logout_token": {tok}}, nil).status
	}
	for name, tok := range map[string]string{
		"none":              "",
		"garbage":           "a.b.c",
		"ID token (nonce)":  signLogout(t, key, kid, "logout+jwt", with("nonce", "n")),
		"no event":          signLogout(t, key, kid, "logout+jwt", with("events", nil)),
		"other audience":    signLogout(t, key, kid, "logout+jwt", with("aud", "portal")),
		"other issuer":      signLogout(t, key, kid, "logout+jwt", with("iss", "https://evil.test")),
		"expired":           signLogout(t, key, kid, "logout+jwt", with("exp", now.Add(-time.Minute).Unix())),
		"no sid":            signLogout(t, key, kid, "logout+jwt", with("sid", nil)),
		"no jti":            signLogout(t, key, kid, "logout+jwt", with("jti", nil)),
		"typed as a JWT":    signLogout(t, key, kid, "at+jwt", with("typ", nil)),
		"another key":       signLogout(t, other, kid, "logout+jwt", with("x", 1)),
		"alg none":          oidctest.Unsigned(with("y", 1)),
		"HS256, public key": oidctest.HS256(pub, kid, with("z", 1)),
	} {
		if st := post(tok); st != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, st)
		}
	}
	if st := g.apiStatus(c, "brand-b.test", "/app/home"); st != http.StatusOK {
		t.Fatalf("a refused token ended the session: %d", st)
	}
	tok := signLogout(t, key, kid, "logout+jwt", good)
	if st := post(tok); st != http.StatusOK {
		t.Fatalf("valid logout token: %d", st)
	}
	waitStatus(t, func() int { return g.apiStatus(c, "brand-b.test", "/app/home") }, http.StatusUnauthorized)
	if st := post(tok); st != http.StatusBadRequest {
		t.Fatalf("replayed logout token: %d", st)
	}
}}
