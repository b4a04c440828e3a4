package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/internal/oidctest"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// signUpByEmail posts the sign-up form's email method ("Email me a link,
// no password") and returns the mailed verification link.
func (g *gateway) signUpByEmail(c *http.Client, email, rd string, accepted ...string) string {
	g.t.Helper()
	r := g.post(c, "/.frontdoor/register", url.Values{"email": {email}, "method": {"email"}, "rd": {rd}, "consent": accepted})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") || !strings.Contains(r.body, "in this browser") {
		g.t.Fatalf("email sign-up of %s: %d %s", email, r.status, r.body)
	}
	return g.mailLink(email, "/.frontdoor/verify?token=")
}

// TestConsentEmailSignUp: the sign-up form's third method creates the
// account with no password, records the purposes ticked (how signup,
// required ones enforced, nothing pre-ticked) and, confirmed in the same
// browser, signs in (amr email, aal1) and returns to rd; another browser
// only verifies; an existing address gets the same page and its owner the
// already-registered mail.
func TestConsentEmailSignUp(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{global: consentGlobal, site: "consent terms marketing"}, []scenario{
		{"form offers it", func(t *testing.T, g *gateway) {
			r := g.get(g.newClient(), "/.frontdoor/register", nil)
			if !strings.Contains(r.body, `name="method" value="email"`) || !strings.Contains(r.body, "Email me a link, no password") || strings.Contains(r.body, " checked") {
				t.Fatalf("register page:\n%s", r.body)
			}
		}},
		{"required missing", func(t *testing.T, g *gateway) {
			c := g.newClient()
			r := g.post(c, "/.frontdoor/register", url.Values{"email": {"em-no@example.com"}, "method": {"email"}, "consent": {"marketing"}})
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Tick this box to create an account") ||
				!strings.Contains(r.body, `id="consent-terms-error"`) || !strings.Contains(r.body, `value="marketing" checked`) ||
				strings.Contains(r.body, `value="terms" checked`) {
				t.Fatalf("email sign-up without terms: %d %s", r.status, r.body)
			}
			if _, err := backendOf(t).identity.CustomerByEmail(context.Background(), "em-no@example.com"); err == nil {
				t.Fatal("a sign-up without the required purpose created a customer")
			}
		}},
		{"recorded and signed in", func(t *testing.T, g *gateway) {
			c := g.newClient()
			link := g.signUpByEmail(c, "em@example.com", "/app/welcome?x=1", "terms", "marketing")
			id, rs := consentRecords(t, "em@example.com")
			if len(rs) != 2 {
				t.Fatalf("records %+v", rs)
			}
			for _, rec := range rs {
				if rec.How != consent.HowSignup || !rec.Granted || rec.Site != "shop.test" {
					t.Errorf("record %+v", rec)
				}
			}
			r := g.confirmLink(c, link)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/welcome?x=1" || !hasSessionCookie(r) {
				t.Fatalf("confirming in the sign-up's browser: %d %v %s", r.status, r.header, r.body)
			}
			hv, claims := g.backendSees(t, c, "/app/welcome?x=1", navigate)
			h := g.backend.lastHeaders()
			if h.Get("X-Frontdoor-User") != id || h.Get("X-Frontdoor-AMR") != "email" || h.Get("X-Frontdoor-Email-Verified") != "true" ||
				hv != "terms=granted, marketing=granted" || claims["marketing"] != "granted" {
				t.Fatalf("backend saw %v (consent %q %v)", h, hv, claims)
			}
			if cl := assertionClaims(t, g); cl["acr"] != "aal1" || fmt.Sprint(cl["amr"]) != "[email]" {
				t.Fatalf("assertion %v", cl)
			}
			cust, err := backendOf(t).identity.CustomerByEmail(context.Background(), "em@example.com")
			if err != nil || cust.PasswordHash != "" || !cust.EmailVerified || len(cust.Passkeys) != 0 {
				t.Fatalf("customer %+v %v", cust, err)
			}
			// No password or passkey forced: the account page serves, and
			// offers both.
			if r := g.get(c, "/.frontdoor/account", navigate); r.status != http.StatusOK || !strings.Contains(r.body, "Password: none") ||
				!strings.Contains(r.body, `/reset">set one</a>`) || !strings.Contains(r.body, `id="add-passkey"`) {
				t.Fatalf("account page: %d %s", r.status, r.body)
			}
		}},
		{"another browser only verifies", func(t *testing.T, g *gateway) {
			link := g.signUpByEmail(g.newClient(), "em-other@example.com", "/app/x", "terms")
			other := g.newClient()
			r := g.confirmLink(other, link)
			if r.status != http.StatusOK || hasSessionCookie(r) || !strings.Contains(r.body, "ask for an email link") {
				t.Fatalf("another browser: %d %v %s", r.status, r.header, r.body)
			}
			if r := g.get(other, "/app/x", nil); r.status != http.StatusUnauthorized {
				t.Fatalf("another browser is signed in: %d", r.status)
			}
			if c, _ := backendOf(t).identity.CustomerByEmail(context.Background(), "em-other@example.com"); !c.EmailVerified {
				t.Fatal("not verified")
			}
		}},
		{"existing address: same page, owner told", func(t *testing.T, g *gateway) {
			g.signUpConsenting("em-known@example.com", "terms")
			_, before := consentRecords(t, "em-known@example.com")
			r := g.post(g.newClient(), "/.frontdoor/register", url.Values{"email": {"em-known@example.com"}, "method": {"email"}, "consent": {"terms", "marketing"}})
			if r.status != http.StatusOK || !strings.Contains(r.body, "in this browser") {
				t.Fatalf("existing address: %d %s", r.status, r.body)
			}
			g.mailLink("em-known@example.com", "/.frontdoor/login")
			if _, after := consentRecords(t, "em-known@example.com"); len(after) != len(before) {
				t.Fatalf("a sign-up form recorded consent for an existing account: %+v", after)
			}
		}},
	})
}

