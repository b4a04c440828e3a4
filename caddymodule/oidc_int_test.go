package caddymodule

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/oidctest"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// oidcBlock is a provider block of the global options.
func oidcBlock(name, issuer, clientID, secret, extra string) string {
	return fmt.Sprintf("oidc %s {\n\t\t\tissuer %s\n\t\t\tclient_id %s\n\t\t\tclient_secret %s\n%s\t\t}\n\t\t", name, issuer, clientID, secret, extra)
}

// follow GETs a URL outside the gateway (a provider) with the browser.
func follow(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp
}

// startProvider asks the gateway for a provider sign-in and returns the
// provider's URL it sends the browser to.
func startProvider(t *testing.T, g *gateway, c *http.Client, name, rd string) string {
	t.Helper()
	r := g.get(c, "/.frontdoor/oidc/"+name+"?rd="+url.QueryEscape(rd), nil)
	if r.status != http.StatusFound {
		t.Fatalf("start %s: %d %s", name, r.status, r.body)
	}
	return r.header.Get("Location")
}

// realSignIn runs a sign-in at the zitadel provider up to its redirect
// back; it returns the callback URL the provider sent the browser to.
func realSignIn(t *testing.T, g *gateway, op *oidctest.Real, c *http.Client, user, password, rd string) string {
	t.Helper()
	loc := startProvider(t, g, c, "real", rd)
	resp := follow(t, c, loc) // the authorization endpoint → its login page
	for resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther {
		next, _ := resp.Location()
		resp = follow(t, c, next.String())
	}
	back, err := op.SignIn(c, resp, user, password)
	if err != nil {
		t.Fatal(err)
	}
	back.Body.Close()
	for {
		next, err := back.Location()
		if err != nil {
			t.Fatalf("provider did not send the browser back: %d", back.StatusCode)
		}
		if strings.HasPrefix(next.String(), g.url("/")) {
			return next.String()
		}
		back = follow(t, c, next.String())
	}
}

// fakeCallback runs a sign-in at a Fake provider and returns its callback.
func fakeCallback(t *testing.T, g *gateway, c *http.Client, name, rd string) string {
	t.Helper()
	resp := follow(t, c, startProvider(t, g, c, name, rd))
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("fake provider: %d", resp.StatusCode)
	}
	return loc.String()
}

// assertionClaims reads the claims of the assertion the backend last saw
// (signature checks are the assertion tests' business).
func assertionClaims(t *testing.T, g *gateway) map[string]any {
	t.Helper()
	jwt := g.backend.lastHeaders().Get("X-Frontdoor-Assertion")
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("no assertion: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func hasSessionCookie(r response) bool {
	for _, sc := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "__Host-frontdoor=") && !strings.Contains(sc, "Max-Age=0") {
			return true
		}
	}
	return false
}

