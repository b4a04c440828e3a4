package authflow

import (
	"context"
	"errors"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
)

// PasswordSignInInput is the sign-in form.
type PasswordSignInInput struct {
	Email, Password string
	// Client is who asked, for the account's security activity.
	Client Client
}

// Outcomes of PasswordSignIn.
type (
	// WrongCredentials: no such address, or the wrong password — one
	// answer for both, after the same argon2id work.
	WrongCredentials struct{}
	// Unverified: the password is right but the address is not verified
	// yet. A new link went out, bound to the browser keeping Nonce: the
	// password just proven takes effect only there.
	Unverified struct{ Nonce string }
	// FirstFactorPassed: a first factor is proven; AMR names the method
	// and Redirect is where the customer was going, when the journey
	// kept it (email links). What comes next is FirstFactorDone's.
	FirstFactorPassed struct {
		Customer *identity.Customer
		AMR      []string
		Redirect string
	}
)

func (WrongCredentials) outcome()  {}
func (Unverified) outcome()        {}
func (FirstFactorPassed) outcome() {}

// PasswordSignIn checks an address and password. Unknown addresses cost
// the same verification as known ones (the Hasher checks a dummy hash)
// and answer WrongCredentials like a wrong password; with a legacy system
// (f.Legacy) an unknown address is asked about there too (legacy.go). A
// hash made under older parameters is replaced on the way. Hashing errors
// (identity.ErrHasherBusy: a full queue, which the edge counts as a
// failure) are returned.
func (f *Flows) PasswordSignIn(ctx context.Context, in PasswordSignInInput) (Outcome, error) {
	fields := map[string]error{}
	email, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		fields["email"] = ErrEmailInvalid
	}
	switch {
	case in.Password == "":
		fields["password"] = ErrPasswordMissing
	case len(in.Password) > 4*f.Policy.MaxLength: // bytes: at most four per character
		fields["password"] = ErrPasswordTooLong
	}
	if len(fields) > 0 {
		return Invalid{Fields: fields}, nil
	}
	return f.passwordSignIn(ctx, in, email, f.Legacy != nil)
}

// passwordSignIn is PasswordSignIn past the form's checks, email
// normalised; askLegacy says an unknown address may be asked about in
// the legacy system.
func (f *Flows) passwordSignIn(ctx context.Context, in PasswordSignInInput, email string, askLegacy bool) (Outcome, error) {
	c, err := f.Customers.CustomerByEmail(ctx, email)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		return nil, err
	}
	if c == nil && askLegacy {
		return f.legacySignIn(ctx, in, email)
	}
	stored := ""
	if c != nil {
		stored = c.PasswordHash
	}
	rehash, err := f.Hasher.Verify(ctx, stored, in.Password)
	if errors.Is(err, identity.ErrPasswordMismatch) {
		return f.wrongCredentials(in, email, c), nil
	}
	if err != nil {
		return nil, err
	}
	// No session for an unverified address: its password may be a
	// squatter's (see SignUp).
	if !c.EmailVerified {
		return f.unverifiedSignIn(ctx, c)
	}
	// An imported account whose legacy hash the operator does not trust
	// (a weak scheme): the right password only earns a reset link.
	if c.PasswordResetRequired {
		if _, err := f.RequestReset(ctx, c.Email); err != nil {
			return nil, err
		}
		return PasswordResetDue{}, nil
	}
	var newHash string
	legacy := false
	if rehash {
		if newHash, err = f.Hasher.Hash(ctx, in.Password); err != nil {
			return nil, err
		}
		scheme, _, _ := identity.CheckPasswordHash(c.PasswordHash)
		legacy = scheme != "argon2id"
	}
	now := f.now().UTC()
	c, err = f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.LastLoginAt = now
		if newHash != "" {
			c.PasswordHash = newHash
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if legacy && f.OnMigration != nil {
		f.OnMigration("replaced")
	}
	return FirstFactorPassed{Customer: c, AMR: []string{"pwd"}}, nil
}

// wrongCredentials answers a wrong password, or an address without an
// account (c nil): the failure is counted for the risk signals, and
// recorded on the account, both off the response path.
func (f *Flows) wrongCredentials(in PasswordSignInInput, email string, c *identity.Customer) Outcome {
	if f.Risk != nil && f.Risk.Failures != nil {
		// Known address or not, off the response path.
		fails := f.Risk.Failures
		f.Later.Do(func(ctx context.Context) {
			if err := fails.NoteSignInFailure(ctx, email); err != nil {
				f.warn("counting a failed sign-in", err)
			}
		})
	}
	if c != nil {
		// Off the response path: the write would tell the address
		// has an account.
		id := c.ID
		f.Later.Do(func(ctx context.Context) { f.audit(ctx, in.Client, id, identity.EventSignInFailed) })
	} else {
		// No customer to name, and never the address typed.
		f.Later.Do(func(ctx context.Context) {
			f.publish(ctx, in.Client, "", events.SignInFailed, map[string]string{"stage": "password", "account": "unknown"})
		})
	}
	return WrongCredentials{}
}

// unverifiedSignIn answers the right password of an unverified account: a
// new link goes out, bound to this browser.
func (f *Flows) unverifiedSignIn(ctx context.Context, c *identity.Customer) (Outcome, error) {
	nonce := NewNonce()
	if err := f.SendVerification(ctx, c, Verification{PasswordHash: c.PasswordHash, Binding: identity.HashToken(nonce)}); err != nil {
		return nil, err
	}
	return Unverified{Nonce: nonce}, nil
}
