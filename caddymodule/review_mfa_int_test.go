package caddymodule

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The security review's finding 2 (issue 13): `stepup account 10/15m` was
// documented but never formed (second-factor posts carry no email), and
// there was no `stepup prefix` limit: 30 wrong authenticator codes per
// address, unlimited across a network.

// TestSecondFactorLimits runs the default limits (scripted clients not
// challenged) through real Caddy on both stores.
func TestSecondFactorLimits(t *testing.T) {
	// Sign-ins per account are raised: the scenario signs one customer in
	// fifteen times.
	limits := "limits {\n\t\t\tautomation ignore\n\t\t\tlogin account 100/15m\n\t\t}"
	runOnBothStoresWith(t, gatewayOpts{limits: limits}, []scenario{
		{"wrong answers count against the customer", mfaAccountLimit},
		{"second-factor posts count against the network", mfaPrefixLimit},
	})
}

// mfaAccountLimit: ten wrong answers in 15 minutes, across waits and
// browsers, and the customer's next answer — even the right one — gets
// 429 until the window ends; right answers never count.
func mfaAccountLimit(t *testing.T, g *gateway) {
	const email = "guessed@example.com"
	// One clock times the codes and the limit's window: twelve fresh codes
	// (6 minutes) and the answers after them fit in one 15-minute window.
	clk := useClock(t)
	c := g.signUp(email)
	secret, _ := enrolTOTP(t, g, c, clk)
	logout(t, g, c)
	clk.alignTo(15 * time.Minute)

	// Right answers do not count: twelve sign-ins with the code.
	for i := range 12 {
		clk.advance(30 * time.Second) // a fresh code each time
		b := g.newClient()
		firstFactor(t, g, b, email, "/app/x")
		if r := mfaPost(g, b, url.Values{"code": {clk.code(t, secret, 0)}}); r.status != http.StatusSeeOther {
			t.Fatalf("right code %d: %d", i+1, r.status)
		}
	}
	// Ten wrong answers over two waits in two browsers (five end a wait).
	for _, b := range []*http.Client{g.newClient(), g.newClient()} {
		firstFactor(t, g, b, email, "/app/x")
		for range 5 {
			if r := mfaPost(g, b, url.Values{"code": {"000000"}}); r.status != http.StatusUnauthorized {
				t.Fatalf("wrong code: %d", r.status)
			}
		}
	}
	b := g.newClient()
	firstFactor(t, g, b, email, "/app/x")
	clk.advance(30 * time.Second)
	r := mfaPost(g, b, url.Values{"code": {clk.code(t, secret, 0)}})
	retry, _ := strconv.Atoi(r.header.Get("Retry-After"))
	if r.status != http.StatusTooManyRequests || retry < 1 || retry > 15*60 || g.sessionCookie(b) != "" {
		t.Fatalf("the 11th answer after ten wrong ones: %d, Retry-After %q, want 429", r.status, r.header.Get("Retry-After"))
	}
	// The wait survives the refusal; once the window ends — Retry-After
	// says when, inside the 10 minutes the pending sign-in lives on the
	// same clock — the right code works.
	clk.advance(time.Duration(retry)*time.Second + time.Second)
	if r := mfaPost(g, b, url.Values{"code": {clk.code(t, secret, 0)}}); r.status != http.StatusSeeOther || g.sessionCookie(b) == "" {
		t.Fatalf("after the window: %d", r.status)
	}
}

// mfaPrefixLimit: second-factor posts from many addresses of one /24 stop
// at the network's limit (100 per 10 minutes), even from an address that
// sent none before.
func mfaPrefixLimit(t *testing.T, g *gateway) {
	useClock(t).alignTo(10 * time.Minute)
	post := func(ip string) int {
		c := clientFrom(g, ip)
		return g.do(c, http.MethodPost, "/.frontdoor/mfa", url.Values{"code": {"000000"}}, map[string]string{"Accept": "application/json"}).status
	}
	n := 0
	for host := 1; n < 100; host++ {
		for range 25 { // under the address's own limit of 30
			if st := post(fmt.Sprintf("127.0.77.%d", host)); st == http.StatusTooManyRequests {
				t.Fatalf("attempt %d from the /24: 429 before the network's limit", n+1)
			}
			n++
		}
	}
	if st := post("127.0.77.200"); st != http.StatusTooManyRequests {
		t.Fatalf("attempt 101 from the /24, from a new address: %d, want 429", st)
	}
	if st := post("127.0.78.1"); st == http.StatusTooManyRequests {
		t.Fatal("another /24 is limited too")
	}
}

// clientFrom is a browser whose connections come from the loopback
// address ip (any of 127.0.0.0/8), so the gateway sees a different client
// address without trusting forwarding headers.
func clientFrom(g *gateway, ip string) *http.Client {
	c := g.newClient()
	tr := c.Transport.(*http.Transport)
	dialer := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", strconv.Itoa(g.port)))
	}
	return c
}

// TestResetForgetsDevices (finding 9): a password reset forgets every
// remembered browser — whoever knew the old password may have been
// remembered — so the next sign-in asks for the second factor again.
func TestResetForgetsDevices(t *testing.T) {
	runOnBothStores(t, []scenario{{"reset", func(t *testing.T, g *gateway) {
		const email = "remembered@example.com"
		clk := useClock(t)
		c := g.signUp(email)
		secret, _ := enrolTOTP(t, g, c, clk)
		logout(t, g, c)
		clk.advance(30 * time.Second)
		firstFactor(t, g, c, email, "/app/x")
		if r := mfaPost(g, c, url.Values{"code": {clk.code(t, secret, 0)}, "remember": {"1"}}); r.status != http.StatusSeeOther || cookieOf(g, c, deviceCookie) == "" {
			t.Fatalf("second factor with remember: %d", r.status)
		}
		logout(t, g, c)

		const newPassword = "a brand new passphrase"
		resetRequest(t, g, c, email)
		clk.advance(30 * time.Second)
		if r := resetConfirm(g, c, resetLink(t, g, email), newPassword, newPassword); r.status != http.StatusOK || !strings.Contains(r.body, `name="code"`) {
			t.Fatalf("reset of an account with a second factor: %d", r.status)
		}
		if r := mfaPost(g, c, url.Values{"code": {clk.code(t, secret, 0)}}); r.status != http.StatusOK || !strings.Contains(r.body, "Password changed") {
			t.Fatalf("the reset's second factor: %d %s", r.status, r.body)
		}
		r := g.post(c, "/.frontdoor/login", url.Values{"email": {email}, "password": {newPassword}, "rd": {"/app/x"}})
		if r.status != http.StatusOK || !strings.Contains(r.body, "authenticator app") || g.sessionCookie(c) != "" {
			t.Fatalf("signing in after the reset in the once-remembered browser: %d, session %q — want the second factor", r.status, g.sessionCookie(c))
		}
	}}})
}
