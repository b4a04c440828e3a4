package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// promptGlobal is consentGlobal with a purpose a route demands and one a
// Global Privacy Control signal withdraws; {v} is the terms version.
const promptGlobal = `consent {
			purpose terms {
				title "Terms of service"
				link https://shop.example.com/terms
				version {v}
				required
			}
			purpose marketing {
				title "News and offers by email"
				text "We send at most one email a week. You can stop at any time."
				version 1
			}
			purpose personalisation {
				title "Recommendations from what you browse"
				version 1
			}
			purpose ads {
				title "Share my data with advertising partners"
				sale_or_sharing
			}
		}`

func promptOpts(version string) gatewayOpts {
	return gatewayOpts{
		global: strings.ReplaceAll(promptGlobal, "{v}", version),
		site:   "consent marketing ads\n\t\trequire /app/personalised/* {\n\t\t\tconsent personalisation\n\t\t}",
	}
}

// signUpConsenting registers with the purposes ticked, verifies and signs
// in; it returns the signed-in browser.
func (g *gateway) signUpConsenting(email string, accepted ...string) *http.Client {
	g.t.Helper()
	c := g.newClient()
	r := g.post(c, "/.frontdoor/register", url.Values{"email": {email}, "password": {testPassword}, "consent": accepted})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") {
		g.t.Fatalf("register: %d %s", r.status, r.body)
	}
	if r := g.confirmLink(c, g.mailLink(email, "/.frontdoor/verify?token=")); r.status != http.StatusOK {
		g.t.Fatalf("verify: %d %s", r.status, r.body)
	}
	g.login(c, email, testPassword, "/app/home")
	return c
}

