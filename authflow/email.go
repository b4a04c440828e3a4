package authflow

import (
	"context"
	"errors"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Changing the account's email address. The new address is proven before
// it replaces the old one: a link goes to it, and only following that link
// (a button press, so mail scanners change nothing) moves the account. The
// old address is told once it has. Asking is the same, after the same
// work, whether or not another account has the new address — the owner of
// that address is told someone tried instead — so the form tells a signed-in
// customer nothing about who else has an account.

// ChangeEmailInput is the account page's form: the signed-in customer and
// the new address typed.
type ChangeEmailInput struct {
	Customer *identity.Customer
	Email    string
}

// Outcomes of the email change.
type (
	// EmailChangeSent: a link went to the new address (or, if another
	// account has it, a notice to that account): the same for both.
	EmailChangeSent struct{ Email string }
	// EmailUnchanged: the new address is the one the account has.
	EmailUnchanged struct{}
	// EmailChanged: the account has its new address (Customer); every
	// session ended, since each carried the old one; Old was told.
	EmailChanged struct {
		Customer *identity.Customer
		Old      string
	}
	// EmailTakenMeanwhile: between the link and the press another account
	// took the address.
	EmailTakenMeanwhile struct{}
)

func (EmailChangeSent) outcome()     {}
func (EmailUnchanged) outcome()      {}
func (EmailChanged) outcome()        {}
func (EmailTakenMeanwhile) outcome() {}

// RequestEmailChange checks the new address and queues the rest: whether
// another account has it decides what is mailed, and its lookup must not
// show in the answer's time.
func (f *Flows) RequestEmailChange(ctx context.Context, in ChangeEmailInput) (Outcome, error) {
	email, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		return Invalid{Fields: map[string]error{"email": ErrEmailInvalid}}, nil
	}
	if email == in.Customer.Email {
		return EmailUnchanged{}, nil
	}
	c := in.Customer
	queued := f.later(ctx, func(ctx context.Context) {
		other, err := f.Customers.CustomerByEmail(ctx, email)
		switch {
		case err == nil && other.ID != c.ID:
			f.Notify.EmailInUse(ctx, email)
			return
		case err != nil && !errors.Is(err, identity.ErrNotFound):
			f.failed("email change: identity store failed", err)
			return
		}
		secret, tok := identity.NewToken(identity.EmailChange{Email: email}, c.ID, identity.EmailChangeTTL, f.now())
		if err := f.Tokens.PutToken(ctx, tok); err != nil {
			f.failed("email change: storing the link", err)
			return
		}
		f.Notify.ConfirmNewEmail(ctx, email, secret)
	})
	if !queued {
		return Busy{}, nil
	}
	return EmailChangeSent{Email: email}, nil
}

// ConfirmEmailChange uses up a new address's link and moves the account to
// it: the address is verified (the link proved the mailbox), every session
// ends (each carries the old address to backends), and the old address is
// told.
func (f *Flows) ConfirmEmailChange(ctx context.Context, secret string, client Client) (Outcome, error) {
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenEmailChange, identity.HashToken(secret), f.now())
	if errors.Is(err, identity.ErrNotFound) {
		return LinkExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := identity.PayloadOf[identity.EmailChange](tok)
	if err != nil {
		return LinkExpired{}, nil
	}
	before, err := f.Customers.Customer(ctx, tok.CustomerID)
	if errors.Is(err, identity.ErrNotFound) {
		return LinkExpired{}, nil
	}
	if err != nil {
		f.putBack(ctx, tok)
		return nil, err
	}
	c, err := f.Customers.ChangeEmail(ctx, tok.CustomerID, p.Email)
	switch {
	case errors.Is(err, identity.ErrEmailTaken):
		return EmailTakenMeanwhile{}, nil
	case errors.Is(err, identity.ErrNotFound):
		return LinkExpired{}, nil
	case err != nil:
		f.putBack(ctx, tok)
		return nil, err
	}
	if err := f.endAllSessions(ctx, c.ID); err != nil {
		return nil, err
	}
	f.auditDetail(ctx, client, c.ID, identity.EventEmailChanged, "")
	if before.Email != c.Email {
		f.Notify.EmailChanged(ctx, before.Email, c.Email)
	}
	return EmailChanged{Customer: c, Old: before.Email}, nil
}
