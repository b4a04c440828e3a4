package caddymodule

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

var (
	totpSecretRE = regexp.MustCompile(`<code class="secret">([A-Z2-7]+)</code>`)
	totpHandleRE = regexp.MustCompile(`name="handle" value="([^"]+)"`)
	recoveryRE   = regexp.MustCompile(`<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code></li>`)
)

// code returns the authenticator code at the (moved) clock, plus d.
func (c *testClock) code(t *testing.T, secret string, d time.Duration) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, c.now().Add(d), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrolTOTP sets up an authenticator app for the signed-in browser c and
// returns its secret and the recovery codes shown once.
func enrolTOTP(t *testing.T, g *gateway, c *http.Client, clk *testClock) (string, []string) {
	t.Helper()
	r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/totp", url.Values{})
	sm, hm := totpSecretRE.FindStringSubmatch(r.body), totpHandleRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || sm == nil || hm == nil || !strings.Contains(r.body, `src="data:image/png;base64,`) {
		t.Fatalf("authenticator set-up page: %d %s", r.status, r.body)
	}
	secret, handle := sm[1], hm[1]
	// A wrong code does not use the set-up up.
	r = g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/totp/confirm", url.Values{"handle": {handle}, "code": {"000000"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, secret) {
		t.Fatalf("wrong confirmation code: %d", r.status)
	}
	r = g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/totp/confirm", url.Values{"handle": {handle}, "code": {clk.code(t, secret, 0)}})
	var codes []string
	for _, m := range recoveryRE.FindAllStringSubmatch(r.body, -1) {
		codes = append(codes, m[1])
	}
	if r.status != http.StatusOK || len(codes) != identity.RecoveryCodeCount {
		t.Fatalf("confirming the authenticator: %d, %d recovery codes\n%s", r.status, len(codes), r.body)
	}
	// The set-up cannot be confirmed twice.
	r = g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/totp/confirm", url.Values{"handle": {handle}, "code": {clk.code(t, secret, 0)}})
	if r.status == http.StatusOK {
		t.Fatalf("set-up confirmed twice: %d", r.status)
	}
	return secret, codes
}

