package caddymodule

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/events"
)

// TestEventsHoldNoSecrets: after a full run — sign-up, sign-in, a wrong
// password, an authenticator and a sign-in with it, consent withdrawn, a
// reset, erasure — no event (webhook body), audit-stream line or other log
// line holds a password, token, code, cookie or assertion.
func TestEventsHoldNoSecrets(t *testing.T) {
	siem := newHookReceiver(t)
	// At DEBUG, with the filter the README documents for Caddy's own
	// proxy logs (see TestNoSecretsInLogs).
	g := startGateway(t, gatewayOpts{global: webhookGlobal("siem", siem.URL) + consentGlobal, site: "consent terms marketing",
		logs: "level DEBUG\n\t\t" + secretLogFilter})
	clk := useClock(t)
	const email, newPassword, wrong = "hal@example.com", "a new long passphrase for hal", "a wrong password typed here"
	secrets := map[string]string{"password": testPassword, "new password": newPassword, "wrong password": wrong}

	c := g.newClient()
	g.post(c, "/.frontdoor/register", url.Values{"email": {email}, "password": {testPassword}, "consent": {"terms", "marketing"}})
	link := g.mailLink(email, "/.frontdoor/verify?token=")
	secrets["verification token"] = tokenOf(t, link)
	g.confirmLink(c, link)
	g.login(c, email, testPassword, "/app/x")
	g.get(c, "/app/x", nil)
	secrets["session cookie"] = g.sessionCookie(c)
	secrets["assertion"] = g.backend.lastHeaders().Get("X-Frontdoor-Assertion")
	secrets["csrf token"] = g.csrf(c, "/.frontdoor/account")
	g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {email}, "password": {wrong}})

	totpSecret, recovery := enrolTOTP(t, g, c, clk)
	secrets["authenticator secret"], secrets["recovery code"] = totpSecret, recovery[0]
	clk.advance(time.Minute)
	c2 := g.newClient()
	firstFactor(t, g, c2, email, "/app/x")
	code := clk.code(t, totpSecret, 0)
	secrets["authenticator code"] = code
	if r := mfaPost(g, c2, url.Values{"code": {code}}); r.status != http.StatusSeeOther {
		t.Fatalf("second factor: %d", r.status)
	}
	secrets["second session cookie"] = g.sessionCookie(c2)
	if r := g.postVia(c2, "/.frontdoor/account", "/.frontdoor/account/consent", url.Values{"purpose": {"marketing"}, "answer": {"withdraw"}}); r.status >= 400 {
		t.Fatalf("withdraw: %d", r.status)
	}

	c3 := g.newClient()
	resetRequest(t, g, c3, email)
	reset := resetLink(t, g, email)
	secrets["reset token"] = tokenOf(t, reset)
	if r := resetConfirm(g, c3, reset, newPassword, newPassword); strings.Contains(r.body, "authenticator app") {
		// A reset of an account with a second factor waits for it.
		clk.advance(30 * time.Second)
		code := clk.code(t, totpSecret, 0)
		secrets["reset's authenticator code"] = code
		if r := mfaPost(g, c3, url.Values{"code": {code}}); r.status >= 400 {
			t.Fatalf("the reset's second factor: %d", r.status)
		}
	}

	clk.advance(time.Minute)
	c4 := g.newClient()
	g.post(c4, "/.frontdoor/login", url.Values{"email": {email}, "password": {newPassword}, "rd": {"/app/x"}})
	code = clk.code(t, totpSecret, 0)
	secrets["second authenticator code"] = code
	if r := mfaPost(g, c4, url.Values{"code": {code}}); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in after the reset: %d", r.status)
	}
	if r := g.postVia(c4, "/.frontdoor/account/delete", "/.frontdoor/account/delete", url.Values{"confirm": {"1"}}); r.status != http.StatusOK {
		t.Fatalf("erasure: %d", r.status)
	}
	siem.waitFor("customer.deleted", ofType(events.CustomerDeleted, ""))
	for _, typ := range []string{events.CustomerCreated, events.EmailVerified, events.SignInSucceeded, events.SignInFailed,
		events.FactorAdded, events.ConsentChanged, events.PasswordChanged} {
		siem.waitFor(typ, ofType(typ, ""))
	}

	logs, err := os.ReadFile(g.logFile)
	if err != nil {
		t.Fatal(err)
	}
	places := map[string]string{"log (audit stream included)": string(logs), "webhook bodies": strings.Join(siem.allBodies(), "\n")}
	if len(auditLines(t, g.logFile)) < 10 {
		t.Fatal("the audit stream is nearly empty")
	}
	for name, secret := range secrets {
		if len(secret) < 6 {
			t.Fatalf("%s: nothing to look for (%q)", name, secret)
		}
		for place, text := range places {
			if strings.Contains(text, secret) || strings.Contains(text, url.QueryEscape(secret)) {
				t.Errorf("the %s holds the %s", place, name)
			}
		}
	}
}
