package caddymodule

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/frontdoorhq/frontdoor/session"
)

// TestBrowserAccessibilityAgent: the support console — search, a masked
// case, a wrong code, a verified case, an action without a reason, and
// done — passes axe-core too. The agent signs in with a passkey in Go
// (the console wants one), and the browser is given that session.
func TestBrowserAccessibilityAgent(t *testing.T) {
	axe := axeSource(t)
	const caller = "cara@example.com"
	g := startGateway(t, gatewayOpts{site: "agents on"})
	g.signUp(caller)
	g.takeMails(caller, "")
	agent, a, _ := pkSignUp(t, g, "ada@example.com")
	pkLogout(t, g, agent)
	if _, r := pkLogin(t, g, agent, a, "/app/x"); r.status != http.StatusSeeOther {
		t.Fatalf("agent sign-in: %d", r.status)
	}
	if st, _ := adminDo(t, g, http.MethodPost, "/frontdoor/agents/"+g.customerID("ada@example.com"), `{"reason": "a11y"}`); st != http.StatusOK {
		t.Fatal("grant")
	}
	s := &a11yTour{t: t, g: g, ctx: newBrowser(t, g), email: caller}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	s.ctx = ctx
	secure := true
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: session.CookieName, Value: g.sessionCookie(agent),
		URL: g.url("/"), Path: "/", Secure: &secure, HTTPOnly: &secure}); err != nil {
		t.Fatal(err)
	}
	rows := []a11yPage{
		{"agent console", opener("/.frontdoor/agent"), "Support console"},
		{"agent console: a masked case", func(s *a11yTour) {
			s.fill("#query", caller)
			s.press("#agent-find")
		}, "Support console"},
		{"agent console: a wrong code", func(s *a11yTour) {
			s.fill("#case-code", "000000")
			s.press("#agent-verify")
		}, "Support console"},
		{"agent console: code sent", func(s *a11yTour) { s.press("#agent-send-code") }, "Support console"},
		{"agent console: verified", func(s *a11yTour) {
			mails := s.g.takeMails(caller, "support team")
			if len(mails) != 1 {
				s.t.Fatalf("code mails: %d", len(mails))
			}
			s.fill("#case-code", sixDigits.FindString(mails[0]))
			s.press("#agent-verify")
		}, "Support console"},
		{"agent console: an action without a reason", func(s *a11yTour) { s.press("#agent-act") }, "Support console"},
		{"agent console: done", func(s *a11yTour) {
			s.fill("#act-reason", "locked out")
			s.press("#agent-act")
		}, "Support console"},
	}
	s.tour(axe, rows)
}
