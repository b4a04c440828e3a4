package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// A site with a provider block is an OpenID Provider: issuer = the site's
// origin, the protocol done by zitadel/oidc's op package (OpenID-certified)
// over Frontdoor's stores (provider_storage.go). What op does not do the
// way Frontdoor wants is done here around it:
//   - the authorization request is answered by the site's own session
//     cookie at <prefix>/oauth2/login (the client's "login URL");
//   - the code exchange is Frontdoor's, so that the access token is an
//     RFC 9068 JWT (typ at+jwt) signed with the assertion keys, and PKCE is
//     checked for every client;
//   - the authorization response carries iss (RFC 9207), added to op's
//     redirects to the client.

// Paths of the provider, under the site's prefix, and its discovery.
const (
	discoveryPath     = "/.well-known/openid-configuration"
	oauthDir          = "/oauth2"
	oauthLogin        = oauthDir + "/login"
	accessTokenTTL    = 10 * time.Minute
	idTokenTTL        = 10 * time.Minute
	accessTokenHeader = "at+jwt"
)

// siteOP is one site's OpenID Provider, rebuilt with the handler on every
// config load; its state lives in the store.
type siteOP struct {
	h       *Handler
	issuer  string
	clients map[string]*ProviderClient
	prov    *op.Provider
	web     http.Handler
	st      *opStorage
	srv     *opServer
	dir     string // <prefix>/oauth2
}

// buildProvider makes the site's OpenID Provider, once the origin is known.
func (h *Handler) buildProvider() error {
	if h.Provider == nil {
		return nil
	}
	if err := h.Provider.provision(); err != nil {
		return err
	}
	o := &siteOP{h: h, issuer: h.origin, clients: map[string]*ProviderClient{}, dir: h.Prefix + oauthDir}
	for _, c := range h.Provider.Clients {
		o.clients[c.ID] = c
	}
	o.st = &opStorage{o: o}
	cfg := &op.Config{
		CodeMethodS256: true,
		// Where end_session leads (no post_logout_redirect_uri is
		// registered yet).
		DefaultLogoutRedirectURI: h.origin + "/",
		AuthMethodPost:           true,
		SupportedScopes:          providerScopes,
		SupportedClaims:          []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "azp", "email", "email_verified", "name"},
	}
	// Encrypts op's own opaque tokens, which Frontdoor never issues; codes
	// are looked up in the store by their hash, so nodes need not share it.
	if _, err := rand.Read(cfg.CryptoKey[:]); err != nil {
		return err
	}
	ep := op.Endpoints{
		Authorization: op.NewEndpoint(o.dir + "/authorize"),
		Token:         op.NewEndpoint(o.dir + "/token"),
		Userinfo:      op.NewEndpoint(o.dir + "/userinfo"),
		Introspection: op.NewEndpoint(o.dir + "/introspect"),
		Revocation:    op.NewEndpoint(o.dir + "/revoke"),
		JwksURI:       op.NewEndpoint(o.dir + "/jwks"),
		EndSession:    op.NewEndpoint(o.dir + "/end_session"),
		// Answered for every client, advertised when one may use it
		// (provider_device.go).
		DeviceAuthorization: op.NewEndpoint(o.dir + "/device_authorization"),
	}
	var err error
	o.prov, err = op.NewProvider(cfg, o.st, op.StaticIssuer(o.issuer),
		op.WithCustomAuthEndpoint(ep.Authorization), op.WithCustomTokenEndpoint(ep.Token),
		op.WithCustomUserinfoEndpoint(ep.Userinfo), op.WithCustomIntrospectionEndpoint(ep.Introspection),
		op.WithCustomRevocationEndpoint(ep.Revocation), op.WithCustomKeysEndpoint(ep.JwksURI),
		op.WithCustomEndSessionEndpoint(ep.EndSession), op.WithCustomDeviceAuthorizationEndpoint(ep.DeviceAuthorization))
	if err != nil {
		return fmt.Errorf("frontdoor: provider: %w", err)
	}
	srv := &opServer{LegacyServer: op.NewLegacyServer(o.prov, ep), o: o}
	o.srv = srv
	o.web = op.RegisterServer(srv, ep, op.WithHTTPMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(op.ContextWithIssuer(r.Context(), o.issuer)))
		})
	}))
	h.op = o
	return nil
}

