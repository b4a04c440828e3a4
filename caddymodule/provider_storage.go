package caddymodule

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/frontdoorhq/frontdoor/identity"
)

// opStorage is op.Storage over Frontdoor's stores: authorization requests
// and codes are one-time identity tokens (typed payload OAuthRequest),
// customers come from the identity store, keys from the assertion key ring.
// Refresh tokens, client credentials and end_session are later increments.
type opStorage struct{ o *siteOP }

func (s *opStorage) ids() identity.Store { return s.o.h.app.backend.identity }
func (s *opStorage) now() time.Time      { return s.o.h.app.backend.clock.Now() }

// CreateAuthRequest keeps a validated authorization request until its
// customer's session answers it. PKCE S256 is required of every client.
func (s *opStorage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c := s.o.client(req.ClientID)
	if c == nil {
		return nil, oidc.ErrInvalidClient()
	}
	if req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery {
		// Answered in the query, where iss is added, and never by a
		// page the site's policy would stop anyway.
		req.ResponseMode = oidc.ResponseModeQuery
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query")
	}
	if req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method S256")
	}
	if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	scopes := make([]string, 0, len(req.Scopes))
	for _, sc := range req.Scopes {
		if slices.Contains(c.Scopes, sc) && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	p := identity.OAuthRequest{
		ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scopes: scopes, State: req.State, Nonce: req.Nonce,
		ResponseType: string(req.ResponseType), ResponseMode: string(req.ResponseMode), Prompt: req.Prompt,
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: string(req.CodeChallengeMethod),
		Asked: s.now().Unix(), MaxAge: req.MaxAge, ACRValues: req.ACRValues,
	}
	if slices.Contains(req.Prompt, oidc.PromptLogin) {
		zero := uint(0)
		p.MaxAge = &zero
	}
	id, tok := identity.NewToken(p, "", identity.OAuthRequestTTL, s.now())
	p.ID = id
	if err := tok.SetPayload(p); err != nil {
		return nil, err
	}
	if err := s.ids().PutToken(ctx, tok); err != nil {
		return nil, err
	}
	return &opAuthRequest{p}, nil
}

// AuthRequestByID reads a waiting request (op's own callback; Frontdoor
// answers requests at <prefix>/oauth2/login instead).
func (s *opStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	tok, err := s.ids().ConsumeToken(ctx, identity.TokenOAuthRequest, identity.HashToken(id), s.now())
	if err != nil {
		return nil, err
	}
	if err := s.ids().PutToken(ctx, tok); err != nil {
		return nil, err
	}
	p, err := identity.PayloadOf[identity.OAuthRequest](tok)
	if err != nil {
		return nil, err
	}
	return &opAuthRequest{p}, nil
}

// AuthRequestByCode consumes the code: atomic single use in the store, so
// of two redemptions racing one wins; expired codes are not found.
func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	if code == "" {
		return nil, errors.New("no code")
	}
	tok, err := s.ids().ConsumeToken(ctx, identity.TokenOAuthCode, identity.HashToken(code), s.now())
	if err != nil {
		return nil, err
	}
	p, err := identity.PayloadOf[identity.OAuthRequest](tok)
	if err != nil {
		return nil, err
	}
	return &opAuthRequest{p}, nil
}

// SaveAuthCode stores the request the customer's session answered (handed
// over in the context by login) under the code op made for it.
func (s *opStorage) SaveAuthCode(ctx context.Context, id, code string) error {
	ar, ok := ctx.Value(answeredKey{}).(*opAuthRequest)
	if !ok || ar.ID != id || ar.Subject == "" {
		return errors.New("frontdoor: provider: no answered authorization request")
	}
	p := ar.OAuthRequest
	p.Code = true
	return s.ids().PutToken(ctx, identity.NewTokenUnder(identity.HashToken(code), p, p.Subject, s.now().Add(identity.OAuthCodeTTL)))
}

// DeleteAuthRequest: requests and codes are consumed when used.
func (s *opStorage) DeleteAuthRequest(context.Context, string) error { return nil }

var errNotIssued = errors.New("frontdoor: provider: token type not issued")

