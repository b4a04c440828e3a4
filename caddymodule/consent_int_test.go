package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/consent"
)

const consentGlobal = `consent {
			purpose terms {
				title "Terms of service"
				link https://shop.example.com/terms
				version 3
				required
			}
			purpose marketing {
				title "News and offers by email"
				text "We send at most one email a week. You can stop at any time."
				version 1
			}
		}`

// consentRecords returns the records of the customer with the address.
func consentRecords(t *testing.T, email string) (string, []consent.Record) {
	t.Helper()
	b := backendOf(t)
	c, err := b.identity.CustomerByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("customer %s: %v", email, err)
	}
	rs, err := b.consent.Records(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, rs
}

// TestConsentSignUp: the sign-up form asks for the purposes, nothing
// ticked; a required one left unticked is a field error and nothing
// happens; the answers are recorded, with where and how, for password and
// passkey-first sign-ups alike; no endpoint edits or deletes a record.
func TestConsentSignUp(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{global: consentGlobal, site: "consent terms marketing"}, []scenario{
		{"form asks, nothing ticked", func(t *testing.T, g *gateway) {
			r := g.get(g.newClient(), "/.frontdoor/register", nil)
			for _, want := range []string{
				`name="consent" type="checkbox" value="terms"`, `name="consent" type="checkbox" value="marketing"`,
				"Terms of service (required)", "News and offers by email (optional)",
				"We send at most one email a week.", `href="https://shop.example.com/terms"`,
			} {
				if !strings.Contains(r.body, want) {
					t.Errorf("register page lacks %q", want)
				}
			}
			if strings.Contains(r.body, " checked") {
				t.Error("a purpose is pre-ticked")
			}
		}},
		{"required missing", func(t *testing.T, g *gateway) {
			for _, method := range []string{"", "passkey"} {
				c := g.newClient()
				r := g.post(c, "/.frontdoor/register", url.Values{"email": {"nope@example.com"}, "password": {testPassword}, "method": {method}, "consent": {"marketing"}})
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Tick this box to create an account") ||
					!strings.Contains(r.body, `id="consent-terms-error"`) {
					t.Fatalf("method %q without terms: %d %s", method, r.status, r.body)
				}
				// What the customer ticked stays ticked; terms stays unticked.
				if !strings.Contains(r.body, `value="marketing" checked`) || strings.Contains(r.body, `value="terms" checked`) {
					t.Fatalf("the form shown again lost the customer's answers:\n%s", r.body)
				}
			}
			if _, err := backendOf(t).identity.CustomerByEmail(context.Background(), "nope@example.com"); err == nil {
				t.Fatal("a sign-up without the required purpose created a customer")
			}
		}},
		{"recorded", func(t *testing.T, g *gateway) {
			for _, tc := range []struct {
				email, method string
				accepted      []string
			}{
				{"ann@example.com", "", []string{"terms", "marketing"}},
				{"pk@example.com", "passkey", []string{"terms"}},
			} {
				c := g.newClient()
				r := g.post(c, "/.frontdoor/register", url.Values{"email": {tc.email}, "password": {testPassword}, "method": {tc.method}, "consent": tc.accepted})
				if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") {
					t.Fatalf("%s: %d %s", tc.email, r.status, r.body)
				}
				g.mailLink(tc.email, "/.frontdoor/verify?token=") // the queued part is done
				_, rs := consentRecords(t, tc.email)
				if len(rs) != 2 {
					t.Fatalf("%s: records %+v", tc.email, rs)
				}
				for _, rec := range rs {
					if rec.How != consent.HowSignup || rec.Site != "shop.test" || rec.Network != "127.0.0.0/24" || rec.UserAgent != "Firefox" {
						t.Errorf("%s: record %+v", tc.email, rec)
					}
				}
				st := consent.StateOf(rs)
				terms, _ := backendOf(t).consentPurposes().Lookup("terms")
				mkt, _ := backendOf(t).consentPurposes().Lookup("marketing")
				if !st.Granted(terms) || st.Granted(mkt) != (len(tc.accepted) == 2) || st["terms"].Version != 3 {
					t.Fatalf("%s: state %+v", tc.email, st)
				}
			}
		}},
		{"no endpoint edits records", func(t *testing.T, g *gateway) {
			c := g.newClient()
			r := g.post(c, "/.frontdoor/register", url.Values{"email": {"keep@example.com"}, "password": {testPassword}, "consent": {"terms"}})
			if r.status != http.StatusOK {
				t.Fatalf("register: %d", r.status)
			}
			link := g.mailLink("keep@example.com", "/.frontdoor/verify?token=")
			g.confirmLink(c, link)
			g.login(c, "keep@example.com", testPassword, "/app/home")
			id, before := consentRecords(t, "keep@example.com")
			csrf := g.csrf(c, "/.frontdoor/account")
			for _, p := range []string{
				"/.frontdoor/consent", "/.frontdoor/consent/" + id, "/.frontdoor/consent/records", "/.frontdoor/consents",
				"/.frontdoor/account/consent", "/.frontdoor/account/consents", "/.frontdoor/account/consent/terms",
				"/.frontdoor/account/consent/0", "/.frontdoor/api/consent", "/frontdoor/customers/" + id + "/consent",
			} {
				for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodPost} {
					form := url.Values{"csrf_token": {csrf}, "purpose": {"terms"}, "granted": {"false"}, "version": {"1"}, "customer_id": {"u_other"}}
					g.do(c, m, p, form, nil)
				}
			}
			_, after := consentRecords(t, "keep@example.com")
			if len(after) != len(before) {
				t.Fatalf("records changed: %+v → %+v", before, after)
			}
			for i := range before {
				if before[i] != after[i] {
					t.Fatalf("record %d changed: %+v → %+v", i, before[i], after[i])
				}
			}
		}},
	})
}
