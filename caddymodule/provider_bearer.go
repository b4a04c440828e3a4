package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The ID token, the identity assertion handed to backends and the access
// token share issuer and keys. op's own userinfo and introspection take any
// JWT of the issuer signed with its keys, so an ID token or an assertion
// would pass for an access token; Frontdoor's take only an at+jwt.

// verifyAccessToken returns the claims of a valid access token of this
// provider: ES256 by a published key, header typ at+jwt, this issuer,
// unexpired, of a declared client.
func (o *siteOP) verifyAccessToken(raw string) (*accessTokenClaims, bool) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, false
	}
	hdr := jws.Signatures[0].Protected
	typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, accessTokenHeader) && !strings.EqualFold(typ, "application/"+accessTokenHeader) {
		return nil, false
	}
	var key any
	for _, k := range o.h.app.backend.assertions.Ring().PublicKeys() {
		if k.KeyID == hdr.KeyID {
			key = k.Key
		}
	}
	if key == nil {
		return nil, false
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, false
	}
	var c accessTokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, false
	}
	now := o.h.app.backend.clock.Now()
	if c.Issuer != o.issuer || c.Subject == "" || !now.Before(time.Unix(c.Expiry, 0)) || o.client(c.ClientID) == nil {
		return nil, false
	}
	return &c, true
}

// UserInfo answers for a valid access token the claims its scopes grant.
func (s *opServer) UserInfo(ctx context.Context, r *op.Request[oidc.UserInfoRequest]) (*op.Response, error) {
	c, ok := s.o.verifyAccessToken(r.Data.AccessToken)
	if !ok {
		return nil, op.NewStatusError(oidc.ErrAccessDenied().WithDescription("access token invalid"), http.StatusUnauthorized)
	}
	info := new(oidc.UserInfo)
	if err := s.o.st.setUserinfo(ctx, info, c.Subject, strings.Fields(c.Scope)); err != nil {
		return nil, op.NewStatusError(oidc.ErrAccessDenied().WithDescription("access token invalid"), http.StatusUnauthorized)
	}
	return op.NewResponse(info), nil
}

// Introspect (RFC 7662) answers a confidential client; any token but a
// valid access token of this provider is inactive.
func (s *opServer) Introspect(ctx context.Context, r *op.Request[op.IntrospectionRequest]) (*op.Response, error) {
	var id, secret string
	if r.Data.ClientCredentials != nil {
		id, secret = r.Data.ClientCredentials.ClientID, r.Data.ClientCredentials.ClientSecret
	}
	if err := s.o.st.AuthorizeClientIDSecret(ctx, id, secret); err != nil {
		return nil, op.NewStatusError(oidc.ErrInvalidClient(), http.StatusUnauthorized)
	}
	resp := new(oidc.IntrospectionResponse)
	if r.Data.IntrospectionRequest == nil {
		return op.NewResponse(resp), nil
	}
	c, ok := s.o.verifyAccessToken(r.Data.Token)
	if !ok {
		return op.NewResponse(resp), nil
	}
	resp.Active = true
	resp.Scope = strings.Fields(c.Scope)
	resp.ClientID = c.ClientID
	resp.TokenType = oidc.BearerToken
	resp.Expiration = oidc.FromTime(time.Unix(c.Expiry, 0))
	resp.IssuedAt = oidc.FromTime(time.Unix(c.IssuedAt, 0))
	resp.Subject = c.Subject
	resp.Audience = c.Audience
	resp.Issuer = c.Issuer
	resp.JWTID = c.ID
	return op.NewResponse(resp), nil
}
