package caddymodule

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The ID token, the identity assertion handed to backends and the access
// token share issuer and keys. op's own userinfo and introspection take any
// JWT of the issuer signed with its keys, so an ID token or an assertion
// would pass for an access token; Frontdoor's take only an at+jwt.

// verifyAccessToken returns the claims of a valid access token of this
// provider: ES256 by a published key, header typ at+jwt, this issuer in
// iss and aud, unexpired, of a declared client (parseAccessToken).
func (o *siteOP) verifyAccessToken(raw string) (*accessTokenClaims, bool) {
	b := o.h.app.backend
	c, ok := parseAccessToken(raw, b.assertions.Ring().PublicKeys(), b.clock.Now())
	if !ok || !o.accepts(c) {
		return nil, false
	}
	return c, true
}

// liveAccessToken is verifyAccessToken and the session it was issued from
// not ended on purpose (session.Manager.Ended); an error if the store
// cannot tell.
func (o *siteOP) liveAccessToken(ctx context.Context, raw string) (*accessTokenClaims, bool, error) {
	c, ok := o.verifyAccessToken(raw)
	if !ok {
		return nil, false, nil
	}
	if c.SID == "" { // a service's own token: no session to end
		return c, true, nil
	}
	ended, err := tokenEnded(ctx, o.h.app.backend.sessions, c)
	if err != nil || ended {
		return nil, false, err
	}
	return c, true, nil
}

// UserInfo answers for a valid access token the claims its scopes grant.
func (s *opServer) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	c, ok, err := s.o.liveAccessToken(ctx, r.Data.AccessToken)
	if err != nil {
		return nil, op.NewStatusError(oidc.ErrServerError().WithParent(err), http.StatusServiceUnavailable)
	}
	if !ok || !dpopBound(ctx, c) {
		return nil, op.NewStatusError(oidc.ErrAccessDenied().WithDescription("access token invalid"), http.StatusUnauthorized)
	}
	if c.SID == "" {
		return nil, op.NewStatusError(&oidc.Error{ErrorType: "insufficient_scope", Description: "a service's token names no customer"}, http.StatusForbidden)
	}
	info := new(oidc.UserInfo)
	if err := s.o.st.setUserinfo(ctx, info, c.Subject, strings.Fields(c.Scope)); err != nil {
		return nil, op.NewStatusError(oidc.ErrAccessDenied().WithDescription("access token invalid"), http.StatusUnauthorized)
	}
	return op.NewResponse(info), nil
}

// Introspect (RFC 7662) answers a confidential client; any token but a
// valid access token of this provider whose session has not ended is
// inactive.
func (s *opServer) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	// A secret, or a client assertion (provider_service.go).
	if _, err := s.o.authenticatedClient(ctx, r.Data.ClientCredentials); err != nil {
		return nil, op.NewStatusError(oidc.ErrInvalidClient(), http.StatusUnauthorized)
	}
	resp := new(oidc.IntrospectionResponse)
	if r.Data.IntrospectionRequest == nil {
		return op.NewResponse(resp), nil
	}
	c, ok, err := s.o.liveAccessToken(ctx, r.Data.Token)
	if err != nil {
		return nil, op.NewStatusError(oidc.ErrServerError().WithParent(err), http.StatusServiceUnavailable)
	}
	if !ok {
		return op.NewResponse(resp), nil
	}
	resp.Active = true
	resp.Scope = strings.Fields(c.Scope)
	resp.ClientID = c.ClientID
	resp.TokenType = oidc.BearerToken
	if c.Cnf != nil && c.Cnf.JKT != "" {
		resp.TokenType = dpopScheme
	}
	resp.Expiration = oidc.FromTime(time.Unix(c.Expiry, 0))
	resp.IssuedAt = oidc.FromTime(time.Unix(c.IssuedAt, 0))
	resp.Subject = c.Subject
	resp.Audience = c.Audience
	resp.Issuer = c.Issuer
	resp.JWTID = c.ID
	resp.Actor = introspectedActor(c.Act)
	describeService(resp, c)
	return op.NewResponse(resp), nil
}
