package authflow

import (
	"context"
	"crypto/subtle"
	"errors"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/sms"
)

// A code texted to the account's verified phone as a second factor, where
// the site allows it (PhoneSettings.MFA). It is a restricted authenticator
// (NIST SP 800-63B-4: phishable, and lost to a SIM swap): it makes an aal2
// session, but never satisfies a `methods` rule that does not name "sms"
// (AnyMethod), and the account page nudges towards a passkey.
//
// The code is texted only when the customer presses the button on the
// second-factor page (SendSMSCode), never when the wait starts, so a bot
// that knows a password cannot make the site text anyone; each text is
// within the site's text limits. The code is bound to the wait (hashed
// with its nonce), good for identity.PhoneCodeTTL, and used up with it;
// wrong codes count with every other wrong second factor.

// FactorSMS is a code texted to the verified phone.
const FactorSMS Factor = "sms"

// ErrSMSCodeExpired is a texted code typed after it expired (or none was
// texted): a wrong answer, worded apart.
var ErrSMSCodeExpired = errors.New("authflow: texted code expired")

// Outcomes of the SMS factor's journeys.
type (
	// SMSFactorOn: sign-ins now offer a texted code.
	SMSFactorOn struct{}
	// SMSFactorOff: they no longer do.
	SMSFactorOff struct{}
	// SMSFactorUnavailable: the site does not offer it, or the account has
	// no verified number in a country the site texts.
	SMSFactorUnavailable struct{}
)

func (SMSFactorOn) outcome()          {}
func (SMSFactorOff) outcome()         {}
func (SMSFactorUnavailable) outcome() {}

// smsOffered reports whether the site would text c's verified number a
// second-factor code: the site allows it and the number's country is
// still on its allow-list.
func (f *Flows) smsOffered(c *identity.Customer) bool {
	_, ok := f.TextableNumber(c)
	return ok && f.Phone.MFA
}

// smsUsable reports whether c answers a second factor with a texted code
// on this site.
func (f *Flows) smsUsable(c *identity.Customer) bool { return c.HasSMSFactor() && f.smsOffered(c) }

// SMSFactorOffered reports whether the account page may offer c to turn
// the texted code on (or shows it on).
func (f *Flows) SMSFactorOffered(c *identity.Customer) bool { return f.smsOffered(c) }

// HasSecondFactor reports whether signing in as c on this site needs a
// second step: c's own factors, or a texted code the site still sends.
func (f *Flows) HasSecondFactor(c *identity.Customer) bool {
	return c.HasSecondFactor() || f.smsUsable(c)
}

// AccountRequirement is AccountRequirement with this site's view of c's
// second factors.
func (f *Flows) AccountRequirement(c *identity.Customer) Requirement {
	req := Requirement{MaxAge: AccountFreshness}
	if f.HasSecondFactor(c) {
		req.AAL = "aal2"
	}
	return req
}

// SetSMSFactor turns the texted code on or off for c (the caller checked
// a recent sign-in). On needs the site's offer and c's verified number.
func (f *Flows) SetSMSFactor(ctx context.Context, c *identity.Customer, on bool, client Client) (Outcome, error) {
	if on && !f.smsOffered(c) {
		return SMSFactorUnavailable{}, nil
	}
	if c.SMSFactor == on {
		if on {
			return SMSFactorOn{}, nil
		}
		return SMSFactorOff{}, nil
	}
	if _, err := f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.SMSFactor = on
		if !on {
			dropLoneFactors(c)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if on {
		f.auditDetail(ctx, client, c.ID, identity.EventSMSFactorAdded, sms.MaskNumber(c.Phone))
		return SMSFactorOn{}, nil
	}
	f.auditDetail(ctx, client, c.ID, identity.EventSMSFactorRemoved, sms.MaskNumber(c.Phone))
	return SMSFactorOff{}, nil
}

// SendSMSCode texts a new code for the browser's wait to the customer's
// verified phone, within the text limits, replacing any code sent before.
// Outcomes: SecondFactorDue (no nonce; the code field now offered),
// TextLimited, Busy, WaitGone.
func (f *Flows) SendSMSCode(ctx context.Context, nonce string, current CurrentSession) (Outcome, error) {
	p, c, err := f.wait(ctx, nonce, current)
	if err != nil || c == nil {
		return WaitGone{}, err
	}
	if !p.allows(FactorSMS) || !f.smsUsable(c) {
		f.putBack(ctx, p.tok)
		return SecondFactorDue{Customer: c, Offer: f.offer(c, p)}, nil
	}
	n, _ := f.TextableNumber(c) // smsUsable: it is
	if out, err := f.textLimited(ctx, n); out != nil || err != nil {
		f.putBack(ctx, p.tok)
		return out, err
	}
	code := newEmailCode()
	p.wait.SMSCode, p.wait.SMSUntil = smsCodeHash(nonce, code), f.now().Add(identity.PhoneCodeTTL)
	if err := p.tok.SetPayload(p.wait); err != nil {
		return nil, err
	}
	if err := f.Tokens.PutToken(ctx, p.tok); err != nil {
		return nil, err
	}
	if err := f.Phone.Notify.SignInCode(ctx, n.E164, code); err != nil {
		return queuedText(err)
	}
	return SecondFactorDue{Customer: c, Offer: f.offer(c, p)}, nil
}

// checkSMSCode checks a typed code against the wait's last texted one.
func (f *Flows) checkSMSCode(p pendingWait, nonce, typed string) error {
	if len(p.wait.SMSCode) == 0 || !f.now().Before(p.wait.SMSUntil) {
		return ErrSMSCodeExpired
	}
	if !isEmailCode(typed) || subtle.ConstantTimeCompare(smsCodeHash(nonce, typed), p.wait.SMSCode) != 1 {
		return identity.ErrBadCode
	}
	return nil
}

// smsCodeHash is the stored form of a texted code, bound to the wait's
// nonce, which the store never holds.
func smsCodeHash(nonce, code string) []byte {
	return identity.HashToken("sms_factor\x00" + nonce + "\x00" + code)
}
