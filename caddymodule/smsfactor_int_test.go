package caddymodule

import (
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

// smsFactorOpts is phoneOpts with texted codes as a second factor, a route
// that asks for a stronger factor and one that accepts a texted code.
var smsFactorOpts = gatewayOpts{global: "sms dir {dir}/sms",
	site: "sms_countries GB IE\n\t\tsms_mfa on\n\t\trequire /app/strong/* {\n\t\t\tmethods totp passkey\n\t\t}\n\t\trequire /app/texted/* {\n\t\t\tmethods sms\n\t\t}"}

// smsEnrolled signs up email, verifies number on the account and turns
// texted codes on; it returns the signed-in browser.
func (g *gateway) smsEnrolled(email, number string) *http.Client {
	g.t.Helper()
	c := g.signUp(email)
	if r := g.askPhone(c, number); r.status != http.StatusOK {
		g.t.Fatalf("ask phone: %d %s", r.status, r.body)
	}
	if r := g.typePhoneCode(c, g.text(number, "verify_phone").Code); r.status != http.StatusOK {
		g.t.Fatalf("confirm phone: %d %s", r.status, r.body)
	}
	r := g.get(c, "/.frontdoor/account", nil)
	if !strings.Contains(r.body, `id="sms-factor"`) || strings.Contains(r.body, `id="sms-nudge"`) {
		g.t.Fatalf("account page before: %s", r.body)
	}
	r = g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/sms-factor", url.Values{"on": {"1"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "ask for a code by text message") {
		g.t.Fatalf("turn on: %d %s", r.status, r.body)
	}
	return c
}

// smsSignIn proves the password in a new browser, which is asked for the
// second factor, offered a texted code and not texted yet.
func (g *gateway) smsSignIn(email, number, rd string) *http.Client {
	g.t.Helper()
	b := g.newClient()
	r := g.post(b, "/.frontdoor/login", url.Values{"email": {email}, "password": {testPassword}, "rd": {rd}})
	hint := "&#43;44 ••• ••" + number[len(number)-2:] // html/template writes + as &#43;
	if r.status != http.StatusOK || !strings.Contains(r.body, "Text a code to "+hint) || strings.Contains(r.body, `name="sms_code"`) ||
		strings.Contains(r.body, number[3:]) || g.sessionCookie(b) != "" {
		g.t.Fatalf("password sign-in: %d session %q %s", r.status, g.sessionCookie(b), r.body)
	}
	// No code before the button (the number's own confirmation text may
	// still sit in the directory: a retried send writes it again).
	if n := g.textsOfKind(number, "second_factor"); n != 0 {
		g.t.Fatalf("texted before the button: %d", n)
	}
	return b
}

