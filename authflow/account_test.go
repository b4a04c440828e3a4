package authflow_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// TestAccountChanges: an authenticator app is set up only by a code from
// it, in the session that began it; the first one brings recovery codes;
// removing the last second factor drops recovery codes and remembered
// browsers; recovery codes need a second factor; every change is an
// event on the account.
func TestAccountChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.verified(t, "changes@example.com")
		_, s, err := e.sessions.Create(ctx, session.New{UserID: c.ID, Email: c.Email, Site: "https://shop.test", AMR: []string{"pwd"}, ACR: "aal1"})
		if err != nil {
			t.Fatal(err)
		}
		_, other, _ := e.sessions.Create(ctx, session.New{UserID: c.ID, Email: c.Email, Site: "https://shop.test", ACR: "aal1"})

		out, err := e.flows.NewRecoveryCodes(ctx, c, authflow.Client{})
		run[authflow.NoSecondFactor](t, "recovery codes without a second factor", out, err)

		out, err = e.flows.BeginTOTP(ctx, s, c, "Shop")
		enrol := run[authflow.TOTPEnrolment](t, "beginning", out, err)
		code := func() string {
			code, err := totp.GenerateCode(enrol.Key.Secret(), e.clock.now())
			if err != nil {
				t.Fatal(err)
			}
			return code
		}
		confirm := func(sess *session.Session, handle, code string) (authflow.Outcome, error) {
			return e.flows.ConfirmTOTP(ctx, authflow.ConfirmTOTPInput{Session: sess, Customer: c, Handle: handle, Code: code, Issuer: "Shop",
				Client: authflow.Client{IP: "192.0.2.1", UserAgent: "test"}})
		}
		out, err = confirm(s, enrol.Handle, "000000")
		if code() == "000000" {
			t.Skip("the time step's code is 000000")
		}
		if w := run[authflow.WrongEnrolmentCode](t, "a wrong code", out, err); w.Key.Secret() != enrol.Key.Secret() {
			t.Fatal("the set-up changed its secret")
		}
		out, err = confirm(other, enrol.Handle, code())
		run[authflow.EnrolmentExpired](t, "another session's confirmation", out, err)

		out, _ = e.flows.BeginTOTP(ctx, s, c, "Shop")
		enrol = out.(authflow.TOTPEnrolment)
		out, err = confirm(s, enrol.Handle, code())
		added := run[authflow.TOTPAdded](t, "the right code", out, err)
		if len(added.RecoveryCodes) == 0 {
			t.Fatal("no first recovery codes")
		}
		c, _ = e.store.Customer(ctx, c.ID)
		if c.TOTP == nil || len(c.RecoveryCodes) != len(added.RecoveryCodes) {
			t.Fatalf("after set-up: %+v", c)
		}
		out, err = e.flows.BeginTOTP(ctx, s, c, "Shop")
		run[authflow.FactorExists](t, "a second app", out, err)
		out, err = e.flows.NewRecoveryCodes(ctx, c, authflow.Client{})
		issued := run[authflow.RecoveryCodesIssued](t, "new recovery codes", out, err)
		if slices.Equal(issued.Codes, added.RecoveryCodes) {
			t.Fatal("the same recovery codes again")
		}

		// A remembered browser, then the last factor removed.
		nonce, _ := e.flows.AskSecondFactor(ctx, c, authflow.Wait{Purpose: authflow.PurposeSignIn})
		e.clock.advance(30 * time.Second)
		totpNow, _ := totp.GenerateCode(enrol.Key.Secret(), e.clock.now())
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce.(authflow.SecondFactorDue).Nonce,
			Current: noSession, TOTP: totpNow, Remember: true})
		if d := run[authflow.SessionDue](t, "remembering", out, err); d.DeviceCookie == "" {
			t.Fatal("not remembered")
		}
		out, err = e.flows.RemoveTOTP(ctx, c.ID, authflow.Client{})
		run[authflow.Done](t, "removing the app", out, err)
		c, _ = e.store.Customer(ctx, c.ID)
		if c.TOTP != nil || len(c.RecoveryCodes) != 0 || len(c.TrustedDevices) != 0 {
			t.Fatalf("after removal: totp %v, %d recovery codes, %d devices", c.TOTP != nil, len(c.RecoveryCodes), len(c.TrustedDevices))
		}

		out, err = e.flows.ForgetDevices(ctx, c.ID, authflow.Client{})
		run[authflow.Done](t, "forgetting devices", out, err)
		out, err = e.flows.SignOutEverywhere(ctx, c.ID, authflow.Client{})
		run[authflow.Done](t, "signing out everywhere", out, err)
		for _, sess := range []*session.Session{s, other} {
			if _, err := e.sessions.LookupKey(ctx, sess.Key); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("a session outlived signing out everywhere: %v", err)
			}
		}
		events, _ := e.store.Events(ctx, c.ID, 50)
		var kinds []string
		for _, ev := range events {
			kinds = append(kinds, ev.Kind)
		}
		for _, k := range []string{identity.EventTOTPAdded, identity.EventRecoveryCodesNew, identity.EventTOTPRemoved,
			identity.EventDevicesForgotten, identity.EventSignedOutEverywhere} {
			if !slices.Contains(kinds, k) {
				t.Errorf("events %v lack %s", kinds, k)
			}
		}
	})
}

