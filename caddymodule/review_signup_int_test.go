package caddymodule

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The security review's finding 1 (issue 13): a verification link opened
// by anyone — a mail provider's link scanner, the address's owner in
// another browser — must never make a password typed by someone else
// effective, nor sign anyone in to an account they did not create.

const (
	hijackVictim   = "owner@example.com"
	hijackPassword = "the attacker typed this"
	victimPassword = "what the owner chose"
)

// TestVerificationLinkBinding runs through real Caddy on both stores.
func TestVerificationLinkBinding(t *testing.T) {
	runOnBothStores(t, []scenario{
		{"a scanner's GET and HEAD change nothing", hijackScannerChangesNothing},
		{"another browser chooses the password", hijackOwnerChoosesPassword},
		{"the sign-up's browser keeps its password", hijackOwnBrowser},
		{"a passkey-first link signs no other browser in", hijackPasskeyLink},
	})
}

func hijackScannerChangesNothing(t *testing.T, g *gateway) {
	const email = "scanned@example.com"
	attacker := g.newClient()
	squatRegister(t, g, attacker, email, hijackPassword)
	link := squatLink(t, g, email, verifyNeedle)
	scanner := g.newClient()
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodGet} {
		if r := g.do(scanner, method, link, nil, nil); r.status != http.StatusOK {
			t.Fatalf("%s of the link: %d", method, r.status)
		}
	}
	if pkCustomer(t, email).EmailVerified {
		t.Fatal("opening the link confirmed the address")
	}
	r := g.post(attacker, "/.frontdoor/login", url.Values{"email": {email}, "password": {hijackPassword}})
	if r.status != http.StatusForbidden || g.sessionCookie(attacker) != "" {
		t.Fatalf("the sign-up's password after a scanner opened the link: %d, session %q", r.status, g.sessionCookie(attacker))
	}
	// The link still works for the mailbox's reader.
	if r := g.confirmLink(g.newClient(), link); r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("the link after the scanner: %d %s", r.status, r.body)
	}
}

func hijackOwnerChoosesPassword(t *testing.T, g *gateway) {
	attacker := g.newClient()
	squatRegister(t, g, attacker, hijackVictim, hijackPassword)
	link := squatLink(t, g, hijackVictim, verifyNeedle)

	owner := g.newClient()
	r := g.confirmLink(owner, link)
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="password_confirm"`) || strings.Contains(r.body, "Email confirmed") {
		t.Fatalf("confirming in another browser: %d, want the choose-a-password form: %s", r.status, r.body)
	}
	if pkCustomer(t, hijackVictim).EmailVerified {
		t.Fatal("confirming in another browser verified the address before a password was chosen")
	}
	// A weak or mismatched password is refused and the link kept.
	form := url.Values{"token": {linkToken(t, link)}, "password": {"short"}, "password_confirm": {"short"}}
	if r := g.postVia(owner, link, "/.frontdoor/verify", form); r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="password-error"`) {
		t.Fatalf("a short password: %d %s", r.status, r.body)
	}
	form.Set("password", victimPassword)
	form.Set("password_confirm", victimPassword+"x")
	if r := g.postVia(owner, link, "/.frontdoor/verify", form); r.status != http.StatusBadRequest || !strings.Contains(r.body, "do not match") {
		t.Fatalf("mismatched passwords: %d %s", r.status, r.body)
	}
	form.Set("password_confirm", victimPassword)
	if r := g.postVia(owner, link, "/.frontdoor/verify", form); r.status != http.StatusOK || !strings.Contains(r.body, "password is set") {
		t.Fatalf("choosing the password: %d %s", r.status, r.body)
	}
	if !pkCustomer(t, hijackVictim).EmailVerified {
		t.Fatal("the address is not verified")
	}
	if r := g.post(attacker, "/.frontdoor/login", url.Values{"email": {hijackVictim}, "password": {hijackPassword}}); r.status != http.StatusUnauthorized || g.sessionCookie(attacker) != "" {
		t.Fatalf("the attacker's password: %d, want 401", r.status)
	}
	if r := g.login(owner, hijackVictim, victimPassword, "/app/x"); r.status != http.StatusSeeOther {
		t.Fatalf("the owner's password: %d", r.status)
	}
	// The link is spent.
	if r := g.confirmLink(g.newClient(), link); r.status != http.StatusBadRequest {
		t.Fatalf("the link used again: %d", r.status)
	}
}

