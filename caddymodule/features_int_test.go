package caddymodule

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHeaderPresetAndPlaceholders: the oauth2_proxy preset names the
// headers, a forged copy of them is replaced, and the Caddy placeholders
// carry the identity to other directives.
func TestHeaderPresetAndPlaceholders(t *testing.T) {
	g := startGateway(t, gatewayOpts{
		site:   "headers oauth2_proxy {\n\t\t\temail X-Mail\n\t\t}",
		direct: "request_header X-Placeholder-User {http.auth.user.id}\n\trequest_header X-Placeholder-Acr {http.frontdoor.acr}",
	})
	c := g.signUp("lee@example.com")
	r := g.get(c, "/app/x", map[string]string{"X-Forwarded-User": "admin", "X-Mail": "boss@example.com"})
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	h := g.backend.lastHeaders()
	user := h.Get("X-Forwarded-User")
	if !strings.HasPrefix(user, "u_") || len(h.Values("X-Forwarded-User")) != 1 || h.Get("X-Mail") != "lee@example.com" || h.Get("X-Frontdoor-Assertion") == "" {
		t.Fatalf("preset headers: %v", h)
	}
	if h.Get("X-Frontdoor-User") != "" || h.Get("X-Forwarded-Email") != "" {
		t.Fatalf("names outside the preset were set: %v", h)
	}
	if h.Get("X-Placeholder-User") != user || h.Get("X-Placeholder-Acr") != "aal1" {
		t.Fatalf("placeholders: %q %q", h.Get("X-Placeholder-User"), h.Get("X-Placeholder-Acr"))
	}
}

// TestHeadersSend: `send assertion` and `send plain` give backends one kind
// of identity only, and forged copies of the other kind are stripped all the
// same. A value an earlier handler stored under an identity placeholder
// (vars, fed from a client's header) never wins over the verified one.
func TestHeadersSend(t *testing.T) {
	forged := map[string]string{"X-Frontdoor-User": "admin", "X-Frontdoor-Assertion": "a.b.c", "X-Frontdoor-Amr": "hwk", "X-Other": "admin"}
	for _, tc := range []struct {
		send             string
		plain, assertion bool
	}{{"assertion", false, true}, {"plain", true, false}, {"both", true, true}} {
		t.Run(tc.send, func(t *testing.T) {
			g := startGateway(t, gatewayOpts{
				site:   "headers frontdoor {\n\t\t\tsend " + tc.send + "\n\t\t}",
				direct: "vars http.auth.user.id {http.request.header.X-Other}\n\trequest_header X-Placeholder-User {http.auth.user.id}",
			})
			c := g.signUp("sam@example.com")
			r := g.get(c, "/app/x", forged)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			h := g.backend.lastHeaders()
			user := h.Get("X-Placeholder-User")
			if !strings.HasPrefix(user, "u_") {
				t.Fatalf("placeholder user %q: an earlier handler's value won over the session's", user)
			}
			for _, name := range []string{"X-Frontdoor-User", "X-Frontdoor-Email", "X-Frontdoor-Email-Verified", "X-Frontdoor-Auth-Time", "X-Frontdoor-Amr"} {
				if got := h.Values(name); tc.plain != (len(got) == 1) || (len(got) == 1 && (got[0] == "admin" || got[0] == "hwk")) {
					t.Errorf("send %s: %s = %q", tc.send, name, got)
				}
			}
			if h.Get("X-Frontdoor-User") != "" && h.Get("X-Frontdoor-User") != user {
				t.Errorf("header user %q, placeholder %q", h.Get("X-Frontdoor-User"), user)
			}
			a := h.Values("X-Frontdoor-Assertion")
			if tc.assertion != (len(a) == 1) || (len(a) == 1 && strings.Count(a[0], ".") != 2) || (len(a) == 1 && a[0] == "a.b.c") {
				t.Errorf("send %s: assertion %q", tc.send, a)
			}
		})
	}
}

