package caddymodule

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/identity/oidcrp"
)

// OIDCProvider is one `oidc <name> { … }` block of the global options: an
// OpenID Provider customers may sign in with ("Continue with Google").
// String settings may hold placeholders ({env.GOOGLE_CLIENT_SECRET}),
// resolved when the config loads; secrets are never logged.
type OIDCProvider struct {
	Name         string            `json:"name"`
	Preset       string            `json:"preset,omitempty"`
	Issuer       string            `json:"issuer,omitempty"`
	ClientID     string            `json:"client_id,omitempty"`
	ClientSecret string            `json:"client_secret,omitempty"`
	Label        string            `json:"label,omitempty"`
	Scopes       []string          `json:"scopes,omitempty"`
	Claims       map[string]string `json:"claims,omitempty"`
	// RolesClaim names the provider's claim (groups) whose values RoleMap
	// turns into roles at each sign-in.
	RolesClaim string              `json:"roles_claim,omitempty"`
	RoleMap    map[string][]string `json:"role_map,omitempty"`
	// Link: verified_email (default) or never.
	Link string `json:"link,omitempty"`
	// AutoRegister: the first sign-in creates a customer (default true).
	AutoRegister *bool `json:"auto_register,omitempty"`
	// TrustMFA lets the provider's own MFA satisfy the account's second
	// factor.
	TrustMFA     bool           `json:"trust_mfa,omitempty"`
	HostedDomain string         `json:"hosted_domain,omitempty"`
	TeamID       string         `json:"team_id,omitempty"`
	KeyID        string         `json:"key_id,omitempty"`
	KeyFile      string         `json:"key_file,omitempty"`
	Tenants      []string       `json:"tenants,omitempty"`
	Timeout      caddy.Duration `json:"timeout,omitempty"`
}

