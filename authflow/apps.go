package authflow

import (
	"context"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Apps: the clients of the gateway's OpenID Providers that hold a
// customer's tokens (identity.AppGrant), recorded when they get them and
// revoked by the customer from the account page.

// AppTouchEvery is how often a client's token refreshes update its "last
// used" (a record write).
const AppTouchEvery = time.Hour

type (
	// AppRevoked: the grant is gone; the caller ends its refresh token
	// families (App.Families).
	AppRevoked struct{ App identity.AppGrant }
	// AppGone: no such grant (revoked already, in another tab).
	AppGone struct{}
)

func (AppRevoked) outcome() {}
func (AppGone) outcome()    {}

// AppUsed records that client of issuer was handed tokens of the customer
// with scopes (family: the refresh token family it began, "" none).
func (f *Flows) AppUsed(ctx context.Context, customerID, issuer, clientID string, scopes []string, family string) error {
	_, err := f.Customers.UpdateCustomer(ctx, customerID, func(c *identity.Customer) error {
		c.NoteApp(issuer, clientID, scopes, family, f.now().UTC())
		return nil
	})
	return err
}

// RevokeApp takes client of issuer's access away, as the customer asked.
func (f *Flows) RevokeApp(ctx context.Context, customerID, issuer, clientID string, client Client) (Outcome, error) {
	var (
		app   identity.AppGrant
		found bool
	)
	if _, err := f.Customers.UpdateCustomer(ctx, customerID, func(c *identity.Customer) error {
		app, found = c.DropApp(issuer, clientID)
		return nil
	}); err != nil {
		return nil, err
	}
	if !found {
		return AppGone{}, nil
	}
	if app.Agent {
		f.auditDetail(ctx, client, customerID, identity.EventAgentRevoked, clientID)
	} else {
		f.auditDetail(ctx, client, customerID, identity.EventAppRevoked, clientID)
	}
	return AppRevoked{App: app}, nil
}
