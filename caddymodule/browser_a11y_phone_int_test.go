package caddymodule

import (
	"context"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
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
	}
	rows = append(rows, phoneCodeRows(phoneForm{"Your phone number", "#new-phone", "#phone-send", "#phone-code", "#phone-confirm", "verify_phone"},
		"07400 123407", number, &code)...)
	rows = append(rows, []a11yPage{
		{"number confirmed", func(s *a11yTour) {
			s.fill("#phone-code", code)
			s.press("#phone-confirm")
		}, "Phone number confirmed"},
		{"account page with the number", opener("/.frontdoor/account"), "Your account"},
		{"phone form with the number", opener(phonePage), "Your phone number"},
	}...)
	s.tour(axe, rows)
}

// TestBrowserAccessibilityPhoneLogin: sign-in by phone — the sign-in page
// offering it, the number form, a refused number, the code page, a wrong
// code, the account page of a customer without an address — and the
// second-factor page offering a text, before and after it is sent, pass
// axe-core.
func TestBrowserAccessibilityPhoneLogin(t *testing.T) {
	axe := axeSource(t)
	g := startGateway(t, gatewayOpts{global: phoneOpts.global, site: phoneOpts.site + "\n\t\tphone_login on\n\t\tsms_mfa on"})
	const email, number, factorNumber = "phone-login-a11y@example.com", "+447400123408", "+447400123409"
	g.signUp(email)
	id := customerIDOf(t, email)
	if _, err := backendOf(t).identity.SetPhone(t.Context(), id, factorNumber, true); err != nil {
		t.Fatal(err)
	}
	if _, err := backendOf(t).identity.UpdateCustomer(t.Context(), id, func(c *identity.Customer) error { c.SMSFactor = true; return nil }); err != nil {
		t.Fatal(err)
	}
	s := &a11yTour{t: t, g: g, ctx: newBrowser(t, g), email: email}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	s.ctx = ctx
	var code string
	rows := []a11yPage{
		{"sign-in page offering the phone", opener("/.frontdoor/login?rd=%2F.frontdoor%2Faccount"), "Sign in"},
		{"phone sign-in form", opener("/.frontdoor/phone?rd=%2F.frontdoor%2Faccount"), "Sign in with your phone"},
	}
	rows = append(rows, phoneCodeRows(phoneForm{"Sign in with your phone", "#phone", "#phone-login-send", "#code", "#phone-login-code", "signin"},
		"07400 123408", number, &code)...)
	rows = append(rows, []a11yPage{
		{"account page without an address", func(s *a11yTour) {
			s.fill("#code", code)
			s.press("#phone-login-code")
		}, "Your account"},
		{"sign out", func(s *a11yTour) {
			s.open("/.frontdoor/logout")
			s.press("form[action$='/logout'] button[type=submit]")
		}, "Signed out"},
		{"second step offering a text", func(s *a11yTour) {
			s.open("/.frontdoor/login")
			s.fill("#email", s.email)
			s.fill("#password", testPassword)
			s.press("form[action$='/login'] button[type=submit]")
		}, "Two-step verification"},
		{"text sent", func(s *a11yTour) {
			s.press("#send-sms")
			s.g.text(factorNumber, "second_factor")
		}, "Two-step verification"},
	}...)
	s.tour(axe, rows)
}

// phoneForm is a page that texts a code to a typed number: its heading,
// the number field and its button, the code field and its button, and the
// kind of text it sends.
type phoneForm struct{ title, field, send, codeField, confirm, kind string }

// phoneCodeRows are the tour's rows through such a page: a number off the
// allow-list, the code page for typed (texted to number, whose code is
// kept in *code), and a wrong code.
func phoneCodeRows(f phoneForm, typed, number string, code *string) []a11yPage {
	return []a11yPage{
		{"a number off the allow-list", func(s *a11yTour) {
			s.fill(f.field, "+33 6 12 34 56 78")
			s.press(f.send)
		}, f.title},
		{"code page", func(s *a11yTour) {
			s.fill(f.field, typed)
			s.press(f.send)
			*code = s.g.text(number, f.kind).Code
		}, f.title},
		{"a wrong code", func(s *a11yTour) {
			s.fill(f.codeField, otherCode(*code))
			s.press(f.confirm)
		}, f.title},
	}
}
