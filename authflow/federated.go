package authflow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
)

// Sign-in with an OpenID Provider ("Continue with Google"). The protocol
// is identity/oidcrp's; this is what a verified provider identity means
// for the customer's account.
//
// The rules, in order:
//   - an identity already linked signs its customer in (the account's
//     second factor still applies, unless the operator trusts the
//     provider's own MFA and the provider says it did MFA);
//   - an identity is never linked silently: when its verified email
//     belongs to a customer, that customer must first prove control of the
//     account with its own method (LinkRequired); an unverified email never
//     links and never takes an address someone already has;
//   - an account whose address nobody ever proved (an unconfirmed
//     sign-up) has no usable password; a provider vouching for the address
//     proves more than it, so the provider's customer takes the account
//     over and the unconfirmed password is discarded (as a mailbox reader
//     confirming the link would);
//   - otherwise, if the operator allows it, a new customer is created with
//     the provider's profile (the email verified only if the provider
//     vouches for it).

// AMRFederated is the RFC 8176-style method of a provider sign-in.
const AMRFederated = "fed"

// ProviderPolicy is what the operator set for a provider.
type ProviderPolicy struct {
	// Name is the provider's name (the assertion's idp).
	Name string
	// LinkByEmail: a verified email may lead to linking with the existing
	// customer of that address (link verified_email); false is link never.
	LinkByEmail  bool
	AutoRegister bool
	TrustMFA     bool
}

// FederatedIdentity is a verified provider identity.
type FederatedIdentity struct {
	Issuer, Subject string
	Email           string
	EmailVerified   bool
	Name            string
	// MFA: the provider says its own sign-in used more than one factor.
	MFA bool
	// RolesMapped: the operator maps the provider's roles claim; Roles
	// are what it gave this time (they replace the identity's last ones).
	RolesMapped bool
	Roles       []string
}

// linked is the identity as it is linked to a customer.
func (id FederatedIdentity) linked(provider string, now time.Time) identity.LinkedIdentity {
	return identity.LinkedIdentity{Provider: provider, Issuer: id.Issuer, Subject: id.Subject,
		Email: id.Email, EmailVerified: id.EmailVerified, LinkedAt: now, Roles: id.Roles}
}

// FederatedSignInInput is a provider's verified answer.
type FederatedSignInInput struct {
	Provider ProviderPolicy
	Identity FederatedIdentity
	Redirect string
	// Device is the browser's remembered-device cookie, if any.
	Device string
	Client Client
	// DeviceID is the keyed hash of the browser's device cookie (the
	// risk judgement; "" none).
	DeviceID string
}

// Outcomes of FederatedSignIn besides SessionDue and SecondFactorDue.
type (
	// LinkRequired: the identity's verified email is Customer's; they must
	// sign in to that account with its own method before the identity is
	// linked (see ConfirmLink).
	LinkRequired struct {
		Customer *identity.Customer
		Identity identity.LinkedIdentity
	}
	// FederatedRefused: the provider identity cannot be used (Reason:
	// ErrFederatedNoEmail, ErrFederatedClosed, ErrFederatedUnverified,
	// ErrFederatedLinkNever).
	FederatedRefused struct{ Reason error }
)

func (LinkRequired) outcome()     {}
func (FederatedRefused) outcome() {}

// Reasons a provider sign-in is refused.
var (
	// ErrFederatedNoEmail: the provider shared no usable email address,
	// and a new customer needs one.
	ErrFederatedNoEmail = errors.New("authflow: the provider shared no email address")
	// ErrFederatedClosed: no customer has this identity and the provider
	// may not create customers (auto_register off).
	ErrFederatedClosed = errors.New("authflow: sign-up through this provider is closed")
	// ErrFederatedUnverified: the address belongs to a customer and the
	// provider does not vouch for it.
	ErrFederatedUnverified = errors.New("authflow: the provider does not vouch for an address an account already has")
	// ErrFederatedLinkNever: the address belongs to a customer and the
	// operator does not link by email.
	ErrFederatedLinkNever = errors.New("authflow: the address has an account; this provider is not linked to accounts by email")
)

