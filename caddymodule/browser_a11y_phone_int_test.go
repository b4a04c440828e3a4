package caddymodule

import (
	"context"
	"testing"
	"time"
)

// TestBrowserAccessibilityPhone: the phone number pages — the form, a
// refused number, the code page, a wrong code, the confirmation and the
// account page with the number — pass axe-core.
func TestBrowserAccessibilityPhone(t *testing.T) {
	axe := axeSource(t)
	g := startGateway(t, phoneOpts)
	const email, number = "phone-a11y@example.com", "+447400123407"
	g.signUp(email)
	s := &a11yTour{t: t, g: g, ctx: newBrowser(t, g), email: email}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	s.ctx = ctx
	var code string
	rows := []a11yPage{
		{"signed in", func(s *a11yTour) {
			s.open("/.frontdoor/login?rd=%2F.frontdoor%2Faccount")
			s.fill("#email", s.email)
			s.fill("#password", testPassword)
			s.press("form[action$='/login'] button[type=submit]")
		}, "Your account"},
		{"phone form", opener(phonePage), "Your phone number"},
		{"a number off the allow-list", func(s *a11yTour) {
			s.fill("#new-phone", "+33 6 12 34 56 78")
			s.press("#phone-send")
		}, "Your phone number"},
		{"code page", func(s *a11yTour) {
			s.fill("#new-phone", "07400 123407")
			s.press("#phone-send")
			code = s.g.text(number, "verify_phone").Code
		}, "Your phone number"},
		{"a wrong code", func(s *a11yTour) {
			s.fill("#phone-code", otherCode(code))
			s.press("#phone-confirm")
		}, "Your phone number"},
		{"number confirmed", func(s *a11yTour) {
			s.fill("#phone-code", code)
			s.press("#phone-confirm")
		}, "Phone number confirmed"},
		{"account page with the number", opener("/.frontdoor/account"), "Your account"},
		{"phone form with the number", opener(phonePage), "Your phone number"},
	}
	s.tour(axe, rows)
}
