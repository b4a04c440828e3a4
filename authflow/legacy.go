package authflow

import (
	"context"
	"errors"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Lazy migration: while customers move from a legacy system, a password
// sign-in for an address Frontdoor does not know yet asks that system
// whether the password is right. If it is, the customer is created here,
// the password hashed by Frontdoor's own Hasher, and the sign-in goes on
// as any other; the address is known from then on, so the legacy system
// is never asked about it again.

// LegacyAuth is the legacy system as the journeys see it. The adapter
// behind it protects that system and the sign-ins waiting on it (a
// circuit breaker, a short memory of refusals, a timeout): it may decline
// to ask at all, which is a plain "no".
type LegacyAuth interface {
	// Verify asks whether password is the password of email (normalised)
	// in the legacy system: ok with what that system says of the account,
	// or not ok — no such account, the wrong password, or not asked. An
	// error is an exchange that failed or an answer refused (unsigned,
	// stale): not ok either, never a success.
	Verify(ctx context.Context, email, password string) (LegacyAccount, bool, error)
	// Migrated hears that the account Verify vouched for now exists in
	// Frontdoor.
	Migrated(ctx context.Context, email string)
}

// LegacyAccount is what the legacy system says of an account it vouched
// for.
type LegacyAccount struct {
	// EmailVerified: the legacy system had the address confirmed; if not,
	// the migrated account is unverified and the sign-in answers
	// Unverified, as for any unverified account.
	EmailVerified bool
	// Name is kept when it passes the profile field "name"'s checks.
	Name string
	// CreatedAt is kept when it is set and not in the future.
	CreatedAt time.Time
}

// MigratedDetail is the detail of the identity.EventMigrated event a
// migration records.
const MigratedDetail = "legacy_auth"

// legacySignIn is the sign-in of an address Frontdoor does not know, with
// a legacy system to ask. The answer is an unknown address's
// (WrongCredentials) unless the legacy system vouches for the password.
//
// Timing: the legacy call runs beside the dummy verification an unknown
// address costs anyway, so this takes the longer of the two — as long as
// a known address's sign-in while the legacy system answers within one
// argon2id verification, longer by the difference when it is slower (up
// to its timeout). That can tell an observer an address is not in
// Frontdoor yet; it does not tell whether the legacy system knows it (the
// legacy service must answer in the same time either way). Declined asks
// (breaker open, a recent refusal) cost the dummy verification alone.
// A migration then hashes the password once more: only with the right
// password, which tells nothing new.
func (f *Flows) legacySignIn(ctx context.Context, in PasswordSignInInput, email string) (Outcome, error) {
	type answer struct {
		acct LegacyAccount
		ok   bool
		err  error
	}
	asked := make(chan answer, 1) // never blocks: the sign-in may return first
	go func() {
		acct, ok, err := f.Legacy.Verify(ctx, email, in.Password)
		asked <- answer{acct, ok, err}
	}()
	if _, err := f.Hasher.Verify(ctx, "", in.Password); err != nil && !errors.Is(err, identity.ErrPasswordMismatch) {
		// The hasher is busy or the client went away: the legacy call
		// ends with the request (its context) and its answer is dropped.
		return nil, err
	}
	a := <-asked
	if a.err != nil && ctx.Err() == nil { // a client that went away is nobody's fault
		f.warn("legacy_auth: no valid answer; the sign-in is refused", a.err)
	}
	if !a.ok {
		return f.wrongCredentials(in, email, nil), nil
	}
	return f.migrate(ctx, in, email, a.acct)
}

// migrate creates the customer the legacy system vouched for and signs
// them in.
func (f *Flows) migrate(ctx context.Context, in PasswordSignInInput, email string, acct LegacyAccount) (Outcome, error) {
	hash, err := f.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	now := f.now().UTC()
	c := &identity.Customer{ID: identity.NewID(), Email: email, EmailVerified: acct.EmailVerified, CreatedAt: now, PasswordHash: hash}
	if !acct.CreatedAt.IsZero() && acct.CreatedAt.Before(now) {
		c.CreatedAt = acct.CreatedAt.UTC()
	}
	if name, err := CheckField(FieldSpec{Name: "name", Type: FieldText}, acct.Name); err == nil {
		c.Name = name
	}
	if c.EmailVerified {
		c.LastLoginAt = now
	}
	err = f.Customers.CreateCustomer(ctx, c)
	if errors.Is(err, identity.ErrEmailTaken) {
		// Another sign-in or a sign-up made the address meanwhile: it is
		// known now, and its own password decides (never the legacy
		// system again).
		return f.passwordSignIn(ctx, in, email, false)
	}
	if err != nil {
		return nil, err
	}
	f.Legacy.Migrated(ctx, email)
	f.auditDetail(ctx, in.Client, c.ID, identity.EventMigrated, MigratedDetail)
	if !c.EmailVerified {
		return f.unverifiedSignIn(ctx, c)
	}
	return FirstFactorPassed{Customer: c, AMR: []string{"pwd"}}, nil
}