// owns reports whether the provider answers path p.
func (o *siteOP) owns(p string) bool {
	return p == discoveryPath || len(p) > len(o.dir) && p[len(o.dir)] == '/' && strings.HasPrefix(p, o.dir)
}

// serve answers the provider's endpoints.
func (o *siteOP) serve(w http.ResponseWriter, r *http.Request) error {
	// Invariant 4 on the provider's answers too: JSON, redirects and op's
	// error pages. (The strict policy also keeps response_mode=form_post,
	// which is not advertised, from running its auto-submitting page.)
	securityHeaders(w.Header(), "", false)
	// The store work of one request is bounded, as on every other route.
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(o.h.app.StoreTimeout))
	defer cancel()
	r = withPeerCert(r.WithContext(op.ContextWithIssuer(ctx, o.issuer)))
	r, ok := o.defend(w, r)
	if !ok {
		return nil
	}
	switch r.URL.Path { // DPoP proofs (provider_dpop.go)
	case o.dir + "/token":
		r, ok = o.dpopTokenRequest(w, r)
	case o.dir + "/userinfo":
		r, ok = o.dpopUserinfo(w, r)
	case o.dir + "/introspect":
		ok = !o.certIntrospection(w, r)
	}
	if !ok {
		return nil
	}
	if r.URL.Path == o.dir+"/authorize" || r.URL.Path == o.h.Prefix+oauthLogin {
		w = &issWriter{ResponseWriter: w, iss: o.issuer, own: o.issuer + o.h.Prefix + "/"}
	}
	if r.URL.Path == o.h.Prefix+oauthLogin {
		return o.login(w, r)
	}
	o.web.ServeHTTP(w, r)
	return nil
}

// defend puts the provider's endpoints under the edge defence (route
// oauth), before op or the store sees the request: counted per address,
// network and, when the request names a registered client, per client.
// Discovery and the keys are static and not counted. It answers the
// request itself (429, 403, 400) and returns false when it goes no
// further.
func (o *siteOP) defend(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if r.URL.Path == discoveryPath || r.URL.Path == o.dir+"/jwks" {
		return r, true
	}
	client := r.URL.Query().Get("client_id")
	if r.Method == http.MethodPost {
		// Parsed here once (op reads the parsed form), bounded like every
		// form of the site.
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			_ = writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "malformed form"})
			return r, false
		}
		if id := r.PostForm.Get("client_id"); id != "" {
			client = id
		} else if a := r.PostForm.Get("client_assertion"); a != "" {
			client = assertionIssuer(a) // counted, not trusted: checked later
		} else if id, _, ok := r.BasicAuth(); ok {
			if u, err := url.QueryUnescape(id); err == nil {
				client = u
			}
		}
	}
	def := defence{route: botdefense.RouteOAuth}
	if o.client(client) != nil {
		def.account = "oauth client " + client
	}
	return o.h.defend(w, r, def)
}

