package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Provider sign-in attempts and pending links live server-side, each bound
// to the browser that began it (the hash of a nonce its cookie holds),
// single use and short-lived: the state a provider sends back finds the
// attempt; nothing in the browser but the nonce.

// FederatedAttemptTTL is how long a provider sign-in may take.
const FederatedAttemptTTL = 10 * time.Minute

// PendingLinkTTL is how long a customer has to sign in to their account
// to link a provider identity to it.
const PendingLinkTTL = 10 * time.Minute

// FederatedAttempt is a provider sign-in under way.
type FederatedAttempt struct {
	// Provider is the provider's name.
	Provider string
	// State is the attempt's state parameter: it finds the attempt.
	State string
	// Protocol is the relying party's own record of the attempt (nonce,
	// PKCE verifier, redirect URI), opaque here.
	Protocol []byte
	Redirect string
	// LinkFor, when set, is the signed-in customer who asked to link the
	// provider from their account page: the identity goes to them.
	LinkFor string
}

// ErrAttemptGone: no attempt for this state in this browser — expired,
// used, never begun, or begun in another browser.
var ErrAttemptGone = errors.New("authflow: no such provider sign-in in this browser")

// BeginFederated stores an attempt bound to the browser holding nonce.
func (f *Flows) BeginFederated(ctx context.Context, a FederatedAttempt, nonce string) error {
	if a.State == "" || nonce == "" {
		return errors.New("authflow: a provider sign-in needs a state and a browser nonce")
	}
	p := identity.FederatedAttempt{Provider: a.Provider, Protocol: a.Protocol, Redirect: a.Redirect,
		Binding: identity.HashToken(nonce), LinkFor: a.LinkFor}
	return f.Tokens.PutToken(ctx, identity.NewTokenUnder(identity.HashToken(a.State), p, a.LinkFor, f.now().Add(FederatedAttemptTTL)))
}

// TakeFederated uses up the attempt the state names, if this browser began
// it. A state tried from another browser is burnt as well: it has leaked.
func (f *Flows) TakeFederated(ctx context.Context, state, nonce string) (FederatedAttempt, error) {
	if state == "" || len(state) > 512 || nonce == "" {
		return FederatedAttempt{}, ErrAttemptGone
	}
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenFederatedAttempt, identity.HashToken(state), f.now())
	if errors.Is(err, identity.ErrNotFound) {
		return FederatedAttempt{}, ErrAttemptGone
	}
	if err != nil {
		return FederatedAttempt{}, err
	}
	p, err := identity.PayloadOf[identity.FederatedAttempt](tok)
	if err != nil || subtle.ConstantTimeCompare(p.Binding, identity.HashToken(nonce)) != 1 {
		return FederatedAttempt{}, ErrAttemptGone
	}
	return FederatedAttempt{Provider: p.Provider, State: state, Protocol: p.Protocol, Redirect: p.Redirect, LinkFor: p.LinkFor}, nil
}

// HoldLink keeps a LinkRequired for the browser holding nonce until its
// customer signs in there (ConfirmLink). One per browser: a newer one
// replaces it.
func (f *Flows) HoldLink(ctx context.Context, l LinkRequired, redirect, nonce string) error {
	p := identity.PendingLink{Identity: l.Identity, Redirect: redirect, HeldAt: f.now().UTC()}
	return f.Tokens.PutToken(ctx, identity.NewTokenUnder(identity.HashToken(nonce), p, l.Customer.ID, f.now().Add(PendingLinkTTL)))
}

// ConfirmLinkInput is a press of "Link" after signing in.
type ConfirmLinkInput struct {
	Nonce   string
	Session *session.Session
	// Confirm: the customer pressed the button (otherwise: show the
	// pending link).
	Confirm bool
	Client  Client
}

// Outcomes of ConfirmLink.
type (
	// LinkPending: the link waits for its customer to sign in here
	// (Email is theirs, to prefill the sign-in form), or — signed in — to
	// press the button (SignedIn).
	LinkPending struct {
		Email    string
		Provider string
		SignedIn bool
	}
	// IdentityLinkedDone: linked; go on to Redirect.
	IdentityLinkedDone struct {
		Provider string
		Redirect string
	}
	// LinkGone: no pending link in this browser (expired, used, or meant
	// for another account than the one signed in).
	LinkGone struct{}
)

func (LinkPending) outcome()        {}
func (IdentityLinkedDone) outcome() {}
func (LinkGone) outcome()           {}

// ConfirmLink shows or completes a pending link. It links only for a
// session of the pending link's customer that signed in after the link was
// held — the customer proved the account with its own methods (second
// factor included) in this browser. A session of another customer ends
// the pending link.
func (f *Flows) ConfirmLink(ctx context.Context, in ConfirmLinkInput) (Outcome, error) {
	if in.Nonce == "" {
		return LinkGone{}, nil
	}
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenPendingLink, identity.HashToken(in.Nonce), f.now())
	if errors.Is(err, identity.ErrNotFound) {
		return LinkGone{}, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := identity.PayloadOf[identity.PendingLink](tok)
	if err != nil {
		return LinkGone{}, nil
	}
	li := p.Identity
	s := in.Session
	if s != nil && s.UserID != tok.CustomerID {
		return LinkGone{}, nil // another account is signed in here: the link is void
	}
	proven := s != nil && !s.AuthTime.Before(p.HeldAt.Truncate(time.Second))
	if !proven || !in.Confirm {
		f.putBack(ctx, tok)
		c, err := f.Customers.Customer(ctx, tok.CustomerID)
		if err != nil {
			if errors.Is(err, identity.ErrNotFound) {
				return LinkGone{}, nil
			}
			return nil, err
		}
		return LinkPending{Email: c.Email, Provider: li.Provider, SignedIn: proven}, nil
	}
	li.LinkedAt = f.now().UTC()
	if _, err := f.Customers.LinkIdentity(ctx, tok.CustomerID, li); err != nil {
		if errors.Is(err, identity.ErrIdentityTaken) || errors.Is(err, identity.ErrNotFound) {
			return LinkGone{}, nil
		}
		return nil, err
	}
	f.auditDetail(ctx, in.Client, tok.CustomerID, identity.EventIdentityLinked, li.Provider)
	return IdentityLinkedDone{Provider: li.Provider, Redirect: p.Redirect}, nil
}

// LinkToSignedIn links a provider identity to the signed-in customer who
// asked for it from their account page (FederatedAttempt.LinkFor).
func (f *Flows) LinkToSignedIn(ctx context.Context, customerID string, pol ProviderPolicy, id FederatedIdentity, client Client) (Outcome, error) {
	li := id.linked(pol.Name, f.now().UTC())
	if _, err := f.Customers.LinkIdentity(ctx, customerID, li); err != nil {
		if errors.Is(err, identity.ErrIdentityTaken) {
			return FederatedRefused{Reason: ErrIdentityElsewhere}, nil
		}
		if errors.Is(err, identity.ErrNotFound) {
			return LinkGone{}, nil
		}
		return nil, err
	}
	f.auditDetail(ctx, client, customerID, identity.EventIdentityLinked, pol.Name)
	return IdentityLinkedDone{Provider: pol.Name}, nil
}

// ErrIdentityElsewhere: the provider identity is linked to another
// account.
var ErrIdentityElsewhere = errors.New("authflow: this provider account is linked to another account")
