package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/sms"
)

// The account's phone number. A number is the account's only once a
// 6-digit code texted to it is typed back: within identity.PhoneCodeTTL,
// at most identity.PhoneCodeMaxTries wrong codes, once, and only in the
// browser (the session) that asked. Until then the old number, if any,
// stays; once replaced, the old number is texted and the address mailed.
//
// Only countries on the site's allow-list are texted at all (SMS pumping
// fraud sends codes to premium ranges the fraudster is paid for), and the
// number is checked against it before anything is stored or sent. Asking
// for a number another account has is answered, and texted, exactly as
// for a free one: only the person holding the phone learns, by typing the
// code back, that it cannot be added here.

// PhoneSettings turn the phone number on for a site; nil Flows.Phone: off.
type PhoneSettings struct {
	// Countries are the ISO 3166-1 alpha-2 regions a code may be texted
	// to (upper case); empty means none, so phone numbers are refused.
	Countries []string
	// Region reads national numbers (07700 900123) as this region's;
	// "" asks for the international form (+44 …).
	Region string
	// Notify texts and mails the customer.
	Notify PhoneNotifier
	// Login signs customers in, and up, by phone alone (`phone_login
	// on`; phonelogin.go).
	Login bool
	// MFA lets customers with a verified number use texted codes as a
	// second factor (`sms_mfa on`; smsfactor.go).
	MFA bool
	// Limit, when set, is asked before each text (the per-number,
	// per-prefix and global limits of a later increment); nil: none here.
	Limit TextLimit
}

// PhoneNotifier sends what the phone journeys tell the customer; the
// HTTP side owns the words. Texts are queued: an error is one of the
// queue's (sms.ErrQueueFull, sms.ErrQueueClosed, sms.ErrPermanent).
type PhoneNotifier interface {
	// PhoneCode texts code to phone (E.164), to confirm it; the message's
	// Code names it so that no log holds it.
	PhoneCode(ctx context.Context, phone, code string) error
	// SignInCode texts code to phone (E.164): the second factor of a
	// sign-in or step-up, sent when the customer asked for it.
	SignInCode(ctx context.Context, phone, code string) error
	// LoginCode texts code to phone (E.164): a sign-in by phone alone,
	// worded the same whether or not an account has the number.
	LoginCode(ctx context.Context, phone, code string) error
	// CaseCode texts code to phone (E.164): a support agent's case code,
	// for a customer without an address to read back.
	CaseCode(ctx context.Context, phone, code string) error
	// PhoneReplaced texts old that the account's number changed or was
	// removed.
	PhoneReplaced(ctx context.Context, old string) error
	// PhoneChangedMail tells c's address that the account's number is
	// now phone (masked; "" for removed).
	PhoneChangedMail(ctx context.Context, c *identity.Customer, phone string)
}

// TextLimit decides whether a code may be texted to n now; a refusal is
// retryAfter > 0.
type TextLimit interface {
	AllowText(ctx context.Context, n sms.Number) (retryAfter time.Duration, err error)
}

// Reasons a phone field is invalid, besides sms.ParseNumber's errors.
var (
	// ErrPhoneCountry: the number's country is not on the allow-list.
	ErrPhoneCountry = errors.New("authflow: no text messages are sent to that country")
)

// PhoneChangeInput is the account page's form: the signed-in customer,
// the key of the session asking (the code is bound to it), the number.
type PhoneChangeInput struct {
	Customer   *identity.Customer
	SessionKey string
	Phone      string
}

// PhoneConfirmInput is a code typed in the session with SessionKey.
type PhoneConfirmInput struct {
	CustomerID string
	SessionKey string
	Code       string
	Client     Client
}

// Outcomes of the phone journeys.
type (
	// PhoneOff: the site offers no phone numbers.
	PhoneOff struct{}
	// PhoneCodeSent: a code was texted to Phone (E.164), whoever has it.
	PhoneCodeSent struct{ Phone string }
	// PhoneUnchanged: the number is the account's, verified already.
	PhoneUnchanged struct{}
	// TextLimited: no text now; try after RetryAfter.
	TextLimited struct{ RetryAfter time.Duration }
	// PhoneChanged: the account has the number (Customer.Phone),
	// verified; Old is the number it replaced ("" for none).
	PhoneChanged struct {
		Customer *identity.Customer
		Old      string
	}
	// PhoneNotAdded: the code was right, but the number cannot be the
	// account's (another account has it). Said only to whoever proved
	// they hold the phone.
	PhoneNotAdded struct{}
	// PhoneRemoved: the account has no number now; Old was it.
	PhoneRemoved struct{ Old string }
	// PhoneNone: there was no number to remove.
	PhoneNone struct{}
)

