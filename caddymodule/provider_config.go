package caddymodule

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// ProviderConfig makes the site an OpenID Provider (issuer = the site's
// origin) for the clients it declares (see provider.go).
type ProviderConfig struct {
	// Clients are the relying parties allowed to ask for tokens.
	Clients []*ProviderClient `json:"clients,omitempty"`
	// Scopes declares the site's API scopes (orders:read) beside the
	// OpenID Connect ones: clients may be given them, keys and tokens
	// carry them, protect … { scopes … } asks for them.
	Scopes []*APIScope `json:"scopes,omitempty"`
}

// APIScope is one API scope a provider site grants, with the words the
// consent screen and the account page show the customer.
type APIScope struct {
	Name string `json:"name"`
	// Description says what it allows, in the customer's words ("see
	// your orders"); default: the name.
	Description string `json:"description,omitempty"`
}

// ProviderClient is one relying party of the site's OpenID Provider.
type ProviderClient struct {
	// ID is the client_id.
	ID string `json:"id"`
	// Name is how the account page names the app (default: the id).
	Name string `json:"name,omitempty"`
	// RedirectURIs are compared exactly with the request's redirect_uri.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// Secret authenticates a confidential client (client_secret_basic or
	// client_secret_post); placeholders ({env.SHOP_SSO_SECRET}) are
	// expanded at provision. Empty: a public client (PKCE alone).
	Secret string `json:"secret,omitempty"`
	// Scopes the client may ask for (default openid email profile).
	Scopes []string `json:"scopes,omitempty"`
	// FirstParty clients get no consent screen.
	FirstParty bool `json:"first_party,omitempty"`
	// BackchannelLogoutURI receives logout tokens (back-channel logout).
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// PostLogoutRedirectURIs are where end_session may send the browser
	// back to (post_logout_redirect_uri), compared exactly.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// Grants the client may use: authorization_code (the default) and
	// device_code (RFC 8628, a device without a keyboard) and
	// client_credentials (a service on its own, provider_service.go).
	// Refresh tokens come with offline_access, whatever the grant.
	Grants []string `json:"grants,omitempty"`
	// JWKS is a file of the client's public keys: it authenticates with
	// private_key_jwt (RFC 7523) alone. Certificate is the SHA-256
	// thumbprint of its TLS client certificate (RFC 8705
	// self_signed_tls_client_auth). See provider_service.go.
	JWKS        string `json:"jwks,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	// Agent: an AI agent or assistant acting for customers (never
	// first_party: the customer always consents, for Lifetime).
	Agent bool `json:"agent,omitempty"`
	// Lifetime is how long a customer's grant to the agent lasts
	// (default 30 days, at most a year).
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
	// DPoP clients must prove a key (RFC 9449) on every token request;
	// their access tokens are bound to it.
	DPoP bool `json:"dpop,omitempty"`

	// secretSum is the SHA-256 of the expanded secret, compared in
	// constant time; never logged.
	secretSum []byte
	// prevSecretSum still works until prevSecretUntil (a registered
	// client's rotation, provider_clients.go).
	prevSecretSum   []byte
	prevSecretUntil time.Time
	// registered: the client comes from the admin API, not the Caddyfile.
	registered bool
	// jwks and x5t are JWKS and Certificate, read at provision.
	jwks []jose.JSONWebKey
	x5t  []byte
}

// providerScopes are the scopes a client may be granted.
var providerScopes = []string{"openid", "email", "profile", "offline_access"}

// parseProvider reads a site's provider block:
//
//	provider {
//		scope <name> "<what it allows, in the customer's words>"
//		client <id> {
//			redirect_uri <uri…>
//			secret <secret>
//			scopes openid email profile offline_access
//			name "<shown on the account page>"
//			first_party
//			backchannel_logout_uri <uri>
//			post_logout_redirect_uri <uri…>
//			grant authorization_code device_code client_credentials token_exchange
//			jwks <file of the client's public keys>
//			certificate <SHA-256 thumbprint of its TLS client certificate>
//			agent
//			lifetime <duration>
//			dpop
//		}
//	}
func parseProvider(d *caddyfile.Dispenser) (*ProviderConfig, error) {
	if d.NextArg() {
		return nil, d.Errf("frontdoor: provider takes a block of clients, not arguments")
	}
	p := new(ProviderConfig)
	type clientAt struct {
		c          *ProviderClient
		file       string
		scopesLine int
	}
	var declared []clientAt
	for d.NextBlock(1) {
		if d.Val() == "scope" {
			var sc APIScope
			if !d.NextArg() {
				return nil, d.Errf("frontdoor: provider: scope needs a name (scope orders:read \"see your orders\")")
			}
			sc.Name = d.Val()
			if d.NextArg() {
				sc.Description = d.Val()
			}
			if d.NextArg() {
				return nil, d.Errf("frontdoor: provider: scope %s: one description, quoted", sc.Name)
			}
			if err := p.addScope(&sc); err != nil {
				return nil, d.Errf("frontdoor: provider: %v", err)
			}
			continue
		}
		if d.Val() != "client" {
			return nil, d.Errf("frontdoor: provider: unknown option %q (want scope <name> \"…\" or client <id> { … })", d.Val())
		}
		var c ProviderClient
		if !d.NextArg() {
			return nil, d.Errf("frontdoor: provider: client needs an id")
		}
		c.ID = d.Val()
		if d.NextArg() {
			return nil, d.Errf("frontdoor: provider: client %s takes a block, not more arguments", c.ID)
		}
		if slices.ContainsFunc(p.Clients, func(o *ProviderClient) bool { return o.ID == c.ID }) {
			return nil, d.Errf("frontdoor: provider: client %s is declared twice", c.ID)
		}
		file, line := d.File(), d.Line()
		scopesLine := 0
		for d.NextBlock(2) {
			switch key := d.Val(); key {
			case "redirect_uri":
				uris := d.RemainingArgs()
				if len(uris) == 0 {
					return nil, d.Errf("frontdoor: provider: client %s: redirect_uri needs a URI", c.ID)
				}
				for _, u := range uris {
					if err := checkRedirectURI(u); err != nil {
						return nil, d.Errf("frontdoor: provider: client %s: redirect_uri %q: %v", c.ID, u, err)
					}
				}
				c.RedirectURIs = append(c.RedirectURIs, uris...)
			case "secret":
				if !d.AllArgs(&c.Secret) || c.Secret == "" {
					return nil, d.Errf("frontdoor: provider: client %s: secret needs one value (omit it for a public client)", c.ID)
				}
			case "scopes":
				c.Scopes, scopesLine = d.RemainingArgs(), d.Line()
				if len(c.Scopes) == 0 {
					return nil, d.Errf("frontdoor: provider: client %s: scopes needs at least one scope", c.ID)
				}
			case "name":
				if !d.AllArgs(&c.Name) || c.Name == "" {
					return nil, d.Errf("frontdoor: provider: client %s: name needs one value (quote it: name \"Shop app\")", c.ID)
				}
			case "first_party":
				if d.NextArg() {
					return nil, d.ArgErr()
				}
				c.FirstParty = true
			case "dpop":
				if d.NextArg() {
					return nil, d.Errf("frontdoor: provider: client %s: dpop takes no arguments", c.ID)
				}
				c.DPoP = true
			case "post_logout_redirect_uri":
				uris := d.RemainingArgs()
				if len(uris) == 0 {
					return nil, d.Errf("frontdoor: provider: client %s: post_logout_redirect_uri needs a URI", c.ID)
				}
				for _, u := range uris {
					if err := checkRedirectURI(u); err != nil {
						return nil, d.Errf("frontdoor: provider: client %s: post_logout_redirect_uri %q: %v", c.ID, u, err)
					}
				}
				c.PostLogoutRedirectURIs = append(c.PostLogoutRedirectURIs, uris...)
			case "grant":
				names := d.RemainingArgs()
				if len(names) == 0 {
					return nil, d.Errf("frontdoor: provider: client %s: grant needs a grant type (%s)", c.ID, strings.Join(providerGrants, " "))
				}
				for _, g := range names {
					name, ok := grantName(g)
					if !ok {
						return nil, d.Errf("frontdoor: provider: client %s: unknown grant %q (known: %s)", c.ID, g, strings.Join(providerGrants, " "))
					}
					if !slices.Contains(c.Grants, name) {
						c.Grants = append(c.Grants, name)
					}
				}
			case "jwks", "certificate":
				if err := parseClientAuth(d, &c); err != nil {
					return nil, err
				}
			case "agent", "lifetime":
				if err := c.parseAgentOption(d, key); err != nil {
					return nil, err
				}
			case "backchannel_logout_uri":
				if !d.AllArgs(&c.BackchannelLogoutURI) {
					return nil, d.Errf("frontdoor: provider: client %s: backchannel_logout_uri needs one URI", c.ID)
				}
				if err := checkRedirectURI(c.BackchannelLogoutURI); err != nil {
					return nil, d.Errf("frontdoor: provider: client %s: backchannel_logout_uri: %v", c.ID, err)
				}
			default:
				return nil, d.Errf("frontdoor: provider: client %s: unknown option %q", c.ID, key)
			}
		}
		if len(c.RedirectURIs) == 0 && c.allows(grantCode) {
			return nil, fmt.Errorf("frontdoor: provider: client %s needs a redirect_uri, at %s:%d", c.ID, file, line)
		}
		if err := c.checkAuth(); err != nil {
			return nil, fmt.Errorf("frontdoor: provider: client %s: %v, at %s:%d", c.ID, err, file, line)
		}
		if err := c.checkAgent(); err != nil {
			return nil, fmt.Errorf("frontdoor: provider: client %s: %v, at %s:%d", c.ID, err, file, line)
		}
		p.Clients = append(p.Clients, &c)
		declared = append(declared, clientAt{&c, file, scopesLine})
	}
	if len(p.Clients) == 0 {
		return nil, d.Errf("frontdoor: provider needs at least one client")
	}
	// Scopes are checked once every scope line is read (a scope may be
	// declared after the client that names it).
	for _, at := range declared {
		if at.scopesLine == 0 {
			continue // the default scopes, set at provision
		}
		if err := p.checkScopes(at.c.Scopes, at.c.grantList()); err != nil {
			return nil, fmt.Errorf("frontdoor: provider: client %s: %v, at %s:%d", at.c.ID, err, at.file, at.scopesLine)
		}
	}
	return p, nil
}

// addScope declares an API scope: a name of 1–64 letters, digits and
// : . _ / - (no OpenID Connect scope, no second declaration).
func (p *ProviderConfig) addScope(sc *APIScope) error {
	if !validScopeName(sc.Name) {
		return fmt.Errorf("scope %q: 1-64 letters, digits, and : . _ / -", sc.Name)
	}
	if slices.Contains(providerScopes, sc.Name) {
		return fmt.Errorf("scope %s is an OpenID Connect scope, known already", sc.Name)
	}
	if p.apiScope(sc.Name) != nil {
		return fmt.Errorf("scope %s is declared twice", sc.Name)
	}
	if len(sc.Description) > 200 {
		return fmt.Errorf("scope %s: a description of at most 200 characters", sc.Name)
	}
	p.Scopes = append(p.Scopes, sc)
	return nil
}

// apiScope is the declared API scope name, nil when there is none.
func (p *ProviderConfig) apiScope(name string) *APIScope {
	for _, sc := range p.Scopes {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}

// validScopeName: 1–64 of [A-Za-z0-9:._/-].
func validScopeName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(":._/-", c) >= 0) {
			return false
		}
	}
	return true
}

// checkScopes checks a client's scopes: each an OpenID Connect scope or
// one the site declares, openid among them when the client signs
// customers in (authorization code, device code).
func (p *ProviderConfig) checkScopes(scopes, grants []string) error {
	signsIn := slices.Contains(grants, grantCode) || slices.Contains(grants, grantDevice)
	if signsIn && !slices.Contains(scopes, "openid") {
		return errors.New("scopes must include openid")
	}
	for _, s := range scopes {
		if !slices.Contains(providerScopes, s) && p.apiScope(s) == nil {
			known := slices.Clone(providerScopes)
			for _, sc := range p.Scopes {
				known = append(known, sc.Name)
			}
			return fmt.Errorf("unknown scope %q (known: %s; declare an API scope with scope <name> \"…\")", s, strings.Join(known, " "))
		}
	}
	return nil
}

// checkRedirectURI accepts an absolute https URI without fragment or
// userinfo, or http on a loopback host (a native app, a test).
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("not an absolute URI")
	}
	if u.Fragment != "" || u.User != nil {
		return fmt.Errorf("no fragment or userinfo allowed")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if h == "localhost" {
			return nil
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("http:// only on loopback; use https")
	}
	return fmt.Errorf("scheme must be https")
}

// provision expands secrets and checks what the Caddyfile could not (a
// JSON config bypasses parseProvider).
func (p *ProviderConfig) provision() error {
	repl := caddy.NewReplacer()
	names := map[string]bool{}
	for _, sc := range p.Scopes {
		if !validScopeName(sc.Name) || slices.Contains(providerScopes, sc.Name) || names[sc.Name] {
			return fmt.Errorf("frontdoor: provider: scope %q: a new name of 1-64 letters, digits, and : . _ / -", sc.Name)
		}
		names[sc.Name] = true
	}
	seen := map[string]bool{}
	for _, c := range p.Clients {
		if c.ID == "" || seen[c.ID] {
			return fmt.Errorf("frontdoor: provider: client ids must be present and unique (%q)", c.ID)
		}
		seen[c.ID] = true
		for i, g := range c.Grants {
			name, ok := grantName(g)
			if !ok {
				return fmt.Errorf("frontdoor: provider: client %s: unknown grant %q (known: %s)", c.ID, g, strings.Join(providerGrants, " "))
			}
			c.Grants[i] = name
		}
		if len(c.RedirectURIs) == 0 && c.allows(grantCode) {
			return fmt.Errorf("frontdoor: provider: client %s needs a redirect_uri", c.ID)
		}
		for _, u := range c.RedirectURIs {
			if err := checkRedirectURI(u); err != nil {
				return fmt.Errorf("frontdoor: provider: client %s: redirect_uri %q: %w", c.ID, u, err)
			}
		}
		for _, u := range c.PostLogoutRedirectURIs {
			if err := checkRedirectURI(u); err != nil {
				return fmt.Errorf("frontdoor: provider: client %s: post_logout_redirect_uri %q: %w", c.ID, u, err)
			}
		}
		if len(c.Scopes) == 0 {
			c.Scopes = []string{"openid", "email", "profile"}
		}
		if err := c.checkAgent(); err != nil {
			return fmt.Errorf("frontdoor: provider: client %s: %w", c.ID, err)
		}
		if err := p.checkScopes(c.Scopes, c.grantList()); err != nil {
			return fmt.Errorf("frontdoor: provider: client %s: %w", c.ID, err)
		}
		if err := c.provisionAuth(); err != nil {
			return fmt.Errorf("frontdoor: provider: client %s: %w", c.ID, err)
		}
		c.secretSum = nil
		if c.Secret != "" {
			s := repl.ReplaceKnown(c.Secret, "")
			if s == "" {
				return fmt.Errorf("frontdoor: provider: client %s: secret is empty once expanded", c.ID)
			}
			sum := sha256.Sum256([]byte(s))
			c.secretSum = sum[:]
		}
	}
	return nil
}

// Grants a client may be given (grant in its block).
const (
	grantCode    = "authorization_code"
	grantDevice  = "device_code"
	grantService = "client_credentials"
	// grantExchange: RFC 8693 token exchange (provider_exchange.go).
	grantExchange = "token_exchange"
)

var providerGrants = []string{grantCode, grantDevice, grantService, grantExchange}

// grantName is the grant g names, in its short or its URN spelling.
func grantName(g string) (string, bool) {
	switch g {
	case grantCode, "code":
		return grantCode, true
	case grantDevice, "urn:ietf:params:oauth:grant-type:device_code":
		return grantDevice, true
	case grantService:
		return grantService, true
	case grantExchange, string(oidc.GrantTypeTokenExchange):
		return grantExchange, true
	}
	return "", false
}

// allows reports whether the client may use grant (no grant line: the
// authorization code alone).
func (c *ProviderClient) allows(grant string) bool {
	if len(c.Grants) == 0 {
		return grant == grantCode
	}
	return slices.Contains(c.Grants, grant)
}

// grantList is the client's grants as the admin API shows them.
func (c *ProviderClient) grantList() []string {
	if len(c.Grants) == 0 {
		return []string{grantCode}
	}
	return c.Grants
}

// confidential reports whether the client authenticates: a secret, a
// private_key_jwt key set or a TLS client certificate.
func (c *ProviderClient) confidential() bool {
	return c.secretSum != nil || c.jwks != nil || c.x5t != nil
}

// secretMatches compares in constant time (over hashes, so the length of
// the secret is not revealed either).
func (c *ProviderClient) secretMatches(s string, now time.Time) bool {
	if c.secretSum == nil {
		return false
	}
	sum := sha256.Sum256([]byte(s))
	ok := subtle.ConstantTimeCompare(sum[:], c.secretSum) == 1
	if c.prevSecretSum != nil && now.Before(c.prevSecretUntil) {
		ok = subtle.ConstantTimeCompare(sum[:], c.prevSecretSum) == 1 || ok
	}
	return ok
}
