package authflow

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Sign-in through the mailbox: a link and a 6-digit code, both bound to
// the browser that asked for them (a nonce it keeps; the store holds only
// hashes). The link signs in only that browser; the code can be typed
// there when the mail is read on another device.

// EmailLinkInput is the sign-in-by-email form.
type EmailLinkInput struct{ Email, Redirect string }

// EmailLinkSent: a link and code went to the address if a verified
// account uses it — the same answer, after the same work, for every
// address. The browser keeps Nonce.
type EmailLinkSent struct{ Email, Nonce string }

func (EmailLinkSent) outcome() {}

// SendEmailLink mails a sign-in link and code to a verified account
// holding the address. Every well-formed address gets the same work (one
// lookup, three token writes) and answer, so the answer says nothing about
// who has an account. An unverified address gets nothing either: its
// account may be a squatter's, and signing in through the mailbox is what
// verifying it would be for.
func (f *Flows) SendEmailLink(ctx context.Context, in EmailLinkInput) (Outcome, error) {
	email, c, invalid, err := f.lookUpAddress(ctx, in.Email)
	if invalid != nil || err != nil {
		return invalid, err
	}
	target := &identity.Customer{}
	if c != nil && c.EmailVerified {
		target = c
	}
	// A fresh nonce for every request: reusing one would let each new
	// request add a valid code under the same binding and reset its count
	// of wrong guesses.
	nonce := NewNonce()
	if err := f.storeEmailLink(ctx, target, nonce, in.Redirect); err != nil {
		return nil, err
	}
	return EmailLinkSent{Email: email, Nonce: nonce}, nil
}

// storeEmailLink stores a sign-in link, a code and the code's counter of
// wrong guesses, all bound to nonce, and mails the link and the code. A
// customer without id is the decoy of an unknown address: the same
// writes, no mail.
func (f *Flows) storeEmailLink(ctx context.Context, c *identity.Customer, nonce, rd string) error {
	now := f.now()
	binding := identity.HashToken(nonce)
	secret, link := identity.NewToken(identity.MagicLink{Binding: binding, Redirect: rd}, c.ID, identity.MagicLinkTTL, now)
	code := newEmailCode()
	codeTok := identity.NewTokenUnder(emailCodeHash(nonce, code), identity.EmailCode{Redirect: rd}, c.ID, now.Add(identity.EmailCodeTTL))
	// Written last: a code is only usable while its counter exists.
	counter := identity.NewTokenUnder(binding, identity.CodeAttempts{}, c.ID, now.Add(identity.EmailCodeTTL))
	for _, t := range []*identity.Token{link, codeTok, counter} {
		if err := f.Tokens.PutToken(ctx, t); err != nil {
			return err
		}
	}
	if c.ID != "" {
		f.Notify.SignInLink(ctx, c, secret, code)
	}
	return nil
}

// EmailCodeInput is a code typed in the browser keeping Nonce.
type EmailCodeInput struct{ Code, Nonce string }

// Outcomes of the email code.
type (
	// CodeDead: no live code for this browser — expired, used, asked
	// for in another browser, or locked after too many wrong guesses.
	CodeDead struct{}
	// WrongCode: not the code; Left more guesses.
	WrongCode struct{ Left int }
	// CodeLockedOut: that was the last wrong guess; the code is dead.
	CodeLockedOut struct{}
)

func (CodeDead) outcome()      {}
func (WrongCode) outcome()     {}
func (CodeLockedOut) outcome() {}

// ErrCodeFormat is a code that is not six digits.
var ErrCodeFormat = errors.New("authflow: not a 6-digit code")

