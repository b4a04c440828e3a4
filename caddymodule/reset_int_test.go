package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

const (
	resetNeedle   = "/.frontdoor/reset/confirm?token="
	resetPassword = "a brand new passphrase for me"
)

// TestPasswordReset runs every reset scenario through a real Caddy on the
// bolt store and on Redis. Scenarios share one gateway per store; each
// uses its own addresses.
func TestPasswordReset(t *testing.T) {
	runOnBothStores(t, []scenario{
		{"happy path", resetHappyPath},
		{"link reuse", resetReuse},
		{"expired link", resetExpired},
		{"same answer for every address", resetSameAnswer},
		{"typo keeps the link", resetTypoKeepsLink},
		{"request does not lock out", resetRequestKeepsPassword},
		{"csrf", resetCSRF},
	})
}

// resetHappyPath: a customer signed in on two browsers asks for a reset
// from a third. Opening the link (twice) uses nothing up; setting the new
// password signs both other browsers out, retires the old password and
// leaves a password_reset event in the audit trail.
func resetHappyPath(t *testing.T, g *gateway) {
	const email = "happy@example.com"
	b1 := g.signUp(email)
	b2 := g.newClient()
	g.login(b2, email, testPassword, "/app/x")
	for i, b := range []*http.Client{b1, b2} {
		if r := g.get(b, "/app/x", navigate); r.status != http.StatusOK {
			t.Fatalf("browser %d before the reset: %d", i+1, r.status)
		}
	}

	b3 := g.newClient()
	resetRequest(t, g, b3, email)
	mails := squatMailsTo(t, g, email)
	if len(mails) != 1 || !strings.Contains(mails[0], resetNeedle) || !strings.Contains(mails[0], "30 minutes") {
		t.Fatalf("want one reset mail saying it lasts 30 minutes, got %q", mails)
	}
	link := resetLink(t, g, email)
	token := tokenOf(t, link)
	for range 2 { // a mail scanner, then the customer
		r := g.get(b3, link, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, `name="token" value="`+token+`"`) ||
			!strings.Contains(r.body, `name="password_confirm"`) || !strings.Contains(r.body, `autocomplete="new-password"`) {
			t.Fatalf("reset form: %d %s", r.status, r.body)
		}
		if r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("reset form headers: %v", r.header)
		}
	}
	r := resetConfirm(g, b3, link, resetPassword, resetPassword)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Password changed") {
		t.Fatalf("setting the new password: %d %s", r.status, r.body)
	}
	if !clearsSession(r.header) {
		t.Errorf("the reset did not clear the session cookie: %q", r.header.Values("Set-Cookie"))
	}

	for i, b := range []*http.Client{b1, b2} {
		r := g.get(b, "/app/x", navigate)
		if r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), "/.frontdoor/login") {
			t.Errorf("browser %d after the reset: %d %q, want 302 to sign in", i+1, r.status, r.header.Get("Location"))
		}
	}
	wantPassword(t, g, email, resetPassword, testPassword)

	ctx := context.Background()
	c, err := backendOf(t).identity.CustomerByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	events, err := backendOf(t).identity.Events(ctx, c.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: the reset, with only wantPassword's sign-in attempts
	// (which the trail records too) after it.
	i := 0
	for i < len(events) && (events[i].Kind == identity.EventSignedIn || events[i].Kind == identity.EventSignInFailed) {
		i++
	}
	if i == len(events) || events[i].Kind != identity.EventPasswordReset || events[i].IP == "" || events[i].At.IsZero() {
		t.Fatalf("audit trail after the reset: %+v", events)
	}
}

// resetReuse: a link works once; the second use changes nothing.
func resetReuse(t *testing.T, g *gateway) {
	const email = "reuse@example.com"
	g.signUp(email)
	c := g.newClient()
	resetRequest(t, g, c, email)
	link := resetLink(t, g, email)
	if r := resetConfirm(g, c, link, resetPassword, resetPassword); r.status != http.StatusOK {
		t.Fatalf("first use: %d %s", r.status, r.body)
	}
	const again = "someone else wants this one"
	r := resetConfirm(g, g.newClient(), link, again, again)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired or was already used") ||
		!strings.Contains(r.body, `href="/.frontdoor/reset"`) {
		t.Fatalf("second use: %d %s", r.status, r.body)
	}
	wantPassword(t, g, email, resetPassword, again)
}