// TestMailLinksUseConfiguredOrigin: a forged Host or X-Forwarded-Host never
// ends up in a mailed link.
func TestMailLinksUseConfiguredOrigin(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	c := g.newClient()
	tok := g.csrf(c, "/.frontdoor/register")
	form := url.Values{"csrf_token": {tok}, "email": {"max@example.com"}, "password": {testPassword}}
	r := g.do(c, http.MethodPost, "/.frontdoor/register", form, map[string]string{
		"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http", "Forwarded": "host=evil.example",
	})
	if r.status != http.StatusOK {
		t.Fatalf("register: %d", r.status)
	}
	link := g.mailLink("max@example.com", "/.frontdoor/verify?token=")
	if !strings.HasPrefix(link, g.url("/.frontdoor/verify?token=")) {
		t.Fatalf("link %q is not on the configured origin", link)
	}
}

// TestTheme: a theme directory replaces templates and the stylesheet;
// files it lacks come from the built-in theme.
func TestTheme(t *testing.T) {
	theme := t.TempDir()
	os.WriteFile(filepath.Join(theme, "login.html"), []byte(`<p id="brand">Acme sign-in</p><form method="post"><input type="hidden" name="csrf_token" value="{{.CSRF}}"></form>`), 0o600)
	os.WriteFile(filepath.Join(theme, "style.css"), []byte("body{color:#123456}"), 0o600)
	g := startGateway(t, gatewayOpts{site: "theme " + theme})
	c := g.newClient()
	login := g.get(c, "/.frontdoor/login", nil)
	if !strings.Contains(login.body, "Acme sign-in") || !strings.Contains(login.body, `<main class="card">`) {
		t.Fatalf("themed login page: %s", login.body)
	}
	if reg := g.get(c, "/.frontdoor/register", nil); !strings.Contains(reg.body, "Create account") {
		t.Fatal("built-in register page missing under a partial theme")
	}
	i := strings.Index(login.body, `href="/.frontdoor/static/`)
	if i < 0 {
		t.Fatal("no stylesheet link")
	}
	href := login.body[i+6 : i+6+strings.Index(login.body[i+6:], `"`)]
	css := g.get(c, href, nil)
	if css.status != http.StatusOK || css.body != "body{color:#123456}" || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Fatalf("themed css: %d %q", css.status, css.body)
	}
	// Every page carries the security headers.
	for _, hd := range []string{"Content-Security-Policy", "X-Frame-Options", "Cache-Control", "Referrer-Policy"} {
		if login.header.Get(hd) == "" {
			t.Errorf("login page lacks %s", hd)
		}
	}
	if !strings.Contains(login.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || login.header.Get("Cache-Control") != "no-store" {
		t.Errorf("security headers: %v", login.header)
	}
}

