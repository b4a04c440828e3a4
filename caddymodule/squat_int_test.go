package caddymodule

import (
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/eml"
)

// Pre-account hijacking: a squatter signs up with someone else's address
// and a password of their own, and waits for the owner to confirm it. The
// password of an unverified account proves nothing, so a verification link
// carries the password of the sign-up that sent it, and only following a
// link — reading the address's mail — makes a password effective.

const (
	squatVictim   = "victim@example.com"
	squatPassword = "squatter chose this one"
	ownerPassword = "the owner's own secret"
	verifyNeedle  = "/.frontdoor/verify?token="
)

// TestSquatterCannotLockOutOwner: the owner signing up for an address a
// squatter registered gets a verification link, not "already registered",
// and following it makes the owner's password the account's. Links the
// squatter had sent earlier change nothing afterwards.
func TestSquatterCannotLockOutOwner(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	squatter := g.newClient()
	squatRegister(t, g, squatter, squatVictim, squatPassword)
	squatterLink := squatLink(t, g, squatVictim, verifyNeedle) // lands in the owner's mailbox

	// Unverified: the squatter gets no session, and the link resent to the
	// owner's address carries the squatter's password like the first one.
	r := g.post(squatter, "/.frontdoor/login", url.Values{"email": {squatVictim}, "password": {squatPassword}})
	if r.status != http.StatusForbidden || g.sessionCookie(squatter) != "" {
		t.Fatalf("squatter signing in to the unverified account: %d, cookie %q", r.status, g.sessionCookie(squatter))
	}
	resentLink := squatLink(t, g, squatVictim, verifyNeedle)

	owner := g.newClient()
	squatRegister(t, g, owner, squatVictim, ownerPassword)
	mails := squatMailsTo(t, g, squatVictim)
	if len(mails) != 1 || !strings.Contains(mails[0], verifyNeedle) || strings.Contains(mails[0], "already have an account") {
		t.Fatalf("the owner's sign-up mailed %d message(s), want one verification link: %q", len(mails), mails)
	}
	if r := g.post(owner, "/.frontdoor/login", url.Values{"email": {squatVictim}, "password": {ownerPassword}}); r.status != http.StatusUnauthorized {
		t.Fatalf("owner's password before verifying: %d, want 401", r.status)
	}
	ownerLink := squatLink(t, g, squatVictim, verifyNeedle)
	if r := g.confirmLink(owner, ownerLink); r.status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	squatWantPassword(t, g, ownerPassword, squatPassword)

	// The squatter's links, still in the mailbox, confirm again but never
	// turn the squatter's password on for the verified account — not even
	// in the squatter's own browser, which holds their sign-up's nonce.
	for _, c := range []*http.Client{g.newClient(), squatter} {
		for _, link := range []string{squatterLink, resentLink} {
			if r := g.confirmLink(c, link); r.status != http.StatusOK && r.status != http.StatusBadRequest {
				t.Fatalf("stale link: %d %s", r.status, r.body)
			}
			squatWantPassword(t, g, ownerPassword, squatPassword)
		}
	}
	g.login(owner, squatVictim, ownerPassword, "/app/x")
	if r := g.get(owner, "/app/x", nil); r.status != http.StatusOK {
		t.Fatalf("owner's protected page: %d", r.status)
	}
}

// TestSquatterLinkFollowed: a link confirmed in the browser that signed up
// makes that sign-up's password the account's; confirmed anywhere else —
// the squatter's link, read by the owner in their own mailbox — it asks
// the reader for a password and drops the squatter's. A link from a later
// sign-up, confirmed first, wins.
func TestSquatterLinkFollowed(t *testing.T) {
	t.Run("squatter's link alone", func(t *testing.T) {
		g := startGateway(t, gatewayOpts{})
		squatRegister(t, g, g.newClient(), squatVictim, squatPassword)
		link := squatLink(t, g, squatVictim, verifyNeedle)
		owner := g.newClient()
		if r := g.confirmLink(owner, link); r.status != http.StatusOK || !strings.Contains(r.body, `name="password_confirm"`) {
			t.Fatalf("confirming another browser's link: %d %s", r.status, r.body)
		}
		r := g.postVia(owner, link, "/.frontdoor/verify", url.Values{"token": {tokenOf(t, link)}, "password": {ownerPassword}, "password_confirm": {ownerPassword}})
		if r.status != http.StatusOK || !strings.Contains(r.body, "password is set") {
			t.Fatalf("choosing the password: %d %s", r.status, r.body)
		}
		squatWantPassword(t, g, ownerPassword, squatPassword)
	})
	t.Run("later sign-up supersedes", func(t *testing.T) {
		g := startGateway(t, gatewayOpts{})
		squatRegister(t, g, g.newClient(), squatVictim, squatPassword)
		squatterLink := squatLink(t, g, squatVictim, verifyNeedle)
		owner := g.newClient()
		squatRegister(t, g, owner, squatVictim, ownerPassword)
		ownerLink := squatLink(t, g, squatVictim, verifyNeedle)
		if ownerLink == squatterLink {
			t.Fatal("the second sign-up reused the first link")
		}
		if r := g.confirmLink(owner, ownerLink); r.status != http.StatusOK {
			t.Fatalf("verify: %d %s", r.status, r.body)
		}
		squatWantPassword(t, g, ownerPassword, squatPassword)
		if r := g.confirmLink(owner, squatterLink); r.status != http.StatusOK {
			t.Fatalf("stale link: %d %s", r.status, r.body)
		}
		squatWantPassword(t, g, ownerPassword, squatPassword)
	})
}