func (PhoneOff) outcome()       {}
func (PhoneCodeSent) outcome()  {}
func (PhoneUnchanged) outcome() {}
func (TextLimited) outcome()    {}
func (PhoneChanged) outcome()   {}
func (PhoneNotAdded) outcome()  {}
func (PhoneRemoved) outcome()   {}
func (PhoneNone) outcome()      {}

// allowed reports whether the site texts numbers of region.
func (p *PhoneSettings) allowed(region string) bool {
	return p != nil && slices.Contains(p.Countries, region)
}

// ParsePhone reads a number as the site's form does: sms.ParseNumber with
// the site's region, then the allow-list. Its errors are field errors.
func (f *Flows) ParsePhone(raw string) (sms.Number, error) {
	if f.Phone == nil {
		return sms.Number{}, ErrPhoneCountry
	}
	n, err := sms.ParseNumber(raw, f.Phone.Region)
	if err != nil {
		return sms.Number{}, err
	}
	if !f.Phone.allowed(n.Region) {
		return sms.Number{}, ErrPhoneCountry
	}
	return n, nil
}

// TextableNumber is c's verified number, if the site texts its country
// (the allow-list may have changed since it was verified).
func (f *Flows) TextableNumber(c *identity.Customer) (sms.Number, bool) {
	if f.Phone == nil || c.Phone == "" || !c.PhoneVerified {
		return sms.Number{}, false
	}
	n, err := f.ParsePhone(c.Phone)
	return n, err == nil
}

// RequestPhoneChange texts a code to the number typed, bound to the
// session asking; a new request replaces the session's pending one. No
// lookup of who has the number is made, so the answer and its time are
// the same for every number.
func (f *Flows) RequestPhoneChange(ctx context.Context, in PhoneChangeInput) (Outcome, error) {
	if f.Phone == nil || len(f.Phone.Countries) == 0 {
		return PhoneOff{}, nil
	}
	if in.SessionKey == "" {
		return nil, errors.New("authflow: phone change: no session to bind the code to")
	}
	n, err := f.ParsePhone(in.Phone)
	if err != nil {
		return Invalid{Fields: map[string]error{"phone": err}}, nil
	}
	c := in.Customer
	if n.E164 == c.Phone && c.PhoneVerified {
		return PhoneUnchanged{}, nil
	}
	if out, err := f.textLimited(ctx, n); out != nil || err != nil {
		return out, err
	}
	code := newEmailCode()
	tok := identity.NewTokenUnder(phoneChangeKey(in.SessionKey), identity.PhoneChange{Phone: n.E164, CodeHash: phoneCodeHash(in.SessionKey, code)},
		c.ID, f.now().Add(identity.PhoneCodeTTL))
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return nil, err
	}
	if err := f.Phone.Notify.PhoneCode(ctx, n.E164, code); err != nil {
		return queuedText(err)
	}
	return PhoneCodeSent{Phone: n.E164}, nil
}

// ConfirmPhoneChange checks a code typed in the session that asked for
// it. Each guess takes the pending change out of the store and puts it
// back with one more wrong try, so two guesses at once cannot both be
// counted as the first; the fifth wrong one leaves it out. The right code
// uses it up and makes the number the account's (verified); the old
// number is texted and the address mailed.
func (f *Flows) ConfirmPhoneChange(ctx context.Context, in PhoneConfirmInput) (Outcome, error) {
	code := strings.ReplaceAll(strings.TrimSpace(in.Code), " ", "")
	if !isEmailCode(code) {
		return Invalid{Fields: map[string]error{"code": ErrCodeFormat}}, nil
	}
	if in.SessionKey == "" {
		return CodeDead{}, nil
	}
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenPhoneChange, phoneChangeKey(in.SessionKey), f.now())
	if errors.Is(err, identity.ErrNotFound) {
		return CodeDead{}, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := identity.PayloadOf[identity.PhoneChange](tok)
	if err != nil || tok.CustomerID != in.CustomerID {
		return CodeDead{}, nil
	}
	if subtle.ConstantTimeCompare(p.CodeHash, phoneCodeHash(in.SessionKey, code)) != 1 {
		p.Tries++
		return f.wrongTextedCode(ctx, tok, p, p.Tries)
	}
	before, err := f.Customers.Customer(ctx, in.CustomerID)
	if errors.Is(err, identity.ErrNotFound) {
		return CodeDead{}, nil
	}
	if err != nil {
		f.putBack(ctx, tok)
		return nil, err
	}
	c, err := f.Customers.SetPhone(ctx, in.CustomerID, p.Phone, true)
	switch {
	case errors.Is(err, identity.ErrPhoneTaken):
		return PhoneNotAdded{}, nil
	case errors.Is(err, identity.ErrNotFound):
		return CodeDead{}, nil
	case err != nil:
		f.putBack(ctx, tok)
		return nil, err
	}
	kind := identity.EventPhoneAdded
	if before.Phone != "" && before.Phone != c.Phone {
		kind = identity.EventPhoneChanged
		if err := f.Phone.Notify.PhoneReplaced(ctx, before.Phone); err != nil {
			f.warn("phone change: texting the old number", err)
		}
	}
	f.auditDetail(ctx, in.Client, c.ID, kind, sms.MaskNumber(c.Phone))
	if before.Phone != c.Phone {
		f.Phone.Notify.PhoneChangedMail(ctx, c, sms.MaskNumber(c.Phone))
	}
	return PhoneChanged{Customer: c, Old: before.Phone}, nil
}

