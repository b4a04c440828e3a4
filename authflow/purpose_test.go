package authflow_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// putLegacy stores a token given as a record of the version before
// per-kind payloads (every field flat), decoded the way the stores decode
// what they hold. %[1]s is the base64 of hash, %[2]s the customer id,
// %[3]s the expiry.
func (e *env) putLegacy(t *testing.T, hash []byte, customerID, record string) {
	t.Helper()
	raw := fmt.Sprintf(record, base64.StdEncoding.EncodeToString(hash), customerID, e.clock.now().Add(5*time.Minute).Format(time.RFC3339Nano))
	var tok identity.Token
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if err := e.store.PutToken(context.Background(), &tok); err != nil {
		t.Fatal(err)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestLegacyTokensInJourneys: links, waits and enrolments stored by the
// previous version — in mailboxes and browsers during the upgrade — still
// finish their journeys, with the same outcomes.
func TestLegacyTokensInJourneys(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()

		// A passkey-first verification link, in the sign-up's browser.
		pk := &identity.Customer{ID: identity.NewID(), Email: "legacy-pk@example.com", CreatedAt: e.clock.now()}
		if err := e.store.CreateCustomer(ctx, pk); err != nil {
			t.Fatal(err)
		}
		secret, nonce := authflow.NewNonce(), authflow.NewNonce()
		e.putLegacy(t, identity.HashToken(secret), pk.ID, `{"kind":"verify_email","hash":"%s","customer_id":"%s","expires_at":"%s",`+
			`"binding":"`+b64(identity.HashToken(nonce))+`","purpose":"passkey_signup"}`)
		if o, ok := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce}).(authflow.PasswordlessConfirmed); !ok || o.Customer.ID != pk.ID || o.Purpose != authflow.PurposePasskeySignUp {
			t.Fatalf("passkey-first link: %#v", o)
		}

		// A password sign-up's link, in the sign-up's browser: its password.
		pw := &identity.Customer{ID: identity.NewID(), Email: "legacy-pw@example.com", CreatedAt: e.clock.now()}
		if err := e.store.CreateCustomer(ctx, pw); err != nil {
			t.Fatal(err)
		}
		const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5"
		secret, nonce = authflow.NewNonce(), authflow.NewNonce()
		e.putLegacy(t, identity.HashToken(secret), pw.ID, `{"kind":"verify_email","hash":"%s","customer_id":"%s","expires_at":"%s",`+
			`"password_hash":"`+hash+`","binding":"`+b64(identity.HashToken(nonce))+`"}`)
		if o := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce}); o != (authflow.EmailConfirmed{Bound: true}) {
			t.Fatalf("password sign-up's link: %#v", o)
		}
		if got, _ := e.store.Customer(ctx, pw.ID); got.PasswordHash != hash || !got.EmailVerified {
			t.Fatalf("after the link: %+v", got)
		}

		// A sign-in link.
		c := e.verified(t, "legacy@example.com")
		secret, nonce = authflow.NewNonce(), authflow.NewNonce()
		e.putLegacy(t, identity.HashToken(secret), c.ID, `{"kind":"magic_link","hash":"%s","customer_id":"%s","expires_at":"%s",`+
			`"binding":"`+b64(identity.HashToken(nonce))+`","redirect":"/orders"}`)
		out, err := e.flows.SignInWithLink(ctx, authflow.EmailLinkConfirmInput{Secret: secret, Nonce: nonce})
		if p := run[authflow.FirstFactorPassed](t, "a sign-in link", out, err); p.Customer.ID != c.ID || p.Redirect != "/orders" {
			t.Fatalf("sign-in link: %#v", p)
		}

		// A step-up waiting for the app, for the session that asked.
		e.withTOTP(t, c)
		_, s, err := e.sessions.Create(ctx, session.New{UserID: c.ID, Email: c.Email, Site: "https://shop.test", AMR: []string{"email"}, ACR: "aal1"})
		if err != nil {
			t.Fatal(err)
		}
		mine := func() (*session.Session, error) { return s, nil }
		nonce = authflow.NewNonce()
		e.putLegacy(t, identity.HashToken(nonce), c.ID, `{"kind":"second_factor","hash":"%s","customer_id":"%s","expires_at":"%s",`+
			`"binding":"`+b64(identity.HashToken(s.Key))+`","redirect":"/pay","attempts":1,"methods":["email"],"data":"b3Rw","purpose":"stepup_resubmit"}`)
		out, err = e.flows.SecondFactorWait(ctx, nonce, mine)
		if d := run[authflow.SecondFactorDue](t, "a step-up's wait", out, err); d.Offer != (authflow.Offer{TOTP: true}) {
			t.Fatalf("step-up offer: %#v", d.Offer)
		}
		out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: mine, TOTP: e.totpCode(t)})
		if d := run[authflow.SessionDue](t, "a step-up answered", out, err); d.Purpose != authflow.PurposeResubmit ||
			!slices.Equal(d.AMR, []string{"email", "otp", "mfa"}) || d.ACR != "aal2" || d.Redirect != "/pay" {
			t.Fatalf("step-up done: %#v", d)
		}

		// An authenticator being set up.
		other := e.verified(t, "legacy-totp@example.com")
		_, s2, _ := e.sessions.Create(ctx, session.New{UserID: other.ID, Email: other.Email, Site: "https://shop.test", ACR: "aal1"})
		handle := authflow.NewNonce()
		e.putLegacy(t, identity.HashToken(handle), other.ID, `{"kind":"totp_enrol","hash":"%s","customer_id":"%s","expires_at":"%s",`+
			`"binding":"`+b64(identity.HashToken(s2.Key))+`","data":"`+b64([]byte(totpSecret))+`"}`)
		e.clock.advance(30 * time.Second) // the step-up used the current code
		out, err = e.flows.ConfirmTOTP(ctx, authflow.ConfirmTOTPInput{Session: s2, Customer: other, Handle: handle, Code: e.totpCode(t), Issuer: "Shop"})
		run[authflow.TOTPAdded](t, "an enrolment confirmed", out, err)
	})
}