// TestOIDCSignIn: sign-in through zitadel's certified provider and a
// second provider side by side, through real Caddy, on both stores: a new
// customer, a returning one, linking to an existing password account only
// after that account's own sign-in, unlinking.
func TestOIDCSignIn(t *testing.T) {
	for _, st := range []string{"bolt", "redis"} {
		t.Run(st, func(t *testing.T) {
			skipShort(t)
			op := oidctest.NewReal(t,
				oidctest.Account{ID: "r-ann", Username: "ann", Password: "ann-pw-1", Email: "ann-" + st + "@example.net", EmailVerified: true, FirstName: "Ann", LastName: "Real"},
				oidctest.Account{ID: "r-owner", Username: "owner", Password: "owner-pw-1", Email: "owner-" + st + "@example.net", EmailVerified: true})
			fake := oidctest.NewFake(t, "fd-fake", "fake-secret")
			o := gatewayOpts{global: oidcBlock("real", op.Issuer, "fd-real", "real-secret", "") +
				oidcBlock("other", fake.Issuer, "fd-fake", "{env.FD_FAKE_SECRET}", "\t\t\tlabel \"Continue with Other\"\n")}
			t.Setenv("FD_FAKE_SECRET", "fake-secret")
			if st == "redis" {
				o.store = "store redis " + redistest.Start(t).URL()
			}
			g := startGateway(t, o)
			op.AddClient("fd-real", "real-secret", g.url("/.frontdoor/oidc/real/callback"))

			// Both buttons on the sign-in and sign-up pages.
			for _, page := range []string{"/.frontdoor/login", "/.frontdoor/register"} {
				body := g.get(g.newClient(), page+"?rd=/app/x", nil).body
				if !strings.Contains(body, `href="/.frontdoor/oidc/real?rd=%2fapp%2fx"`) || !strings.Contains(body, "Continue with Other") {
					t.Fatalf("%s lacks the provider buttons:\n%s", page, body)
				}
			}

			// A new customer.
			c := g.newClient()
			r := g.get(c, realSignIn(t, g, op, c, "ann", "ann-pw-1", "/app/x"), nil)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/x" || !hasSessionCookie(r) {
				t.Fatalf("callback: %d %v %s", r.status, r.header, r.body)
			}
			if r := g.get(c, "/app/x", nil); r.status != http.StatusOK {
				t.Fatalf("signed in? %d", r.status)
			}
			ann := g.backend.lastHeaders().Get("X-Frontdoor-User")
			if !strings.HasPrefix(ann, "u_") || g.backend.lastHeaders().Get("X-Frontdoor-Email") != "ann-"+st+"@example.net" {
				t.Fatalf("backend saw %v", g.backend.lastHeaders())
			}
			cl := assertionClaims(t, g)
			if cl["idp"] != "real" || fmt.Sprint(cl["amr"]) != "[fed]" || cl["email_verified"] != true {
				t.Fatalf("assertion claims %v", cl)
			}

			// Returning, in another browser: the same customer.
			c2 := g.newClient()
			g.get(c2, realSignIn(t, g, op, c2, "ann", "ann-pw-1", "/app/y"), nil)
			if g.get(c2, "/app/y", nil); g.backend.lastHeaders().Get("X-Frontdoor-User") != ann {
				t.Fatal("a returning provider identity became another customer")
			}

			// The second provider: another customer.
			fake.SetUser(oidctest.User{Subject: "f-1", Email: "fan-" + st + "@example.net", EmailVerified: true})
			c3 := g.newClient()
			if r := g.get(c3, fakeCallback(t, g, c3, "other", "/app/z"), nil); r.status != http.StatusSeeOther {
				t.Fatalf("second provider: %d %s", r.status, r.body)
			}
			g.get(c3, "/app/z", nil)
			if u := g.backend.lastHeaders().Get("X-Frontdoor-User"); u == ann || !strings.HasPrefix(u, "u_") || assertionClaims(t, g)["idp"] != "other" {
				t.Fatalf("second provider's customer %q", u)
			}

			// Linking to an existing password account: only after that
			// account's own sign-in, in this browser.
			owner := "owner-" + st + "@example.net"
			ownerBrowser := g.signUp(owner)
			g.get(ownerBrowser, "/app/home", nil)
			ownerID := g.backend.lastHeaders().Get("X-Frontdoor-User")
			c4 := g.newClient()
			r = g.get(c4, realSignIn(t, g, op, c4, "owner", "owner-pw-1", "/app/linked"), nil)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/.frontdoor/oidc/link" || hasSessionCookie(r) {
				t.Fatalf("existing address: %d %v", r.status, r.header)
			}
			r = g.get(c4, "/.frontdoor/oidc/link", nil)
			if r.status != http.StatusOK || !strings.Contains(r.body, "You already have an account with "+owner) || strings.Contains(r.body, "Link real") {
				t.Fatalf("link page before signing in: %d %s", r.status, r.body)
			}
			// Another browser signing in to the owner's account does not
			// complete this browser's link; nor does the provider again.
			c5 := g.newClient()
			if r := g.get(c5, realSignIn(t, g, op, c5, "owner", "owner-pw-1", "/"), nil); r.header.Get("Location") != "/.frontdoor/oidc/link" {
				t.Fatalf("second attempt: %v", r.header)
			}
			// The sign-in page it points to names the account.
			if lp := g.get(c4, "/.frontdoor/login?rd=%2F.frontdoor%2Foidc%2Flink&email="+url.QueryEscape(owner), nil); !strings.Contains(lp.body, `value="`+owner+`"`) {
				t.Fatalf("sign-in page does not name the account:\n%s", lp.body)
			}
			// The owner signs in here with their password, then links.
			g.login(c4, owner, testPassword, "/.frontdoor/oidc/link")
			r = g.get(c4, "/.frontdoor/oidc/link", nil)
			if !strings.Contains(r.body, "Link real") {
				t.Fatalf("link page after signing in: %d %s", r.status, r.body)
			}
			r = g.post(c4, "/.frontdoor/oidc/link", url.Values{})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/linked" {
				t.Fatalf("link: %d %v %s", r.status, r.header, r.body)
			}
			// Now the provider signs the owner in.
			c6 := g.newClient()
			g.get(c6, realSignIn(t, g, op, c6, "owner", "owner-pw-1", "/app/o"), nil)
			if g.get(c6, "/app/o", nil); g.backend.lastHeaders().Get("X-Frontdoor-User") != ownerID {
				t.Fatalf("linked provider signed in %q, want %q", g.backend.lastHeaders().Get("X-Frontdoor-User"), ownerID)
			}
			// The account page lists it; unlinking works (a password is left).
			acct := g.get(ownerBrowser, "/.frontdoor/account", nil).body
			m := regexpFind(`name="id" value="([A-Za-z0-9_-]{16})"><button type="submit" class="link">Unlink`, acct)
			if m == "" || !strings.Contains(acct, "real") {
				t.Fatalf("account page lacks the linked account:\n%s", acct)
			}
			if r := g.postVia(ownerBrowser, "/.frontdoor/account", "/.frontdoor/account/identity/unlink", url.Values{"id": {m}}); r.status != http.StatusOK {
				t.Fatalf("unlink: %d %s", r.status, r.body)
			}
			c7 := g.newClient()
			if r := g.get(c7, realSignIn(t, g, op, c7, "owner", "owner-pw-1", "/"), nil); r.header.Get("Location") != "/.frontdoor/oidc/link" {
				t.Fatalf("unlinked provider still signs in: %d %v", r.status, r.header)
			}
			// A provider-only customer cannot unlink their only way in.
			acct = g.get(c, "/.frontdoor/account", nil).body
			m = regexpFind(`name="id" value="([A-Za-z0-9_-]{16})"><button type="submit" class="link">Unlink`, acct)
			if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/identity/unlink", url.Values{"id": {m}}); r.status != http.StatusConflict {
				t.Fatalf("unlink the last way in: %d %s", r.status, r.body)
			}
		})
	}
}