// SignInWithCode signs in the browser that asked for a code, if it types
// the right one. Each guess consumes the counter of wrong guesses and puts
// it back one higher; the fifth wrong guess leaves it out, and without its
// counter a code is dead. Two guesses at once: the second finds no counter
// and is refused — failing closed. FirstFactorPassed on the right code.
func (f *Flows) SignInWithCode(ctx context.Context, in EmailCodeInput) (Outcome, error) {
	code := strings.ReplaceAll(strings.TrimSpace(in.Code), " ", "")
	if !isEmailCode(code) {
		return Invalid{Fields: map[string]error{"code": ErrCodeFormat}}, nil
	}
	if in.Nonce == "" {
		return CodeDead{}, nil
	}
	now := f.now()
	binding := identity.HashToken(in.Nonce)
	counter, err := f.Tokens.ConsumeToken(ctx, identity.TokenEmailCodeAttempts, binding, now)
	if errors.Is(err, identity.ErrNotFound) {
		return CodeDead{}, nil
	}
	if err != nil {
		return nil, err
	}
	attempts, err := identity.PayloadOf[identity.CodeAttempts](counter)
	if err != nil {
		return nil, err
	}
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenEmailCode, emailCodeHash(in.Nonce, code), now)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		f.putBack(ctx, counter) // the guess was not checked: it does not count
		return nil, err
	}
	if err != nil || tok.CustomerID == "" { // "": a decoy (see SendEmailLink)
		attempts.Attempts++
		left := identity.EmailCodeMaxAttempts - attempts.Attempts
		if left <= 0 {
			return CodeLockedOut{}, nil
		}
		if err := counter.SetPayload(attempts); err != nil {
			return nil, err
		}
		if err := f.Tokens.PutToken(ctx, counter); err != nil {
			return nil, err
		}
		return WrongCode{Left: left}, nil
	}
	sent, err := identity.PayloadOf[identity.EmailCode](tok)
	if err != nil {
		return nil, err
	}
	return f.mailboxProven(ctx, tok.CustomerID, sent.Redirect)
}

// EmailLinkConfirmInput is a sign-in link confirmed in the browser
// keeping Nonce ("" : none).
type EmailLinkConfirmInput struct{ Secret, Nonce string }

// OtherBrowser: the link was used up in a browser other than the one
// that asked for it, which is not signed in; the code from the same mail
// works where the request started.
type OtherBrowser struct{}

func (OtherBrowser) outcome() {}

// SignInWithLink uses a sign-in link up and signs in the browser that
// asked for it: FirstFactorPassed. Any other browser (a phone's mail app,
// someone the mail was forwarded to) gets OtherBrowser.
func (f *Flows) SignInWithLink(ctx context.Context, in EmailLinkConfirmInput) (Outcome, error) {
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenMagicLink, identity.HashToken(in.Secret), f.now())
	if errors.Is(err, identity.ErrNotFound) || (err == nil && tok.CustomerID == "") { // "": a decoy
		return LinkExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	link, err := identity.PayloadOf[identity.MagicLink](tok)
	if err != nil {
		return nil, err
	}
	if in.Nonce == "" || len(link.Binding) == 0 || subtle.ConstantTimeCompare(identity.HashToken(in.Nonce), link.Binding) != 1 {
		return OtherBrowser{}, nil
	}
	return f.mailboxProven(ctx, tok.CustomerID, link.Redirect)
}

// mailboxProven records the sign-in of a customer who proved they read
// their mailbox.
func (f *Flows) mailboxProven(ctx context.Context, id, rd string) (Outcome, error) {
	now := f.now().UTC()
	c, err := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		c.LastLoginAt = now
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) { // the account was deleted since
		return LinkExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	return FirstFactorPassed{Customer: c, AMR: []string{"email"}, Redirect: rd}, nil
}

// newEmailCode returns six uniformly random digits.
func newEmailCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil { // crypto/rand does not fail on supported platforms
		panic(err)
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// emailCodeHash is the storage key of a code: bound to the nonce, which
// the store never holds, so a code is only reachable from the browser
// that asked for it, and a leaked store does not reveal codes offline.
func emailCodeHash(nonce, code string) []byte {
	return identity.HashToken("email_code\x00" + nonce + "\x00" + code)
}

func isEmailCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
