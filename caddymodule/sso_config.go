package caddymodule

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/identity/oidcrp"
)

// SSOConfig makes the site a client of an OpenID Provider site (sso.go):
//
//	sso https://login.example.com {
//		client_id shop
//		client_secret {env.SHOP_SSO_SECRET}
//	}
type SSOConfig struct {
	// Issuer is the provider site's origin.
	Issuer string `json:"issuer"`
	// ClientID is the site's client id at the provider.
	ClientID string `json:"client_id"`
	// ClientSecret authenticates the site at the provider; placeholders
	// are expanded at provision. Empty: a public client (PKCE alone).
	ClientSecret string `json:"client_secret,omitempty"`
}

// ssoName names the single sign-on provider inside oidcrp (URLs, logs).
const ssoName = "sso"

// parseSSO reads `sso <issuer> { client_id …; client_secret … }`.
func parseSSO(d *caddyfile.Dispenser) (*SSOConfig, error) {
	c := new(SSOConfig)
	if !d.NextArg() {
		return nil, d.Errf("frontdoor: sso needs the provider's issuer: sso https://login.example.com { client_id … }")
	}
	c.Issuer = d.Val()
	if err := checkRedirectURI(c.Issuer); err != nil {
		return nil, d.Errf("frontdoor: sso: issuer %q: %v", c.Issuer, err)
	}
	file, line := d.File(), d.Line()
	if d.NextArg() {
		return nil, d.Errf("frontdoor: sso takes one issuer and a block")
	}
	for d.NextBlock(1) {
		switch key := d.Val(); key {
		case "client_id":
			if !d.AllArgs(&c.ClientID) || c.ClientID == "" {
				return nil, d.Errf("frontdoor: sso: client_id needs one value")
			}
		case "client_secret":
			if !d.AllArgs(&c.ClientSecret) || c.ClientSecret == "" {
				return nil, d.Errf("frontdoor: sso: client_secret needs one value (omit it for a public client)")
			}
		default:
			return nil, d.Errf("frontdoor: sso: unknown option %q (client_id, client_secret)", key)
		}
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("frontdoor: %v, at %s:%d", err, file, line)
	}
	return c, nil
}

// check is what both the Caddyfile and a JSON config must get right.
func (c *SSOConfig) check() error {
	if c.ClientID == "" {
		return fmt.Errorf("sso %s: client_id is required", c.Issuer)
	}
	if err := checkRedirectURI(c.Issuer); err != nil {
		return fmt.Errorf("sso: issuer %q: %v", c.Issuer, err)
	}
	return nil
}

// buildSSO makes the site's relying party of its provider. Nothing is
// fetched until the first sign-in: the provider may be a site of this very
// configuration, not listening yet.
func (h *Handler) buildSSO() (*oidcrp.Provider, error) {
	if h.SSO == nil {
		return nil, nil
	}
	if h.Provider != nil {
		return nil, fmt.Errorf("frontdoor: a site is either a provider or a client of one (sso), not both")
	}
	if err := h.SSO.check(); err != nil {
		return nil, fmt.Errorf("frontdoor: %w", err)
	}
	secret := h.SSO.ClientSecret
	if secret != "" {
		if secret = caddy.NewReplacer().ReplaceKnown(secret, ""); secret == "" {
			return nil, fmt.Errorf("frontdoor: sso %s: client_secret is empty once expanded", h.SSO.Issuer)
		}
	}
	p, err := oidcrp.New(oidcrp.Config{
		Name: ssoName, Issuer: h.SSO.Issuer, ClientID: h.SSO.ClientID, ClientSecret: secret,
		Scopes: []string{"openid", "email", "profile"}, Timeout: 10 * time.Second,
		Now: func() time.Time { return h.app.backend.clock.Now() }, Transport: ssoTransport{app: h.app, next: http.DefaultTransport},
	})
	if err != nil {
		return nil, fmt.Errorf("frontdoor: %w", err)
	}
	return p, nil
}