// TestOIDCHostileProvider: every lie a provider (or an attacker between it
// and the browser) tells ends on a clear page, with no session cookie and
// nothing reaching the backend.
func TestOIDCHostileProvider(t *testing.T) {
	skipShort(t)
	fake := oidctest.NewFake(t, "fd", "secret")
	other := oidctest.NewFake(t, "fd", "secret")
	g := startGateway(t, gatewayOpts{global: oidcBlock("fake", fake.Issuer, "fd", "secret", "") + oidcBlock("other", other.Issuer, "fd", "secret", "")})
	existing := "existing@example.com"
	g.signUp(existing)

	foreign, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(&fake.Key.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	sign := func(c map[string]any) string { return oidctest.Sign(fake.Key, fake.KeyID, c) }
	type tc struct {
		name   string
		user   *oidctest.User
		tamper func(map[string]any) string
		// callback turns the honest callback URL into the attack.
		callback func(t *testing.T, c *http.Client, cb string) string
		status   int
		// signedInBefore: the honest first use signed the browser in.
		signedInBefore bool
	}
	cases := []tc{
		{name: "alg none", tamper: func(c map[string]any) string { return oidctest.Unsigned(c) }, status: 400},
		{name: "HS256 with the public key", tamper: func(c map[string]any) string { return oidctest.HS256(pubPEM, fake.KeyID, c) }, status: 400},
		{name: "wrong iss", tamper: func(c map[string]any) string { c["iss"] = "https://evil.example"; return sign(c) }, status: 400},
		{name: "aud for another client", tamper: func(c map[string]any) string { c["aud"] = "someone-else"; return sign(c) }, status: 400},
		{name: "expired", tamper: func(c map[string]any) string {
			c["iat"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
			return sign(c)
		}, status: 400},
		{name: "iat in the future", tamper: func(c map[string]any) string {
			c["iat"], c["exp"] = time.Now().Add(time.Hour).Unix(), time.Now().Add(2*time.Hour).Unix()
			return sign(c)
		}, status: 400},
		{name: "nonce missing", tamper: func(c map[string]any) string { delete(c, "nonce"); return sign(c) }, status: 400},
		{name: "nonce of another attempt", tamper: func(c map[string]any) string { c["nonce"] = "another"; return sign(c) }, status: 400},
		{name: "unknown kid not in the refreshed JWKS", tamper: func(c map[string]any) string { return oidctest.Sign(foreign, "k-unknown", c) }, status: 400},
		{name: "state missing", callback: func(t *testing.T, c *http.Client, cb string) string {
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Del("state")
			u.RawQuery = q.Encode()
			return u.String()
		}, status: 400},
		{name: "state mismatched", callback: func(t *testing.T, c *http.Client, cb string) string {
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Set("state", "x"+q.Get("state"))
			u.RawQuery = q.Encode()
			return u.String()
		}, status: 400},
		{name: "state reused", callback: func(t *testing.T, c *http.Client, cb string) string {
			if r := g.get(c, cb, nil); r.status != http.StatusSeeOther {
				t.Fatalf("first use: %d %s", r.status, r.body)
			}
			return cb
		}, status: 400, signedInBefore: true},
		{name: "code replayed with a fresh state", callback: func(t *testing.T, c *http.Client, cb string) string {
			if r := g.get(c, cb, nil); r.status != http.StatusSeeOther {
				t.Fatalf("first use: %d %s", r.status, r.body)
			}
			fresh, _ := url.Parse(fakeCallback(t, g, c, "fake", "/app/x"))
			old, _ := url.Parse(cb)
			q := fresh.Query()
			q.Set("code", old.Query().Get("code"))
			fresh.RawQuery = q.Encode()
			return fresh.String()
		}, status: 400, signedInBefore: true},
		{name: "another browser's callback", callback: func(t *testing.T, c *http.Client, cb string) string {
			*c = *g.newClient()
			return cb
		}, status: 400},
		{name: "email_verified false for an existing customer's address",
			user: &oidctest.User{Subject: "unverified-1", Email: existing, EmailVerified: false}, status: 409},
		{name: "mix-up: an answer for one provider at another's callback", callback: func(t *testing.T, c *http.Client, cb string) string {
			return strings.Replace(cb, "/oidc/fake/callback", "/oidc/other/callback", 1)
		}, status: 400},
		{name: "provider error access_denied", callback: func(t *testing.T, c *http.Client, cb string) string {
			u, _ := url.Parse(cb)
			u.RawQuery = url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}}.Encode()
			return u.String()
		}, status: 403},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			user := oidctest.User{Subject: fmt.Sprintf("hostile-%d", i), Email: fmt.Sprintf("hostile-%d@example.net", i), EmailVerified: true}
			if tc.user != nil {
				user = *tc.user
			}
			fake.SetUser(user)
			fake.Tamper(tc.tamper)
			defer fake.Tamper(nil)
			c := g.newClient()
			cb := fakeCallback(t, g, c, "fake", "/app/x")
			if tc.callback != nil {
				cb = tc.callback(t, c, cb)
			}
			before := g.backend.count()
			otherTokens := other.TokenRequests.Load()
			r := g.get(c, cb, nil)
			if r.status != tc.status || hasSessionCookie(r) || !strings.Contains(r.body, "/.frontdoor/login") {
				t.Fatalf("status %d (want %d), session cookie %v:\n%s", r.status, tc.status, hasSessionCookie(r), r.body)
			}
			if g.backend.count() != before {
				t.Fatal("the backend was reached")
			}
			if other.TokenRequests.Load() != otherTokens {
				t.Fatal("the other provider was sent a code")
			}
			if r := g.get(c, "/app/x", nil); r.status == http.StatusOK && !tc.signedInBefore {
				t.Fatal("signed in after all")
			}
		})
	}
	// The log names the provider and the reason, never a code or secret.
	logged := readLog(t, g)
	for _, secret := range []string{"secret", fake.ClientSecret} {
		if strings.Contains(logged, `"`+secret+`"`) {
			t.Fatalf("the log shows %q", secret)
		}
	}
	if strings.Contains(logged, "code=") {
		t.Fatal("the log shows a code")
	}
}