// backendSees requests path and returns the consent header and claim the
// backend received.
func (g *gateway) backendSees(t *testing.T, c *http.Client, path string, hdr map[string]string) (string, map[string]string) {
	t.Helper()
	r := g.get(c, path, hdr)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"backend":true`) {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	h := g.backend.lastHeaders()
	if len(h.Values(consentHeader)) > 1 {
		t.Fatalf("several consent headers: %v", h.Values(consentHeader))
	}
	jwks := g.get(g.newClient(), "/.well-known/frontdoor/jwks.json", nil)
	claims := verifyAssertion(t, jwks.body, h.Get("X-Frontdoor-Assertion"), g.aud())
	return h.Get(consentHeader), claims.Consent
}

// TestConsentHeadersAndPrompt: backends learn the listed purposes (header
// and claim, forged copies stripped); a required purpose whose version
// rose is asked for at the next protected request, which the prompt
// returns to; API callers get the JSON error; a route demanding a purpose
// asks in context, then passes; Global Privacy Control withdraws the
// sale_or_sharing purposes at once.
func TestConsentHeadersAndPrompt(t *testing.T) {
	runOnBothStoresWith(t, promptOpts("3"), []scenario{
		{"backends learn consent", func(t *testing.T, g *gateway) {
			c := g.signUpConsenting("hdr@example.com", "terms", "marketing", "ads")
			hv, claim := g.backendSees(t, c, "/app/home", map[string]string{consentHeader: "marketing=denied, ads=denied", "X-Frontdoor-Consent-Extra": "x"})
			if hv != "marketing=granted, ads=granted" || claim["marketing"] != "granted" || claim["ads"] != "granted" || len(claim) != 2 {
				t.Fatalf("header %q, claim %v", hv, claim)
			}
			if g.backend.lastHeaders().Get("X-Frontdoor-Consent-Extra") != "" {
				t.Fatal("a forged X-Frontdoor-* header reached the backend")
			}
			// Anonymous and forged: stripped.
			g.get(g.newClient(), "/pub/x", map[string]string{consentHeader: "marketing=granted"})
			if v := g.backend.lastHeaders().Values(consentHeader); len(v) != 0 {
				t.Fatalf("forged consent header reached the backend: %v", v)
			}
		}},
		{"gpc withdraws at once", func(t *testing.T, g *gateway) {
			c := g.signUpConsenting("gpc@example.com", "terms", "ads")
			if hv, _ := g.backendSees(t, c, "/app/home", nil); hv != "marketing=denied, ads=granted" {
				t.Fatalf("before the signal: %q", hv)
			}
			hv, claim := g.backendSees(t, c, "/app/home", map[string]string{"Sec-GPC": "1"})
			if hv != "marketing=denied, ads=denied" || claim["ads"] != "denied" {
				t.Fatalf("with the signal: header %q, claim %v", hv, claim)
			}
			// Recorded once, how gpc; the next signal writes nothing.
			g.backendSees(t, c, "/pub/x", map[string]string{"Sec-GPC": "1"})
			_, rs := consentRecords(t, "gpc@example.com")
			var gpc []consent.Record
			for _, r := range rs {
				if r.How == consent.HowGPC {
					gpc = append(gpc, r)
				}
			}
			if len(gpc) != 1 || gpc[0].Purpose != "ads" || gpc[0].Granted {
				t.Fatalf("gpc records %+v", gpc)
			}
			if hv, _ := g.backendSees(t, c, "/app/home", nil); hv != "marketing=denied, ads=denied" {
				t.Fatalf("after the signal: %q", hv)
			}
		}},
		{"route demanding consent prompts then passes", func(t *testing.T, g *gateway) {
			c := g.signUpConsenting("per@example.com", "terms")
			r := g.get(c, "/app/personalised/feed?x=1", nil)
			var body map[string]string
			if r.status != http.StatusForbidden || json.Unmarshal([]byte(r.body), &body) != nil || body["error"] != "consent_required" || body["purpose"] != "personalisation" {
				t.Fatalf("API call: %d %s", r.status, r.body)
			}
			r = g.get(c, "/app/personalised/feed?x=1", navigate)
			want := "/.frontdoor/consent?rd=" + url.QueryEscape("/app/personalised/feed?x=1")
			if r.status != http.StatusFound || r.header.Get("Location") != want {
				t.Fatalf("page load: %d %s", r.status, r.header.Get("Location"))
			}
			page := g.get(c, want, navigate)
			if !strings.Contains(page.body, `value="personalisation"`) || strings.Contains(page.body, `value="terms"`) || strings.Contains(page.body, " checked") {
				t.Fatalf("prompt asks the wrong things:\n%s", page.body)
			}
			// Not ticked: asked again, with the reason.
			r = g.postVia(c, want, "/.frontdoor/consent", url.Values{"rd": {"/app/personalised/feed?x=1"}})
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Tick this box") {
				t.Fatalf("unticked answer: %d %s", r.status, r.body)
			}
			r = g.postVia(c, want, "/.frontdoor/consent", url.Values{"rd": {"/app/personalised/feed?x=1"}, "consent": {"personalisation"}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/personalised/feed?x=1" {
				t.Fatalf("answer: %d %s", r.status, r.header.Get("Location"))
			}
			g.backendSees(t, c, "/app/personalised/feed?x=1", navigate)
			_, rs := consentRecords(t, "per@example.com")
			if last := rs[len(rs)-1]; last.Purpose != "personalisation" || !last.Granted || last.How != consent.HowPrompt {
				t.Fatalf("last record %+v", last)
			}
		}},
		{"account page withdraws at once", func(t *testing.T, g *gateway) {
			c := g.signUpConsenting("acc@example.com", "terms", "marketing")
			// Cached on this node now.
			if hv, claim := g.backendSees(t, c, "/app/home", nil); hv != "marketing=granted, ads=denied" || claim["marketing"] != "granted" {
				t.Fatalf("before: %q %v", hv, claim)
			}
			page := g.get(c, "/.frontdoor/account", navigate)
			for _, want := range []string{"What you agreed to", "Withdraw “News and offers by email”", "Agree to “Share my data with advertising partners”", "when you signed up"} {
				if !strings.Contains(page.body, want) {
					t.Fatalf("account page lacks %q:\n%s", want, page.body)
				}
			}
			if strings.Contains(page.body, "Withdraw “Terms of service”") {
				t.Fatal("the account page offers to withdraw a required purpose")
			}
			r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/consent", url.Values{"purpose": {"marketing"}, "answer": {"withdraw"}})
			if r.status != http.StatusSeeOther {
				t.Fatalf("withdraw: %d %s", r.status, r.body)
			}
			// At once, though the state was cached a moment ago.
			if hv, claim := g.backendSees(t, c, "/app/home", nil); hv != "marketing=denied, ads=denied" || claim["marketing"] != "denied" {
				t.Fatalf("after withdrawing: %q %v", hv, claim)
			}
			r = g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/consent", url.Values{"purpose": {"ads"}, "answer": {"give"}})
			if hv, _ := g.backendSees(t, c, "/app/home", nil); r.status != http.StatusSeeOther || hv != "marketing=denied, ads=granted" {
				t.Fatalf("after giving: %d %q", r.status, hv)
			}
			// Required purposes are not withdrawn here; no form without its token.
			_, before := consentRecords(t, "acc@example.com")
			if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/consent", url.Values{"purpose": {"terms"}, "answer": {"withdraw"}}); r.status != http.StatusBadRequest {
				t.Fatalf("withdrawing terms: %d", r.status)
			}
			if r := g.do(c, http.MethodPost, "/.frontdoor/account/consent", url.Values{"purpose": {"ads"}, "answer": {"withdraw"}}, nil); r.status == http.StatusSeeOther {
				t.Fatal("a post without a CSRF token changed consent")
			}
			_, after := consentRecords(t, "acc@example.com")
			if len(after) != len(before) {
				t.Fatalf("refused posts recorded: %+v", after[len(before):])
			}
			last := before[len(before)-1]
			if last.Purpose != "ads" || !last.Granted || last.How != consent.HowAccount || last.Site != "shop.test" {
				t.Fatalf("last record %+v", last)
			}
			if page := g.get(c, "/.frontdoor/account", navigate); !strings.Contains(page.body, "on this page") {
				t.Fatal("history lacks the account page's records")
			}
		}},
		{"rd stays on the site", func(t *testing.T, g *gateway) {
			c := g.signUpConsenting("rd@example.com", "terms")
			r := g.postVia(c, "/.frontdoor/consent?rd=/app/personalised/a", "/.frontdoor/consent", url.Values{"rd": {"https://evil.example/x"}, "consent": {"personalisation"}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
				t.Fatalf("foreign rd: %d %q", r.status, r.header.Get("Location"))
			}
		}},
	})
}

// TestConsentVersionBump: a reload that raises a required purpose's
// version asks for it at the next protected request, which the prompt
// returns to; API callers get the JSON error meanwhile.
func TestConsentVersionBump(t *testing.T) {
	for _, store := range []string{"bolt", "redis"} {
		t.Run(store, func(t *testing.T) {
			skipShort(t)
			withStore := func(o gatewayOpts) gatewayOpts { return o }
			if store == "redis" {
				addr := redistest.Start(t).URL()
				withStore = func(o gatewayOpts) gatewayOpts { o.store = "store redis " + addr; return o }
			}
			g := startGateway(t, withStore(promptOpts("3")))
			c := g.signUpConsenting("bump@example.com", "terms", "marketing")
			g.backendSees(t, c, "/app/orders", nil)
			g.load(withStore(promptOpts("4")))
			r := g.get(c, "/app/orders?page=2", nil)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, `"error":"consent_required"`) || !strings.Contains(r.body, `"purpose":"terms"`) {
				t.Fatalf("API call after the bump: %d %s", r.status, r.body)
			}
			// A public page is still served.
			if r := g.get(c, "/pub/x", nil); r.status != http.StatusOK {
				t.Fatalf("public page after the bump: %d", r.status)
			}
			r = g.get(c, "/app/orders?page=2", navigate)
			prompt := r.header.Get("Location")
			if r.status != http.StatusFound || prompt != "/.frontdoor/consent?rd="+url.QueryEscape("/app/orders?page=2") {
				t.Fatalf("page load after the bump: %d %q", r.status, prompt)
			}
			if page := g.get(c, prompt, navigate); !strings.Contains(page.body, `value="terms"`) || !strings.Contains(page.body, "Terms of service") {
				t.Fatalf("prompt:\n%s", page.body)
			}
			r = g.postVia(c, prompt, "/.frontdoor/consent", url.Values{"rd": {"/app/orders?page=2"}, "consent": {"terms"}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/orders?page=2" {
				t.Fatalf("answer: %d %s", r.status, r.body)
			}
			if hv, _ := g.backendSees(t, c, "/app/orders?page=2", navigate); hv != "marketing=granted, ads=denied" {
				t.Fatalf("header after the prompt: %q", hv)
			}
			_, rs := consentRecords(t, "bump@example.com")
			if last := rs[len(rs)-1]; last.Purpose != "terms" || last.Version != 4 || !last.Granted || last.How != consent.HowPrompt {
				t.Fatalf("last record %+v", last)
			}
		})
	}
}