func hijackOwnBrowser(t *testing.T, g *gateway) {
	const email = "self@example.com"
	c := g.newClient()
	squatRegister(t, g, c, email, testPassword)
	link := squatLink(t, g, email, verifyNeedle)
	if r := g.confirmLink(c, link); r.status != http.StatusOK || !strings.Contains(r.body, "Email confirmed") {
		t.Fatalf("confirming in the sign-up's browser: %d %s", r.status, r.body)
	}
	if r := g.login(g.newClient(), email, testPassword, "/app/x"); r.status != http.StatusSeeOther {
		t.Fatalf("the sign-up's password: %d", r.status)
	}
	// Signing in to an unverified account sends a link bound to the
	// browser that proved the password.
	const later = "later@example.com"
	squatRegister(t, g, g.newClient(), later, testPassword)
	squatLink(t, g, later, verifyNeedle) // never followed
	b := g.newClient()
	if r := g.post(b, "/.frontdoor/login", url.Values{"email": {later}, "password": {testPassword}}); r.status != http.StatusForbidden {
		t.Fatalf("signing in unverified: %d", r.status)
	}
	if r := g.confirmLink(b, squatLink(t, g, later, verifyNeedle)); r.status != http.StatusOK || !strings.Contains(r.body, "Email confirmed") {
		t.Fatalf("the resent link in the browser that signed in: %d %s", r.status, r.body)
	}
	if r := g.login(g.newClient(), later, testPassword, "/app/x"); r.status != http.StatusSeeOther {
		t.Fatalf("the proven password after the resent link: %d", r.status)
	}
}

// hijackPasskeyLink: an attacker signs up passkey-first with their own
// address and gets the victim to press the link's button. Before, that
// signed the victim's browser in to the attacker's account (a login CSRF:
// the victim's passkey and data would land there).
func hijackPasskeyLink(t *testing.T, g *gateway) {
	const email = "pk-attacker@example.com"
	attacker := g.newClient()
	if r := g.post(attacker, "/.frontdoor/register", url.Values{"email": {email}, "method": {"passkey"}}); r.status != http.StatusOK {
		t.Fatalf("passkey-first register: %d", r.status)
	}
	link := squatLink(t, g, email, verifyNeedle)
	victim := g.newClient()
	r := g.confirmLink(victim, link)
	if r.status != http.StatusOK || g.sessionCookie(victim) != "" || !strings.Contains(r.body, "Email confirmed") {
		t.Fatalf("a passkey-first link pressed in another browser: %d, session %q: %s", r.status, g.sessionCookie(victim), r.body)
	}
	if r := g.get(victim, "/app/x", nil); r.status == http.StatusOK {
		t.Fatal("the other browser reaches a protected page")
	}
	// In the sign-up's own browser the button signs in to create the
	// passkey.
	const own = "pk-own@example.com"
	c := g.newClient()
	if r := g.post(c, "/.frontdoor/register", url.Values{"email": {own}, "method": {"passkey"}}); r.status != http.StatusOK {
		t.Fatalf("passkey-first register: %d", r.status)
	}
	if r := g.confirmLink(c, squatLink(t, g, own, verifyNeedle)); r.status != http.StatusSeeOther || g.sessionCookie(c) == "" {
		t.Fatalf("the sign-up's own browser: %d, session %q", r.status, g.sessionCookie(c))
	}
}