// TestOIDCProviderDown: a provider whose discovery is down at start-up
// stops neither the gateway nor the other sign-in methods; its button
// answers 503 until it is back.
func TestOIDCProviderDown(t *testing.T) {
	skipShort(t)
	fake := oidctest.NewFake(t, "fd", "secret")
	fake.Down.Store(true)
	g := startGateway(t, gatewayOpts{global: oidcBlock("fake", fake.Issuer, "fd", "secret", "")})
	clk := useClock(t)
	c := g.signUp("down@example.com") // password sign-in works
	if r := g.get(c, "/app/x", nil); r.status != http.StatusOK {
		t.Fatalf("password customer: %d", r.status)
	}
	b := g.newClient()
	r := g.get(b, "/.frontdoor/oidc/fake?rd=/app/x", nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "not answering") {
		t.Fatalf("button of a provider that is down: %d %v %s", r.status, r.header, r.body)
	}
	fake.Down.Store(false)
	clk.advance(time.Minute) // past the remembered failure
	if r := g.get(b, "/.frontdoor/oidc/fake?rd=/app/x", nil); r.status != http.StatusFound {
		t.Fatalf("provider back: %d %s", r.status, r.body)
	}
}

// TestOIDCCallbackFlood: junk callbacks never reach the provider, and the
// route's limits stop the flood.
func TestOIDCCallbackFlood(t *testing.T) {
	skipShort(t)
	fake := oidctest.NewFake(t, "fd", "secret")
	g := startGateway(t, gatewayOpts{global: oidcBlock("fake", fake.Issuer, "fd", "secret", ""), limits: "limits {\n\t\t\toidc ip 20/10m\n\t\t}"})
	c := g.newClient()
	statuses := map[int]int{}
	for i := range 30 {
		r := g.get(c, fmt.Sprintf("/.frontdoor/oidc/fake/callback?code=junk%d&state=junk%d", i, i), nil)
		statuses[r.status]++
	}
	if fake.TokenRequests.Load() != 0 {
		t.Fatalf("junk reached the provider %d times", fake.TokenRequests.Load())
	}
	if statuses[http.StatusBadRequest] == 0 || statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusBadRequest] > 20 {
		t.Fatalf("statuses %v: want 400s, then 429 past the limit", statuses)
	}
}

