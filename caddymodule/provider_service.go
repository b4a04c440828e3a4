package caddymodule

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// Service clients (machine to machine) at the provider: a client declared
// with `grant client_credentials` gets an access token for itself — sub
// and client_id the client, no customer, no session (sid), no refresh or
// ID token — for the API scopes it asks and was given. It authenticates
// as a confidential client does, one way per client:
//   - a secret (client_secret_basic or client_secret_post; a registered
//     client's rotated secret keeps working for a day, provider_clients.go);
//   - `jwks <file>`: private_key_jwt (RFC 7523, OpenID Connect Core §9), a
//     client_assertion signed by one of those keys (ES256, RS256, PS256,
//     EdDSA), single use within its life of at most five minutes;
//   - `certificate <thumbprint>`: self_signed_tls_client_auth (RFC 8705),
//     the TLS client certificate with that SHA-256 thumbprint (the site
//     asks for certificates: tls { client_auth { mode request } }). Its
//     tokens carry cnf.x5t#S256 and are taken at the edge only over a
//     connection with that certificate (provider_service_edge.go).
// A client with jwks or a certificate authenticates that way for every
// grant it may use; a secret is not taken from it.

// serviceAssertionAlgs are the algorithms a client assertion may be
// signed with: asymmetric only (never HS*, never none).
var serviceAssertionAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}

const (
	// clientAssertionLife is how far ahead a client assertion's exp may
	// be.
	clientAssertionLife = 5 * time.Minute
	// authMethodSelfSignedTLS is RFC 8705's name for a client known by
	// its certificate.
	authMethodSelfSignedTLS = "self_signed_tls_client_auth"
	// maxJWKSBytes bounds a client's key file.
	maxJWKSBytes = 64 << 10
)

// parseClientAuth reads `jwks <file>` or `certificate <thumbprint>` in a
// client block, checked at once so that the error names the line.
func parseClientAuth(d *caddyfile.Dispenser, c *ProviderClient) error {
	key := d.Val()
	var v string
	if !d.AllArgs(&v) || v == "" {
		if key == "jwks" {
			return d.Errf("frontdoor: provider: client %s: jwks needs one file (a JSON Web Key Set of the client's public keys)", c.ID)
		}
		return d.Errf("frontdoor: provider: client %s: certificate needs one SHA-256 thumbprint (hex or base64url)", c.ID)
	}
	if key == "jwks" {
		if c.JWKS != "" {
			return d.Errf("frontdoor: provider: client %s: jwks is given twice", c.ID)
		}
		if _, err := loadClientJWKS(v); err != nil {
			return d.Errf("frontdoor: provider: client %s: jwks %s: %v", c.ID, v, err)
		}
		c.JWKS = v
		return nil
	}
	if c.Certificate != "" {
		return d.Errf("frontdoor: provider: client %s: certificate is given twice", c.ID)
	}
	if _, err := parseThumbprint(v); err != nil {
		return d.Errf("frontdoor: provider: client %s: certificate %q: %v", c.ID, v, err)
	}
	c.Certificate = v
	return nil
}

// checkAuth: one way to authenticate at most, and one at least for a
// client that may use client_credentials.
func (c *ProviderClient) checkAuth() error {
	n := 0
	for _, v := range []string{c.Secret, c.JWKS, c.Certificate} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return errors.New("secret, jwks and certificate are exclusive (one way to authenticate)")
	}
	if n == 0 && c.allows(grantService) {
		return errors.New("grant client_credentials needs a confidential client (secret, jwks or certificate)")
	}
	return nil
}

// provisionAuth reads the client's key set and thumbprint.
func (c *ProviderClient) provisionAuth() error {
	if err := c.checkAuth(); err != nil {
		return err
	}
	c.jwks, c.x5t = nil, nil
	if c.JWKS != "" {
		keys, err := loadClientJWKS(c.JWKS)
		if err != nil {
			return fmt.Errorf("jwks %s: %w", c.JWKS, err)
		}
		c.jwks = keys
	}
	if c.Certificate != "" {
		sum, err := parseThumbprint(c.Certificate)
		if err != nil {
			return fmt.Errorf("certificate %q: %w", c.Certificate, err)
		}
		c.x5t = sum
	}
	return nil
}

// loadClientJWKS reads a JSON Web Key Set of public signing keys: RSA of
// 2048 bits or more, EC P-256/384/521, Ed25519. A private or symmetric
// key is an error (the file is the client's to keep, not the gateway's).
func loadClientJWKS(path string) ([]jose.JSONWebKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	return parseClientJWKS(b)
}