// FederatedSignIn decides what a verified provider identity leads to.
func (f *Flows) FederatedSignIn(ctx context.Context, in FederatedSignInInput) (Outcome, error) {
	id, pol := in.Identity, in.Provider
	li := id.linked(pol.Name, f.now().UTC())
	c, err := f.Customers.CustomerByIdentity(ctx, id.Issuer, id.Subject)
	switch {
	case err == nil:
		if c, err = f.touchIdentity(ctx, c, id, in.Client); err != nil {
			return nil, err
		}
		return f.federatedFirstFactor(ctx, c, in)
	case !errors.Is(err, identity.ErrNotFound):
		return nil, err
	}
	email, err := identity.NormalizeEmail(id.Email)
	if err != nil {
		return FederatedRefused{Reason: ErrFederatedNoEmail}, nil
	}
	li.Email = email
	existing, err := f.Customers.CustomerByEmail(ctx, email)
	switch {
	case errors.Is(err, identity.ErrNotFound):
		if !pol.AutoRegister {
			return FederatedRefused{Reason: ErrFederatedClosed}, nil
		}
		return f.federatedSignUp(ctx, in, email, li)
	case err != nil:
		return nil, err
	case !id.EmailVerified:
		return FederatedRefused{Reason: ErrFederatedUnverified}, nil
	case !pol.LinkByEmail:
		return FederatedRefused{Reason: ErrFederatedLinkNever}, nil
	case !existing.EmailVerified:
		return f.federatedTakeOver(ctx, existing, in, li)
	}
	return LinkRequired{Customer: existing, Identity: li}, nil
}

// federatedFirstFactor: the provider sign-in is the first factor; the
// account's second factor follows as for any other, unless the provider's
// own MFA is trusted.
func (f *Flows) federatedFirstFactor(ctx context.Context, c *identity.Customer, in FederatedSignInInput) (Outcome, error) {
	ff := FirstFactorInput{Customer: c, AMR: []string{AMRFederated}, Redirect: in.Redirect,
		Device: in.Device, IdP: in.Provider.Name, Client: in.Client, DeviceID: in.DeviceID}
	if in.Provider.TrustMFA && in.Identity.MFA {
		return f.judgeStrong(ctx, SessionDue{Customer: c, AMR: []string{AMRFederated, "mfa"}, ACR: "aal2", Redirect: in.Redirect,
			Purpose: PurposeSignIn, IdP: in.Provider.Name}, ff)
	}
	return f.FirstFactorDone(ctx, ff)
}

// federatedSignUp creates the customer of a new provider identity.
func (f *Flows) federatedSignUp(ctx context.Context, in FederatedSignInInput, email string, li identity.LinkedIdentity) (Outcome, error) {
	c := &identity.Customer{ID: identity.NewID(), Email: email, EmailVerified: in.Identity.EmailVerified,
		Name: in.Identity.Name, CreatedAt: f.now().UTC(), LastLoginAt: f.now().UTC(), Identities: []identity.LinkedIdentity{li}}
	err := f.Customers.CreateCustomer(ctx, c)
	if errors.Is(err, identity.ErrEmailTaken) || errors.Is(err, identity.ErrIdentityTaken) {
		// Lost a race with another sign-up: decide again on what won.
		return f.FederatedSignIn(ctx, in)
	}
	if err != nil {
		return nil, err
	}
	f.publish(ctx, in.Client, c.ID, events.CustomerCreated, map[string]string{"source": "oidc", "provider": li.Provider})
	if c.EmailVerified {
		f.publish(ctx, in.Client, c.ID, events.EmailVerified, map[string]string{"via": "provider", "provider": li.Provider})
	}
	f.auditDetail(ctx, in.Client, c.ID, identity.EventIdentityLinked, li.Provider)
	out, err := f.federatedFirstFactor(ctx, c, in)
	due, ok := out.(SessionDue)
	if err != nil || !ok || len(f.Purposes) == 0 || f.Consent == nil {
		return out, err
	}
	// No form asked this customer for the purposes: the prompt asks them
	// all now. Without the mark the required ones are still asked for at
	// the first protected request, so failing to store it is not fatal.
	if due.AskConsent, err = f.holdSignUpConsent(ctx, c.ID); err != nil {
		f.failed("keeping a provider sign-up's consent question", err)
	}
	return due, nil
}

// federatedTakeOver hands an unconfirmed account to the provider's
// customer, who proved the address: its password (never confirmed) and
// any identity linked without proof of the address go.
func (f *Flows) federatedTakeOver(ctx context.Context, c *identity.Customer, in FederatedSignInInput, li identity.LinkedIdentity) (Outcome, error) {
	if err := f.dropUnprovenIdentities(ctx, c, in.Client); err != nil {
		return nil, err
	}
	c, err := f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		if !c.EmailVerified {
			c.PasswordHash = ""
			c.EmailVerified = true
		}
		c.LastLoginAt = f.now().UTC()
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.publish(ctx, in.Client, c.ID, events.EmailVerified, map[string]string{"via": "provider", "provider": li.Provider})
	if c, err = f.Customers.LinkIdentity(ctx, c.ID, li); err != nil {
		if errors.Is(err, identity.ErrIdentityTaken) {
			return f.FederatedSignIn(ctx, in)
		}
		return nil, err
	}
	f.auditDetail(ctx, in.Client, c.ID, identity.EventIdentityLinked, li.Provider)
	return f.federatedFirstFactor(ctx, c, in)
}

