package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/frontdoorhq/frontdoor/session"
)

// TestEndToEnd walks the whole foundation through a real Caddy: sign up,
// verify, sign in, protected route with identity headers and an assertion
// that verifies against the published JWKS, sign out.
func TestEndToEnd(t *testing.T) {
	endToEnd(t, startGateway(t, gatewayOpts{}))
}

func endToEnd(t *testing.T, g *gateway) {
	anon := g.newClient()

	// Anonymous: browsers go to login with rd, API calls get 401 JSON.
	r := g.get(anon, "/app/orders?x=1", navigate)
	if r.status != http.StatusFound || r.header.Get("Location") != "/.frontdoor/login?rd=%2Fapp%2Forders%3Fx%3D1" {
		t.Fatalf("anonymous navigation: %d %q", r.status, r.header.Get("Location"))
	}
	r = g.get(anon, "/app/orders", map[string]string{"Accept": "application/json"})
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `"error"`) {
		t.Fatalf("anonymous API call: %d %s", r.status, r.body)
	}
	if r := g.get(anon, "/pub/page", nil); r.status != http.StatusOK || !strings.Contains(r.body, `"backend":true`) {
		t.Fatalf("public page: %d", r.status)
	}

	c := g.signUp("Ann@Example.com")
	r = g.get(c, "/app/home", nil)
	if r.status != http.StatusOK {
		t.Fatalf("protected route after sign-in: %d %s", r.status, r.body)
	}
	h := g.backend.lastHeaders()
	if h.Get("X-Frontdoor-Email") != "ann@example.com" || h.Get("X-Frontdoor-Email-Verified") != "true" ||
		!strings.HasPrefix(h.Get("X-Frontdoor-User"), "u_") || h.Get("X-Frontdoor-Amr") != "pwd" || h.Get("X-Frontdoor-Auth-Time") == "" {
		t.Fatalf("identity headers: %v", h)
	}

	// The assertion verifies with the published JWKS, for this site only.
	jwks := g.get(anon, "/.well-known/frontdoor/jwks.json", nil)
	if jwks.status != http.StatusOK {
		t.Fatalf("jwks: %d", jwks.status)
	}
	claims := verifyAssertion(t, jwks.body, h.Get("X-Frontdoor-Assertion"), g.aud())
	if claims.Subject != h.Get("X-Frontdoor-User") || claims.Issuer != g.url("") || claims.ACR != "aal1" ||
		claims.Expiry-claims.IssuedAt > 300 || claims.SID == "" {
		t.Fatalf("claims: %+v", claims)
	}
	for _, other := range []string{"blog.test", "shop.test", fmt.Sprintf("shop.test:%d", g.port+1)} {
		if _, err := verifyAssertionErr(jwks.body, h.Get("X-Frontdoor-Assertion"), other); err == nil {
			t.Fatalf("assertion accepted for another audience, %s", other)
		}
	}
	// Cached: the same assertion on the next request.
	g.get(c, "/app/home", nil)
	if g.backend.lastHeaders().Get("X-Frontdoor-Assertion") != h.Get("X-Frontdoor-Assertion") {
		t.Fatal("assertion re-signed on every request")
	}

	// Account page shows the customer.
	if r := g.get(c, "/.frontdoor/account", nil); r.status != http.StatusOK || !strings.Contains(r.body, "ann@example.com") {
		t.Fatalf("account: %d", r.status)
	}

	// Logout revokes server-side: the old cookie is dead even if replayed.
	cookie := g.sessionCookie(c)
	if r := g.post(c, "/.frontdoor/logout", url.Values{}); r.status != http.StatusOK {
		t.Fatalf("logout: %d", r.status)
	}
	if g.sessionCookie(c) != "" {
		t.Fatal("logout left the cookie")
	}
	if r := g.get(g.withCookie(cookie), "/app/home", navigate); r.status != http.StatusFound {
		t.Fatalf("replayed cookie after logout: %d", r.status)
	}
}

type testClaims = session.Claims

func verifyAssertionErr(jwks, token, aud string) (testClaims, error) {
	var set jose.JSONWebKeySet
	var c testClaims
	if err := json.Unmarshal([]byte(jwks), &set); err != nil {
		return c, err
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return c, err
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		return c, jose.ErrCryptoFailure
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, err
	}
	if c.Audience != aud || time.Unix(c.Expiry, 0).Before(time.Now()) {
		return c, jose.ErrCryptoFailure
	}
	return c, nil
}

func verifyAssertion(t *testing.T, jwks, token, aud string) testClaims {
	t.Helper()
	c, err := verifyAssertionErr(jwks, token, aud)
	if err != nil {
		t.Fatalf("assertion does not verify: %v", err)
	}
	return c
}

