package caddymodule

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// TestCSRF: every state-changing post without a valid token is refused
// (invariant 4), and refused posts change nothing.
func TestCSRF(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	g.signUp("eve@example.com")
	victim := g.newClient()
	g.csrf(victim, "/.frontdoor/login") // the victim has a CSRF cookie
	attacker := g.newClient()
	stolen := g.csrf(attacker, "/.frontdoor/login")
	login := url.Values{"email": {"eve@example.com"}, "password": {testPassword}}

	for _, tc := range []struct {
		name  string
		token string
		hdr   map[string]string
	}{
		{"no token", "", nil},
		{"another browser's token", stolen, nil},
		{"garbage token", "AAAA", nil},
		{"cross-site fetch", "valid", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"foreign origin", "valid", map[string]string{"Origin": "https://evil.example"}},
	} {
		form := url.Values{}
		for k, v := range login {
			form[k] = v
		}
		if tc.token == "valid" {
			tc.token = g.csrf(victim, "/.frontdoor/login")
		}
		if tc.token != "" {
			form.Set("csrf_token", tc.token)
		}
		r := g.do(victim, http.MethodPost, "/.frontdoor/login", form, tc.hdr)
		if r.status != http.StatusForbidden || g.sessionCookie(victim) != "" {
			t.Errorf("%s: %d, session cookie %q", tc.name, r.status, g.sessionCookie(victim))
		}
	}
	// Register, logout and sign-out-everywhere refuse too.
	c := g.newClient()
	g.login(c, "eve@example.com", testPassword, "/")
	for _, action := range []string{"/.frontdoor/register", "/.frontdoor/logout", "/.frontdoor/account/signout-everywhere"} {
		r := g.do(c, http.MethodPost, action, url.Values{"email": {"x@example.com"}, "password": {testPassword}}, nil)
		if r.status != http.StatusForbidden {
			t.Errorf("%s without token: %d", action, r.status)
		}
	}
	if r := g.get(c, "/app/x", nil); r.status != http.StatusOK {
		t.Fatalf("CSRF-less logout ended the session: %d", r.status)
	}
}

// TestHostileRedirects: after sign-in, every hostile rd falls back to "/"
// (invariant 3).
func TestHostileRedirects(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	g.signUp("fay@example.com")
	c := g.newClient()
	for _, rd := range []string{
		"//evil.com", "/\\evil.com", "https:evil.com", "https://evil.com/", "http://evil.com", "javascript:alert(1)",
		"/%2f%2fevil.com", "/%2F%2Fevil.com", "%2f%2fevil.com", "/%5cevil.com", "/%255c%255cevil.com", "/\tevil.com",
		"/\r\n//evil.com", "/x\x00", "///evil.com", "\\\\evil.com", "https://shop.test@evil.com/",
	} {
		r := g.login(c, "fay@example.com", testPassword, rd)
		if loc := r.header.Get("Location"); loc != "/" {
			t.Errorf("rd %q: redirected to %q", rd, loc)
		}
	}
	for _, rd := range []string{"/app/orders?id=7&x=1", "/pub/page"} {
		if loc := g.login(c, "fay@example.com", testPassword, rd).header.Get("Location"); loc != rd {
			t.Errorf("rd %q: redirected to %q", rd, loc)
		}
	}
}

