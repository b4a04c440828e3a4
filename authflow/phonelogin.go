package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/sms"
)

// Sign-in and sign-up by phone alone (`phone_login on`): the customer
// types a number, a 6-digit code is texted to it, and typing the code
// back in the same browser signs in the account that has the number
// verified — or, when no account has it, opens one with the number as
// its only contact (no email address). Asking is answered, and texted,
// the same for every number: the store is not even asked who has it
// until the code is right, so only the person holding the phone learns
// whether it had an account.
//
// The code proves the phone, one factor ("amr" ["sms"], "acr" aal1).
// A customer whose account has another second factor (an authenticator,
// a passkey, recovery codes) is asked for it next; a texted code is never
// both factors of one sign-in. An account whose only second factor is
// that same phone cannot be signed in by it alone: the customer uses
// their password (or mailbox) and the phone as before.

// AMRSMS is the authentication method of a code texted to the phone.
const AMRSMS = "sms"

// PhoneSignInInput is the sign-in-by-phone form: the number as typed and
// where the customer was going.
type PhoneSignInInput struct{ Phone, Redirect string }

// PhoneSignInSent: a code was texted to Phone (E.164), whoever has it;
// the browser keeps Nonce, which the code is bound to.
type PhoneSignInSent struct{ Phone, Nonce string }

// PhoneSignInRefused: the code was right, but the number cannot sign in
// by itself: an account has it unconfirmed (it may be a mistyped number
// of someone else's), or the account's only second factor is this phone.
// Said only to whoever proved they hold it.
type PhoneSignInRefused struct{ Unconfirmed bool }

func (PhoneSignInSent) outcome()    {}
func (PhoneSignInRefused) outcome() {}

// PhoneLoginOffered reports whether the site signs customers in by phone.
func (f *Flows) PhoneLoginOffered() bool {
	return f.Phone != nil && f.Phone.Login && len(f.Phone.Countries) > 0
}

// SendPhoneSignIn texts a sign-in code to the number typed, within the
// text limits, bound to a fresh nonce for this browser. A number outside
// the site's country allow-list is refused before anything is stored or
// sent.
func (f *Flows) SendPhoneSignIn(ctx context.Context, in PhoneSignInInput) (Outcome, error) {
	if !f.PhoneLoginOffered() {
		return PhoneOff{}, nil
	}
	n, err := f.ParsePhone(in.Phone)
	if err != nil {
		return Invalid{Fields: map[string]error{"phone": err}}, nil
	}
	if out, err := f.textLimited(ctx, n); out != nil || err != nil {
		return out, err
	}
	// A fresh nonce each time: a new request never adds a code to an
	// older one's binding, nor resets its count of wrong codes.
	nonce, code := NewNonce(), newEmailCode()
	tok := identity.NewTokenUnder(identity.HashToken(nonce),
		identity.PhoneSignIn{Phone: n.E164, CodeHash: phoneSignInHash(nonce, code), Redirect: in.Redirect},
		"", f.now().Add(identity.PhoneCodeTTL))
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return nil, err
	}
	if err := f.Phone.Notify.LoginCode(ctx, n.E164, code); err != nil {
		return queuedText(err)
	}
	return PhoneSignInSent{Phone: n.E164, Nonce: nonce}, nil
}

// PhoneCodeInput is a code typed in the browser keeping Nonce, with what
// FirstFactorDone needs of that browser.
type PhoneCodeInput struct {
	Code, Nonce string
	// Device is the browser's remembered-device cookie; DeviceID the
	// keyed hash of its device cookie; Client who it is (risk).
	Device, DeviceID string
	Client           Client
}

// SignInWithPhoneCode checks a texted code: each guess takes the pending
// sign-in out of the store and puts it back with one more wrong try (two
// guesses at once cannot both count as the first); the fifth wrong one
// leaves it out. The right code signs in the number's account, or opens
// one, and goes on as any first factor (FirstFactorDone): SessionDue,
// SecondFactorDue, a risk outcome — or PhoneSignInRefused.
func (f *Flows) SignInWithPhoneCode(ctx context.Context, in PhoneCodeInput) (Outcome, error) {
	code := strings.ReplaceAll(strings.TrimSpace(in.Code), " ", "")
	if !isEmailCode(code) {
		return Invalid{Fields: map[string]error{"code": ErrCodeFormat}}, nil
	}
	if in.Nonce == "" || !f.PhoneLoginOffered() {
		return CodeDead{}, nil
	}
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenPhoneSignIn, identity.HashToken(in.Nonce), f.now())
	if errors.Is(err, identity.ErrNotFound) {
		return CodeDead{}, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := identity.PayloadOf[identity.PhoneSignIn](tok)
	if err != nil {
		return CodeDead{}, nil
	}
	if subtle.ConstantTimeCompare(p.CodeHash, phoneSignInHash(in.Nonce, code)) != 1 {
		p.Tries++
		return f.wrongTextedCode(ctx, tok, p, p.Tries)
	}
	if n, err := sms.ParseNumber(p.Phone, ""); err != nil || !f.Phone.allowed(n.Region) {
		return CodeDead{}, nil // the country left the allow-list since
	}
	out, err := f.phoneProven(ctx, p, in)
	if err != nil {
		f.putBack(ctx, tok) // the right code was not acted on: it still works
	}
	return out, err
}

