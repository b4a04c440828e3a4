package authflow_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// verified signs up and confirms email in its own browser, and returns
// the customer.
func (e *env) verified(t *testing.T, email string) *identity.Customer {
	t.Helper()
	secret, nonce := e.signUp(t, email, ownerPassword, false)
	e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce})
	c, err := e.store.CustomerByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const totpSecret = "JBSWY3DPEHPK3PXP"

// withTOTP gives c an authenticator app and recovery codes.
func (e *env) withTOTP(t *testing.T, c *identity.Customer) (recovery []string) {
	t.Helper()
	codes, hashes := identity.NewRecoveryCodes()
	if _, err := e.store.UpdateCustomer(context.Background(), c.ID, func(c *identity.Customer) error {
		c.TOTP = &identity.TOTP{Secret: totpSecret, CreatedAt: e.clock.now()}
		c.RecoveryCodes = hashes
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return codes
}

func (e *env) totpCode(t *testing.T) string {
	t.Helper()
	code, err := totp.GenerateCode(totpSecret, e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func run[T authflow.Outcome](t *testing.T, what string, out authflow.Outcome, err error) T {
	t.Helper()
	o, ok := out.(T)
	if err != nil || !ok {
		var want T
		t.Fatalf("%s: %#v %v, want %T", what, out, err, want)
	}
	return o
}

func noSession() (*session.Session, error) { return nil, nil }

// TestEmailLinkJourney: a link and a code reach a verified address only —
// the same answer and store work for every address; the link signs in
// only the browser that asked; the code is bound to that browser, counts
// wrong guesses and dies at the fifth; decoys never sign anyone in.
func TestEmailLinkJourney(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.verified(t, "link@example.com")
		e.signUp(t, "squatted@example.com", attackerPassword, false) // never verified
		var nonces = map[string]string{}
		for _, addr := range []string{"link@example.com", "squatted@example.com", "nobody@example.com"} {
			out, err := e.flows.SendEmailLink(ctx, authflow.EmailLinkInput{Email: addr, Redirect: "/orders"})
			sent := run[authflow.EmailLinkSent](t, "sending to "+addr, out, err)
			if sent.Email != addr || sent.Nonce == "" {
				t.Fatalf("sending to %s: %#v", addr, sent)
			}
			nonces[addr] = sent.Nonce
		}
		mails := e.mail.take()
		if len(mails) != 1 || mails[0].kind != "signin" || mails[0].to != "link@example.com" || len(mails[0].code) != 6 {
			t.Fatalf("mailed %+v, want one sign-in link to the verified address", mails)
		}
		link := mails[0].secret

		// Another browser uses the link up without being signed in.
		out, err := e.flows.SignInWithLink(ctx, authflow.EmailLinkConfirmInput{Secret: link, Nonce: nonces["nobody@example.com"]})
		run[authflow.OtherBrowser](t, "the link in another browser", out, err)
		out, err = e.flows.SignInWithLink(ctx, authflow.EmailLinkConfirmInput{Secret: link, Nonce: nonces["link@example.com"]})
		run[authflow.LinkExpired](t, "the link a second time", out, err)

		// The code still works in the browser that asked, once.
		code := mails[0].code
		out, err = e.flows.SignInWithCode(ctx, authflow.EmailCodeInput{Code: code, Nonce: nonces["nobody@example.com"]})
		run[authflow.WrongCode](t, "the code in the browser of another request (that request's own decoy)", out, err)
		out, err = e.flows.SignInWithCode(ctx, authflow.EmailCodeInput{Code: " " + code[:3] + " " + code[3:], Nonce: nonces["link@example.com"]})
		passed := run[authflow.FirstFactorPassed](t, "the code where it was asked for", out, err)
		if passed.Customer.Email != "link@example.com" || !slices.Equal(passed.AMR, []string{"email"}) || passed.Redirect != "/orders" {
			t.Fatalf("passed: %#v", passed)
		}
		out, err = e.flows.SignInWithCode(ctx, authflow.EmailCodeInput{Code: code, Nonce: nonces["link@example.com"]})
		run[authflow.CodeDead](t, "the code a second time", out, err)

		// A fresh request: wrong guesses count down, the fifth kills it.
		out, _ = e.flows.SendEmailLink(ctx, authflow.EmailLinkInput{Email: "link@example.com"})
		nonce := out.(authflow.EmailLinkSent).Nonce
		code = e.mail.take()[0].code
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for left := identity.EmailCodeMaxAttempts - 1; left > 0; left-- {
			out, err = e.flows.SignInWithCode(ctx, authflow.EmailCodeInput{Code: wrong, Nonce: nonce})
			if w := run[authflow.WrongCode](t, "a wrong code", out, err); w.Left != left {
				t.Fatalf("left %d, want %d", w.Left, left)
			}
		}
		out, err = e.flows.SignInWithCode(ctx, authflow.EmailCodeInput{Code: wrong, Nonce: nonce})
		run[authflow.CodeLockedOut](t, "the fifth wrong code", out, err)
		out, err = e.flows.SignInWithCode(ctx, authflow.EmailCodeInput{Code: code, Nonce: nonce})
		run[authflow.CodeDead](t, "the right code after the lock-out", out, err)

		// Decoys: the squatted and unknown addresses' codes and links are
		// nobody's, whatever is guessed.
		for _, addr := range []string{"squatted@example.com", "nobody@example.com"} {
			out, err = e.flows.SignInWithCode(ctx, authflow.EmailCodeInput{Code: wrong, Nonce: nonces[addr]})
			run[authflow.WrongCode](t, "a decoy's code", out, err)
		}

		// Malformed codes and an expired code.
		out, err = e.flows.SignInWithCode(ctx, authflow.EmailCodeInput{Code: "12345x", Nonce: nonce})
		if inv := run[authflow.Invalid](t, "a malformed code", out, err); !errors.Is(inv.Fields["code"], authflow.ErrCodeFormat) {
			t.Fatalf("malformed: %#v", inv)
		}
		out, _ = e.flows.SendEmailLink(ctx, authflow.EmailLinkInput{Email: "link@example.com"})
		nonce, m := out.(authflow.EmailLinkSent).Nonce, e.mail.take()[0]
		e.clock.advance(identity.MagicLinkTTL + time.Second)
		out, err = e.flows.SignInWithCode(ctx, authflow.EmailCodeInput{Code: m.code, Nonce: nonce})
		run[authflow.CodeDead](t, "an expired code", out, err)
		out, err = e.flows.SignInWithLink(ctx, authflow.EmailLinkConfirmInput{Secret: m.secret, Nonce: nonce})
		run[authflow.LinkExpired](t, "an expired link", out, err)
		out, err = e.flows.SendEmailLink(ctx, authflow.EmailLinkInput{Email: "not an address"})
		run[authflow.Invalid](t, "a malformed address", out, err)
	})
}

// TestSecondFactorJourney: a customer with a second factor gets a wait,
// not a session; a remembered browser skips it; wrong answers count
// against the wait and the customer; the right one composes AMR and
// aal2; a step-up's wait answers only its own session, and a locked-out
// step-up ends that session; a reset's password waits for the factor.
func TestSecondFactorJourney(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		plain := e.verified(t, "plain@example.com")
		out, err := e.flows.FirstFactorDone(ctx, authflow.FirstFactorInput{Customer: plain, AMR: []string{"pwd"}, Redirect: "/shop"})
		if s := run[authflow.SessionDue](t, "no second factor", out, err); s.ACR != "aal1" || s.Redirect != "/shop" || !slices.Equal(s.AMR, []string{"pwd"}) {
			t.Fatalf("no second factor: %#v", s)
		}

		c := e.verified(t, "mfa@example.com")
		recovery := e.withTOTP(t, c)
		c, _ = e.store.Customer(ctx, c.ID)
		signIn := func() string {
			t.Helper()
			out, err := e.flows.FirstFactorDone(ctx, authflow.FirstFactorInput{Customer: c, AMR: []string{"pwd"}, Redirect: "/shop"})
			due := run[authflow.SecondFactorDue](t, "a second factor", out, err)
			if due.Nonce == "" || !due.Offer.TOTP || !due.Offer.Recovery || due.Offer.Passkey || !due.Offer.Remember {
				t.Fatalf("due: %#v", due)
			}
			return due.Nonce
		}
		nonce := signIn()
		out, err = e.flows.SecondFactorWait(ctx, nonce, noSession)
		if due := run[authflow.SecondFactorDue](t, "a reload", out, err); due.Nonce != "" {
			t.Fatalf("a reload made a new wait: %#v", due)
		}
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: "not the browser's", Current: noSession, TOTP: e.totpCode(t)})
		run[authflow.WaitGone](t, "another browser", out, err)

		// The right code: aal2, AMR composed, the browser remembered.
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, TOTP: e.totpCode(t), Remember: true, DeviceName: "Firefox on Linux"})
		done := run[authflow.SessionDue](t, "the right code", out, err)
		if done.ACR != "aal2" || !slices.Equal(done.AMR, []string{"pwd", "otp", "mfa"}) || done.Redirect != "/shop" || done.Purpose != authflow.PurposeSignIn ||
			!strings.HasPrefix(done.DeviceCookie, c.ID+".") {
			t.Fatalf("done: %#v", done)
		}
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, TOTP: e.totpCode(t)})
		run[authflow.WaitGone](t, "the wait a second time", out, err)
		c, _ = e.store.Customer(ctx, c.ID)
		out, err = e.flows.FirstFactorDone(ctx, authflow.FirstFactorInput{Customer: c, AMR: []string{"pwd"}, Device: done.DeviceCookie})
		run[authflow.SessionDue](t, "the remembered browser", out, err)
		for _, forged := range []string{plain.ID + done.DeviceCookie[len(c.ID):], done.DeviceCookie + "x", c.ID + ".", ""} {
			out, err = e.flows.FirstFactorDone(ctx, authflow.FirstFactorInput{Customer: c, AMR: []string{"pwd"}, Device: forged})
			run[authflow.SecondFactorDue](t, "a forged device cookie "+forged, out, err)
		}

		// Recovery codes work once, with "mfa" alone added.
		nonce = signIn()
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, RecoveryCode: recovery[0]})
		if d := run[authflow.SessionDue](t, "a recovery code", out, err); !slices.Equal(d.AMR, []string{"pwd", "mfa"}) || d.DeviceCookie != "" {
			t.Fatalf("recovery: %#v", d)
		}
		nonce = signIn()
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, RecoveryCode: recovery[0]})
		if w := run[authflow.WrongAnswer](t, "a used recovery code", out, err); !authflow.IsFactorRefusal(w.Reason) {
			t.Fatalf("reason %v", w.Reason)
		}

		// Wrong answers: the wait's fifth ends it; the customer's limit
		// stops checking before that and keeps the wait.
		for i := 1; i < identity.SecondFactorMaxAttempts-1; i++ {
			out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, TOTP: "000000"})
			run[authflow.WrongAnswer](t, "a wrong code", out, err)
		}
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, TOTP: "000000"})
		if l := run[authflow.LockedOut](t, "the fifth wrong answer", out, err); l.SessionEnded {
			t.Fatal("a sign-in's lock-out ended a session")
		}
		e.limit.max = 6
		nonce = signIn()
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, TOTP: "000000"})
		run[authflow.WrongAnswer](t, "the sixth wrong answer of the customer", out, err)
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, TOTP: e.totpCode(t)})
		run[authflow.TooManyAnswers](t, "over the customer's limit", out, err)
		e.limit.max = 0
		e.clock.advance(30 * time.Second) // the next time step: the last code was used
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, TOTP: e.totpCode(t)})
		run[authflow.SessionDue](t, "the kept wait after the limit", out, err)

		// Step-up: bound to the session that asked.
		token, s, err := e.sessions.Create(ctx, session.New{UserID: c.ID, Email: c.Email, Site: "https://shop.test", AMR: []string{"email"}, ACR: "aal1"})
		if err != nil {
			t.Fatal(err)
		}
		_, other, _ := e.sessions.Create(ctx, session.New{UserID: plain.ID, Email: plain.Email, Site: "https://shop.test", ACR: "aal1"})
		stepUp := func() string {
			out, err := e.flows.AskSecondFactor(ctx, c, authflow.Wait{Purpose: authflow.PurposeResubmit, AMR: s.AMR, Redirect: "/pay", SessionKey: s.Key,
				Factors: []authflow.Factor{authflow.FactorTOTP}})
			due := run[authflow.SecondFactorDue](t, "a step-up", out, err)
			if due.Offer.Recovery || due.Offer.Remember || !due.Offer.TOTP {
				t.Fatalf("step-up offer: %#v", due.Offer)
			}
			return due.Nonce
		}
		nonce = stepUp()
		for _, cur := range []authflow.CurrentSession{noSession, func() (*session.Session, error) { return other, nil }} {
			out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: cur, TOTP: "000000"})
			run[authflow.WaitGone](t, "a step-up answered without its session", out, err)
		}
		nonce = stepUp()
		mine := func() (*session.Session, error) { return s, nil }
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: mine, RecoveryCode: recovery[1]})
		run[authflow.WrongAnswer](t, "a recovery code where only the app is allowed", out, err)
		e.clock.advance(30 * time.Second)
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: mine, TOTP: e.totpCode(t)})
		if d := run[authflow.SessionDue](t, "a step-up answered", out, err); d.Purpose != authflow.PurposeResubmit ||
			!slices.Equal(d.AMR, []string{"email", "otp", "mfa"}) || d.ACR != "aal2" {
			t.Fatalf("step-up done: %#v", d)
		}
		nonce = stepUp()
		for i := 0; i < identity.SecondFactorMaxAttempts-1; i++ {
			e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: mine, TOTP: "000000"})
		}
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: mine, TOTP: "000000"})
		if l := run[authflow.LockedOut](t, "a step-up locked out", out, err); !l.SessionEnded {
			t.Fatal("the step-up's session was kept")
		}
		if got, err := e.sessions.Lookup(ctx, token); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("the locked-out session: %v %v", got, err)
		}

		// A reset's new password waits for the factor, then ends every
		// session and forgets remembered browsers.
		hash, err := hasher.Hash(ctx, "the new passphrase, reset")
		if err != nil {
			t.Fatal(err)
		}
		token2, _, _ := e.sessions.Create(ctx, session.New{UserID: c.ID, Email: c.Email, Site: "https://shop.test", ACR: "aal1"})
		out, err = e.flows.AskSecondFactor(ctx, c, authflow.Wait{Purpose: authflow.PurposeReset, PasswordHash: hash})
		nonce = run[authflow.SecondFactorDue](t, "a reset's wait", out, err).Nonce
		e.clock.advance(30 * time.Second)
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, TOTP: e.totpCode(t)})
		run[authflow.PasswordReset](t, "a reset answered", out, err)
		c, _ = e.store.Customer(ctx, c.ID)
		if c.PasswordHash != hash || len(c.TrustedDevices) != 0 {
			t.Fatalf("after the reset: password set %v, devices %d", c.PasswordHash == hash, len(c.TrustedDevices))
		}
		if _, err := e.sessions.Lookup(ctx, token2); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("a session outlived the reset: %v", err)
		}
		events, err := e.store.Events(ctx, c.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, ev := range events {
			kinds = append(kinds, ev.Kind)
		}
		for _, k := range []string{identity.EventRecoveryCodeUsed, identity.EventSecondFactorFailed, identity.EventPasswordReset} {
			if !slices.Contains(kinds, k) {
				t.Errorf("events %v lack %s", kinds, k)
			}
		}
	})
}