// TestPathVariantsCannotBypass: invariant 2 through the real server. Each
// variant is either refused or served without reaching the backend as an
// anonymous protected request.
func TestPathVariantsCannotBypass(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	anon := g.newClient()
	for _, p := range []string{
		"/app", "/app/x", "//app", "//app/x", "/APP", "/App/x", "/app%2f..", "/app%2F../x", "/app/./x",
		"/pub/..%2fapp", "/pub/..%2Fapp/x", "/pub/..;/app", "/pub/..;/app/x", "/pub/%2e%2e/app", "/app.", "/app;x=1/y",
		"/pub/%2e%2e%2fapp", "/static/..%5capp", "/unlisted",
	} {
		before := g.backend.count()
		r := g.get(anon, p, map[string]string{"Accept": "application/json"})
		if g.backend.count() != before {
			t.Errorf("%s reached the backend anonymously (%d)", p, r.status)
		}
		if r.status != http.StatusUnauthorized && r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

// TestStoreFailureFailsClosed: invariant 5.
func TestStoreFailureFailsClosed(t *testing.T) {
	g := startGateway(t, gatewayOpts{store: "store faulty {dir}/frontdoor.db", site: ""})
	c := g.signUp("gus@example.com")
	t.Cleanup(func() { storeFailing.Store(false) })
	storeFailing.Store(true)
	// The session cache may serve for up to its TTL; past it, 503.
	waitStatus(t, func() int { return g.get(c, "/app/x", nil).status }, http.StatusServiceUnavailable)
	for _, p := range []string{"/app/x", "/.frontdoor/account"} {
		r := g.get(c, p, navigate)
		if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "Temporarily unavailable") {
			t.Errorf("%s with the store down: %d", p, r.status)
		}
	}
	if r := g.get(c, "/pub/x", nil); r.status != http.StatusOK {
		t.Errorf("public route with the store down: %d", r.status)
	}
	if r := g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {"gus@example.com"}, "password": {testPassword}}); r.status != http.StatusServiceUnavailable {
		t.Errorf("login with the store down: %d", r.status)
	}
	storeFailing.Store(false)
	if r := g.get(c, "/app/x", nil); r.status != http.StatusOK {
		t.Fatalf("session lost after the store came back: %d", r.status)
	}
}