// parseClientJWKS is loadClientJWKS of the set's bytes (a file's, or a
// client registered through the admin API).
func parseClientJWKS(b []byte) ([]jose.JSONWebKey, error) {
	if len(b) > maxJWKSBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("holds no key")
	}
	for i, k := range set.Keys {
		name := k.KeyID
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %s is not a public key (give the client's public keys only)", name)
		}
		if !k.Valid() {
			return nil, fmt.Errorf("key %s is not valid", name)
		}
		switch pk := k.Key.(type) {
		case *rsa.PublicKey:
			if pk.N.BitLen() < 2048 {
				return nil, fmt.Errorf("key %s: RSA keys of 2048 bits or more", name)
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			return nil, fmt.Errorf("key %s: RSA, EC or Ed25519 keys only", name)
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, fmt.Errorf("key %s: use %q (want sig)", name, k.Use)
		}
		if k.Algorithm != "" && !slices.Contains(serviceAssertionAlgs, jose.SignatureAlgorithm(k.Algorithm)) {
			return nil, fmt.Errorf("key %s: alg %s (want ES256, RS256, PS256 or EdDSA)", name, k.Algorithm)
		}
	}
	return set.Keys, nil
}

// parseThumbprint reads a SHA-256 certificate thumbprint: 64 hex digits
// (colons allowed, as openssl prints them) or 43 base64url characters.
func parseThumbprint(s string) ([]byte, error) {
	h := strings.ReplaceAll(s, ":", "")
	if len(h) == 64 {
		if b, err := hex.DecodeString(h); err == nil {
			return b, nil
		}
	}
	if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil && len(b) == sha256.Size {
		return b, nil
	}
	return nil, errors.New("want the certificate's SHA-256 thumbprint: 64 hex digits or 43 base64url characters")
}

// peerCertKey carries the request's TLS client certificate to op's
// handlers (client authentication).
type peerCertKey struct{}

// withPeerCert puts the request's TLS client certificate, if any, in its
// context.
func withPeerCert(r *http.Request) *http.Request {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), peerCertKey{}, r.TLS.PeerCertificates[0]))
}

// certMatches reports whether cert has the SHA-256 thumbprint sum
// (constant time).
func certMatches(cert *x509.Certificate, sum []byte) bool {
	if cert == nil || len(sum) != sha256.Size {
		return false
	}
	got := sha256.Sum256(cert.Raw)
	return subtle.ConstantTimeCompare(got[:], sum) == 1
}

// VerifyClient authenticates the client of a token, device or revocation
// request: by its client assertion (private_key_jwt), its TLS client
// certificate, or its secret; op's own check does the rest (public
// clients, secrets for the other grants).
func (s *opServer) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	o := s.o
	cc := r.Data
	c := o.client(cc.ClientID)
	// op hands the client_credentials grant's client to a storage
	// interface Frontdoor does not implement: its secret is checked here.
	if cc.ClientAssertion != "" || cc.ClientAssertionType != "" || (c != nil && (c.jwks != nil || c.x5t != nil)) ||
		oidc.GrantType(r.Form.Get("grant_type")) == oidc.GrantTypeClientCredentials {
		c, err := o.authenticatedClient(ctx, cc)
		if err != nil {
			return nil, err
		}
		return o.opClient(c), nil
	}
	return s.LegacyServer.VerifyClient(ctx, r)
}

// authenticatedClient is the confidential client cc authenticates, the
// one way it may: a client assertion (a client with keys), its TLS
// certificate (a client with a certificate), or its secret.
func (o *siteOP) authenticatedClient(ctx context.Context, cc *op.ClientCredentials) (*ProviderClient, error) {
	if cc == nil {
		cc = new(op.ClientCredentials)
	}
	if cc.ClientAssertion != "" || cc.ClientAssertionType != "" {
		return o.assertedClient(ctx, cc)
	}
	c := o.client(cc.ClientID)
	switch {
	case c != nil && c.jwks != nil:
		return nil, oidc.ErrInvalidClient().WithDescription("this client authenticates with a client_assertion (private_key_jwt)")
	case c != nil && c.x5t != nil:
		cert, _ := ctx.Value(peerCertKey{}).(*x509.Certificate)
		if cc.ClientSecret != "" || !certMatches(cert, c.x5t) {
			return nil, oidc.ErrInvalidClient().WithDescription("this client authenticates with its TLS client certificate")
		}
		return c, nil
	}
	if err := o.st.AuthorizeClientIDSecret(ctx, cc.ClientID, cc.ClientSecret); err != nil {
		return nil, err
	}
	return c, nil
}