// pressText presses the second-factor page's "Text a code" button and
// returns the code texted.
func (g *gateway) pressText(b *http.Client, number string) string {
	g.t.Helper()
	r := g.postVia(b, "/.frontdoor/mfa", "/.frontdoor/mfa/sms", url.Values{})
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="sms_code"`) {
		g.t.Fatalf("text me a code: %d %s", r.status, r.body)
	}
	msg := g.text(number, "second_factor")
	if len(msg.Code) != 6 || !strings.Contains(msg.Text, msg.Code) {
		g.t.Fatalf("text: %+v", msg)
	}
	return msg.Code
}

// mfaPostGone answers the second-factor form once its page is gone (the
// wait ended): the CSRF token comes from the sign-in page.
func (g *gateway) mfaPostGone(b *http.Client, form url.Values) response {
	g.t.Helper()
	form.Set("csrf_token", g.csrf(b, "/.frontdoor/login"))
	return g.do(b, http.MethodPost, "/.frontdoor/mfa", form, nil)
}

// TestSMSFactor: through real Caddy on both stores, texted codes as a
// second factor: turned on from the account page, texted only when the
// customer presses the button, an aal2 session with amr sms; five wrong
// codes lock out as other factors do; an expired code is refused; a route
// whose methods do not name sms refuses the session, one naming it
// accepts it, and a step-up uses it only there; the account page nudges
// towards a passkey; no code reaches the log.
func TestSMSFactor(t *testing.T) {
	var codes []string
	runOnBothStoresWith(t, smsFactorOpts, []scenario{
		{name: "sign in", run: func(t *testing.T, g *gateway) {
			const email, number = "sms-a@example.com", "+447400123461"
			c := g.smsEnrolled(email, number)
			if got := customerOf(t, email); !got.SMSFactor {
				t.Fatalf("not recorded: %+v", got)
			}
			r := g.get(c, "/.frontdoor/account", nil)
			if !strings.Contains(r.body, `id="sms-nudge"`) || !strings.Contains(r.body, `href="#add-passkey"`) ||
				!strings.Contains(r.body, "Code by text message turned on") {
				t.Fatalf("account page: nudge or activity missing: %s", r.body)
			}
			logout(t, g, c)

			b := g.smsSignIn(email, number, "/app/texted/x")
			code := g.pressText(b, number)
			codes = append(codes, code)
			if r := mfaPost(g, b, url.Values{"sms_code": {otherCode(code)}}); r.status != http.StatusUnauthorized {
				t.Fatalf("wrong code: %d", r.status)
			}
			r = mfaPost(g, b, url.Values{"sms_code": {code}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/texted/x" {
				t.Fatalf("right code: %d %q %s", r.status, r.header.Get("Location"), r.body)
			}
			if r := g.get(b, "/app/texted/x", navigate); r.status != http.StatusOK {
				t.Fatalf("methods sms route: %d", r.status)
			}
			claims := assertionClaims(t, g)
			amr, _ := claims["amr"].([]any)
			if !slices.Contains(amr, any("sms")) || !slices.Contains(amr, any("pwd")) || claims["acr"] != "aal2" {
				t.Fatalf("assertion: amr %v acr %v", claims["amr"], claims["acr"])
			}
			// A restricted authenticator: a route asking for totp or a
			// passkey refuses it, and its step-up does not offer a text.
			r = g.get(b, "/app/strong/x", navigate)
			if r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), "/.frontdoor/stepup?") {
				t.Fatalf("methods totp passkey route: %d %q", r.status, r.header.Get("Location"))
			}
			if r := g.get(b, r.header.Get("Location"), navigate); strings.Contains(r.body, "send-sms") || strings.Contains(r.body, `name="sms_code"`) {
				t.Fatalf("step-up for totp or passkey offers a text: %s", r.body)
			}
			// Single use: the wait is gone.
			if r := g.mfaPostGone(b, url.Values{"sms_code": {code}}); r.status == http.StatusSeeOther {
				t.Fatal("the code worked twice")
			}

			// Turned off: the password alone signs in again, and the
			// trail says so.
			if r := g.postVia(b, "/.frontdoor/account", "/.frontdoor/account/sms-factor", url.Values{"on": {"0"}}); r.status != http.StatusOK {
				t.Fatalf("turn off: %d %s", r.status, r.body)
			}
			if got := customerOf(t, email); got.SMSFactor {
				t.Fatal("still on")
			}
			g.login(g.newClient(), email, testPassword, "/app/home")
		}},
		{name: "wrong codes lock out", run: func(t *testing.T, g *gateway) {
			const email, number = "sms-b@example.com", "+447400123462"
			logout(t, g, g.smsEnrolled(email, number))
			b := g.smsSignIn(email, number, "/app/home")
			code := g.pressText(b, number)
			codes = append(codes, code)
			for i := 1; i <= identity.SecondFactorMaxAttempts; i++ {
				r := mfaPost(g, b, url.Values{"sms_code": {otherCode(code)}})
				if last := i == identity.SecondFactorMaxAttempts; last != strings.Contains(r.body, "Too many wrong answers") {
					t.Fatalf("try %d: %d %s", i, r.status, r.body)
				}
			}
			if r := g.mfaPostGone(b, url.Values{"sms_code": {code}}); r.status == http.StatusSeeOther || g.sessionCookie(b) != "" {
				t.Fatalf("the right code after the lock-out: %d", r.status)
			}
		}},
		{name: "expired", run: func(t *testing.T, g *gateway) {
			const email, number = "sms-c@example.com", "+447400123463"
			clk := useClock(t)
			logout(t, g, g.smsEnrolled(email, number))
			b := g.smsSignIn(email, number, "/app/home")
			code := g.pressText(b, number)
			codes = append(codes, code)
			clk.advance(identity.PhoneCodeTTL + time.Second)
			if r := g.mfaPostGone(b, url.Values{"sms_code": {code}}); r.status == http.StatusSeeOther || g.sessionCookie(b) != "" {
				t.Fatalf("expired code: %d %s", r.status, r.body)
			}
		}},
		{name: "step-up where the rule allows", run: func(t *testing.T, g *gateway) {
			const email, number = "sms-d@example.com", "+447400123464"
			clk := useClock(t)
			logout(t, g, g.smsEnrolled(email, number))
			b := g.smsSignIn(email, number, "/app/home")
			code := g.pressText(b, number)
			codes = append(codes, code)
			if r := mfaPost(g, b, url.Values{"sms_code": {code}, "remember": {"1"}}); r.status != http.StatusSeeOther {
				t.Fatalf("right code: %d %s", r.status, r.body)
			}
			logout(t, g, b)
			clk.advance(16 * time.Minute) // past the per-number text window
			// The remembered browser signs in with the password alone: aal1.
			g.login(b, email, testPassword, "/app/home")
			r := g.get(b, "/app/texted/y", navigate)
			if r.status != http.StatusFound || r.header.Get("Location") != "/.frontdoor/stepup?rd=%2Fapp%2Ftexted%2Fy" {
				t.Fatalf("methods sms route, aal1: %d %q", r.status, r.header.Get("Location"))
			}
			if r := g.get(b, r.header.Get("Location"), navigate); !strings.Contains(r.body, `id="send-sms"`) {
				t.Fatalf("step-up page offers no text: %s", r.body)
			}
			code = g.pressText(b, number)
			codes = append(codes, code)
			r = mfaPost(g, b, url.Values{"sms_code": {code}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/texted/y" {
				t.Fatalf("after step-up: %d %q", r.status, r.header.Get("Location"))
			}
			if r := g.get(b, "/app/texted/y", navigate); r.status != http.StatusOK {
				t.Fatalf("methods sms route after step-up: %d", r.status)
			}
			// Removing the number takes the factor with it.
			if r := g.postVia(b, "/.frontdoor/account", "/.frontdoor/account/phone/remove", url.Values{}); r.status != http.StatusOK {
				t.Fatalf("remove phone: %d %s", r.status, r.body)
			}
			if got := customerOf(t, email); got.SMSFactor {
				t.Fatal("the factor outlived the number")
			}
		}},
		{name: "no code in the log", run: func(t *testing.T, g *gateway) {
			logs, err := os.ReadFile(g.logFile)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range codes {
				if strings.Contains(string(logs), c) {
					t.Fatalf("code %s in the log", c)
				}
			}
		}},
	})
}