// TestSlowSMTPDoesNotStallSignUp: mail goes through a queue. With an SMTP
// server that accepts connections and then says nothing, sign-up still
// answers, while the mailer is stuck talking to the server.
func TestSlowSMTPDoesNotStallSignUp(t *testing.T) {
	smtpAddr, accepted, release := silentSMTP(t)
	g := startGateway(t, gatewayOpts{})
	t.Cleanup(release) // registered after Caddy's stop, so it runs first
	g.load(gatewayOpts{global: "mailer smtp " + smtpAddr + " {\n\t\t\ttls none\n\t\t\ttimeout 30s\n\t\t}"})
	c := g.newClient()
	r := g.post(c, "/.frontdoor/register", url.Values{"email": {"nia@example.com"}, "password": {testPassword}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") {
		t.Fatalf("register with a stalled SMTP server: %d", r.status)
	}
	select {
	case conn := <-accepted:
		accepted <- conn // the mailer connected and is waiting for a greeting
	case <-time.After(10 * time.Second):
		t.Fatal("the mailer never tried the SMTP server")
	}
}

// TestPasswordHashUpgradedAtLogin: raising the argon2id cost in the
// Caddyfile re-hashes a customer's password at their next sign-in, and the
// password keeps working.
func TestPasswordHashUpgradedAtLogin(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	g.signUp("pia@example.com")
	stored := func() string {
		c, err := backendOf(t).identity.CustomerByEmail(context.Background(), "pia@example.com")
		if err != nil {
			t.Fatal(err)
		}
		return c.PasswordHash
	}
	if h := stored(); !strings.Contains(h, "$m=19456,t=2,p=1$") {
		t.Fatalf("default hash: %s", h)
	}
	g.load(gatewayOpts{global: "password {\n\t\t\targon2 20480 3 1\n\t\t}"})
	g.login(g.newClient(), "pia@example.com", testPassword, "/")
	if h := stored(); !strings.Contains(h, "$m=20480,t=3,p=1$") {
		t.Fatalf("hash not upgraded at sign-in: %s", h)
	}
	g.login(g.newClient(), "pia@example.com", testPassword, "/")
}

// TestConfiguredCookieKeys: keys set in the Caddyfile are the ones used —
// changing them signs everyone out, keeping them across a reload does not.
func TestConfiguredCookieKeys(t *testing.T) {
	keys := func(seed byte) string {
		h, b := make([]byte, 64), make([]byte, 32)
		for i := range h {
			h[i] = seed + byte(i)
		}
		for i := range b {
			b[i] = seed ^ byte(i)
		}
		return "keys {\n\t\t\tcookie " + base64.StdEncoding.EncodeToString(h) + " " + base64.StdEncoding.EncodeToString(b) + "\n\t\t}"
	}
	g := startGateway(t, gatewayOpts{global: keys(1)})
	c := g.signUp("quinn@example.com")
	g.load(gatewayOpts{global: keys(1), site: "public /extra/*"})
	if r := g.get(c, "/app/x", nil); r.status != http.StatusOK {
		t.Fatalf("same keys after reload: %d", r.status)
	}
	g.load(gatewayOpts{global: keys(2)})
	if r := g.get(c, "/app/x", navigate); r.status != http.StatusFound {
		t.Fatalf("cookie still accepted after the keys changed: %d", r.status)
	}
}

// TestSignInBurstQueuesThenSheds: with one hashing slot, a short queue and
// a short wait, a burst of sign-ins gets some answers and, past the queue,
// a clear 503 with Retry-After — never a pile-up.
func TestSignInBurstQueuesThenSheds(t *testing.T) {
	g := startGateway(t, gatewayOpts{global: "password {\n\t\t\tconcurrency 1\n\t\t\tqueue 1\n\t\t\tqueue_wait 1ms\n\t\t}"})
	type result struct {
		status     int
		retryAfter string
		body       string
	}
	const n = 8
	clients := make([]*http.Client, n)
	tokens := make([]string, n)
	for i := range clients {
		clients[i] = g.newClient()
		tokens[i] = g.csrf(clients[i], "/.frontdoor/login")
	}
	results := make(chan result, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			form := url.Values{"csrf_token": {tokens[i]}, "email": {"nobody@example.com"}, "password": {"wrong password here"}}
			r := g.do(clients[i], http.MethodPost, "/.frontdoor/login", form, nil)
			results <- result{r.status, r.header.Get("Retry-After"), r.body}
		}()
	}
	close(start)
	answered, shed := 0, 0
	for range n {
		r := <-results
		switch {
		case r.status == http.StatusUnauthorized:
			answered++
		case r.status == http.StatusServiceUnavailable && r.retryAfter != "" && strings.Contains(r.body, "try again in a few seconds"):
			shed++
		default:
			t.Errorf("unexpected answer %d", r.status)
		}
	}
	if answered == 0 || shed == 0 {
		t.Fatalf("answered %d, shed %d of %d", answered, shed, n)
	}
}

// TestSignInBurstWithinTheWait: the queue is bounded by time, not by a
// short default count: a burst that the one slot works through within the
// wait is answered in full, nobody turned away. (The wait is long here so
// a slow -race run on a busy machine stays within it.)
func TestSignInBurstWithinTheWait(t *testing.T) {
	g := startGateway(t, gatewayOpts{global: "password {\n\t\t\tconcurrency 1\n\t\t\tqueue_wait 30s\n\t\t}"})
	const n = 24 // more than the 16 per slot the queue once held
	clients := make([]*http.Client, n)
	tokens := make([]string, n)
	for i := range clients {
		clients[i] = g.newClient()
		tokens[i] = g.csrf(clients[i], "/.frontdoor/login")
	}
	statuses := make(chan int, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			form := url.Values{"csrf_token": {tokens[i]}, "email": {"nobody@example.com"}, "password": {"wrong password here"}}
			statuses <- g.do(clients[i], http.MethodPost, "/.frontdoor/login", form, nil).status
		}()
	}
	close(start)
	for range n {
		if st := <-statuses; st != http.StatusUnauthorized {
			t.Errorf("answer %d, want 401 for every sign-in of the burst", st)
		}
	}
}

