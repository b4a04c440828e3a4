package caddymodule

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

// Token exchange (RFC 8693): a client the operator allows (`grant
// token_exchange`, confidential) hands in an access token of a customer
// it holds (subject_token, one of this provider's, unexpired, its session
// not ended) and gets one of its own to act for that customer: sub the
// customer, sid the subject token's (the customer's sign-out ends it
// too), client_id the exchanging client, act = {"sub": <client>, "act":
// <the subject token's act>} (a chain of actors), scopes the ones asked —
// each held by the subject token and allowed to the client, or the
// request is refused invalid_scope (never silently narrowed to fit) —
// and no later expiry than the subject token's. No refresh token: the
// exchange is done again with a fresh subject token. The client becomes
// an agent acting for the customer on their account page, where ending
// it ends its tokens as for any agent.
//
// actor_token is refused: the actor is the authenticated client, and a
// second credential for it would prove nothing more.

// exchangeGranted reports whether some client of the provider may
// exchange tokens (discovery advertises the grant then).
func (o *siteOP) exchangeGranted() bool {
	return slices.ContainsFunc(o.allClients(), func(c *ProviderClient) bool { return c.allows(grantExchange) })
}

// TokenExchange answers grant_type=urn:ietf:params:oauth:grant-type:token-exchange.
func (s *opServer) TokenExchange(ctx context.Context, r *op.ClientRequest[oidc.TokenExchangeRequest]) (*op.Response, error) {
	o := s.o
	b := o.h.app.backend
	c := o.client(r.Client.GetID())
	if c == nil || !c.allows(grantExchange) || !c.confidential() {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("client may not exchange tokens")
	}
	req := r.Data
	if req.SubjectTokenType != oidc.AccessTokenType {
		return nil, oidc.ErrInvalidRequest().WithDescription("subject_token_type must be " + string(oidc.AccessTokenType))
	}
	if req.RequestedTokenType != "" && req.RequestedTokenType != oidc.AccessTokenType {
		return nil, oidc.ErrInvalidRequest().WithDescription("requested_token_type: only " + string(oidc.AccessTokenType) + " is issued")
	}
	if req.ActorToken != "" || req.ActorTokenType != "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("actor_token is not taken: the actor is the authenticated client")
	}
	for _, t := range append(slices.Clone(req.Resource), req.Audience...) {
		if t != o.issuer {
			return nil, oidc.ErrInvalidTarget().WithDescription("tokens are issued for %s alone", o.issuer)
		}
	}
	sub, ok, err := o.liveAccessToken(ctx, req.SubjectToken)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if !ok || sub.SID == "" {
		// No sid: a service's own token (client credentials), whose
		// subject is a client, not a customer to act for.
		return nil, oidc.ErrInvalidRequest().WithDescription("subject_token is not a valid, live access token of a customer of this provider")
	}
	if sub.Cnf != nil {
		// Its holder would have to prove the key; the exchanging client
		// cannot, for a key that is not its own.
		return nil, oidc.ErrInvalidRequest().WithDescription("subject_token is sender-constrained")
	}
	held := strings.Fields(sub.Scope)
	scopes := []string(req.Scopes)
	if len(scopes) == 0 {
		scopes = held
	}
	for _, sc := range scopes {
		if !slices.Contains(held, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %s is not held by the subject token", sc)
		}
		if !slices.Contains(c.Scopes, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %s is not allowed to this client", sc)
		}
	}
	scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
	now := b.clock.Now()
	exp := time.Unix(sub.Expiry, 0)
	// The audit names the agent; the request is its server's, not the
	// customer's device.
	g, err := o.h.flows.AgentGranted(ctx, sub.Subject, o.issuer, c.ID, scopes, exp, identity.EventAgentExchanged,
		authflow.Client{UserAgent: truncate(r.Header.Get("User-Agent"), 256)})
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	b.forgetCustomer(sub.Subject)
	claims := accessTokenClaims{
		Issuer: o.issuer, Subject: sub.Subject, Audience: []string{o.issuer}, Expiry: sub.Expiry,
		IssuedAt: now.Unix(), ID: randomID(), ClientID: c.ID, Scope: strings.Join(scopes, " "),
		AuthTime: sub.AuthTime, ACR: sub.ACR, AMR: sub.AMR, SID: sub.SID,
		Act: &actClaim{Subject: c.ID, Act: sub.Act}, AgentGrant: g.GrantID,
	}
	if u := g.Until.Unix(); u < claims.Expiry {
		claims.Expiry = u
	}
	at, err := o.signJWT(accessTokenHeader, claims)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	left := time.Unix(claims.Expiry, 0).Sub(now)
	return op.NewResponse(&oidc.TokenExchangeResponse{
		AccessToken: at, IssuedTokenType: oidc.AccessTokenType, TokenType: oidc.BearerToken,
		ExpiresIn: uint64(max(left, 0).Seconds()), Scopes: scopes,
	}), nil
}
