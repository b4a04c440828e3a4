package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"time"

	"github.com/pquerna/otp"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Changes to how a customer signs in: an authenticator app, recovery
// codes, passkeys removed, remembered browsers forgotten. The HTTP side
// has checked the session is recent enough (AccountRequirement) before
// any of these but forgetting browsers, which only takes a shortcut away.

// TOTPEnrolTTL is how long a customer has to scan the code and confirm.
const TOTPEnrolTTL = 10 * time.Minute

// Outcomes of the account changes.
type (
	// TOTPEnrolment: show Key (QR code and text); the customer confirms
	// with a code from it and Handle.
	TOTPEnrolment struct {
		Key    *otp.Key
		Handle string
	}
	// FactorExists: an authenticator app is already set up.
	FactorExists struct{}
	// EnrolmentExpired: no such set-up for this session: expired, used,
	// or started elsewhere.
	EnrolmentExpired struct{}
	// WrongEnrolmentCode: the code does not match Key; the set-up stays.
	WrongEnrolmentCode TOTPEnrolment
	// TOTPAdded: the app is on. RecoveryCodes, when not nil, are the
	// customer's first recovery codes, to show once.
	TOTPAdded struct{ RecoveryCodes []string }
	// RecoveryCodesIssued: new recovery codes replace the old ones; show
	// them once.
	RecoveryCodesIssued struct{ Codes []string }
	// NoSecondFactor: recovery codes go with a second factor, and the
	// customer has none.
	NoSecondFactor struct{}
	// Done: the change is made.
	Done struct{}
)

func (TOTPEnrolment) outcome()       {}
func (FactorExists) outcome()        {}
func (EnrolmentExpired) outcome()    {}
func (WrongEnrolmentCode) outcome()  {}
func (TOTPAdded) outcome()           {}
func (RecoveryCodesIssued) outcome() {}
func (NoSecondFactor) outcome()      {}
func (Done) outcome()                {}

// BeginTOTP makes a new authenticator secret for c, named issuer in the
// app, held for the session s until confirmed.
func (f *Flows) BeginTOTP(ctx context.Context, s *session.Session, c *identity.Customer, issuer string) (Outcome, error) {
	if c.TOTP != nil {
		return FactorExists{}, nil
	}
	key, err := identity.NewTOTPKey(issuer, c.Email)
	if err != nil {
		return nil, err
	}
	handle := NewNonce()
	tok := identity.NewTokenUnder(identity.HashToken(handle), identity.TOTPEnrol{Secret: key.Secret(), Binding: identity.HashToken(s.Key)},
		c.ID, f.now().Add(TOTPEnrolTTL))
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return nil, err
	}
	return TOTPEnrolment{Key: key, Handle: handle}, nil
}

// ConfirmTOTPInput is a code typed from the app being set up.
type ConfirmTOTPInput struct {
	Session  *session.Session
	Customer *identity.Customer
	// Handle is the set-up's (from BeginTOTP); "" when malformed.
	Handle, Code, Issuer string
	Client               Client
}

// ConfirmTOTP turns the authenticator on once a code from it matches,
// with the first recovery codes if the customer had none.
func (f *Flows) ConfirmTOTP(ctx context.Context, in ConfirmTOTPInput) (Outcome, error) {
	c, now := in.Customer, f.now()
	if in.Handle == "" {
		return EnrolmentExpired{}, nil
	}
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenTOTPEnrol, identity.HashToken(in.Handle), now)
	if errors.Is(err, identity.ErrNotFound) {
		return EnrolmentExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	enrol, err := identity.PayloadOf[identity.TOTPEnrol](tok)
	if err != nil {
		return nil, err
	}
	if tok.CustomerID != c.ID || subtle.ConstantTimeCompare(enrol.Binding, identity.HashToken(in.Session.Key)) != 1 {
		return EnrolmentExpired{}, nil
	}
	secret := enrol.Secret
	step, ok := identity.MatchTOTP(secret, in.Code, now)
	if !ok {
		f.putBack(ctx, tok)
		key, err := identity.TOTPKey(in.Issuer, c.Email, secret)
		if err != nil {
			return nil, err
		}
		return WrongEnrolmentCode{Key: key, Handle: in.Handle}, nil
	}
	codes, hashes := identity.NewRecoveryCodes()
	fresh := false
	_, err = f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		if c.TOTP != nil {
			return identity.ErrFactorExists
		}
		c.TOTP = &identity.TOTP{Secret: secret, LastStep: step, CreatedAt: now.UTC()}
		fresh = len(c.RecoveryCodes) == 0
		if fresh {
			c.RecoveryCodes = hashes
		}
		return nil
	})
	if errors.Is(err, identity.ErrFactorExists) {
		return FactorExists{}, nil
	}
	if err != nil {
		return nil, err
	}
	f.audit(ctx, in.Client, c.ID, identity.EventTOTPAdded)
	if !fresh {
		return TOTPAdded{}, nil
	}
	f.audit(ctx, in.Client, c.ID, identity.EventRecoveryCodesNew)
	return TOTPAdded{RecoveryCodes: codes}, nil
}