// CreateAccessToken is not used: Frontdoor's CodeExchange signs them.
func (s *opStorage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return "", time.Time{}, errNotIssued
}

// CreateAccessAndRefreshTokens: refresh tokens are a later increment.
func (s *opStorage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNotIssued
}

// TokenRequestByRefreshToken: no refresh tokens are issued yet.
func (s *opStorage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

// TerminateSession is not reached: TerminateSessionFromRequest ends the
// session (provider_logout.go).
func (s *opStorage) TerminateSession(context.Context, string, string) error { return errNotIssued }

// RevokeToken: access tokens are short JWTs tied to the session (sid);
// revoking the session is what ends them, in a later increment.
func (s *opStorage) RevokeToken(context.Context, string, string, string) *oidc.Error {
	return &oidc.Error{ErrorType: "unsupported_token_type"}
}

// GetRefreshTokenInfo: no refresh tokens are issued yet.
func (s *opStorage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// SigningKey is the assertion key ring's current key.
func (s *opStorage) SigningKey(context.Context) (op.SigningKey, error) {
	kid, key := s.o.h.app.backend.assertions.Ring().SigningKey()
	return signingKey{kid: kid, key: key}, nil
}

// SignatureAlgorithms: ES256, as the identity assertion.
func (s *opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

// KeySet is every published assertion key.
func (s *opStorage) KeySet(context.Context) ([]op.Key, error) {
	pub := s.o.h.app.backend.assertions.Ring().PublicKeys()
	keys := make([]op.Key, 0, len(pub))
	for _, k := range pub {
		keys = append(keys, publicKey{k})
	}
	return keys, nil
}

// GetClientByClientID returns a declared client.
func (s *opStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c := s.o.client(id)
	if c == nil {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	return &opClient{c: c, login: s.o.h.Prefix + oauthLogin}, nil
}

// dummySecret is compared against when the client is unknown or public, so
// the answer takes as long as for a wrong secret.
var dummySecret = &ProviderClient{secretSum: make([]byte, 32)}

// AuthorizeClientIDSecret checks a confidential client's secret in
// constant time.
func (s *opStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c := s.o.client(id)
	now := s.o.h.app.backend.clock.Now()
	if c == nil || !c.confidential() {
		dummySecret.secretMatches(secret, now)
		return oidc.ErrInvalidClient()
	}
	if !c.secretMatches(secret, now) {
		return oidc.ErrInvalidClient()
	}
	return nil
}

// setUserinfo fills the claims the scopes ask for (nil: all of them).
func (s *opStorage) setUserinfo(ctx context.Context, ui *oidc.UserInfo, userID string, scopes []string) error {
	c, err := s.ids().Customer(ctx, userID)
	if err != nil {
		return err
	}
	ui.Subject = c.ID
	if (scopes == nil || slices.Contains(scopes, oidc.ScopeEmail)) && c.Email != "" {
		ui.Email, ui.EmailVerified = c.Email, oidc.Bool(c.EmailVerified)
	}
	// A number is a claim once it is verified (a customer who signed up
	// by phone may have no address at all).
	if (scopes == nil || slices.Contains(scopes, oidc.ScopePhone)) && c.Phone != "" && c.PhoneVerified {
		ui.PhoneNumber, ui.PhoneNumberVerified = c.Phone, true
	}
	if scopes == nil || slices.Contains(scopes, oidc.ScopeProfile) {
		ui.Name = c.Name
	}
	return nil
}

// SetUserinfoFromScopes fills the ID token's claims.
func (s *opStorage) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, _ string, scopes []string) error {
	if scopes == nil {
		scopes = []string{}
	}
	return s.setUserinfo(ctx, ui, userID, scopes)
}

// SetUserinfoFromToken answers userinfo for a verified access token.
func (s *opStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, _, subject, _ string) error {
	return s.setUserinfo(ctx, ui, subject, nil)
}

// SetIntrospectionFromToken answers introspection for a verified token.
func (s *opStorage) SetIntrospectionFromToken(ctx context.Context, r *oidc.IntrospectionResponse, _, subject, clientID string) error {
	var ui oidc.UserInfo
	if err := s.setUserinfo(ctx, &ui, subject, nil); err != nil {
		return err
	}
	r.SetUserInfo(&ui)
	r.Active = true
	r.ClientID = clientID
	return nil
}

// GetPrivateClaimsFromScopes: no private claims.
func (s *opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID: JWT client authentication is not offered.
func (s *opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotIssued
}

// ValidateJWTProfileScopes: the JWT profile grant is not offered.
func (s *opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotIssued
}

// Health is the store's.
func (s *opStorage) Health(context.Context) error { return nil }

type signingKey struct {
	kid string
	key any
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.kid }

type publicKey struct{ k jose.JSONWebKey }

func (k publicKey) ID() string                         { return k.k.KeyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.k.Key }

// opAuthRequest is op's view of a stored request.
type opAuthRequest struct{ identity.OAuthRequest }

func (a *opAuthRequest) GetID() string          { return a.ID }
func (a *opAuthRequest) GetACR() string         { return a.ACR }
func (a *opAuthRequest) GetAMR() []string       { return a.AMR }
func (a *opAuthRequest) GetAudience() []string  { return []string{a.ClientID} }
func (a *opAuthRequest) GetAuthTime() time.Time { return a.AuthTime }
func (a *opAuthRequest) GetClientID() string    { return a.ClientID }
func (a *opAuthRequest) GetNonce() string       { return a.Nonce }
func (a *opAuthRequest) GetRedirectURI() string { return a.RedirectURI }
func (a *opAuthRequest) GetScopes() []string    { return a.Scopes }
func (a *opAuthRequest) GetState() string       { return a.State }
func (a *opAuthRequest) GetSubject() string     { return a.Subject }
func (a *opAuthRequest) Done() bool             { return a.Subject != "" }
func (a *opAuthRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.ResponseType)
}
func (a *opAuthRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.ResponseMode)
}
func (a *opAuthRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: oidc.CodeChallengeMethod(a.CodeChallengeMethod)}
}

// opClient is op's view of a declared client: a web application, code
// flow only, redirect URIs compared exactly.
type opClient struct {
	c     *ProviderClient
	login string
}

func (c *opClient) GetID() string                    { return c.c.ID }
func (c *opClient) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *opClient) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }
func (c *opClient) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeWeb
}
func (c *opClient) AuthMethod() oidc.AuthMethod {
	if c.c.confidential() {
		return oidc.AuthMethodBasic // client_secret_post is accepted too
	}
	return oidc.AuthMethodNone
}
func (c *opClient) ResponseTypes() []oidc.ResponseType {
	if !c.c.allows(grantCode) {
		return nil
	}
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *opClient) GrantTypes() []oidc.GrantType {
	var g []oidc.GrantType
	if c.c.allows(grantCode) {
		g = append(g, oidc.GrantTypeCode)
	}
	if c.c.allows(grantDevice) {
		g = append(g, oidc.GrantTypeDeviceCode)
	}
	if c.c.allows(grantService) {
		g = append(g, oidc.GrantTypeClientCredentials)
	}
	if c.c.allows(grantExchange) {
		g = append(g, oidc.GrantTypeTokenExchange)
	}
	return append(g, oidc.GrantTypeRefreshToken)
}
func (c *opClient) LoginURL(id string) string { return c.login + "?id=" + url.QueryEscape(id) }
func (c *opClient) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeJWT
}
func (c *opClient) IDTokenLifetime() time.Duration { return idTokenTTL }
func (c *opClient) DevMode() bool                  { return false }
func (c *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed keeps the client's API scopes (orders:read) in its
// authorization requests: op drops any scope it does not know otherwise.
func (c *opClient) IsScopeAllowed(s string) bool         { return slices.Contains(c.c.Scopes, s) }
func (c *opClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *opClient) ClockSkew() time.Duration             { return 0 }

// Interface guards
var (
	_ op.Storage     = (*opStorage)(nil)
	_ op.Client      = (*opClient)(nil)
	_ op.AuthRequest = (*opAuthRequest)(nil)
	_ op.Server      = (*opServer)(nil)
)