// firstFactor signs in with the password and expects the second-factor
// page.
func firstFactor(t *testing.T, g *gateway, c *http.Client, email, rd string) response {
	t.Helper()
	r := g.post(c, "/.frontdoor/login", url.Values{"email": {email}, "password": {testPassword}, "rd": {rd}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "authenticator app") || g.sessionCookie(c) != "" {
		t.Fatalf("password sign-in of an account with a second factor: %d, session %q\n%s", r.status, g.sessionCookie(c), r.body)
	}
	return r
}

func mfaPost(g *gateway, c *http.Client, form url.Values) response {
	return g.postVia(c, "/.frontdoor/mfa", "/.frontdoor/mfa", form)
}

func logout(t *testing.T, g *gateway, c *http.Client) {
	t.Helper()
	if r := g.postVia(c, "/.frontdoor/logout", "/.frontdoor/logout", url.Values{}); r.status != http.StatusOK {
		t.Fatalf("logout: %d", r.status)
	}
}

// cookieOf returns the value of browser c's cookie name on the site.
func cookieOf(g *gateway, c *http.Client, name string) string {
	u, _ := url.Parse(g.url("/"))
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// TestSecondFactors: TOTP and recovery codes through a real Caddy on both
// stores — sign-in asks for the code, a code is refused again in its time
// step, a recovery code works once, five wrong answers end the attempt,
// a remembered device skips the code at sign-in but never a step-up, and
// a device cookie copied to another account or forgotten is refused; the
// step-up page asks only for the missing factor and keeps the URL (GET)
// or asks to resubmit (POST); a reset waits for the second factor.
func TestSecondFactors(t *testing.T) {
	const site = "require /app/vault/* {\n\t\t\taal aal2\n\t\t}"
	runOnBothStoresSite(t, site, []scenario{
		{"sign-in with TOTP, replay refused", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			c := g.signUp("tia@example.com")
			secret, _ := enrolTOTP(t, g, c, clk)
			logout(t, g, c)

			clk.advance(30 * time.Second)
			firstFactor(t, g, c, "tia@example.com", "/app/vault/x")
			code := clk.code(t, secret, 0)
			r := mfaPost(g, c, url.Values{"code": {code}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/vault/x" {
				t.Fatalf("second factor: %d %q", r.status, r.header.Get("Location"))
			}
			if r := g.get(c, "/app/vault/x", navigate); r.status != http.StatusOK {
				t.Fatalf("aal2 route after TOTP: %d", r.status)
			}
			if amr := g.backend.lastHeaders().Get("X-Frontdoor-AMR"); amr != "pwd otp mfa" {
				t.Fatalf("amr %q", amr)
			}
			// Same code, same time step: refused.
			logout(t, g, c)
			firstFactor(t, g, c, "tia@example.com", "/app/home")
			r = mfaPost(g, c, url.Values{"code": {code}})
			if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "already used") {
				t.Fatalf("replayed code: %d %s", r.status, r.body)
			}
			// The next step's code is accepted (the attempt goes on).
			clk.advance(30 * time.Second)
			if r := mfaPost(g, c, url.Values{"code": {clk.code(t, secret, 0)}}); r.status != http.StatusSeeOther {
				t.Fatalf("next code: %d", r.status)
			}
		}},
		{"recovery code works once", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			c := g.signUp("rui@example.com")
			_, codes := enrolTOTP(t, g, c, clk)
			logout(t, g, c)
			firstFactor(t, g, c, "rui@example.com", "/app/home")
			if r := mfaPost(g, c, url.Values{"recovery_code": {strings.ToUpper(codes[0])}}); r.status != http.StatusSeeOther {
				t.Fatalf("recovery code: %d %s", r.status, r.body)
			}
			if amr := g.get(c, "/app/home", nil); amr.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-AMR") != "pwd mfa" {
				t.Fatalf("after a recovery code: %d amr %q", amr.status, g.backend.lastHeaders().Get("X-Frontdoor-AMR"))
			}
			logout(t, g, c)
			firstFactor(t, g, c, "rui@example.com", "/app/home")
			if r := mfaPost(g, c, url.Values{"recovery_code": {codes[0]}}); r.status != http.StatusUnauthorized {
				t.Fatalf("recovery code used twice: %d", r.status)
			}
			if r := mfaPost(g, c, url.Values{"recovery_code": {codes[1]}}); r.status != http.StatusSeeOther {
				t.Fatalf("another recovery code: %d", r.status)
			}
			events, err := backendOf(t).identity.Events(t.Context(), customerID(t, "rui@example.com"), 20)
			if err != nil || !hasEvent(events, identity.EventRecoveryCodeUsed) || !hasEvent(events, identity.EventTOTPAdded) {
				t.Fatalf("audit trail %+v %v", events, err)
			}
		}},
		{"five wrong answers end the attempt", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			c := g.signUp("bo@example.com")
			secret, _ := enrolTOTP(t, g, c, clk)
			logout(t, g, c)
			clk.advance(30 * time.Second)
			firstFactor(t, g, c, "bo@example.com", "/app/home")
			for i := 1; i <= identity.SecondFactorMaxAttempts; i++ {
				r := mfaPost(g, c, url.Values{"code": {"123456"}})
				if r.status != http.StatusUnauthorized {
					t.Fatalf("wrong code %d: %d", i, r.status)
				}
				if last := i == identity.SecondFactorMaxAttempts; last != strings.Contains(r.body, "Too many wrong answers") {
					t.Fatalf("wrong code %d: %s", i, r.body)
				}
			}
			// Even the right code is too late now: sign in again.
			r := g.postVia(c, "/.frontdoor/login", "/.frontdoor/mfa", url.Values{"code": {clk.code(t, secret, 0)}})
			if r.status != http.StatusBadRequest || g.sessionCookie(c) != "" {
				t.Fatalf("right code after the lock-out: %d", r.status)
			}
		}},
		{"remembered device, step-up and copies", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			a := g.signUp("dee@example.com")
			secretA, _ := enrolTOTP(t, g, a, clk)
			logout(t, g, a)
			clk.advance(30 * time.Second)
			firstFactor(t, g, a, "dee@example.com", "/app/home")
			if r := mfaPost(g, a, url.Values{"code": {clk.code(t, secretA, 0)}, "remember": {"1"}}); r.status != http.StatusSeeOther {
				t.Fatalf("second factor: %d", r.status)
			}
			device := cookieOf(g, a, "__Host-frontdoor-device")
			if device == "" {
				t.Fatal("no trusted-device cookie")
			}
			logout(t, g, a)
			// The remembered browser skips the code...
			r := g.post(a, "/.frontdoor/login", url.Values{"email": {"dee@example.com"}, "password": {testPassword}, "rd": {"/app/vault/x"}})
			if r.status != http.StatusSeeOther {
				t.Fatalf("remembered device still asked: %d", r.status)
			}
			// ...but its session is aal1: the aal2 route steps up, asking
			// only for the code (no password) and coming back to the URL.
			r = g.get(a, "/app/vault/x?y=1", navigate)
			if r.status != http.StatusFound || r.header.Get("Location") != "/.frontdoor/stepup?rd=%2Fapp%2Fvault%2Fx%3Fy%3D1" {
				t.Fatalf("aal2 route from a remembered device: %d %q", r.status, r.header.Get("Location"))
			}
			r = g.get(a, r.header.Get("Location"), navigate)
			if r.status != http.StatusOK || !strings.Contains(r.body, `name="code"`) || strings.Contains(r.body, `name="password"`) || strings.Contains(r.body, `name="remember"`) {
				t.Fatalf("step-up page: %d %s", r.status, r.body)
			}
			clk.advance(30 * time.Second)
			r = mfaPost(g, a, url.Values{"code": {clk.code(t, secretA, 0)}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/vault/x?y=1" {
				t.Fatalf("after step-up: %d %q", r.status, r.header.Get("Location"))
			}
			if r := g.get(a, "/app/vault/x?y=1", navigate); r.status != http.StatusOK {
				t.Fatalf("aal2 route after step-up: %d", r.status)
			}

			// A form post that needs a step-up is not replayed: the customer
			// is asked to send it again.
			logout(t, g, a)
			g.post(a, "/.frontdoor/login", url.Values{"email": {"dee@example.com"}, "password": {testPassword}})
			r = g.do(a, http.MethodPost, "/app/vault/transfer", url.Values{"amount": {"100"}}, navigate)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/.frontdoor/stepup?rd=%2Fapp%2Fvault%2Ftransfer&resubmit=1" {
				t.Fatalf("POST needing step-up: %d %q", r.status, r.header.Get("Location"))
			}
			g.get(a, r.header.Get("Location"), navigate)
			clk.advance(30 * time.Second)
			r = mfaPost(g, a, url.Values{"code": {clk.code(t, secretA, 0)}})
			if r.status != http.StatusOK || !strings.Contains(r.body, "send it again") || !strings.Contains(r.body, `href="/app/vault/transfer"`) {
				t.Fatalf("after step-up of a POST: %d %s", r.status, r.body)
			}

			// The cookie copied into another account's browser is worth nothing.
			b := g.signUp("eve@example.com")
			enrolTOTP(t, g, b, clk)
			logout(t, g, b)
			u, _ := url.Parse(g.url("/"))
			b.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-frontdoor-device", Value: device, Path: "/", Secure: true}})
			firstFactor(t, g, b, "eve@example.com", "/app/home")

			// Forgotten from the account page: refused too.
			if r := g.postVia(a, "/.frontdoor/account", "/.frontdoor/account/devices/forget", url.Values{}); r.status != http.StatusOK {
				t.Fatalf("forget devices: %d", r.status)
			}
			logout(t, g, a)
			a.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-frontdoor-device", Value: device, Path: "/", Secure: true}})
			firstFactor(t, g, a, "dee@example.com", "/app/home")
		}},
		{"step-up lock-out ends the session", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			c := g.signUp("lu@example.com") // an aal1 session, kept while enrolling
			enrolTOTP(t, g, c, clk)
			r := g.get(c, "/app/vault/x", navigate)
			if r = g.get(c, r.header.Get("Location"), navigate); r.status != http.StatusOK || !strings.Contains(r.body, `name="code"`) {
				t.Fatalf("step-up page: %d", r.status)
			}
			// Another browser cannot answer this session's step-up.
			other := g.newClient()
			u, _ := url.Parse(g.url("/"))
			other.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-frontdoor-mfa", Value: cookieOf(g, c, "__Host-frontdoor-mfa"), Path: "/", Secure: true}})
			if r := g.postVia(other, "/.frontdoor/login", "/.frontdoor/mfa", url.Values{"code": {"123456"}}); r.status != http.StatusBadRequest {
				t.Fatalf("step-up answered from another browser: %d", r.status)
			}
			// (That attempt ended the wait: fail closed.) A new one.
			g.get(c, "/.frontdoor/stepup?rd=%2Fapp%2Fvault%2Fx", navigate)
			for range identity.SecondFactorMaxAttempts {
				r = mfaPost(g, c, url.Values{"code": {"123456"}})
			}
			if r.status != http.StatusUnauthorized || g.sessionCookie(c) != "" {
				t.Fatalf("after five wrong step-up codes: %d, cookie %q", r.status, g.sessionCookie(c))
			}
			if r := g.get(c, "/app/home", nil); r.status != http.StatusUnauthorized {
				t.Fatalf("session after a failed step-up: %d", r.status)
			}
		}},
		{"reset waits for the second factor", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			c := g.signUp("ray@example.com")
			secret, _ := enrolTOTP(t, g, c, clk)
			logout(t, g, c)
			g.post(c, "/.frontdoor/reset", url.Values{"email": {"ray@example.com"}})
			link := g.mailLink("ray@example.com", "/.frontdoor/reset/confirm?token=")
			token := strings.SplitN(link, "token=", 2)[1]
			const newPassword = "a completely new passphrase"
			r := g.postVia(c, link, "/.frontdoor/reset/confirm", url.Values{"token": {token}, "password": {newPassword}, "password_confirm": {newPassword}})
			if r.status != http.StatusOK || !strings.Contains(r.body, "authenticator app") {
				t.Fatalf("reset of an account with a second factor: %d %s", r.status, r.body)
			}
			// Not in effect yet: the old password still works, the new does not.
			if r := g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {"ray@example.com"}, "password": {newPassword}}); r.status != http.StatusUnauthorized {
				t.Fatalf("new password before the second factor: %d", r.status)
			}
			clk.advance(30 * time.Second)
			r = mfaPost(g, c, url.Values{"code": {clk.code(t, secret, 0)}})
			if r.status != http.StatusOK || !strings.Contains(r.body, "Password changed") {
				t.Fatalf("second factor of a reset: %d %s", r.status, r.body)
			}
			r = g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {"ray@example.com"}, "password": {newPassword}})
			if r.status != http.StatusOK || !strings.Contains(r.body, "authenticator app") {
				t.Fatalf("sign-in with the new password: %d", r.status)
			}
		}},
		{"factor changes need a fresh sign-in", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			c := g.signUp("fay@example.com")
			enrolTOTP(t, g, c, clk)
			clk.advance(authflow.AccountFreshness + time.Minute)
			for _, action := range []string{"/.frontdoor/account/totp/remove", "/.frontdoor/account/recovery"} {
				r := g.postVia(c, "/.frontdoor/account", action, url.Values{})
				if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/.frontdoor/stepup?") {
					t.Fatalf("%s with an old sign-in: %d %q", action, r.status, r.header.Get("Location"))
				}
			}
			page := g.get(c, "/.frontdoor/account", nil)
			if !strings.Contains(page.body, "Authenticator app: on") {
				t.Fatalf("account page: %s", page.body)
			}
		}},
	})
}

func customerID(t *testing.T, email string) string {
	t.Helper()
	c, err := backendOf(t).identity.CustomerByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func hasEvent(events []identity.Event, kind string) bool {
	for _, e := range events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}
