package caddymodule

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAccessibilityRisk: the adaptive-risk pages — the code mailed
// to a customer without a second factor, a wrong code, the "this wasn't
// me" page, its answer, and a used link — pass axe-core too.
func TestBrowserAccessibilityRisk(t *testing.T) {
	axe := axeSource(t)
	const email = "risa@example.com"
	g := startGateway(t, gatewayOpts{global: riskGeo(t), site: "risk {\n\t\t\tnew_device stepup notify\n\t\t}"})
	g.signUp(email)
	g.takeMails(email, "")
	s := &a11yTour{t: t, g: g, ctx: newBrowser(t, g), email: email}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	s.ctx = ctx
	var notMe string
	rows := []a11yPage{
		{"risk step-up: the mailed code", func(s *a11yTour) {
			s.open("/.frontdoor/login?rd=%2Fapp%2Forders")
			s.fill("#email", s.email)
			s.fill("#password", testPassword)
			s.press("form[action$='/login'] button[type=submit]")
		}, "Two-step verification"},
		{"risk step-up: a wrong code", func(s *a11yTour) {
			s.fill("#email_code", "000000")
			s.press("form[action$='/mfa'] button[type=submit]")
		}, "Two-step verification"},
		{"risk step-up done", func(s *a11yTour) {
			codes := s.g.takeMails(s.email, "type this code where you are signing in")
			if len(codes) != 1 {
				s.t.Fatalf("code mails: %d", len(codes))
			}
			s.fill("#email_code", sixDigits.FindString(codes[0]))
			s.press("form[action$='/mfa'] button[type=submit]")
			notMe = s.g.mailLink(s.email, "/.frontdoor/not-me?token=")
			s.open("/.frontdoor/account")
		}, "Your account"},
		{"this wasn't me", func(s *a11yTour) { s.run(chromedp.Navigate(notMe)) }, "This wasn’t me"},
		{"this wasn't me: secured", func(s *a11yTour) { s.press("#not-me") }, "This wasn’t me"},
		{"this wasn't me: used link", func(s *a11yTour) {
			s.run(chromedp.Navigate(notMe))
			s.press("#not-me")
		}, "This wasn’t me"},
	}
	s.tour(axe, rows)
}