// TestBadInput: oversized and malformed forms and emails get clear pages.
func TestBadInput(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	c := g.newClient()
	tok := g.csrf(c, "/.frontdoor/register")
	big := url.Values{"csrf_token": {tok}, "email": {"a@example.com"}, "password": {strings.Repeat("x", 70<<10)}}
	if r := g.do(c, http.MethodPost, "/.frontdoor/register", big, nil); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized form: %d", r.status)
	}
	req := func(body, ctype string) response {
		hr, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/login"), strings.NewReader(body))
		hr.Header.Set("Content-Type", ctype)
		resp, err := c.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return response{status: resp.StatusCode}
	}
	if r := req("email=%zz&password=x", "application/x-www-form-urlencoded"); r.status != http.StatusBadRequest {
		t.Errorf("malformed form: %d", r.status)
	}
	if r := req(`{"email":"a"}`, "application/json"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("json post: %d", r.status)
	}
	for _, email := range []string{"not-an-email", "a@b", "Name <a@b.c>", "a@example.com\r\nBcc: x@y.z"} {
		r := g.post(c, "/.frontdoor/register", url.Values{"email": {email}, "password": {testPassword}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="email-error"`) {
			t.Errorf("email %q: %d", email, r.status)
		}
	}
	for pw, msg := range map[string]string{"short": "too short", "passwordpassword": "too common", strings.Repeat("x", 200): "too long"} {
		r := g.post(c, "/.frontdoor/register", url.Values{"email": {"ok@example.com"}, "password": {pw}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, msg) || !strings.Contains(r.body, `id="password-error"`) {
			t.Errorf("password %.10q: %d", pw, r.status)
		}
	}
}

// TestNoEnumeration: register and login answer the same for known and
// unknown addresses (invariant 6); the owner of a taken address is mailed.
func TestNoEnumeration(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	g.signUp("hal@example.com")
	c := g.newClient()
	known := g.post(c, "/.frontdoor/register", url.Values{"email": {"hal@example.com"}, "password": {testPassword + "!"}})
	unknown := g.post(c, "/.frontdoor/register", url.Values{"email": {"ida@example.com"}, "password": {testPassword + "!"}})
	if known.status != unknown.status || strings.ReplaceAll(known.body, "hal@", "ida@") != unknown.body {
		t.Fatalf("register differs: %d vs %d", known.status, unknown.status)
	}
	g.mailLink("hal@example.com", "/.frontdoor/login")
	g.mailLink("ida@example.com", "/.frontdoor/verify?token=")

	wrong := g.post(c, "/.frontdoor/login", url.Values{"email": {"hal@example.com"}, "password": {"wrong password here!"}})
	nobody := g.post(c, "/.frontdoor/login", url.Values{"email": {"zed@example.com"}, "password": {"wrong password here!"}})
	if wrong.status != http.StatusUnauthorized || nobody.status != wrong.status ||
		strings.ReplaceAll(wrong.body, "hal@", "zed@") != nobody.body {
		t.Fatalf("login differs: %d vs %d", wrong.status, nobody.status)
	}
}

// secretLogFilter is the README's recipe for operators who turn on DEBUG
// logs or access logs: Caddy's reverse proxy logs upstream request headers
// at DEBUG (redacting only Cookie and Authorization), and access logs
// record the request URI, which holds the one-time token of a mailed link.
const secretLogFilter = `format filter {
			wrap json
			fields {
				request>headers>X-Frontdoor-Assertion delete
				request>uri query {
					replace token REDACTED
				}
			}
		}`

// TestNoSecretsInLogs: after a full flow, the log holds no password,
// token, cookie, CSRF value or assertion (invariant 7) — with Caddy's
// default logging, and at DEBUG with access logs and the README's filter.
func TestNoSecretsInLogs(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    gatewayOpts
	}{
		{"default logging", gatewayOpts{logs: "level INFO"}},
		{"debug and access logs with the documented filter", gatewayOpts{
			logs:   "level DEBUG\n\t\t" + secretLogFilter,
			access: "log {\n\t\toutput file {log}\n\t\t" + secretLogFilter + "\n\t}",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkLogsClean(t, tc.o) })
	}
}

func checkLogsClean(t *testing.T, o gatewayOpts) {
	g := startGateway(t, o)
	c := g.newClient()
	g.post(c, "/.frontdoor/register", url.Values{"email": {"jo@example.com"}, "password": {testPassword}})
	link := g.mailLink("jo@example.com", "/.frontdoor/verify?token=")
	g.confirmLink(c, link)
	g.login(c, "jo@example.com", testPassword, "/app/x")
	g.post(c, "/.frontdoor/login", url.Values{"email": {"jo@example.com"}, "password": {"a wrong password typed"}})
	g.get(c, "/app/x", nil)
	g.get(c, "/.frontdoor/account", nil)
	assertion := g.backend.lastHeaders().Get("X-Frontdoor-Assertion")
	logs, err := os.ReadFile(g.logFile)
	if err != nil || len(logs) == 0 {
		t.Fatalf("no log captured: %v", err)
	}
	u, _ := url.Parse(link)
	for name, secret := range map[string]string{
		"password": testPassword, "wrong password": "a wrong password typed", "token": u.Query().Get("token"),
		"session cookie": g.sessionCookie(c), "csrf token": g.csrf(c, "/.frontdoor/login"), "assertion": assertion,
	} {
		if secret == "" {
			t.Fatalf("%s: nothing to look for", name)
		}
		if strings.Contains(string(logs), secret) || strings.Contains(string(logs), url.QueryEscape(secret)) {
			t.Errorf("the log contains the %s", name)
		}
	}
}

// TestSecurityHeadersOnEveryPage: invariant 4 — every page Frontdoor
// renders, error pages included, carries the strict headers, and auth
// answers are never cached.
func TestSecurityHeadersOnEveryPage(t *testing.T) {
	g := startGateway(t, gatewayOpts{store: "store faulty {dir}/frontdoor.db"})
	c := g.signUp("wes@example.com")
	anon := g.newClient()
	pages := map[string]response{
		"register":       g.get(anon, "/.frontdoor/register", nil),
		"login":          g.get(anon, "/.frontdoor/login", nil),
		"logout":         g.get(c, "/.frontdoor/logout", nil),
		"account":        g.get(c, "/.frontdoor/account", nil),
		"verify (bad)":   g.get(anon, "/.frontdoor/verify?token=nope", nil),
		"not found":      g.get(anon, "/.frontdoor/nothing", nil),
		"login (failed)": g.post(anon, "/.frontdoor/login", url.Values{"email": {"wes@example.com"}, "password": {"wrong wrong wrong"}}),
	}
	t.Cleanup(func() { storeFailing.Store(false) })
	storeFailing.Store(true)
	waitStatus(t, func() int { return g.get(c, "/app/x", nil).status }, http.StatusServiceUnavailable)
	pages["503"] = g.get(c, "/app/x", navigate)
	pages["account (store down)"] = g.get(c, "/.frontdoor/account", nil)
	storeFailing.Store(false)
	for name, r := range pages {
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", name, csp, want)
			}
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Frame-Options") != "DENY" ||
			r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s (%d): headers %v", name, r.status, r.header)
		}
	}
	if r := pages["account (store down)"]; r.status != http.StatusServiceUnavailable {
		t.Errorf("account with the store down: %d", r.status)
	}
	// Redirects and API answers about authentication are not cached either.
	for _, r := range []response{g.get(anon, "/app/x", navigate), g.get(anon, "/app/x", nil)} {
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%d answer cacheable: %v", r.status, r.header)
		}
	}
}