// certIntrospection answers the introspection request of a certificate
// client (RFC 8705) and reports whether it did: op's handler wants a
// secret or an assertion before it asks the server, so a client whose
// one credential is its TLS certificate is answered here, by the same
// Introspect (which checks the certificate). Any other request is op's.
func (o *siteOP) certIntrospection(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "" {
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return false // op answers it
	}
	if r.PostForm.Has("client_secret") || r.PostForm.Has("client_assertion") || r.PostForm.Has("client_assertion_type") {
		return false
	}
	c := o.client(r.PostForm.Get("client_id"))
	if c == nil || c.x5t == nil {
		return false
	}
	token := r.PostForm.Get("token")
	if token == "" {
		op.WriteError(w, r, oidc.ErrInvalidRequest().WithDescription("token missing"), nil)
		return true
	}
	resp, err := o.srv.Introspect(r.Context(), &op.Request[op.IntrospectionRequest]{Method: r.Method, URL: r.URL, Header: r.Header,
		Form: r.Form, PostForm: r.PostForm, Data: &op.IntrospectionRequest{ClientCredentials: &op.ClientCredentials{ClientID: c.ID},
			IntrospectionRequest: &oidc.IntrospectionRequest{Token: token}}})
	if err != nil {
		op.WriteError(w, r, err, nil)
		return true
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Cache-Control", "no-store")
	if err := writeJSON(w, http.StatusOK, resp.Data); err != nil {
		o.h.logger.Debug("provider: writing an introspection answer", zap.Error(err))
	}
	return true
}

// opClient is op's view of c.
func (o *siteOP) opClient(c *ProviderClient) op.Client {
	return &opClient{c: c, login: o.h.Prefix + oauthLogin}
}

// assertedClient checks a private_key_jwt client assertion and returns
// its client: iss = sub = a client with a key set (and client_id, when
// sent), signed by one of its keys with an asymmetric algorithm, aud the
// token endpoint or the issuer, exp no more than five minutes ahead, jti
// used once (across nodes: the challenge store's single-use records).
func (o *siteOP) assertedClient(ctx context.Context, cc *op.ClientCredentials) (*ProviderClient, error) {
	bad := func(why string) error {
		o.h.logger.Info("provider: client assertion refused", zap.String("client", cc.ClientID), zap.String("why", why))
		return oidc.ErrInvalidClient().WithDescription("client assertion refused: %s", why)
	}
	if cc.ClientAssertionType != oidc.ClientAssertionTypeJWTAssertion || cc.ClientAssertion == "" {
		return nil, bad("client_assertion_type must be " + oidc.ClientAssertionTypeJWTAssertion)
	}
	if cc.ClientSecret != "" {
		return nil, bad("one way to authenticate, not a secret too")
	}
	tok, err := jwt.ParseSigned(cc.ClientAssertion, serviceAssertionAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, bad("not a JWS signed with ES256, RS256, PS256 or EdDSA")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, bad("malformed claims")
	}
	c := o.client(unverified.Issuer)
	if c == nil || c.jwks == nil {
		return nil, bad("iss is not a client with a key set")
	}
	if cc.ClientID != "" && cc.ClientID != c.ID {
		return nil, bad("client_id is not the assertion's iss")
	}
	hdr := tok.Headers[0]
	var claims jwt.Claims
	verified := false
	for _, k := range c.jwks {
		if hdr.KeyID != "" && k.KeyID != hdr.KeyID {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != hdr.Algorithm {
			continue
		}
		if err := tok.Claims(k.Key, &claims); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, bad("not signed by a key of the client")
	}
	now := o.h.app.backend.clock.Now()
	switch {
	case claims.Issuer != c.ID || claims.Subject != c.ID:
		return nil, bad("iss and sub must be the client_id")
	case !slices.Contains([]string(claims.Audience), o.issuer+o.dir+"/token") && !slices.Contains([]string(claims.Audience), o.issuer):
		return nil, bad("aud must be the token endpoint or the issuer")
	case claims.Expiry == nil || !now.Before(claims.Expiry.Time()):
		return nil, bad("expired, or no exp")
	case claims.Expiry.Time().After(now.Add(clientAssertionLife + clockSkew)):
		return nil, bad("exp more than five minutes ahead")
	case claims.NotBefore != nil && claims.NotBefore.Time().After(now.Add(clockSkew)):
		return nil, bad("not valid yet (nbf)")
	case claims.IssuedAt != nil && claims.IssuedAt.Time().After(now.Add(clockSkew)):
		return nil, bad("issued in the future (iat)")
	case claims.ID == "" || len(claims.ID) > 256:
		return nil, bad("a jti is needed")
	}
	sum := sha256.Sum256([]byte(c.ID + "\x00" + claims.ID))
	first, err := o.assertionSeen().FirstUse(ctx, "client-assertion:"+base64.RawURLEncoding.EncodeToString(sum[:]), now, claims.Expiry.Time())
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if !first {
		o.h.logger.Warn("provider: a client assertion was presented again", zap.String("client", c.ID))
		return nil, oidc.ErrInvalidClient().WithDescription("client assertion refused: jti already used")
	}
	return c, nil
}

// assertionSeenMemory keeps used client assertions when the store has no
// shared single-use records (bbolt: one node).
var assertionSeenMemory = botdefense.NewMemorySeen()

// assertionSeen is where used client assertions are recorded: the
// store's single-use records (Redis: every node), else this process's.
func (o *siteOP) assertionSeen() botdefense.Seen {
	if st := o.h.app.backend.stores; st != nil && st.Seen != nil {
		return st.Seen
	}
	return assertionSeenMemory
}

// ClientCredentialsExchange hands a service client an access token for
// itself: the API scopes it asks for (none asked: every API scope it was
// given), bound to its certificate when it has one.
func (s *opServer) ClientCredentialsExchange(ctx context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	o := s.o
	c := o.client(r.Client.GetID())
	if c == nil || !c.allows(grantService) || !c.confidential() {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("client may not use the client_credentials grant")
	}
	scopes, err := serviceScopes(c, r.Data.Scope)
	if err != nil {
		return nil, err
	}
	now := o.h.app.backend.clock.Now()
	claims := accessTokenClaims{
		Issuer: o.issuer, Subject: c.ID, Audience: []string{o.issuer}, Expiry: now.Add(accessTokenTTL).Unix(),
		IssuedAt: now.Unix(), ID: randomID(), ClientID: c.ID, Scope: strings.Join(scopes, " "),
	}
	if c.x5t != nil {
		claims.Cnf = &cnfClaim{X5T: base64.RawURLEncoding.EncodeToString(c.x5t)}
	}
	at, err := o.signJWT(accessTokenHeader, claims)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	o.h.logger.Info("provider: client credentials granted", zap.String("client", c.ID), zap.Strings("scopes", scopes),
		zap.String("jti", claims.ID), zap.Bool("certificate_bound", c.x5t != nil))
	return op.NewResponse(&oidc.AccessTokenResponse{
		AccessToken: at, TokenType: oidc.BearerToken, ExpiresIn: uint64(accessTokenTTL.Seconds()), Scope: scopes,
	}), nil
}

// serviceScopes is what a service client's token holds: the scopes it
// asked for, each one given to it and an API scope (the OpenID Connect
// scopes are about a customer, and a service has none) — or, asked for
// none, every API scope it was given.
func serviceScopes(c *ProviderClient, asked []string) ([]string, error) {
	var out []string
	if len(asked) == 0 {
		for _, sc := range c.Scopes {
			if !slices.Contains(providerScopes, sc) {
				out = append(out, sc)
			}
		}
		return out, nil
	}
	for _, sc := range asked {
		if slices.Contains(providerScopes, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %s is about a customer; a service's token has none", sc)
		}
		if !slices.Contains(c.Scopes, sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("the client was not given scope %s", sc)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// serviceGranted reports whether some client may use client_credentials.
func (o *siteOP) serviceGranted() bool {
	return slices.ContainsFunc(o.allClients(), func(c *ProviderClient) bool { return c.allows(grantService) })
}

// serviceDiscovery advertises the service clients' ways in: the grant
// (when a client may use it), private_key_jwt and the certificate.
func (o *siteOP) serviceDiscovery(d *oidc.DiscoveryConfiguration) {
	if o.serviceGranted() {
		d.GrantTypesSupported = append(d.GrantTypesSupported, oidc.GrantTypeClientCredentials)
	}
	d.TokenEndpointAuthMethodsSupported = append(d.TokenEndpointAuthMethodsSupported, oidc.AuthMethodPrivateKeyJWT, authMethodSelfSignedTLS)
	d.TokenEndpointAuthSigningAlgValuesSupported = make([]string, len(serviceAssertionAlgs))
	for i, a := range serviceAssertionAlgs {
		d.TokenEndpointAuthSigningAlgValuesSupported[i] = string(a)
	}
}

// assertionIssuer is the iss a client assertion claims, unchecked ("" when
// it has none): what the edge defence counts the request against.
func assertionIssuer(raw string) string {
	tok, err := jwt.ParseSigned(raw, serviceAssertionAlgs)
	if err != nil {
		return ""
	}
	var c jwt.Claims
	if tok.UnsafeClaimsWithoutVerification(&c) != nil {
		return ""
	}
	return c.Issuer
}