// login answers an authorization request with the site's session: the
// customer signs in first if they have none (prompt=none: login_required
// to the client instead).
func (o *siteOP) login(w http.ResponseWriter, r *http.Request) error {
	h := o.h
	// GET only: a HEAD (a prefetcher) would use the request up.
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		return writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
	id := r.URL.Query().Get("id")
	tok, req, err := o.takeRequest(w, r, id)
	if tok == nil {
		return err
	}
	b := h.app.backend
	ctx := r.Context()
	ar := &opAuthRequest{req}
	s, err := h.currentSession(r)
	if err != nil {
		_ = b.identity.PutToken(ctx, tok)
		return h.unavailable(w, r)
	}
	if s != nil && s.Actor != "" {
		// A support agent viewing as the customer signs no app in.
		op.AuthRequestError(w, r, ar, oidc.ErrAccessDenied().WithDescription("a support agent's view cannot sign apps in"), o.prov)
		return nil
	}
	if s == nil {
		if slices.Contains(req.Prompt, oidc.PromptNone) {
			op.AuthRequestError(w, r, ar, oidc.ErrLoginRequired(), o.prov)
			return nil
		}
		// Kept for the customer's return after signing in.
		if err := b.identity.PutToken(ctx, tok); err != nil {
			h.logger.Error("provider: keeping an authorization request", zap.Error(err))
			return h.unavailable(w, r)
		}
		http.Redirect(w, r, h.Prefix+"/login?rd="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return nil
	}
	c := o.client(req.ClientID)
	if c == nil {
		op.AuthRequestError(w, r, ar, oidc.ErrInvalidClient(), o.prov)
		return nil
	}
	if after, aal, unmet := askedOf(req, s); unmet {
		// max_age, prompt=login or acr_values ask more than the session
		// has: the provider's step-up, then back here.
		if slices.Contains(req.Prompt, oidc.PromptNone) {
			op.AuthRequestError(w, r, ar, oidc.ErrLoginRequired().WithDescription("a new or stronger sign-in is needed"), o.prov)
			return nil
		}
		if err := b.identity.PutToken(ctx, tok); err != nil {
			h.logger.Error("provider: keeping an authorization request", zap.Error(err))
			return h.unavailable(w, r)
		}
		back := h.Prefix + oauthLogin + "?" + url.Values{"id": {id}, "aal": {aal}, "after": {strconv.FormatInt(after, 10)}}.Encode()
		http.Redirect(w, r, h.Prefix+"/stepup?rd="+url.QueryEscape(back), http.StatusFound)
		return nil
	}
	if !c.FirstParty {
		need, err := o.consentNeeded(ctx, s.UserID, req)
		if err != nil {
			_ = b.identity.PutToken(ctx, tok)
			h.logger.Error("provider: reading the customer's apps", zap.Error(err))
			return h.unavailable(w, r)
		}
		if need {
			if slices.Contains(req.Prompt, oidc.PromptNone) {
				op.AuthRequestError(w, r, ar, &oidc.Error{ErrorType: "consent_required", Description: "the customer has not allowed this client"}, o.prov)
				return nil
			}
			// Kept for the customer's answer.
			if err := b.identity.PutToken(ctx, tok); err != nil {
				h.logger.Error("provider: keeping an authorization request", zap.Error(err))
				return h.unavailable(w, r)
			}
			return o.askConsent(w, r, c, req)
		}
	}
	o.answer(w, r, req, s)
	return nil
}

// answer hands the client its code for the customer's session s.
func (o *siteOP) answer(w http.ResponseWriter, r *http.Request, req identity.OAuthRequest, s *session.Session) {
	req.Subject, req.SID, req.AuthTime, req.AMR, req.ACR, req.SessionAt = s.UserID, session.SID(s), s.AuthTime, s.AMR, s.ACR, s.CreatedAt
	ar := &opAuthRequest{req}
	// SaveAuthCode stores the answered request under the code op makes.
	op.AuthResponse(ar, o.prov, w, r.WithContext(context.WithValue(r.Context(), answeredKey{}, ar)))
}

// takeRequest consumes the waiting authorization request id (single
// use: whoever puts it back keeps it waiting). With none — unknown, used,
// expired, malformed — or a store failure it answers the request itself
// and returns a nil token.
func (o *siteOP) takeRequest(w http.ResponseWriter, r *http.Request, id string) (*identity.Token, identity.OAuthRequest, error) {
	h, b := o.h, o.h.app.backend
	if _, err := identity.ParseTokenSecret(id); err != nil {
		return nil, identity.OAuthRequest{}, h.message(w, r, http.StatusBadRequest, "page.not_found.title", "page.not_found", "/", "link.home")
	}
	tok, err := b.identity.ConsumeToken(r.Context(), identity.TokenOAuthRequest, identity.HashToken(id), b.clock.Now())
	if errors.Is(err, identity.ErrNotFound) {
		return nil, identity.OAuthRequest{}, h.message(w, r, http.StatusBadRequest, "page.not_found.title", "page.not_found", "/", "link.home")
	}
	if err != nil {
		h.logger.Error("provider: loading an authorization request", zap.Error(err))
		return nil, identity.OAuthRequest{}, h.unavailable(w, r)
	}
	req, err := identity.PayloadOf[identity.OAuthRequest](tok)
	if err != nil {
		return nil, identity.OAuthRequest{}, h.unavailable(w, r)
	}
	return tok, req, nil
}

// answeredKey carries the answered request to SaveAuthCode.
type answeredKey struct{}

// issWriter adds iss (RFC 9207) to the authorization response: a redirect
// to the client (not to one of the site's own pages) that carries a code
// or an error.
type issWriter struct {
	http.ResponseWriter
	iss, own string
}

func (w *issWriter) WriteHeader(code int) {
	if code >= 300 && code < 400 {
		if loc := w.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, w.own) {
			if u, err := url.Parse(loc); err == nil && u.IsAbs() {
				q := u.Query()
				if (q.Has("code") || q.Has("error")) && !q.Has("iss") {
					sep := "&"
					if u.RawQuery == "" {
						sep = ""
					}
					u.RawQuery += sep + "iss=" + url.QueryEscape(w.iss)
					w.Header().Set("Location", u.String())
				}
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *issWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// opServer is op's server with Frontdoor's code exchange and discovery.
type opServer struct {
	*op.LegacyServer
	o *siteOP
}

// discovery adds what op's configuration type has no field for.
type discovery struct {
	*oidc.DiscoveryConfiguration
	IssParameter bool `json:"authorization_response_iss_parameter_supported"`
	// MTLSBound: tokens of a certificate client are bound to it (RFC 8705).
	MTLSBound bool     `json:"tls_client_certificate_bound_access_tokens"`
	DPoPAlgs  []string `json:"dpop_signing_alg_values_supported"`
}

// Discovery advertises only what the provider does: code flow, S256.
func (s *opServer) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	resp, err := s.LegacyServer.Discovery(ctx, r)
	if err != nil {
		return nil, err
	}
	d, ok := resp.Data.(*oidc.DiscoveryConfiguration)
	if !ok {
		return nil, errors.New("frontdoor: provider: unexpected discovery document")
	}
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{"query"}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	if s.o.deviceGranted() {
		d.GrantTypesSupported = append(d.GrantTypesSupported, oidc.GrantTypeDeviceCode)
	} else {
		d.DeviceAuthorizationEndpoint = ""
	}
	if s.o.exchangeGranted() {
		d.GrantTypesSupported = append(d.GrantTypesSupported, oidc.GrantTypeTokenExchange)
	}
	d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
	s.o.serviceDiscovery(d)
	resp.Data = discovery{DiscoveryConfiguration: d, IssParameter: true, MTLSBound: true, DPoPAlgs: dpopAlgNames()}
	return resp, nil
}

// CodeExchange redeems a code: consumed from the store first (single use,
// atomic), then checked against the client, the redirect URI and the PKCE
// verifier — a code shown to the wrong party is burnt.
func (s *opServer) CodeExchange(ctx context.Context, r *op.ClientRequest[oidc.AccessTokenRequest]) (*op.Response, error) {
	authReq, err := op.AuthRequestByCode(ctx, s.o.st, r.Data.Code)
	if err != nil {
		return nil, err
	}
	ar, ok := authReq.(*opAuthRequest)
	if !ok || r.Client.GetID() != ar.ClientID {
		return nil, oidc.ErrInvalidGrant().WithDescription("code was issued to another client")
	}
	if r.Data.RedirectURI != ar.RedirectURI {
		return nil, oidc.ErrInvalidGrant().WithDescription("redirect_uri does not match the authorization request")
	}
	if ar.CodeChallenge == "" || ar.CodeChallengeMethod != string(oidc.CodeChallengeMethodS256) {
		return nil, oidc.ErrInvalidGrant().WithDescription("code has no S256 challenge")
	}
	if err := op.AuthorizeCodeChallenge(r.Data.CodeVerifier, ar.GetCodeChallenge()); err != nil {
		return nil, err
	}
	return s.o.issue(ctx, ar, r.Client, r.Data.Code)
}

// issue hands the client the tokens of a request its customer answered
// (an authorization code, an approved device request): the access token,
// the ID token (with c_hash when code is not ""), and a refresh token
// when the grant holds offline_access.
func (o *siteOP) issue(ctx context.Context, ar *opAuthRequest, client op.Client, code string) (*op.Response, error) {
	if err := o.agentOf(ctx, ar); err != nil {
		return nil, err
	}
	at, err := o.accessToken(ctx, ar)
	if err != nil {
		return nil, err
	}
	idt, err := op.CreateIDToken(ctx, o.issuer, ar, client.IDTokenLifetime(), at, code, o.st, client)
	if err != nil {
		return nil, err
	}
	rt, family, err := o.refreshFor(ctx, ar)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	// An app that holds lasting access (a refresh token) is on the
	// account page from now on; a site's single sign-on, whose tokens
	// last minutes, is not.
	if family != "" {
		if err := o.h.flows.AppUsed(ctx, ar.Subject, o.issuer, ar.ClientID, ar.Scopes, family); err != nil {
			return nil, oidc.ErrServerError().WithParent(err)
		}
		o.h.app.backend.forgetCustomer(ar.Subject)
	}
	if err := o.noteClientSession(ctx, ar); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return op.NewResponse(&oidc.AccessTokenResponse{
		AccessToken: at, IDToken: idt, RefreshToken: rt, TokenType: tokenTypeFor(ctx),
		ExpiresIn: uint64(accessTokenTTL.Seconds()), Scope: ar.Scopes,
	}), nil
}

// accessTokenClaims is the RFC 9068 access token, with the Frontdoor
// session it was issued from (sid) so that revoking the session can end it.
type accessTokenClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	ID       string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	AuthTime int64    `json:"auth_time,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	// SID is the Frontdoor session family the token was issued from;
	// empty for a service's own token (client credentials: sub is the
	// client, no customer).
	SID string `json:"sid,omitempty"`
	// Act names who acts for the customer (RFC 8693 §4.1): an agent
	// client, itself perhaps acting for another (nested).
	Act *actClaim `json:"act,omitempty"`
	// Cnf binds the token to a key its presenter must prove (RFC 9449
	// jkt, RFC 8705 x5t#S256).
	Cnf *cnfClaim `json:"cnf,omitempty"`
	// AgentGrant names the customer's grant to the agent in act: ending
	// it ends the token (provider_agents.go).
	AgentGrant string `json:"agent_grant,omitempty"`
}

// actClaim is RFC 8693's actor claim.
type actClaim struct {
	Subject string    `json:"sub"`
	Act     *actClaim `json:"act,omitempty"`
}

// cnfClaim is the confirmation claim (RFC 7800) of a sender-constrained
// token.
type cnfClaim struct {
	// JKT is the SHA-256 thumbprint of the DPoP key (RFC 9449).
	JKT string `json:"jkt,omitempty"`
	// X5T is the SHA-256 thumbprint of the client's TLS certificate
	// (RFC 8705).
	X5T string `json:"x5t#S256,omitempty"`
}

// accessToken signs an at+jwt with the assertion keys. Its audience is
// the issuer (the default resource) until resource indicators land. A
// request that proved a DPoP key gets a token bound to it (dpopCnf).
func (o *siteOP) accessToken(ctx context.Context, ar *opAuthRequest) (string, error) {
	now := o.h.app.backend.clock.Now()
	claims := accessTokenClaims{
		Issuer: o.issuer, Subject: ar.Subject, Audience: []string{o.issuer}, Expiry: now.Add(accessTokenTTL).Unix(),
		IssuedAt: now.Unix(), ID: randomID(), ClientID: ar.ClientID, Scope: strings.Join(ar.Scopes, " "),
		AuthTime: ar.AuthTime.Unix(), ACR: ar.ACR, AMR: ar.AMR, SID: ar.SID, Cnf: dpopCnf(ctx),
	}
	agentClaims(&claims, ar)
	return o.signJWT(accessTokenHeader, claims)
}

// signJWT signs claims as a compact JWS, ES256 with the assertion keys'
// current key (kid), header typ typ: the provider's own tokens (access,
// logout) beside the ID tokens op makes with the same keys.
func (o *siteOP) signJWT(typ string, claims any) (string, error) {
	kid, key := o.h.app.backend.assertions.Ring().SigningKey()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("frontdoor: provider: %s signer: %w", typ, err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("frontdoor: provider: sign %s: %w", typ, err)
	}
	return jws.CompactSerialize()
}

// randomID is 128 random bits, base64url.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
