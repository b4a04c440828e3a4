package caddymodule

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEmailChange: through real Caddy on both stores, the new address is
// proven by a link (opening it changes nothing), the account then moves,
// every session ends, the old address is told (the new one masked), the
// new address signs in and the old one no longer does.
func TestEmailChange(t *testing.T) {
	runOnBothStores(t, []scenario{{name: "change", run: func(t *testing.T, g *gateway) {
		c := g.signUp("old-addr@example.com")
		other := g.signUp("other-addr@example.com")
		_ = other
		if r := g.get(c, "/.frontdoor/account/email", nil); r.status != http.StatusOK || !strings.Contains(r.body, "old-addr@example.com") {
			t.Fatalf("form: %d %s", r.status, r.body)
		}
		// A bad address: a clear message, nothing sent.
		if r := g.postVia(c, "/.frontdoor/account/email", "/.frontdoor/account/email", url.Values{"email": {"not-an-address"}}); r.status != http.StatusBadRequest {
			t.Fatalf("bad address: %d", r.status)
		}
		// Another account's address: the same answer as a free one.
		taken := g.postVia(c, "/.frontdoor/account/email", "/.frontdoor/account/email", url.Values{"email": {"other-addr@example.com"}})
		free := g.postVia(c, "/.frontdoor/account/email", "/.frontdoor/account/email", url.Values{"email": {"New-Addr@example.com"}})
		if taken.status != http.StatusOK || free.status != http.StatusOK ||
			strings.Replace(taken.body, "other-addr@example.com", "X", -1) != strings.Replace(free.body, "new-addr@example.com", "X", -1) {
			t.Fatalf("taken and free answers differ:\n%s\n---\n%s", taken.body, free.body)
		}
		g.mailLink("other-addr@example.com", "/.frontdoor/login") // its owner is told, no link to move
		link := g.mailLink("new-addr@example.com", "/.frontdoor/account/email/confirm?token=")
		// Opening the link changes nothing.
		if r := g.get(g.newClient(), strings.TrimPrefix(link, g.url("")), nil); r.status != http.StatusOK || !strings.Contains(r.body, "Use this address") {
			t.Fatalf("link page: %d %s", r.status, r.body)
		}
		if r := g.get(c, "/app/x", nil); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Email") != "old-addr@example.com" {
			t.Fatalf("before the press: %d %v", r.status, g.backend.lastHeaders().Get("X-Frontdoor-Email"))
		}
		u, _ := url.Parse(link)
		b := g.newClient()
		r := g.postVia(b, strings.TrimPrefix(link, g.url("")), "/.frontdoor/account/email/confirm", url.Values{"token": {u.Query().Get("token")}})
		if r.status != http.StatusOK || !strings.Contains(r.body, "new-addr@example.com") {
			t.Fatalf("confirm: %d %s", r.status, r.body)
		}
		// Every session ended; the old address was told.
		if r := g.get(c, "/app/x", map[string]string{"Accept": "application/json"}); r.status != http.StatusUnauthorized {
			t.Fatalf("old session after the change: %d", r.status)
		}
		g.mailLink("old-addr@example.com", "/.frontdoor/reset")
		// The new address signs in; the old one does not.
		n := g.newClient()
		g.login(n, "new-addr@example.com", testPassword, "/app/y")
		if g.get(n, "/app/y", nil); g.backend.lastHeaders().Get("X-Frontdoor-Email") != "new-addr@example.com" {
			t.Fatal("the new address does not reach the backend")
		}
		if r := g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {"old-addr@example.com"}, "password": {testPassword}}); r.status == http.StatusSeeOther {
			t.Fatal("the old address still signs in")
		}
		// The link works once.
		if r := g.postVia(b, strings.TrimPrefix(link, g.url("")), "/.frontdoor/account/email/confirm", url.Values{"token": {u.Query().Get("token")}}); r.status != http.StatusBadRequest {
			t.Fatalf("link again: %d", r.status)
		}
	}}})
}

// TestAccountSessionsAndActivity: the account page lists each session with
// its network and a sign-out of its own, and the security activity —
// sign-ins, a failed password (recorded off the response path), a
// revoked device.
func TestAccountSessionsAndActivity(t *testing.T) {
	runOnBothStores(t, []scenario{{name: "sessions", run: func(t *testing.T, g *gateway) {
		const email = "devices@example.com"
		here := g.signUp(email)
		there := g.newClient()
		g.login(there, email, testPassword, "/app/x")
		g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {email}, "password": {"wrong password entirely"}})
		var page string
		waitFor(t, func() bool {
			page = g.get(here, "/.frontdoor/account", nil).body
			return strings.Contains(page, "A sign-in failed")
		})
		if strings.Count(page, "/account/sessions/revoke") != 2 || !strings.Contains(page, "network 127.0.0.0/24") ||
			!strings.Contains(page, "Security activity") || strings.Count(page, "Signed in<br>") < 2 {
			t.Fatalf("account page:\n%s", page)
		}
		// Sign the other device out from here.
		ids := regexp.MustCompile(`name="id" value="([^"]+)"><button type="submit" class="link">Sign out that device`).FindStringSubmatch(page)
		if ids == nil {
			t.Fatalf("no other device to sign out:\n%s", page)
		}
		if r := g.postVia(here, "/.frontdoor/account", "/.frontdoor/account/sessions/revoke", url.Values{"id": {ids[1]}}); r.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if r := g.get(there, "/app/x", map[string]string{"Accept": "application/json"}); r.status != http.StatusUnauthorized {
			t.Fatalf("the revoked device: %d", r.status)
		}
		if r := g.get(here, "/app/x", nil); r.status != http.StatusOK {
			t.Fatalf("this device: %d", r.status)
		}
		if page = g.get(here, "/.frontdoor/account", nil).body; !strings.Contains(page, "A device was signed out") {
			t.Fatalf("no revocation in the activity:\n%s", page)
		}
		// A handle of nobody's session, or another customer's, ends nothing.
		if r := g.postVia(here, "/.frontdoor/account", "/.frontdoor/account/sessions/revoke", url.Values{"id": {"nope"}}); r.status != http.StatusNotFound {
			t.Fatalf("unknown handle: %d", r.status)
		}
	}}})
}

// waitFor polls cond for a few seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