// TestSquatNoEnumeration extends TestNoEnumeration to every state an
// address can be in: no account, an unverified account and a verified one
// answer a sign-up with the same status and page; only the mail differs,
// and only the address's reader sees it.
func TestSquatNoEnumeration(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	const (
		fresh      = "new@example.com"
		unverified = "unv@example.com"
		verified   = "ver@example.com"
	)
	g.signUp(verified)
	squatRegister(t, g, g.newClient(), unverified, squatPassword)
	squatLink(t, g, unverified, verifyNeedle)

	c := g.newClient()
	form := func(email string) url.Values {
		return url.Values{"email": {email}, "password": {testPassword + "!"}}
	}
	pages := map[string]response{}
	for _, email := range []string{fresh, unverified, verified} {
		pages[email] = g.post(c, "/.frontdoor/register", form(email))
	}
	want := pages[fresh]
	if want.status != http.StatusOK || !strings.Contains(want.body, "Check your email") {
		t.Fatalf("sign-up for a new address: %d %s", want.status, want.body)
	}
	for _, email := range []string{unverified, verified} {
		got := pages[email]
		local := strings.TrimSuffix(email, "example.com")
		if got.status != want.status || strings.ReplaceAll(got.body, local, "new@") != want.body {
			t.Errorf("sign-up for %s: %d, page differs from a new address's (%d)", email, got.status, want.status)
		}
	}
	squatLink(t, g, fresh, verifyNeedle)
	squatLink(t, g, unverified, verifyNeedle)
	squatLink(t, g, verified, "/.frontdoor/login")

	// Signing in with a wrong password reads the same for all three too.
	logins := map[string]response{}
	for _, email := range []string{fresh, unverified, verified, "nobody@example.com"} {
		logins[email] = g.post(c, "/.frontdoor/login", url.Values{"email": {email}, "password": {"wrong password here!"}})
	}
	want = logins["nobody@example.com"]
	if want.status != http.StatusUnauthorized {
		t.Fatalf("login for an unknown address: %d", want.status)
	}
	for _, email := range []string{fresh, unverified, verified} {
		got := logins[email]
		local := strings.TrimSuffix(email, "example.com")
		if got.status != want.status || strings.ReplaceAll(got.body, local, "nobody@") != want.body {
			t.Errorf("wrong password for %s: %d, page differs from an unknown address's", email, got.status)
		}
	}
}

// squatRegister signs up email with password and expects the usual page.
func squatRegister(t *testing.T, g *gateway, c *http.Client, email, password string) {
	t.Helper()
	r := g.post(c, "/.frontdoor/register", url.Values{"email": {email}, "password": {password}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") {
		t.Fatalf("register %s: %d %s", email, r.status, r.body)
	}
}

// squatWantPassword checks that squatVictim signs in with good and not
// with bad.
func squatWantPassword(t *testing.T, g *gateway, good, bad string) {
	t.Helper()
	c := g.newClient()
	if r := g.post(c, "/.frontdoor/login", url.Values{"email": {squatVictim}, "password": {bad}}); r.status != http.StatusUnauthorized || g.sessionCookie(c) != "" {
		t.Fatalf("signing in with %q: %d, want 401", bad, r.status)
	}
	if r := g.post(c, "/.frontdoor/login", url.Values{"email": {squatVictim}, "password": {good}, "rd": {"/app/x"}}); r.status != http.StatusSeeOther || g.sessionCookie(c) == "" {
		t.Fatalf("signing in with %q: %d, want 303 and a session", good, r.status)
	}
}

// squatLink is g.mailLink once the queue is idle: mailLink's *.eml glob
// also matches the dir mailer's ".tmp-*.eml" file while it is written, and
// taking that one makes the mailer retry and deliver the message again.
func squatLink(t *testing.T, g *gateway, to, needle string) string {
	t.Helper()
	squatMailIdle(t)
	return g.mailLink(to, needle)
}

// squatMailIdle waits until the sign-up queues have run and the mail queue
// has delivered everything queued so far. Sign-up work is queued, and
// other mail sent, before the page is answered, so after a response this
// covers every message that request caused.
func squatMailIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending := 0
		backends.Range(func(_, v any) bool {
			if b, ok := v.(*backend); ok {
				pending += int(b.later.Pending())
			}
			return true
		})
		mailQueues.Range(func(_, v any) bool {
			if q, ok := v.(mailQueue); ok {
				pending += q.Pending()
			}
			return true
		})
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mail(s) still queued", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// squatMailsTo returns the text of each message to `to` in the mail
// directory, oldest first, once the queue is idle.
func squatMailsTo(t *testing.T, g *gateway, to string) []string {
	t.Helper()
	squatMailIdle(t)
	files, err := filepath.Glob(filepath.Join(g.mailDir, "[0-9]*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var out []string
	for _, f := range files {
		if text, rcpt := eml.Read(f); strings.EqualFold(rcpt, to) {
			out = append(out, text)
		}
	}
	return out
}