// RemoveTOTP turns customer id's authenticator off.
func (f *Flows) RemoveTOTP(ctx context.Context, id string, client Client) (Outcome, error) {
	_, err := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		c.TOTP = nil
		dropLoneFactors(c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.audit(ctx, client, id, identity.EventTOTPRemoved)
	return Done{}, nil
}

// RemovePasskey deletes one of customer id's passkeys (one already gone
// is not an error).
func (f *Flows) RemovePasskey(ctx context.Context, id string, passkeyID []byte, client Client) (Outcome, error) {
	_, err := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		if err := c.RemovePasskey(passkeyID); err != nil {
			return err
		}
		dropLoneFactors(c)
		return nil
	})
	if err != nil && !errors.Is(err, identity.ErrNoFactor) {
		return nil, err
	}
	f.audit(ctx, client, id, identity.EventPasskeyRemoved)
	return Done{}, nil
}

// dropLoneFactors removes what only makes sense beside a second factor —
// recovery codes, remembered browsers — once none is left.
func dropLoneFactors(c *identity.Customer) {
	if !c.HasSecondFactor() && !c.HasSMSFactor() {
		c.RecoveryCodes = nil
		c.ForgetDevices()
	}
}

// NewRecoveryCodes replaces c's recovery codes with a new set.
func (f *Flows) NewRecoveryCodes(ctx context.Context, c *identity.Customer, client Client) (Outcome, error) {
	if !f.HasSecondFactor(c) {
		return NoSecondFactor{}, nil
	}
	codes, hashes := identity.NewRecoveryCodes()
	if _, err := f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.RecoveryCodes = hashes
		return nil
	}); err != nil {
		return nil, err
	}
	f.audit(ctx, client, c.ID, identity.EventRecoveryCodesNew)
	return RecoveryCodesIssued{Codes: codes}, nil
}

// ForgetDevices forgets every browser remembered for customer id.
func (f *Flows) ForgetDevices(ctx context.Context, id string, client Client) (Outcome, error) {
	if _, err := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		c.ForgetDevices()
		return nil
	}); err != nil {
		return nil, err
	}
	f.audit(ctx, client, id, identity.EventDevicesForgotten)
	return Done{}, nil
}

// SignOutEverywhere ends every session of customer id.
func (f *Flows) SignOutEverywhere(ctx context.Context, id string, client Client) (Outcome, error) {
	if err := f.endAllSessions(ctx, id); err != nil {
		return nil, err
	}
	f.audit(ctx, client, id, identity.EventSignedOutEverywhere)
	return Done{}, nil
}

// SessionRevoked: one session of the customer ended.
type SessionRevoked struct{}

func (SessionRevoked) outcome() {}

// RevokeSession ends one session (key) of customer id, chosen on the
// account page, and records it.
func (f *Flows) RevokeSession(ctx context.Context, id, key string, client Client) (Outcome, error) {
	if err := f.Sessions.Revoke(ctx, key); err != nil {
		return nil, err
	}
	f.audit(ctx, client, id, identity.EventSessionRevoked)
	return SessionRevoked{}, nil
}

// endAllSessions ends every session of customer id and stamps the record
// (Customer.SessionsEndedAt), so that what was issued from a session
// already gone — an app's refresh token of a session that expired — ends
// too. Agents acting for the customer are stopped as well: this is what a
// customer (or a reset) does when the account may be in someone else's
// hands, and a grant to an agent outlives the browser it was given from.
func (f *Flows) endAllSessions(ctx context.Context, id string) error {
	var agents []identity.AppGrant
	_, err := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		c.SessionsEndedAt = f.now().UTC()
		agents = agents[:0]
		for _, a := range slices.Clone(c.Apps) {
			if a.Agent {
				if g, ok := c.DropApp(a.Issuer, a.ClientID); ok {
					agents = append(agents, g)
				}
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		return err
	}
	if _, err = f.Sessions.RevokeUser(ctx, id); err != nil {
		return err
	}
	var grants []string
	for _, a := range agents {
		if a.GrantID != "" {
			grants = append(grants, a.GrantID)
		}
		f.auditDetail(ctx, Client{}, id, identity.EventAgentRevoked, a.ClientID)
	}
	if len(grants) > 0 {
		return f.Sessions.EndFamilies(ctx, id, grants...)
	}
	return nil
}