// oidcConsentCallback runs a sign-in at the fake provider as user and
// returns the gateway's answer to its callback, which a hostile provider
// has stuffed with consent fields.
func oidcConsentCallback(t *testing.T, g *gateway, fake *oidctest.Fake, c *http.Client, sub, email, rd string) response {
	t.Helper()
	fake.SetUser(oidctest.User{Subject: sub, Email: email, EmailVerified: true,
		Extra: map[string]any{"consent": []string{"terms", "marketing"}, "consents": map[string]any{"terms": "granted", "marketing": "granted"}}})
	cb := fakeCallback(t, g, c, "fake", rd) + "&consent=terms&consent=marketing&how=admin"
	return g.get(c, cb, navigate)
}

// TestConsentOIDCSignUp: a customer created by a provider sign-in is shown
// every purpose at once, nothing ticked — whatever the provider sends —
// and what they tick is recorded as a sign-up's before they go on to rd;
// required ones must be ticked there, and skipped they still gate
// protected routes (403 JSON for API calls). A returning customer is not
// asked.
func TestConsentOIDCSignUp(t *testing.T) {
	for _, st := range []string{"bolt", "redis"} {
		t.Run(st, func(t *testing.T) {
			skipShort(t)
			op := oidctest.NewReal(t, oidctest.Account{ID: "r-cy", Username: "cy", Password: "cy-pw-1", Email: "cy-" + st + "@example.net", EmailVerified: true})
			fake := oidctest.NewFake(t, "fd-fake", "fake-secret")
			o := gatewayOpts{global: consentGlobal + "\n\t\t" + oidcBlock("real", op.Issuer, "fd-real", "real-secret", "") +
				oidcBlock("fake", fake.Issuer, "fd-fake", "fake-secret", ""), site: "consent terms marketing"}
			if st == "redis" {
				o.store = "store redis " + redistest.Start(t).URL()
			}
			g := startGateway(t, o)
			op.AddClient("fd-real", "real-secret", g.url("/.frontdoor/oidc/real/callback"))
			prompt := "/.frontdoor/consent?rd=" + url.QueryEscape("/app/x?y=1")

			// Through the real provider: the prompt first.
			c := g.newClient()
			r := g.get(c, realSignIn(t, g, op, c, "cy", "cy-pw-1", "/app/x?y=1"), nil)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != prompt || !hasSessionCookie(r) {
				t.Fatalf("callback of a new customer: %d %v %s", r.status, r.header, r.body)
			}
			email := "cy-" + st + "@example.net"
			if _, rs := consentRecords(t, email); len(rs) != 0 {
				t.Fatalf("recorded before the customer answered: %+v", rs)
			}
			page := g.get(c, prompt, navigate)
			for _, want := range []string{`value="terms"`, `value="marketing"`, "Terms of service (required)", "News and offers by email (optional)", "Your account is ready"} {
				if !strings.Contains(page.body, want) {
					t.Fatalf("prompt lacks %q:\n%s", want, page.body)
				}
			}
			if strings.Contains(page.body, " checked") || strings.Contains(page.body, `value="marketing" required`) {
				t.Fatalf("prompt pre-ticks or requires an optional purpose:\n%s", page.body)
			}
			// Required left unticked: asked again, nothing recorded.
			r = g.postVia(c, prompt, "/.frontdoor/consent", url.Values{"rd": {"/app/x?y=1"}, "consent": {"marketing"}})
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="consent-terms-error"`) || !strings.Contains(r.body, `value="marketing" checked`) {
				t.Fatalf("without terms: %d %s", r.status, r.body)
			}
			if _, rs := consentRecords(t, email); len(rs) != 0 {
				t.Fatalf("a refused answer recorded %+v", rs)
			}
			r = g.postVia(c, prompt, "/.frontdoor/consent", url.Values{"rd": {"/app/x?y=1"}, "consent": {"terms"}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/x?y=1" {
				t.Fatalf("answer: %d %v %s", r.status, r.header, r.body)
			}
			_, rs := consentRecords(t, email)
			state := consent.StateOf(rs)
			if len(rs) != 2 || !state["terms"].Granted || state["terms"].Version != 3 || state["marketing"].Granted {
				t.Fatalf("records %+v", rs)
			}
			for _, rec := range rs {
				if rec.How != consent.HowSignup || rec.Site != "shop.test" {
					t.Fatalf("record %+v", rec)
				}
			}
			if hv, _ := g.backendSees(t, c, "/app/x?y=1", navigate); hv != "terms=granted, marketing=denied" {
				t.Fatalf("backend saw %q", hv)
			}
			// Answered: the prompt has nothing more to ask.
			if r := g.get(c, prompt, navigate); r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/x?y=1" {
				t.Fatalf("prompt after answering: %d %v", r.status, r.header)
			}
			// Returning, in another browser: no prompt.
			c2 := g.newClient()
			if r := g.get(c2, realSignIn(t, g, op, c2, "cy", "cy-pw-1", "/app/z"), nil); r.header.Get("Location") != "/app/z" {
				t.Fatalf("returning customer: %d %v", r.status, r.header)
			}

			// A hostile provider: consent claims in the ID token, consent
			// fields in the callback. Nothing is pre-accepted, nothing
			// ticked; a post without the form's token records nothing.
			h := g.newClient()
			r = oidcConsentCallback(t, g, fake, h, "f-hostile", "hostile-"+st+"@example.net", "/app/h")
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/.frontdoor/consent?rd=%2Fapp%2Fh" {
				t.Fatalf("hostile callback: %d %v", r.status, r.header)
			}
			if page := g.get(h, r.header.Get("Location"), navigate); strings.Contains(page.body, " checked") {
				t.Fatalf("prompt ticked what the provider sent:\n%s", page.body)
			}
			if r := g.do(h, http.MethodPost, "/.frontdoor/consent", url.Values{"rd": {"/app/h"}, "consent": {"terms", "marketing"}}, nil); r.status == http.StatusSeeOther {
				t.Fatalf("a post without the form's token was taken: %v", r.header)
			}
			if _, rs := consentRecords(t, "hostile-"+st+"@example.net"); len(rs) != 0 {
				t.Fatalf("a provider's word was recorded: %+v", rs)
			}
			// Skipped: the required purpose gates protected routes.
			r = g.get(h, "/app/h", nil)
			var body map[string]string
			if r.status != http.StatusForbidden || json.Unmarshal([]byte(r.body), &body) != nil || body["error"] != "consent_required" || body["purpose"] != "terms" {
				t.Fatalf("API call after skipping: %d %s", r.status, r.body)
			}
			if r := g.get(h, "/app/h", navigate); r.status != http.StatusFound || r.header.Get("Location") != "/.frontdoor/consent?rd=%2Fapp%2Fh" {
				t.Fatalf("page load after skipping: %d %v", r.status, r.header)
			}
			// Another browser of that customer is not asked as at sign-up:
			// only the browser that signed up holds the question.
			h2 := g.newClient()
			fake.SetUser(oidctest.User{Subject: "f-hostile", Email: "hostile-" + st + "@example.net", EmailVerified: true})
			g.get(h2, fakeCallback(t, g, h2, "fake", "/app/h"), navigate)
			if page := g.get(h2, "/.frontdoor/consent?rd=%2Fapp%2Fh", navigate); !strings.Contains(page.body, `value="terms"`) || strings.Contains(page.body, `value="marketing"`) {
				t.Fatalf("another browser's prompt:\n%s", page.body)
			}
		})
	}
}

// TestConsentTwoNodes: two gateways on one Redis. A consent withdrawn on
// node A reaches node B's backend — header and assertion claim — within
// the 2 s cache bound.
func TestConsentTwoNodes(t *testing.T) {
	bin := buildBinary(t)
	r := redistest.Start(t)
	o := gatewayOpts{store: "store redis " + r.URL(), site: "origin https://shop.test\n\t\tconsent terms marketing",
		global: "session {\n\t\t\tcache 2s\n\t\t}\n\t\t" + consentGlobal}
	a := startProcess(t, bin, o)
	b := startProcess(t, bin, o)
	shareRoots(t, a, b)

	c := a.signUpConsenting("two@example.com", "terms", "marketing")
	seen := func() (string, string) {
		res := b.get(c, "/app/home", nil)
		if res.status != http.StatusOK {
			t.Fatalf("node B: %d %s", res.status, res.body)
		}
		h := b.backend.lastHeaders()
		jwks := b.get(b.newClient(), "/.well-known/frontdoor/jwks.json", nil).body
		claims, err := verifyAssertionErr(jwks, h.Get("X-Frontdoor-Assertion"), "shop.test")
		if err != nil {
			t.Fatal(err)
		}
		return h.Get(consentHeader), claims.Consent["marketing"]
	}
	if hv, claim := seen(); hv != "terms=granted, marketing=granted" || claim != "granted" {
		t.Fatalf("node B before: %q %q", hv, claim)
	}
	res := a.postVia(c, "/.frontdoor/account", "/.frontdoor/account/consent", url.Values{"purpose": {"marketing"}, "answer": {"withdraw"}})
	withdrawn := time.Now()
	if res.status != http.StatusSeeOther {
		t.Fatalf("withdraw on A: %d %s", res.status, res.body)
	}
	for {
		sent := time.Now()
		hv, claim := seen()
		if hv == "terms=granted, marketing=denied" && claim == "denied" {
			break
		}
		if hv != "terms=granted, marketing=granted" || claim != "granted" {
			t.Fatalf("node B: header %q, claim %q", hv, claim)
		}
		if sent.Sub(withdrawn) >= 2*time.Second {
			t.Fatalf("node B still told granted %v after the withdrawal", sent.Sub(withdrawn).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Given again on B: A sees it within the bound too.
	b.postVia(c, "/.frontdoor/account", "/.frontdoor/account/consent", url.Values{"purpose": {"marketing"}, "answer": {"give"}})
	given := time.Now()
	for {
		sent := time.Now()
		a.get(c, "/app/home", nil)
		if a.backend.lastHeaders().Get(consentHeader) == "terms=granted, marketing=granted" {
			break
		}
		if sent.Sub(given) >= 2*time.Second {
			t.Fatalf("node A still told denied %v after the grant on B", sent.Sub(given).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