// phoneProven signs in the account holding the proven number, or opens
// one for it.
func (f *Flows) phoneProven(ctx context.Context, p identity.PhoneSignIn, in PhoneCodeInput) (Outcome, error) {
	// Twice at most: a lost race with another sign-up of the number is
	// followed by signing in the account that won it.
	for range 2 {
		c, err := f.Customers.CustomerByPhone(ctx, p.Phone)
		if errors.Is(err, identity.ErrNotFound) {
			out, err := f.phoneSignUp(ctx, p, in)
			if errors.Is(err, identity.ErrPhoneTaken) {
				continue
			}
			return out, err
		}
		if err != nil {
			return nil, err
		}
		return f.phoneSignIn(ctx, c, p, in)
	}
	return nil, errors.New("authflow: phone sign-in: the number's account kept changing")
}

// phoneSignIn signs in c, whose number was just proven.
func (f *Flows) phoneSignIn(ctx context.Context, c *identity.Customer, p identity.PhoneSignIn, in PhoneCodeInput) (Outcome, error) {
	if !c.PhoneVerified {
		return PhoneSignInRefused{Unconfirmed: true}, nil
	}
	if f.smsUsable(c) && !c.HasSecondFactor() {
		return PhoneSignInRefused{}, nil
	}
	now := f.now().UTC()
	c, err := f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.LastLoginAt = now
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) { // deleted since the lookup
		return CodeDead{}, nil
	}
	if err != nil {
		return nil, err
	}
	return f.FirstFactorDone(ctx, FirstFactorInput{Customer: c, AMR: []string{AMRSMS}, Redirect: p.Redirect,
		Device: in.Device, Client: in.Client, DeviceID: in.DeviceID})
}

// phoneSignUp opens an account for a proven number no account has: the
// number, verified, is its only contact. The consent purposes are asked
// by the prompt (no form asked them), as for a provider's sign-up.
func (f *Flows) phoneSignUp(ctx context.Context, p identity.PhoneSignIn, in PhoneCodeInput) (Outcome, error) {
	now := f.now().UTC()
	c := &identity.Customer{ID: identity.NewID(), Phone: p.Phone, PhoneVerified: true, CreatedAt: now, LastLoginAt: now}
	if err := f.Customers.CreateCustomer(ctx, c); err != nil {
		return nil, err
	}
	f.publish(ctx, in.Client, c.ID, events.CustomerCreated, map[string]string{"source": "phone"})
	f.auditDetail(ctx, in.Client, c.ID, identity.EventPhoneAdded, sms.MaskNumber(c.Phone))
	out, err := f.FirstFactorDone(ctx, FirstFactorInput{Customer: c, AMR: []string{AMRSMS}, Redirect: p.Redirect,
		Device: in.Device, Client: in.Client, DeviceID: in.DeviceID})
	due, ok := out.(SessionDue)
	if err != nil || !ok || len(f.Purposes) == 0 || f.Consent == nil {
		return out, err
	}
	if due.AskConsent, err = f.holdSignUpConsent(ctx, c.ID); err != nil {
		f.failed("keeping a phone sign-up's consent question", err)
	}
	return due, nil
}

// secondFactorsAfter is the second factors a sign-in whose first factor
// was amr may be asked for: all of them, but never a texted code after a
// texted code (the same phone twice is one factor).
func secondFactorsAfter(amr []string) []Factor {
	if !slices.Contains(amr, AMRSMS) {
		return nil // AskSecondFactor's default: all
	}
	return slices.DeleteFunc(slices.Clone(AllFactors), func(fa Factor) bool { return fa == FactorSMS })
}

// hasSecondFactorAfter reports whether c has a second factor a sign-in
// whose first factor was amr can be asked for.
func (f *Flows) hasSecondFactorAfter(c *identity.Customer, amr []string) bool {
	if slices.Contains(amr, AMRSMS) {
		return c.HasSecondFactor()
	}
	return f.HasSecondFactor(c)
}

// phoneSignInHash is the stored form of a sign-in code, bound to the
// browser's nonce, which the store never holds.
func phoneSignInHash(nonce, code string) []byte {
	return identity.HashToken("phone_signin\x00" + nonce + "\x00" + code)
}