// TestStepUp: only what is missing is asked for — a stale sign-in signs
// in again, a missing second factor asks for one the page accepts, a
// missing first factor signs in again; a satisfied page passes.
func TestStepUp(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.verified(t, "stepup@example.com")
		_, s, err := e.sessions.Create(ctx, session.New{UserID: c.ID, Email: c.Email, Site: "https://shop.test", AMR: []string{"pwd"}, ACR: "aal1"})
		if err != nil {
			t.Fatal(err)
		}
		step := func(req authflow.Requirement, resubmit bool) (authflow.Outcome, error) {
			return e.flows.StepUp(ctx, authflow.StepUpInput{Session: s, Customer: c, Requirement: req, Redirect: "/pay", Resubmit: resubmit})
		}
		out, err := step(authflow.Requirement{}, true)
		if o := run[authflow.StepUpSatisfied](t, "nothing asked", out, err); o.Purpose != authflow.PurposeResubmit || o.Redirect != "/pay" {
			t.Fatalf("satisfied: %#v", o)
		}
		out, err = step(authflow.Requirement{AAL: "aal2"}, false)
		run[authflow.NoFactorToUse](t, "aal2 without a factor", out, err)

		e.withTOTP(t, c)
		c, _ = e.store.Customer(ctx, c.ID)
		out, err = step(authflow.Requirement{AAL: "aal2"}, false)
		if d := run[authflow.SecondFactorDue](t, "aal2", out, err); !d.Offer.TOTP || !d.Offer.Recovery || d.Offer.Remember {
			t.Fatalf("aal2 offer: %#v", d.Offer)
		}
		out, err = step(authflow.Requirement{Methods: []string{"totp"}}, false)
		if d := run[authflow.SecondFactorDue](t, "totp named", out, err); !d.Offer.TOTP || d.Offer.Recovery {
			t.Fatalf("totp offer: %#v", d.Offer)
		}
		out, err = step(authflow.Requirement{Methods: []string{"passkey"}}, false)
		run[authflow.NoFactorToUse](t, "a passkey named, none held", out, err)
		out, err = step(authflow.Requirement{Methods: []string{"email"}}, true)
		if o := run[authflow.SignInAgain](t, "a first factor named", out, err); !o.Resubmit {
			t.Fatal("resubmit lost")
		}
		if !authflow.AccountRequirement(c).Unmet(s, e.clock.now()) {
			t.Fatal("an aal1 session may change a customer with a second factor")
		}
		e.clock.advance(authflow.AccountFreshness + time.Minute)
		out, err = step(authflow.Requirement{MaxAge: authflow.AccountFreshness}, false)
		run[authflow.SignInAgain](t, "a stale sign-in", out, err)
		if !authflow.AnyMethod([]string{"swk"}, []string{"passkey"}) || !authflow.AnyMethod([]string{"otp"}, []string{"totp"}) ||
			authflow.AnyMethod([]string{"pwd"}, []string{"otp"}) {
			t.Fatal("method names")
		}
	})
}