func regexpFind(pattern, s string) string {
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

func readLog(t *testing.T, g *gateway) string {
	t.Helper()
	b, err := os.ReadFile(g.logFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOIDCSecondFactorAndFormPost: an account's second factor applies to
// provider sign-ins (the idp survives the wait); Apple's cross-site
// form_post answer is taken without a CSRF token, with the client secret
// an ES256 JWT made from the operator's key.
func TestOIDCSecondFactorAndFormPost(t *testing.T) {
	skipShort(t)
	fake := oidctest.NewFake(t, "fd", "secret")
	apple := oidctest.NewFake(t, "com.example.web", "")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "AuthKey_KEY1234567.p8")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	appleBlock := fmt.Sprintf("oidc apple {\n\t\t\tpreset apple\n\t\t\tissuer %s\n\t\t\tclient_id com.example.web\n\t\t\tteam_id TEAM123456\n\t\t\tkey_id KEY1234567\n\t\t\tkey_file %s\n\t\t}\n\t\t", apple.Issuer, keyFile)
	g := startGateway(t, gatewayOpts{global: oidcBlock("fake", fake.Issuer, "fd", "secret", "") + appleBlock})
	clk := useClock(t)

	// A provider customer sets up an authenticator app…
	fake.SetUser(oidctest.User{Subject: "mfa-1", Email: "mfa@example.net", EmailVerified: true})
	c := g.newClient()
	if r := g.get(c, fakeCallback(t, g, c, "fake", "/app/x"), nil); r.status != http.StatusSeeOther {
		t.Fatalf("first sign-in: %d %s", r.status, r.body)
	}
	secret, _ := enrolTOTP(t, g, c, clk)
	logout(t, g, c)
	// …and the next provider sign-in asks for it.
	b := g.newClient()
	r := g.get(b, fakeCallback(t, g, b, "fake", "/app/x"), nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "authenticator app") || hasSessionCookie(r) {
		t.Fatalf("provider sign-in of an account with a second factor: %d\n%s", r.status, r.body)
	}
	clk.advance(30 * time.Second)
	if r := mfaPost(g, b, url.Values{"code": {clk.code(t, secret, 0)}}); r.status != http.StatusSeeOther {
		t.Fatalf("second factor: %d %s", r.status, r.body)
	}
	g.get(b, "/app/x", nil)
	cl := assertionClaims(t, g)
	if cl["idp"] != "fake" || cl["acr"] != "aal2" || !strings.Contains(fmt.Sprint(cl["amr"]), "fed") || !strings.Contains(fmt.Sprint(cl["amr"]), "otp") {
		t.Fatalf("claims after the second factor: %v", cl)
	}

	// Apple: the answer is a cross-site form post.
	apple.SetUser(oidctest.User{Subject: "000123.abc", Email: "x@privaterelay.appleid.com", EmailVerified: "true"})
	a := g.newClient()
	resp, err := a.Get(startProvider(t, g, a, "apple", "/app/apple"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action, fields, err := oidctest.FormPost(string(body))
	if err != nil || !strings.HasPrefix(action, g.url("/.frontdoor/oidc/apple/callback")) {
		t.Fatalf("form_post: %v %q", err, action)
	}
	fields.Set("user", `{"name":{"firstName":"Ann","lastName":"Apple"}}`)
	r = g.do(a, http.MethodPost, action, fields, map[string]string{"Origin": apple.URL, "Sec-Fetch-Site": "cross-site"})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/apple" || !hasSessionCookie(r) {
		t.Fatalf("apple callback: %d %v %s", r.status, r.header, r.body)
	}
	if s := apple.LastClientSecret.Load(); s == nil || strings.Count(*s, ".") != 2 {
		t.Fatalf("apple client secret is not a JWT: %v", s)
	}
	// The name Apple sends once, beside the code, is the profile's.
	if acct := g.get(a, "/.frontdoor/account", nil).body; !strings.Contains(acct, "Ann Apple") {
		t.Fatalf("account page lacks the name from Apple:\n%s", acct)
	}
	// The same post replayed (state used) is refused.
	if r := g.do(a, http.MethodPost, action, fields, map[string]string{"Origin": apple.URL, "Sec-Fetch-Site": "cross-site"}); r.status != http.StatusBadRequest {
		t.Fatalf("replayed form_post: %d", r.status)
	}
}

// TestOIDCSiteChoosesProviders: a site's `oidc <names…>` offers only
// those providers; the others have no buttons and no routes there.
func TestOIDCSiteChoosesProviders(t *testing.T) {
	skipShort(t)
	a := oidctest.NewFake(t, "fd", "secret")
	b := oidctest.NewFake(t, "fd", "secret")
	g := startGateway(t, gatewayOpts{
		global: oidcBlock("alpha", a.Issuer, "fd", "secret", "\t\t\tlabel \"Continue with Alpha\"\n") +
			oidcBlock("beta", b.Issuer, "fd", "secret", "\t\t\tlabel \"Continue with Beta\"\n"),
		site: "oidc beta",
	})
	c := g.newClient()
	body := g.get(c, "/.frontdoor/login", nil).body
	if !strings.Contains(body, "Continue with Beta") || strings.Contains(body, "Continue with Alpha") {
		t.Fatalf("sign-in page of a site offering beta only:\n%s", body)
	}
	if r := g.get(c, "/.frontdoor/oidc/alpha", nil); r.status != http.StatusNotFound {
		t.Fatalf("a provider the site does not offer: %d", r.status)
	}
	if r := g.get(c, "/.frontdoor/oidc/beta", nil); r.status != http.StatusFound {
		t.Fatalf("the site's provider: %d", r.status)
	}
}
