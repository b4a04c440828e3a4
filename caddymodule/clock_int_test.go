package caddymodule

import (
	"bytes"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOneClock: through a real Caddy on both stores, moving the backend's
// one clock — and nothing else, no sleeping — expires a session, a limit
// window, an admin block and a mailed reset link, and dates the mail. The
// clock first jumps two days ahead of wall time, so anything still
// stamping or judging by wall time shows: a record made on one clock and
// judged on the other would be dead at once or never die.
func TestOneClock(t *testing.T) {
	const limits = `limits {
			login ip 3/1m
			register ip 5/1h
			reset ip 5/1h
			automation ignore
		}`
	runOnBothStoresWith(t, gatewayOpts{limits: limits}, []scenario{{"expiries follow the clock", oneClock}})
}

func oneClock(t *testing.T, g *gateway) {
	clk := useClock(t)
	clk.advance(48 * time.Hour)
	clk.alignTo(time.Hour) // the limit windows below start together

	b := backendOf(t)
	for name, now := range map[string]func() time.Time{"sessions": b.sessions.Now, "defences": b.defense.Now, "clock": b.clock.Now} {
		if d := now().Sub(clk.now()); d < -time.Second || d > time.Second {
			t.Fatalf("the %s' clock is %v off the moved clock", name, d)
		}
	}

	const email = "clock@example.com"
	browser := g.signUp(email)
	resetRequest(t, g, g.newClient(), email)
	wantMailDated(t, g, email, clk.now())
	staleLink := resetLink(t, g, email)

	// A limit window ends when the clock leaves it.
	c := g.newClient()
	limited := false
	for i := range 5 {
		r := g.post(c, "/.frontdoor/login", loginForm("nobody"+strconv.Itoa(i)+"@example.com", "wrong password"))
		if r.status == http.StatusTooManyRequests {
			limited = true
			break
		}
		if r.status != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d", i+1, r.status)
		}
	}
	if !limited {
		t.Fatal("login ip 3/1m never limited")
	}
	clk.advance(time.Minute)
	if r := g.post(c, "/.frontdoor/login", loginForm("nobodyz@example.com", "wrong password")); r.status != http.StatusUnauthorized {
		t.Fatalf("a minute later (moved clock), the limit still holds: %d", r.status)
	}

	// An admin block runs from the clock and lifts when it passes.
	if s := adminBlock(t, g, `{"kind":"ip","value":"127.0.0.1","duration":"10m","reason":"clock test"}`); s != http.StatusOK {
		t.Fatalf("block: %d", s)
	}
	if r := g.post(c, "/.frontdoor/login", loginForm("nobodyy@example.com", "x")); r.status != http.StatusForbidden || r.header.Get("Retry-After") == "" {
		t.Fatalf("blocked client: %d %q", r.status, r.header.Get("Retry-After"))
	}
	clk.advance(11 * time.Minute)
	if _, body := adminGet(t, g, "/frontdoor/defense/blocks"); strings.Contains(body, "127.0.0.1") {
		t.Fatalf("a block 11 minutes past its 10 is still listed: %s", body)
	}
	if r := g.post(c, "/.frontdoor/login", loginForm("nobodyx@example.com", "x")); r.status != http.StatusUnauthorized {
		t.Fatalf("after the block's time: %d", r.status)
	}

	// 12 minutes in: the session lives, its idle time starts again.
	if r := g.get(browser, "/app/x", navigate); r.status != http.StatusOK {
		t.Fatalf("session 12 minutes in: %d", r.status)
	}
	// 31 minutes in: the 30-minute reset link has expired; the session,
	// seen 19 minutes ago, has not.
	clk.advance(19 * time.Minute)
	if r := resetConfirm(g, g.newClient(), staleLink, resetPassword, resetPassword); r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired or was already used") {
		t.Fatalf("reset link 31 minutes old: %d %s", r.status, r.body)
	}
	if r := g.get(browser, "/app/x", navigate); r.status != http.StatusOK {
		t.Fatalf("session 31 minutes in, seen 19 minutes ago: %d", r.status)
	}
	// 31 idle minutes later the session is over.
	clk.advance(31 * time.Minute)
	if r := g.get(browser, "/app/x", navigate); r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), "/.frontdoor/login") {
		t.Fatalf("session idle 31 minutes: %d %q", r.status, r.header.Get("Location"))
	}

	// A link mailed now is live now: made and checked on the same clock.
	fresh := g.newClient()
	resetRequest(t, g, fresh, email)
	wantMailDated(t, g, email, clk.now())
	link := resetLink(t, g, email)
	if link == staleLink {
		t.Fatal("no new reset link")
	}
	if r := resetConfirm(g, fresh, link, resetPassword, resetPassword); r.status != http.StatusOK || !strings.Contains(r.body, "Password changed") {
		t.Fatalf("fresh reset link: %d %s", r.status, r.body)
	}
}

// adminBlock posts a block to the admin API and returns the status.
func adminBlock(t *testing.T, g *gateway, body string) int {
	t.Helper()
	resp, err := http.Post("http://"+g.admin+"/frontdoor/defense/blocks", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// wantMailDated checks that the newest mail to `to` still in the
// directory (mailLink takes the ones it reads) is dated within a minute
// of at (the moved clock), not by wall time.
func wantMailDated(t *testing.T, g *gateway, to string, at time.Time) {
	t.Helper()
	squatMailIdle(t)
	files, err := filepath.Glob(filepath.Join(g.mailDir, "[0-9]*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var newest time.Time
	for _, f := range files { // names sort by when they were written
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if addr, err := mail.ParseAddress(m.Header.Get("To")); err != nil || !strings.EqualFold(addr.Address, to) {
			continue
		}
		if newest, err = m.Header.Date(); err != nil {
			t.Fatalf("%s: Date: %v", f, err)
		}
	}
	if newest.IsZero() {
		t.Fatalf("no mail to %s", to)
	}
	if d := newest.Sub(at); d < -time.Minute || d > time.Minute {
		t.Fatalf("mail to %s dated %v, %v off the moved clock (%v)", to, newest, d, at)
	}
}
