package authflow_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/risk"
	"github.com/frontdoorhq/frontdoor/session"
)

// TestPhoneSignIn: sign-up and sign-in by phone alone. The number is
// refused outside the allow-list before anything is stored or sent; a
// known and an unknown number get the same answer and text; the code is
// bound to the browser, dies after five wrong tries, and signs in (amr
// sms, aal1) the account that has the number verified or opens one
// without an address; a second factor other than the phone follows; an
// account whose only second factor is that phone, or whose number is
// unconfirmed, is not signed in by it.
func TestPhoneSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := &phones{}
		e.flows.Phone = &authflow.PhoneSettings{Countries: []string{"GB", "IE"}, Region: "GB", Notify: p, Login: true, MFA: true}
		ask := func(number string) (authflow.Outcome, error) {
			return e.flows.SendPhoneSignIn(ctx, authflow.PhoneSignInInput{Phone: number, Redirect: "/shop"})
		}
		askOK := func(number string) (nonce, code string) {
			t.Helper()
			out, err := ask(number)
			sent := run[authflow.PhoneSignInSent](t, "ask "+number, out, err)
			return sent.Nonce, p.code(sent.Phone)
		}
		typeCode := func(nonce, code string) (authflow.Outcome, error) {
			return e.flows.SignInWithPhoneCode(ctx, authflow.PhoneCodeInput{Nonce: nonce, Code: code})
		}

		// Outside the allow-list, or not a number: nothing stored or texted.
		for _, bad := range []string{"+33612345678", "not a number", ""} {
			out, err := ask(bad)
			if inv := run[authflow.Invalid](t, bad, out, err); inv.Fields["phone"] == nil {
				t.Fatalf("%q: %+v", bad, inv)
			}
		}
		if out, _ := ask("+33612345678"); !errors.Is(out.(authflow.Invalid).Fields["phone"], authflow.ErrPhoneCountry) {
			t.Fatalf("France: %#v", out)
		}
		if p.logins != 0 {
			t.Fatalf("texted %d codes", p.logins)
		}

		// An unknown number: a code, then an account with the number only.
		const fresh = "+447400123401"
		nonce, code := askOK("07400 123401")
		out, err := typeCode("another-browser", code)
		run[authflow.CodeDead](t, "another browser", out, err)
		out, err = typeCode(nonce, wrong(code))
		if w := run[authflow.WrongCode](t, "wrong", out, err); w.Left != identity.PhoneCodeMaxTries-1 {
			t.Fatalf("left %d", w.Left)
		}
		out, err = typeCode(nonce, code)
		due := run[authflow.SessionDue](t, "sign-up", out, err)
		if !slices.Equal(due.AMR, []string{"sms"}) || due.ACR != "aal1" || due.Redirect != "/shop" {
			t.Fatalf("session: %+v", due)
		}
		created := due.Customer
		if created.Phone != fresh || !created.PhoneVerified || created.Email != "" {
			t.Fatalf("created %+v", created)
		}
		out, err = typeCode(nonce, code)
		run[authflow.CodeDead](t, "single use", out, err)

		// The same number again signs in the same account.
		nonce, code = askOK(fresh)
		out, err = typeCode(nonce, code)
		if due := run[authflow.SessionDue](t, "sign-in", out, err); due.Customer.ID != created.ID {
			t.Fatalf("signed in %s, want %s", due.Customer.ID, created.ID)
		}

		// A known number (an account with an address) is answered as an
		// unknown one was, and signs in its account.
		known := e.verified(t, "known@example.com")
		const knownNumber = "+447400123402"
		if _, err := e.store.SetPhone(ctx, known.ID, knownNumber, true); err != nil {
			t.Fatal(err)
		}
		before := p.logins
		nonce, code = askOK(knownNumber)
		if p.logins != before+1 {
			t.Fatal("no text to the known number")
		}
		out, err = typeCode(nonce, code)
		if due := run[authflow.SessionDue](t, "known", out, err); due.Customer.ID != known.ID {
			t.Fatalf("signed in %s", due.Customer.ID)
		}

		// Another second factor follows, and it is never the phone again.
		e.withTOTP(t, known)
		if _, err := e.store.UpdateCustomer(ctx, known.ID, func(c *identity.Customer) error { c.SMSFactor = true; return nil }); err != nil {
			t.Fatal(err)
		}
		nonce, code = askOK(knownNumber)
		out, err = typeCode(nonce, code)
		second := run[authflow.SecondFactorDue](t, "with a second factor", out, err)
		if !second.Offer.TOTP || second.Offer.SMS {
			t.Fatalf("offer after a texted code: %+v", second.Offer)
		}

		// The phone as the only second factor: not both factors at once.
		smsOnly := e.verified(t, "smsonly@example.com")
		const smsNumber = "+447400123403"
		if _, err := e.store.SetPhone(ctx, smsOnly.ID, smsNumber, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.UpdateCustomer(ctx, smsOnly.ID, func(c *identity.Customer) error { c.SMSFactor = true; return nil }); err != nil {
			t.Fatal(err)
		}
		nonce, code = askOK(smsNumber)
		out, err = typeCode(nonce, code)
		if r := run[authflow.PhoneSignInRefused](t, "sms only", out, err); r.Unconfirmed {
			t.Fatal("said unconfirmed")
		}

		// An unconfirmed number on an account signs nobody in.
		unconfirmed := e.verified(t, "unconfirmed@example.com")
		const unNumber = "+447400123404"
		if _, err := e.store.SetPhone(ctx, unconfirmed.ID, unNumber, false); err != nil {
			t.Fatal(err)
		}
		nonce, code = askOK(unNumber)
		out, err = typeCode(nonce, code)
		if r := run[authflow.PhoneSignInRefused](t, "unconfirmed", out, err); !r.Unconfirmed {
			t.Fatal("not said unconfirmed")
		}

		// Five wrong codes kill it; the right one then fails too.
		nonce, code = askOK(fresh)
		for i := 1; i < identity.PhoneCodeMaxTries; i++ {
			out, err = typeCode(nonce, wrong(code))
			run[authflow.WrongCode](t, "wrong", out, err)
		}
		out, err = typeCode(nonce, wrong(code))
		run[authflow.CodeLockedOut](t, "fifth wrong", out, err)
		out, err = typeCode(nonce, code)
		run[authflow.CodeDead](t, "after the lockout", out, err)

		// Off: nothing.
		e.flows.Phone.Login = false
		out, err = ask(fresh)
		run[authflow.PhoneOff](t, "off", out, err)
	})
}

