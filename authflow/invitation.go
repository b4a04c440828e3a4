package authflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Invitations: an operator invites an address to a role; the mailed link
// grants it to the account holding that address, verified, once its
// customer — signed in, or signing up through the link — accepts. The link
// is the invitation: single use, and useless to anyone else (a forwarded
// link asks for the invited address's account).

// InviteInput is an operator's invitation.
type InviteInput struct {
	Email, Role string
	// TTL is how long the link works: 0 is InvitationTTL; at most
	// InvitationMaxTTL.
	TTL    time.Duration
	By     string
	Client Client
}

// Outcomes of invitations.
type (
	// Invited: the link went to Email.
	Invited struct {
		Email, Role string
		ExpiresAt   time.Time
	}
	// InvitationAccepted: the customer now holds Role.
	InvitationAccepted struct{ Role string }
	// InvitationForOther: the signed-in customer is not (or not yet
	// verifiably) the invited address's; the invitation still stands.
	InvitationForOther struct{ Email string }
)

func (Invited) outcome()            {}
func (InvitationAccepted) outcome() {}
func (InvitationForOther) outcome() {}

// ErrInvitationTTL: the operator asked for a lifetime out of range.
var ErrInvitationTTL = fmt.Errorf("an invitation works for 1 hour to %d days", int(identity.InvitationMaxTTL/(24*time.Hour)))

// Invite stores and mails an invitation. The token is filed under the
// address's customer when there is one, so their export and erasure hold
// it; an address without an account is nobody's yet.
func (f *Flows) Invite(ctx context.Context, in InviteInput) (Outcome, error) {
	fields := map[string]error{}
	email, c, invalid, err := f.lookUpAddress(ctx, in.Email)
	if err != nil {
		return nil, err
	}
	if invalid != nil {
		fields["email"] = ErrEmailInvalid
	}
	if err := identity.ValidRole(in.Role); err != nil {
		fields["role"] = err
	}
	ttl := in.TTL
	if ttl == 0 {
		ttl = identity.InvitationTTL
	}
	if ttl < time.Hour || ttl > identity.InvitationMaxTTL {
		fields["expires_days"] = ErrInvitationTTL
	}
	if len(fields) > 0 {
		return Invalid{Fields: fields}, nil
	}
	owner := ""
	if c != nil {
		owner = c.ID
	}
	now := f.now()
	secret, tok := identity.NewToken(identity.Invitation{Email: email, Role: in.Role, By: in.By}, owner, ttl, now)
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return nil, err
	}
	f.Notify.Invitation(ctx, email, secret, in.Role, tok.ExpiresAt)
	if owner != "" {
		f.auditDetail(ctx, in.Client, owner, identity.EventInvited, in.Role+" by "+in.By)
	}
	return Invited{Email: email, Role: in.Role, ExpiresAt: tok.ExpiresAt}, nil
}

// AcceptInvitation grants the invitation's role to the signed-in customer
// if the invitation is theirs (their verified address is the invited
// one); otherwise it leaves the invitation as it was.
func (f *Flows) AcceptInvitation(ctx context.Context, secret, customerID string, client Client) (Outcome, error) {
	if secret == "" || len(secret) > 100 {
		return LinkExpired{}, nil
	}
	now := f.now()
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenInvitation, identity.HashToken(secret), now)
	if errors.Is(err, identity.ErrNotFound) {
		return LinkExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	inv, err := identity.PayloadOf[identity.Invitation](tok)
	if err != nil {
		return nil, err
	}
	c, err := f.Customers.Customer(ctx, customerID)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		return nil, errors.Join(err, f.Tokens.PutToken(ctx, tok))
	}
	if c == nil || !c.EmailVerified || c.Email != inv.Email {
		// Not theirs: put it back for the invited address's customer.
		if err := f.Tokens.PutToken(ctx, tok); err != nil {
			return nil, err
		}
		return InvitationForOther{Email: inv.Email}, nil
	}
	out, err := f.GrantRole(ctx, RoleChangeInput{CustomerID: c.ID, Role: inv.Role, By: "invitation (" + inv.By + ")", Client: client})
	if err != nil {
		return nil, errors.Join(err, f.Tokens.PutToken(ctx, tok))
	}
	if _, ok := out.(RolesChanged); !ok {
		return out, nil
	}
	return InvitationAccepted{Role: inv.Role}, nil
}