// TestForgedIdentityHeadersNeverReachBackend: invariant 1, on public and
// protected routes, anonymous and signed in.
func TestForgedIdentityHeadersNeverReachBackend(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	forged := map[string]string{
		"X-Frontdoor-User": "u_attacker", "X-Frontdoor-Email": "boss@example.com", "X-Frontdoor-Assertion": "eyJhbGciOiJub25lIn0.e30.",
		"X-Frontdoor-Amr": "hwk mfa", "X-Frontdoor-Anything": "x", "X-Forwarded-User": "admin", "X-Forwarded-Email": "admin@example.com",
		"Remote-User": "admin", "Remote-Email": "admin@example.com", "Remote-Groups": "admins", "X-Auth-Request-User": "admin",
	}
	signedIn := g.signUp("bea@example.com")
	for _, tc := range []struct {
		name   string
		client *http.Client
		path   string
	}{
		{"anonymous public", g.newClient(), "/pub/x"},
		{"signed-in public", signedIn, "/pub/x"},
		{"signed-in protected", signedIn, "/app/x"},
	} {
		before := g.backend.count()
		r := g.get(tc.client, tc.path, forged)
		if r.status != http.StatusOK || g.backend.count() != before+1 {
			t.Fatalf("%s: %d", tc.name, r.status)
		}
		h := g.backend.lastHeaders()
		for k, v := range forged {
			for _, got := range h.Values(k) {
				if got == v {
					t.Errorf("%s: forged %s: %q reached the backend", tc.name, k, v)
				}
			}
		}
		if tc.client == signedIn && h.Get("X-Frontdoor-Email") != "bea@example.com" {
			t.Errorf("%s: real identity missing: %v", tc.name, h)
		}
	}
	// Anonymous protected: never reaches the backend at all.
	before := g.backend.count()
	if r := g.get(g.newClient(), "/app/x", forged); r.status != http.StatusUnauthorized || g.backend.count() != before {
		t.Fatalf("anonymous protected with forged headers: %d", r.status)
	}
}

// TestRejectedCookies: tampered, expired, revoked and other-site cookies
// all count as no session.
func TestRejectedCookies(t *testing.T) {
	g := startGateway(t, gatewayOpts{extra: `
https://blog.test:{port} {
	tls internal
	frontdoor
	reverse_proxy {backend}
}`})
	c := g.signUp("cy@example.com")
	good := g.sessionCookie(c)
	denied := func(name string, cl *http.Client, target string) {
		t.Helper()
		if r := g.get(cl, target, navigate); r.status != http.StatusFound {
			t.Errorf("%s: %d, want 302 to login", name, r.status)
		}
	}
	if r := g.get(g.withCookie(good), "/app/x", nil); r.status != http.StatusOK {
		t.Fatalf("good cookie: %d", r.status)
	}
	tampered := []byte(good)
	tampered[len(tampered)/2] ^= 1
	denied("tampered", g.withCookie(string(tampered)), "/app/x")
	denied("garbage", g.withCookie("not-a-cookie"), "/app/x")

	// Other site: the same cookie presented to blog.test.
	other := g.newClient()
	blog, _ := url.Parse(strings.Replace(g.url("/"), "shop.test", "blog.test", 1))
	other.Jar.SetCookies(blog, []*http.Cookie{{Name: "__Host-frontdoor", Value: good, Path: "/", Secure: true}})
	denied("other site", other, blog.String()+"app")

	// Revoked: sign out everywhere from another browser.
	c2 := g.newClient()
	g.login(c2, "cy@example.com", testPassword, "/")
	if r := g.postVia(c2, "/.frontdoor/account", "/.frontdoor/account/signout-everywhere", url.Values{}); r.status != http.StatusOK {
		t.Fatalf("sign out everywhere: %d", r.status)
	}
	denied("revoked everywhere", g.withCookie(good), "/app/x")

	// Expired: idle and absolute, by moving the session clock.
	c3 := g.newClient()
	g.login(c3, "cy@example.com", testPassword, "/")
	appClock := backendOf(t).clock
	t.Cleanup(func() { appClock.Set(nil) })
	appClock.Set(func() time.Time { return time.Now().Add(31 * time.Minute) })
	denied("idle expired", c3, "/app/x")
	appClock.Set(nil)

	// Absolute: active every 20 minutes, so never idle, until 12 h.
	c4 := g.newClient()
	g.login(c4, "cy@example.com", testPassword, "/")
	start := time.Now()
	for step := 1; step*20 < 12*60; step++ {
		at := start.Add(time.Duration(step) * 20 * time.Minute)
		appClock.Set(func() time.Time { return at })
		if r := g.get(c4, "/app/x", navigate); r.status != http.StatusOK {
			t.Fatalf("active session refused after %v: %d", at.Sub(start), r.status)
		}
	}
	appClock.Set(func() time.Time { return start.Add(12*time.Hour + time.Second) })
	denied("absolute expired", c4, "/app/x")
}

// TestSessionFixation: a session cookie held before sign-in does not
// survive it.
func TestSessionFixation(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	c := g.signUp("dan@example.com")
	planted := g.sessionCookie(c)
	g.login(c, "dan@example.com", testPassword, "/")
	fresh := g.sessionCookie(c)
	if fresh == "" || fresh == planted {
		t.Fatal("sign-in kept the session id")
	}
	if r := g.get(g.withCookie(planted), "/app/x", navigate); r.status != http.StatusFound {
		t.Fatalf("pre-login session still valid: %d", r.status)
	}
	// A made-up cookie planted by an attacker is replaced too.
	c2 := g.withCookie("attacker-chosen-value")
	g.login(c2, "dan@example.com", testPassword, "/")
	if v := g.sessionCookie(c2); v == "attacker-chosen-value" || v == "" {
		t.Fatal("planted cookie survived sign-in")
	}
}