// TestPhoneSessionStepUp: a session signed in by a texted code steps up
// with another factor, never with a text to the same phone; without
// another factor there is nothing to step up with.
func TestPhoneSessionStepUp(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.flows.Phone = &authflow.PhoneSettings{Countries: []string{"GB"}, Region: "GB", Notify: &phones{}, Login: true, MFA: true}
		c := e.verified(t, "phone-stepup@example.com")
		if _, err := e.store.SetPhone(ctx, c.ID, "+447400123405", true); err != nil {
			t.Fatal(err)
		}
		c, err := e.store.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { c.SMSFactor = true; return nil })
		if err != nil {
			t.Fatal(err)
		}
		_, s, err := e.sessions.Create(ctx, session.New{UserID: c.ID, Site: "https://shop.test", AMR: []string{"sms"}, ACR: "aal1"})
		if err != nil {
			t.Fatal(err)
		}
		step := func(c *identity.Customer) (authflow.Outcome, error) {
			return e.flows.StepUp(ctx, authflow.StepUpInput{Session: s, Customer: c, Requirement: authflow.Requirement{AAL: "aal2"}, Redirect: "/pay"})
		}
		out, err := step(c)
		run[authflow.NoFactorToUse](t, "only the same phone", out, err)
		e.withTOTP(t, c)
		c, _ = e.store.Customer(ctx, c.ID)
		out, err = step(c)
		due := run[authflow.SecondFactorDue](t, "with an authenticator", out, err)
		if !due.Offer.TOTP || due.Offer.SMS {
			t.Fatalf("offer: %+v", due.Offer)
		}
	})
}

// TestPhoneOnlyRisk: a risky sign-in of a customer who has only their
// phone cannot be stepped up (the texted code was the proof already, and
// there is no address to mail one to): it is refused.
func TestPhoneOnlyRisk(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := &phones{}
		e.flows.Phone = &authflow.PhoneSettings{Countries: []string{"GB"}, Region: "GB", Notify: p, Login: true}
		pol := risk.DefaultPolicy()
		if err := pol.Set("new_country", "stepup"); err != nil {
			t.Fatal(err)
		}
		e.flows.Risk = &authflow.RiskSettings{Policy: pol, Locate: func(ip string) risk.Place { return riskPlaces[ip] }}
		const number = "+447400123406"
		signIn := func(ip string) authflow.Outcome {
			t.Helper()
			out, err := e.flows.SendPhoneSignIn(ctx, authflow.PhoneSignInInput{Phone: number})
			sent := run[authflow.PhoneSignInSent](t, "ask", out, err)
			out, err = e.flows.SignInWithPhoneCode(ctx, authflow.PhoneCodeInput{Nonce: sent.Nonce, Code: p.code(number),
				Client: authflow.Client{IP: ip, UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}, DeviceID: "d1"})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		due := run[authflow.SessionDue](t, "sign-up in Berlin", signIn("127.10.0.1"), nil)
		if _, err := e.flows.StartSession(ctx, authflow.StartSessionInput{Due: due, Site: "shop.example.com", Client: authflow.Client{IP: "127.10.0.1"}}); err != nil {
			t.Fatal(err)
		}
		e.clock.advance(time.Hour)
		run[authflow.RiskRefused](t, "Australia an hour later", signIn("127.20.0.1"), nil)
	})
}

// TestPhoneSignUpConsent: a customer opened by a phone sign-up is asked
// every purpose in the browser that signed up (no form asked them);
// signing in again is not.
func TestPhoneSignUpConsent(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := &phones{}
		e.flows.Phone = &authflow.PhoneSettings{Countries: []string{"GB"}, Region: "GB", Notify: p, Login: true}
		e.flows.Purposes = testPurposes
		const number = "+447400123410"
		signIn := func() authflow.SessionDue {
			t.Helper()
			out, err := e.flows.SendPhoneSignIn(ctx, authflow.PhoneSignInInput{Phone: number})
			sent := run[authflow.PhoneSignInSent](t, "ask", out, err)
			out, err = e.flows.SignInWithPhoneCode(ctx, authflow.PhoneCodeInput{Nonce: sent.Nonce, Code: p.code(number)})
			return run[authflow.SessionDue](t, "code", out, err)
		}
		due := signIn()
		if ok, err := e.flows.SignUpConsentPending(ctx, due.Customer.ID, due.AskConsent); !ok || err != nil {
			t.Fatalf("a phone sign-up is not asked the purposes: %+v (%v)", due, err)
		}
		if again := signIn(); again.AskConsent != "" || again.Customer.ID != due.Customer.ID {
			t.Fatalf("signing in again: %+v", again)
		}
	})
}