// TestStepUpMaxAge: a route with `max_age 1m` asks for a fresh sign-in once
// the sign-in is older (clock moved, no sleep), keeps the original URL for
// browsers, answers API callers per RFC 9470, and is satisfied again after
// signing in; an aal2 rule cannot be met by a password.
func TestStepUpMaxAge(t *testing.T) {
	runOnBothStoresSite(t, "require /app/pay/* {\n\t\t\tmax_age 1m\n\t\t}\n\t\trequire /app/vault/* {\n\t\t\taal aal2\n\t\t}",
		[]scenario{{"max_age", stepUpMaxAge}})
}

func stepUpMaxAge(t *testing.T, g *gateway) {
	c := g.signUp("xia@example.com")
	if r := g.get(c, "/app/pay/card?x=1", navigate); r.status != http.StatusOK {
		t.Fatalf("fresh sign-in: %d", r.status)
	}
	appClock := backendOf(t).clock
	t.Cleanup(func() { appClock.Set(nil) })
	later := time.Now().Add(2 * time.Minute)
	appClock.Set(func() time.Time { return later })

	// The browser goes to the step-up page, which keeps the original URL
	// and — the sign-in being too old — asks for a new one, coming back
	// through the step-up page.
	r := g.get(c, "/app/pay/card?x=1", navigate)
	stepUp := "/.frontdoor/stepup?rd=%2Fapp%2Fpay%2Fcard%3Fx%3D1"
	if r.status != http.StatusFound || r.header.Get("Location") != stepUp {
		t.Fatalf("stale sign-in, browser: %d %q", r.status, r.header.Get("Location"))
	}
	r = g.get(c, stepUp, navigate)
	if r.status != http.StatusFound || r.header.Get("Location") != "/.frontdoor/login?reauth=1&rd="+url.QueryEscape(stepUp) {
		t.Fatalf("step-up page, stale sign-in: %d %q", r.status, r.header.Get("Location"))
	}
	api := g.get(c, "/app/pay/card", map[string]string{"Accept": "application/json"})
	if www := api.header.Get("WWW-Authenticate"); api.status != http.StatusUnauthorized ||
		!strings.Contains(www, `error="insufficient_user_authentication"`) || !strings.Contains(www, "max_age=60") {
		t.Fatalf("stale sign-in, API: %d %q", api.status, www)
	}
	if r := g.get(c, "/app/other", nil); r.status != http.StatusOK {
		t.Fatalf("a route without the rule: %d", r.status)
	}
	loc := g.login(c, "xia@example.com", testPassword, stepUp).header.Get("Location")
	if loc != stepUp {
		t.Fatalf("after re-authentication, back to %q", loc)
	}
	if loc = g.get(c, loc, navigate).header.Get("Location"); loc != "/app/pay/card?x=1" {
		t.Fatalf("after re-authentication, the step-up page sends to %q", loc)
	}
	if r := g.get(c, loc, navigate); r.status != http.StatusOK {
		t.Fatalf("after re-authentication: %d", r.status)
	}

	api = g.get(c, "/app/vault/x", map[string]string{"Accept": "application/json"})
	if www := api.header.Get("WWW-Authenticate"); api.status != http.StatusUnauthorized || !strings.Contains(www, `acr_values="aal2"`) {
		t.Fatalf("aal2 rule, API: %d %q", api.status, www)
	}
	// A customer without a second factor is told to add one.
	r = g.get(c, "/app/vault/x", navigate)
	if r = g.get(c, r.header.Get("Location"), navigate); r.status != http.StatusForbidden || !strings.Contains(r.body, "Two-step verification needed") {
		t.Fatalf("aal2 rule, browser without a second factor: %d %s", r.status, r.body)
	}
}