// TestUnknownPurposeRefused: a stored purpose its family does not have is
// refused, not read as a default; none is stored either.
func TestUnknownPurposeRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var warned []error
		e.flows.OnWarn = func(_ string, err error) { warned = append(warned, err) }
		c := e.verified(t, "purpose@example.com")
		e.withTOTP(t, c)

		for _, purpose := range []string{"", "bogus", "LOGIN"} {
			for _, answer := range []bool{false, true} {
				nonce := authflow.NewNonce()
				tok := identity.NewTokenUnder(identity.HashToken(nonce), identity.SecondFactorWait{Purpose: purpose, Factors: []string{"otp"}},
					c.ID, e.clock.now().Add(identity.SecondFactorTTL))
				if err := e.store.PutToken(ctx, tok); err != nil {
					t.Fatal(err)
				}
				var (
					out authflow.Outcome
					err error
				)
				if answer {
					out, err = e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, TOTP: e.totpCode(t)})
				} else {
					out, err = e.flows.SecondFactorWait(ctx, nonce, noSession)
				}
				run[authflow.WaitGone](t, fmt.Sprintf("a wait for %q (answered %t)", purpose, answer), out, err)
			}
		}
		if _, err := e.flows.AskSecondFactor(ctx, c, authflow.Wait{Purpose: "bogus"}); !errors.Is(err, authflow.ErrUnknownPurpose) {
			t.Fatalf("a wait asked for an unknown purpose: %v", err)
		}

		u := &identity.Customer{ID: identity.NewID(), Email: "purpose-link@example.com", CreatedAt: e.clock.now()}
		if err := e.store.CreateCustomer(ctx, u); err != nil {
			t.Fatal(err)
		}
		nonce := authflow.NewNonce()
		secret, tok := identity.NewToken(identity.VerifyEmail{PasswordHash: "$argon2id$x", Binding: identity.HashToken(nonce), Purpose: "bogus"},
			u.ID, identity.VerifyTokenTTL, e.clock.now())
		if err := e.store.PutToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if o := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce}); o != (authflow.LinkExpired{}) {
			t.Fatalf("a verification link of an unknown purpose: %#v", o)
		}
		if got, _ := e.store.Customer(ctx, u.ID); got.EmailVerified || got.PasswordHash != "" {
			t.Fatalf("after a link of an unknown purpose: %+v", got)
		}
		if len(warned) != 7 || !errors.Is(warned[0], authflow.ErrUnknownPurpose) {
			t.Fatalf("warnings: %v", warned)
		}
	})
}
