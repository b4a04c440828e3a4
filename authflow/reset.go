package authflow

import (
	"context"
	"errors"

	"github.com/frontdoorhq/frontdoor/identity"
)

// ResetRequested: a reset link went to the address if an account uses
// it — the same answer, after the same work, for every address.
type ResetRequested struct{ Email string }

func (ResetRequested) outcome() {}

// RequestReset mails a reset link to the account holding the address, if
// any. Nothing about the account changes: until the link is followed, the
// password the customer knows keeps working. An unknown address gets no
// mail at all — a "no account here" notice would let anyone send mail to
// any address through the form — but costs the same store write, a token
// for nobody whose secret nobody has, so timing does not tell the two
// apart either. Earlier links stay valid until used or expired.
func (f *Flows) RequestReset(ctx context.Context, rawEmail string) (Outcome, error) {
	email, c, invalid, err := f.lookUpAddress(ctx, rawEmail)
	if invalid != nil || err != nil {
		return invalid, err
	}
	target := &identity.Customer{}
	if c != nil {
		target = c
	}
	secret, tok := identity.NewToken(identity.ResetPassword{}, target.ID, identity.ResetTokenTTL, f.now())
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return nil, err
	}
	if c != nil {
		f.Notify.Reset(ctx, c, secret)
	}
	return ResetRequested{Email: email}, nil
}

// ResetInput is the form a reset link opens: its secret and the new
// password, twice.
type ResetInput struct {
	Secret, Password, Repeat string
}

// Outcomes of ConfirmReset.
type (
	// ResetReady: set PasswordHash as the customer's password (and end
	// their sessions).
	ResetReady struct {
		Customer     *identity.Customer
		PasswordHash string
	}
	// ResetNeedsSecondFactor: the mailbox alone is not enough for an
	// account with a second factor; the new password waits for it.
	ResetNeedsSecondFactor struct {
		Customer     *identity.Customer
		PasswordHash string
	}
)

func (ResetReady) outcome()             {}
func (ResetNeedsSecondFactor) outcome() {}

// ConfirmReset checks the new password — before using the link, so a typo
// does not burn it — then uses the link up and hashes the password. A
// failure after the link was used gives it back, so the customer can send
// the form again instead of asking for a new link.
func (f *Flows) ConfirmReset(ctx context.Context, in ResetInput) (Outcome, error) {
	if fields := f.CheckNewPassword(in.Password, in.Repeat); len(fields) > 0 {
		return Invalid{Fields: fields}, nil
	}
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenResetPassword, identity.HashToken(in.Secret), f.now())
	if errors.Is(err, identity.ErrNotFound) || (err == nil && tok.CustomerID == "") { // "": a decoy (see RequestReset)
		return LinkExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	hash, err := f.Hasher.Hash(ctx, in.Password)
	if err != nil {
		f.putBack(ctx, tok)
		return nil, err
	}
	c, err := f.Customers.Customer(ctx, tok.CustomerID)
	if errors.Is(err, identity.ErrNotFound) { // the account was deleted since
		return LinkExpired{}, nil
	}
	if err != nil {
		f.putBack(ctx, tok)
		return nil, err
	}
	if f.HasSecondFactor(c) {
		return ResetNeedsSecondFactor{Customer: c, PasswordHash: hash}, nil
	}
	return ResetReady{Customer: c, PasswordHash: hash}, nil
}

// lookUpAddress normalizes an address typed in a form and finds its
// account (nil: none). A malformed address is the Invalid outcome.
func (f *Flows) lookUpAddress(ctx context.Context, raw string) (string, *identity.Customer, Outcome, error) {
	email, err := identity.NormalizeEmail(raw)
	if err != nil {
		return "", nil, Invalid{Fields: map[string]error{"email": ErrEmailInvalid}}, nil
	}
	c, err := f.Customers.CustomerByEmail(ctx, email)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		return "", nil, nil, err
	}
	return email, c, nil, nil
}
