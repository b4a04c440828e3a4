package authflow

import (
	"context"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Agents: clients acting for a customer (identity.AppGrant with Agent),
// given by the customer on the consent screen or by a token exchange,
// ended by the customer on the account page (RevokeApp) or by their term.

// AgentGranted records that the customer let client of issuer act for
// them with scopes until until, and returns the grant (via, the audit
// event: identity.EventAgentGranted, or identity.EventAgentExchanged for
// a token exchange; its detail is the client id).
func (f *Flows) AgentGranted(ctx context.Context, customerID, issuer, clientID string, scopes []string, until time.Time, via string, client Client) (identity.AppGrant, error) {
	var g identity.AppGrant
	_, err := f.Customers.UpdateCustomer(ctx, customerID, func(c *identity.Customer) error {
		g = c.NoteAgent(issuer, clientID, scopes, until, f.now().UTC())
		return nil
	})
	if err != nil {
		return identity.AppGrant{}, err
	}
	f.auditDetail(ctx, client, customerID, via, clientID)
	return g, nil
}

// AgentUsed records an agent's use of grant grantID from network (best
// effort, the edge calls it off the request path now and then).
func (f *Flows) AgentUsed(ctx context.Context, customerID, grantID, network string, at time.Time) error {
	_, err := f.Customers.UpdateCustomer(ctx, customerID, func(c *identity.Customer) error {
		c.NoteAgentUse(grantID, network, at.UTC())
		return nil
	})
	return err
}