// dropUnprovenIdentities unlinks, from an account whose address was not
// proven until now, the identities whose provider did not vouch for that
// address: whoever reads the mailbox owns the account. Their sessions end.
func (f *Flows) dropUnprovenIdentities(ctx context.Context, c *identity.Customer, client Client) error {
	dropped := false
	defer func() {
		if dropped {
			if err := f.endAllSessions(ctx, c.ID); err != nil {
				f.warn("ending the sessions of unlinked provider identities", err)
			}
		}
	}()
	for _, li := range c.Identities {
		if li.EmailVerified && strings.EqualFold(li.Email, c.Email) {
			continue
		}
		_, err := f.Customers.UnlinkIdentity(ctx, c.ID, li.Issuer, li.Subject, nil)
		if err != nil && !errors.Is(err, identity.ErrNotFound) {
			return err
		}
		dropped = true
		f.auditDetail(ctx, client, c.ID, identity.EventIdentityUnlinked, li.Provider)
	}
	return nil
}

// touchIdentity records the identity's last use and the customer's last
// sign-in (best effort), and the roles its claims give now (not best
// effort when they changed: a role the provider took away must go before
// the customer is signed in).
func (f *Flows) touchIdentity(ctx context.Context, c *identity.Customer, id FederatedIdentity, client Client) (*identity.Customer, error) {
	var before []string
	updated, err := f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.LastLoginAt = f.now().UTC()
		for i := range c.Identities {
			if c.Identities[i].Issuer == id.Issuer && c.Identities[i].Subject == id.Subject {
				c.Identities[i].LastUsedAt = f.now().UTC()
				if id.RolesMapped {
					before = c.Identities[i].Roles
					c.Identities[i].Roles = id.Roles
				}
			}
		}
		return nil
	})
	rolesChanged := id.RolesMapped && !slices.Equal(before, id.Roles)
	if err != nil {
		if rolesChanged {
			return nil, err
		}
		f.warn("recording a provider identity's last use", err)
		return c, nil
	}
	if rolesChanged {
		for _, r := range id.Roles {
			if !slices.Contains(before, r) {
				f.auditDetail(ctx, client, c.ID, identity.EventRoleGranted, r+" by provider")
			}
		}
		for _, r := range before {
			if !slices.Contains(id.Roles, r) {
				f.auditDetail(ctx, client, c.ID, identity.EventRoleRemoved, r+" by provider")
			}
		}
	}
	return updated, nil
}

// UnlinkInput is a press of "Unlink" on the account page.
type UnlinkInput struct {
	CustomerID      string
	Issuer, Subject string
	Client          Client
}

// Outcomes of UnlinkIdentity.
type (
	// IdentityUnlinked: done.
	IdentityUnlinked struct{}
	// LastWayToSignIn: the identity is the account's only way in.
	LastWayToSignIn struct{}
	// IdentityNotLinked: the account has no such identity.
	IdentityNotLinked struct{}
)

func (IdentityUnlinked) outcome()  {}
func (LastWayToSignIn) outcome()   {}
func (IdentityNotLinked) outcome() {}

var errLastWay = errors.New("authflow: last way to sign in")

// UnlinkIdentity removes a linked identity unless it is the last way to
// sign in (no password, no passkey, no other identity).
func (f *Flows) UnlinkIdentity(ctx context.Context, in UnlinkInput) (Outcome, error) {
	provider := ""
	_, err := f.Customers.UnlinkIdentity(ctx, in.CustomerID, in.Issuer, in.Subject, func(c *identity.Customer) error {
		li, _ := c.Identity(in.Issuer, in.Subject)
		provider = li.Provider
		if c.SignInMethods() <= 1 {
			return errLastWay
		}
		return nil
	})
	switch {
	case errors.Is(err, errLastWay):
		return LastWayToSignIn{}, nil
	case errors.Is(err, identity.ErrNotFound):
		return IdentityNotLinked{}, nil
	case err != nil:
		return nil, err
	}
	f.auditDetail(ctx, in.Client, in.CustomerID, identity.EventIdentityUnlinked, provider)
	return IdentityUnlinked{}, nil
}