// RemovePhone takes the account's number away; the number is texted and
// the address mailed that it was.
func (f *Flows) RemovePhone(ctx context.Context, customerID string, client Client) (Outcome, error) {
	before, err := f.Customers.Customer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	if before.Phone == "" {
		return PhoneNone{}, nil
	}
	c, err := f.Customers.SetPhone(ctx, customerID, "", false)
	if err != nil {
		return nil, err
	}
	f.auditDetail(ctx, client, customerID, identity.EventPhoneRemoved, sms.MaskNumber(before.Phone))
	if before.SMSFactor {
		// No number, no texted code: the factor goes with it, so a number
		// added later does not quietly become a second factor.
		if _, err := f.Customers.UpdateCustomer(ctx, customerID, func(c *identity.Customer) error {
			c.SMSFactor = false
			dropLoneFactors(c)
			return nil
		}); err != nil {
			return nil, err
		}
		f.auditDetail(ctx, client, customerID, identity.EventSMSFactorRemoved, sms.MaskNumber(before.Phone))
	}
	if f.Phone != nil && f.Phone.Notify != nil {
		if err := f.Phone.Notify.PhoneReplaced(ctx, before.Phone); err != nil {
			f.warn("phone removal: texting the old number", err)
		}
		f.Phone.Notify.PhoneChangedMail(ctx, c, "")
	}
	return PhoneRemoved{Old: before.Phone}, nil
}

// textLimited asks the site's text limits whether n may be texted now:
// TextLimited if not, nil if it may.
func (f *Flows) textLimited(ctx context.Context, n sms.Number) (Outcome, error) {
	if f.Phone.Limit == nil {
		return nil, nil
	}
	retry, err := f.Phone.Limit.AllowText(ctx, n)
	if err != nil || retry <= 0 {
		return nil, err
	}
	return TextLimited{RetryAfter: retry}, nil
}

// queuedText answers a text the queue did not take: Busy when it is full
// (the customer tries again in a moment), the error otherwise.
func queuedText(err error) (Outcome, error) {
	if errors.Is(err, sms.ErrQueueFull) {
		return Busy{}, nil
	}
	return nil, err
}

// wrongTextedCode answers a wrong texted code: its pending token, whose
// payload p has counted tries wrong codes with this one, goes back into
// the store — unless that was the last try (identity.PhoneCodeMaxTries),
// which leaves it out for good.
func (f *Flows) wrongTextedCode(ctx context.Context, tok *identity.Token, p identity.Payload, tries int) (Outcome, error) {
	left := identity.PhoneCodeMaxTries - tries
	if left <= 0 {
		return CodeLockedOut{}, nil
	}
	if err := tok.SetPayload(p); err != nil {
		return nil, err
	}
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return nil, err
	}
	return WrongCode{Left: left}, nil
}

// phoneChangeKey is where a session's pending number is stored: a hash of
// the session's key, which the store never holds.
func phoneChangeKey(sessionKey string) []byte {
	return identity.HashToken("phone_change\x00" + sessionKey)
}

// phoneCodeHash is the stored form of a code, bound to the session, so a
// leaked store does not give the code away to an offline search.
func phoneCodeHash(sessionKey, code string) []byte {
	return identity.HashToken("phone_code\x00" + sessionKey + "\x00" + code)
}