// parseOIDC parses
//
//	oidc <name> {
//		preset google|apple|microsoft|generic
//		issuer <url>
//		client_id <id>
//		client_secret <secret>
//		label <text>
//		scopes <scope…>
//		claims { <field> <claim> … }
//		roles_claim <claim> { <provider group> <role…> … }
//		link verified_email|never
//		auto_register on|off
//		trust_mfa on|off
//		hosted_domain <domain>               (google)
//		team_id <id>; key_id <id>; key_file <path>   (apple)
//		tenants <tenant id…>                 (microsoft)
//		timeout <duration>
//	}
func parseOIDC(d *caddyfile.Dispenser, seen []*OIDCProvider) (*OIDCProvider, error) {
	if !d.NextArg() {
		return nil, d.Errf("frontdoor: oidc needs a name, e.g. oidc google { … }")
	}
	p := &OIDCProvider{Name: d.Val()}
	if !oidcrp.ValidName(p.Name) {
		return nil, d.Errf("frontdoor: oidc %q: the name must be 1-32 lower-case letters, digits, _ or -", p.Name)
	}
	for _, o := range seen {
		if o.Name == p.Name {
			return nil, d.Errf("frontdoor: oidc %s is configured twice", p.Name)
		}
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	one := func(dst *string) error {
		opt := d.Val()
		if !d.AllArgs(dst) {
			return d.Errf("frontdoor: oidc %s: %s needs one value", p.Name, opt)
		}
		return nil
	}
	onOff := func() (bool, error) {
		opt := d.Val()
		var v string
		if !d.AllArgs(&v) || (v != "on" && v != "off") {
			return false, d.Errf("frontdoor: oidc %s: %s takes on or off", p.Name, opt)
		}
		return v == "on", nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "preset":
			err = one(&p.Preset)
		case "issuer":
			err = one(&p.Issuer)
		case "client_id":
			err = one(&p.ClientID)
		case "client_secret":
			err = one(&p.ClientSecret)
		case "label":
			err = one(&p.Label)
		case "link":
			err = one(&p.Link)
		case "hosted_domain":
			err = one(&p.HostedDomain)
		case "team_id":
			err = one(&p.TeamID)
		case "key_id":
			err = one(&p.KeyID)
		case "key_file":
			err = one(&p.KeyFile)
		case "scopes":
			if p.Scopes = d.RemainingArgs(); len(p.Scopes) == 0 {
				err = d.Errf("frontdoor: oidc %s: scopes needs at least one scope", p.Name)
			}
		case "tenants":
			if p.Tenants = d.RemainingArgs(); len(p.Tenants) == 0 {
				err = d.Errf("frontdoor: oidc %s: tenants needs at least one tenant id", p.Name)
			}
		case "auto_register":
			var on bool
			on, err = onOff()
			p.AutoRegister = &on
		case "trust_mfa":
			p.TrustMFA, err = onOff()
		case "timeout":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.Errf("frontdoor: oidc %s: timeout needs one duration", p.Name)
			}
			dur, perr := caddy.ParseDuration(v)
			if perr != nil || dur <= 0 {
				return nil, d.Errf("frontdoor: oidc %s: timeout %q is not a positive duration", p.Name, v)
			}
			p.Timeout = caddy.Duration(dur)
		case "roles_claim":
			if !d.NextArg() {
				return nil, d.Errf("frontdoor: oidc %s: roles_claim names the claim, then maps its values: roles_claim groups { acme-staff member }", p.Name)
			}
			p.RolesClaim, p.RoleMap = d.Val(), map[string][]string{}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			for n := d.Nesting(); d.NextBlock(n); {
				group, roles := d.Val(), d.RemainingArgs()
				if len(roles) == 0 {
					return nil, d.Errf("frontdoor: oidc %s: roles_claim: %s needs at least one role", p.Name, group)
				}
				for _, r := range roles {
					if err := identity.ValidRole(r); err != nil {
						return nil, d.Errf("frontdoor: oidc %s: roles_claim: %v", p.Name, err)
					}
				}
				p.RoleMap[group] = append(p.RoleMap[group], roles...)
			}
			if len(p.RoleMap) == 0 {
				return nil, d.Errf("frontdoor: oidc %s: roles_claim %s maps nothing: add lines such as acme-staff member", p.Name, p.RolesClaim)
			}
		case "claims":
			p.Claims = map[string]string{}
			if d.NextArg() {
				return nil, d.Errf("frontdoor: oidc %s: claims takes a block: claims { email mail }", p.Name)
			}
			for n := d.Nesting(); d.NextBlock(n); {
				field := d.Val()
				var claim string
				if !d.AllArgs(&claim) {
					return nil, d.Errf("frontdoor: oidc %s: claims: %s needs one claim name", p.Name, field)
				}
				p.Claims[field] = claim
			}
		default:
			return nil, d.Errf("frontdoor: oidc %s: unknown option %q", p.Name, opt)
		}
		if err != nil {
			return nil, err
		}
	}
	// Without placeholders everything can be checked now, so a mistake is
	// reported with its line (key files are read when the config loads).
	if !hasPlaceholder(p) {
		cfg, _ := p.config(caddy.NewEmptyReplacer(), nil)
		cfg.KeyFile = ""
		if cfg.Preset == oidcrp.PresetApple && p.KeyFile != "" {
			cfg.ClientSecret = "checked-at-load"
		}
		if err := cfg.Validate(); err != nil {
			return nil, d.Errf("frontdoor: %v", err)
		}
	}
	return p, nil
}

func hasPlaceholder(p *OIDCProvider) bool {
	for _, s := range []string{p.Issuer, p.ClientID, p.ClientSecret, p.KeyFile, p.TeamID, p.KeyID, p.HostedDomain} {
		if strings.Contains(s, "{") {
			return true
		}
	}
	return false
}