// resetExpired: a token past its lifetime (stored directly, already
// expired, instead of sleeping 30 minutes) opens the form but sets nothing.
func resetExpired(t *testing.T, g *gateway) {
	const email = "expired@example.com"
	g.signUp(email)
	ctx := context.Background()
	c, err := backendOf(t).identity.CustomerByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	secret, tok := identity.NewToken(identity.ResetPassword{}, c.ID, identity.ResetTokenTTL, time.Now().Add(-identity.ResetTokenTTL-time.Minute))
	if err := backendOf(t).identity.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	link := g.url(resetNeedle + url.QueryEscape(secret))
	b := g.newClient()
	if r := g.get(b, link, nil); r.status != http.StatusOK { // the GET checks the format only
		t.Fatalf("form for an expired link: %d", r.status)
	}
	r := resetConfirm(g, b, link, resetPassword, resetPassword)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired or was already used") {
		t.Fatalf("expired link: %d %s", r.status, r.body)
	}
	wantPassword(t, g, email, testPassword, resetPassword)

	// A token that is not one at all is refused before any lookup.
	if r := g.get(b, resetNeedle+"not-a-token", nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, "malformed") {
		t.Fatalf("malformed link: %d %s", r.status, r.body)
	}
}

// resetSameAnswer: a known and an unknown address get the same status and
// page; only the known one gets mail.
func resetSameAnswer(t *testing.T, g *gateway) {
	const (
		known   = "known@example.com"
		unknown = "nosuchone@example.com"
	)
	g.signUp(known)
	c := g.newClient()
	pages := map[string]response{}
	for _, email := range []string{unknown, known} {
		pages[email] = g.post(c, "/.frontdoor/reset", url.Values{"email": {email}})
	}
	want := pages[known]
	if want.status != http.StatusOK || !strings.Contains(want.body, "Check your email") || !strings.Contains(want.body, known) {
		t.Fatalf("reset for a known address: %d %s", want.status, want.body)
	}
	got := pages[unknown]
	if got.status != want.status || strings.ReplaceAll(got.body, unknown, known) != want.body {
		t.Fatalf("reset for an unknown address: %d, page differs from a known address's:\n%s\n---\n%s", got.status, got.body, want.body)
	}
	// Mail is queued before the page is answered: once the queue is idle,
	// everything both requests caused has been delivered.
	if mails := squatMailsTo(t, g, known); len(mails) != 1 || !strings.Contains(mails[0], resetNeedle) {
		t.Fatalf("mail to the known address: %q", mails)
	}
	if mails := squatMailsTo(t, g, unknown); len(mails) != 0 {
		t.Fatalf("mail to the unknown address: %q", mails)
	}
	resetLink(t, g, known)

	// A malformed address is a field error, like on sign-up.
	r := g.post(c, "/.frontdoor/reset", url.Values{"email": {"not an address"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="email-error"`) || !strings.Contains(r.body, `aria-invalid="true"`) {
		t.Fatalf("malformed address: %d %s", r.status, r.body)
	}
}

// resetTypoKeepsLink: a mismatched confirmation or a password the policy
// refuses is answered with the form and a field error; the link survives.
func resetTypoKeepsLink(t *testing.T, g *gateway) {
	const email = "typo@example.com"
	g.signUp(email)
	c := g.newClient()
	resetRequest(t, g, c, email)
	link := resetLink(t, g, email)
	for _, tc := range []struct {
		name, password, confirm, field, text string
	}{
		{"mismatch", resetPassword, resetPassword + "x", "password_confirm", "do not match"},
		{"too short", "qzv 7 kpw", "qzv 7 kpw", "password", "too short"},
	} {
		r := resetConfirm(g, c, link, tc.password, tc.confirm)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, tc.text) ||
			!strings.Contains(r.body, `id="`+tc.field+`-error"`) || !strings.Contains(r.body, `name="token" value="`+tokenOf(t, link)+`"`) {
			t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
		}
		if strings.Contains(r.body, tc.password) {
			t.Fatalf("%s: the page echoes the password", tc.name)
		}
	}
	wantPassword(t, g, email, testPassword, resetPassword)
	if r := resetConfirm(g, c, link, resetPassword, resetPassword); r.status != http.StatusOK {
		t.Fatalf("the link after two typos: %d %s", r.status, r.body)
	}
	wantPassword(t, g, email, resetPassword, testPassword)
}

// resetRequestKeepsPassword: asking for a reset changes nothing; the
// password the customer knows and their session keep working.
func resetRequestKeepsPassword(t *testing.T, g *gateway) {
	const email = "keep@example.com"
	b := g.signUp(email)
	resetRequest(t, g, g.newClient(), email)
	resetLink(t, g, email) // sent, never followed
	if r := g.get(b, "/app/x", navigate); r.status != http.StatusOK {
		t.Fatalf("session after a reset request: %d", r.status)
	}
	wantPassword(t, g, email, testPassword, resetPassword)
}

// resetCSRF: both forms refuse a post without a CSRF token, and a refused
// confirmation does not use the link up.
func resetCSRF(t *testing.T, g *gateway) {
	const email = "csrf@example.com"
	g.signUp(email)
	r := g.do(g.newClient(), http.MethodPost, "/.frontdoor/reset", url.Values{"email": {email}}, nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("reset request without a CSRF token: %d", r.status)
	}
	c := g.newClient()
	resetRequest(t, g, c, email)
	link := resetLink(t, g, email)
	form := url.Values{"token": {tokenOf(t, link)}, "password": {resetPassword}, "password_confirm": {resetPassword}}
	if r := g.do(c, http.MethodPost, "/.frontdoor/reset/confirm", form, nil); r.status != http.StatusForbidden {
		t.Fatalf("reset confirmation without a CSRF token: %d", r.status)
	}
	wantPassword(t, g, email, testPassword, resetPassword)
	if r := resetConfirm(g, c, link, resetPassword, resetPassword); r.status != http.StatusOK {
		t.Fatalf("the link after a refused post: %d %s", r.status, r.body)
	}
}

// resetRequest asks for a reset of email and expects the usual page.
func resetRequest(t *testing.T, g *gateway, c *http.Client, email string) {
	t.Helper()
	r := g.post(c, "/.frontdoor/reset", url.Values{"email": {email}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") {
		t.Fatalf("reset request for %s: %d %s", email, r.status, r.body)
	}
}

// resetLink takes the reset link mailed to `to` out of the mailbox.
func resetLink(t *testing.T, g *gateway, to string) string {
	t.Helper()
	return squatLink(t, g, to, resetNeedle)
}

// resetConfirm submits the form the link opens, as a browser on it would.
func resetConfirm(g *gateway, c *http.Client, link, password, confirm string) response {
	g.t.Helper()
	return g.postVia(c, link, "/.frontdoor/reset/confirm", url.Values{
		"token": {tokenOf(g.t, link)}, "password": {password}, "password_confirm": {confirm},
	})
}

func tokenOf(t testing.TB, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// wantPassword checks that email signs in with good and not with bad.
func wantPassword(t *testing.T, g *gateway, email, good, bad string) {
	t.Helper()
	c := g.newClient()
	if r := g.post(c, "/.frontdoor/login", url.Values{"email": {email}, "password": {bad}}); r.status != http.StatusUnauthorized {
		t.Fatalf("signing in with %q: %d, want 401", bad, r.status)
	}
	if r := g.post(c, "/.frontdoor/login", url.Values{"email": {email}, "password": {good}, "rd": {"/app/x"}}); r.status != http.StatusSeeOther || g.sessionCookie(c) == "" {
		t.Fatalf("signing in with %q: %d, want 303 and a session", good, r.status)
	}
}

// clearsSession reports whether a response tells the browser to drop its
// session cookie.
func clearsSession(h http.Header) bool {
	for _, sc := range h.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "__Host-frontdoor=;") && strings.Contains(sc, "Max-Age=0") {
			return true
		}
	}
	return false
}