// config resolves placeholders and builds the relying party's settings.
func (p *OIDCProvider) config(repl *caddy.Replacer, now func() time.Time) (oidcrp.Config, error) {
	var missing []string
	resolve := func(setting, s string) string {
		out := repl.ReplaceKnown(s, "")
		if s != "" && out == "" {
			missing = append(missing, setting)
		}
		return out
	}
	cfg := oidcrp.Config{
		Name: p.Name, Preset: oidcrp.Preset(p.Preset),
		Issuer:       resolve("issuer", p.Issuer),
		ClientID:     resolve("client_id", p.ClientID),
		ClientSecret: resolve("client_secret", p.ClientSecret),
		Label:        p.Label, Scopes: p.Scopes, Claims: p.Claims, RolesClaim: p.RolesClaim, RoleMap: p.RoleMap,
		Link: oidcrp.LinkPolicy(p.Link), AutoRegister: p.AutoRegister == nil || *p.AutoRegister, TrustMFA: p.TrustMFA,
		HostedDomain: resolve("hosted_domain", p.HostedDomain),
		TeamID:       resolve("team_id", p.TeamID), KeyID: resolve("key_id", p.KeyID), KeyFile: resolve("key_file", p.KeyFile),
		Tenants: p.Tenants, Timeout: time.Duration(p.Timeout), Now: now,
	}
	if len(missing) > 0 {
		// Names the settings, never their values.
		return cfg, fmt.Errorf("oidc %s: %s resolved to nothing (is the environment variable set?)", p.Name, strings.Join(missing, ", "))
	}
	return cfg, nil
}

// provisionOIDC builds the providers: placeholders resolved, settings
// checked, key files read. Nothing is fetched here — discovery starts in
// the background once the config runs, so a provider that is down never
// holds up start-up.
func (a *App) provisionOIDC() error {
	a.providers = make(map[string]*oidcrp.Provider, len(a.OIDC))
	repl := caddy.NewReplacer()
	clock := func() time.Time { return a.backend.clock.Now() } // the backend's one clock (opened later in Provision)
	for _, p := range a.OIDC {
		if p == nil {
			return fmt.Errorf("frontdoor: oidc: empty provider")
		}
		if _, dup := a.providers[p.Name]; dup {
			return fmt.Errorf("frontdoor: oidc %s is configured twice", p.Name)
		}
		cfg, err := p.config(repl, clock)
		if err != nil {
			return fmt.Errorf("frontdoor: %w", err)
		}
		prov, err := oidcrp.New(cfg)
		if err != nil {
			return fmt.Errorf("frontdoor: %w", err)
		}
		a.providers[p.Name] = prov
	}
	return nil
}

// discoverProviders fetches each provider's discovery document in the
// background (bounded by its timeout); a failure is logged and retried
// when a customer next presses its button.
func (a *App) discoverProviders() {
	for name, p := range a.providers {
		go func() {
			if err := p.Discover(context.Background()); err != nil {
				a.logger.Warn("oidc provider unavailable; its sign-in button answers 503 until it is back",
					zap.String("provider", name), zap.Error(err))
			}
		}()
	}
}

// siteProviders picks the providers a site offers: those its oidc option
// names, in that order, or every provider in name order.
func (h *Handler) siteProviders() ([]*oidcrp.Provider, error) {
	if len(h.OIDC) == 0 {
		names := slices.Sorted(maps.Keys(h.app.providers))
		out := make([]*oidcrp.Provider, 0, len(names))
		for _, n := range names {
			out = append(out, h.app.providers[n])
		}
		return out, nil
	}
	out := make([]*oidcrp.Provider, 0, len(h.OIDC))
	for _, n := range h.OIDC {
		p, ok := h.app.providers[n]
		if !ok {
			return nil, fmt.Errorf("frontdoor: oidc: no provider %q in the global frontdoor block (configured: %s)", n, strings.Join(slices.Sorted(maps.Keys(h.app.providers)), ", "))
		}
		out = append(out, p)
	}
	return out, nil
}
