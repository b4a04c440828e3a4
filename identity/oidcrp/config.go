// Package oidcrp is Frontdoor as an OpenID Connect relying party: one
// Provider per `oidc <name>` block of the global configuration. It speaks
// the protocol — discovery, the authorization code flow with PKCE, the ID
// token checks, the quirks of the big providers (presets) — through
// github.com/coreos/go-oidc/v3 and golang.org/x/oauth2, and hands back a
// verified Identity. What that identity means for the customer's account
// (create, sign in, ask to link) is authflow's business; where the
// per-attempt state lives is the caller's (it gives Finish the Attempt
// that Start returned).
package oidcrp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/urlcheck"
)

// Preset names the provider quirks to apply.
type Preset string

// Presets.
const (
	PresetGeneric   Preset = "generic"
	PresetGoogle    Preset = "google"
	PresetApple     Preset = "apple"
	PresetMicrosoft Preset = "microsoft"
)

// LinkPolicy says whether a provider identity whose verified email belongs
// to an existing customer may be linked to that customer (after the
// customer proves control of the account) or is refused.
type LinkPolicy string

// Link policies.
const (
	LinkVerifiedEmail LinkPolicy = "verified_email"
	LinkNever         LinkPolicy = "never"
)

// Well-known issuers of the presets.
const (
	GoogleIssuer = "https://accounts.google.com"
	AppleIssuer  = "https://appleid.apple.com"
	// MicrosoftCommonIssuer is the multi-tenant issuer: discovery names
	// it with the {tenantid} template, and each token's iss carries its own
	// tenant.
	MicrosoftCommonIssuer = "https://login.microsoftonline.com/common/v2.0"
	msTenantTemplate      = "{tenantid}"
)

// Config is one provider as the operator configured it.
type Config struct {
	// Name is the provider's name in URLs (/.frontdoor/oidc/<name>) and in
	// the assertion's idp claim.
	Name         string
	Preset       Preset
	Issuer       string
	ClientID     string
	ClientSecret string
	// Label is the button's text ("Continue with Google").
	Label string
	// Scopes requested; default openid email profile.
	Scopes []string
	// Claims maps Frontdoor's profile fields (email, name, given_name,
	// family_name, picture, locale, email_verified) to the provider's claim
	// names.
	Claims map[string]string
	// RolesClaim names the claim (groups, roles) whose values RoleMap turns
	// into the customer's roles at each sign-in; values not in the map
	// give nothing, so a provider grants only the roles the operator let
	// it.
	RolesClaim   string
	RoleMap      map[string][]string
	Link         LinkPolicy
	AutoRegister bool
	// TrustMFA lets a provider's own multi-factor sign-in (amr "mfa")
	// satisfy the account's second factor.
	TrustMFA bool

	// HostedDomain (Google) restricts sign-in to one Workspace domain: it
	// is sent as hd and the token's hd claim must match.
	HostedDomain string

	// Apple: the client secret is an ES256 JWT made from this key.
	TeamID  string
	KeyID   string
	KeyFile string

	// Tenants (Microsoft) restricts a multi-tenant issuer to these tenant
	// ids; empty admits every tenant.
	Tenants []string

	// Timeout bounds every call to the provider; default 10 s.
	Timeout time.Duration
	// Transport carries the calls to the provider (discovery, keys,
	// token); default http.DefaultTransport. Single sign-on to a provider
	// this gateway serves itself uses one that never leaves the process.
	Transport http.RoundTripper
	// Now is the clock (the application's); default time.Now.
	Now func() time.Time
}

// Profile fields a claims mapping may name.
var profileFields = []string{"email", "email_verified", "name", "given_name", "family_name", "picture", "locale"}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// ValidName reports whether s can name a provider (it is part of URLs).
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Validate fills defaults from the preset and reports the first problem,
// naming the setting. Secrets are never part of the message.
func (c *Config) Validate() error {
	if !ValidName(c.Name) {
		return fmt.Errorf("oidc %q: the name must be 1-32 lower-case letters, digits, _ or -", c.Name)
	}
	if c.Preset == "" {
		c.Preset = PresetGeneric
	}
	switch c.Preset {
	case PresetGeneric:
	case PresetGoogle:
		if c.Issuer == "" {
			c.Issuer = GoogleIssuer
		}
		if c.Label == "" {
			c.Label = "Continue with Google"
		}
	case PresetApple:
		if c.Issuer == "" {
			c.Issuer = AppleIssuer
		}
		if c.Label == "" {
			c.Label = "Continue with Apple"
		}
		if c.ClientSecret == "" {
			if c.TeamID == "" || c.KeyID == "" || c.KeyFile == "" {
				return fmt.Errorf("oidc %s: preset apple needs team_id, key_id and key_file (or a client_secret)", c.Name)
			}
			b, err := os.ReadFile(c.KeyFile)
			if err != nil {
				return fmt.Errorf("oidc %s: key_file: %w", c.Name, err)
			}
			if _, err := parseAppleKey(b); err != nil {
				return fmt.Errorf("oidc %s: key_file %s: %w", c.Name, c.KeyFile, err)
			}
		}
	case PresetMicrosoft:
		if c.Issuer == "" {
			c.Issuer = MicrosoftCommonIssuer
		}
		if c.Label == "" {
			c.Label = "Continue with Microsoft"
		}
	default:
		return fmt.Errorf("oidc %s: unknown preset %q (google, apple, microsoft or generic)", c.Name, c.Preset)
	}
	if c.HostedDomain != "" && c.Preset != PresetGoogle {
		return fmt.Errorf("oidc %s: hosted_domain is a Google setting (preset google)", c.Name)
	}
	if len(c.Tenants) > 0 && c.Preset != PresetMicrosoft {
		return fmt.Errorf("oidc %s: tenants is a Microsoft setting (preset microsoft)", c.Name)
	}
	if c.Issuer == "" {
		return fmt.Errorf("oidc %s: issuer is required", c.Name)
	}
	if err := checkIssuer(c.Issuer); err != nil {
		return fmt.Errorf("oidc %s: issuer %q: %w", c.Name, c.Issuer, err)
	}
	if c.ClientID == "" {
		return fmt.Errorf("oidc %s: client_id is required", c.Name)
	}
	if c.Label == "" {
		c.Label = "Continue with " + c.Name
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "email", "profile"}
	}
	if !slices.Contains(c.Scopes, "openid") {
		return fmt.Errorf("oidc %s: scopes must include openid", c.Name)
	}
	for field := range c.Claims {
		if !slices.Contains(profileFields, field) {
			return fmt.Errorf("oidc %s: claims: unknown field %q (one of %s)", c.Name, field, strings.Join(profileFields, ", "))
		}
	}
	if (c.RolesClaim == "") != (len(c.RoleMap) == 0) {
		return fmt.Errorf("oidc %s: roles_claim names a claim and maps its values to roles: roles_claim groups { <group> <role…> }", c.Name)
	}
	for group, roles := range c.RoleMap {
		if group == "" || len(roles) == 0 {
			return fmt.Errorf("oidc %s: roles_claim: map each group to at least one role", c.Name)
		}
		for _, r := range roles {
			if err := identity.ValidRole(r); err != nil {
				return fmt.Errorf("oidc %s: roles_claim: %v", c.Name, err)
			}
		}
	}
	switch c.Link {
	case "":
		c.Link = LinkVerifiedEmail
	case LinkVerifiedEmail, LinkNever:
	default:
		return fmt.Errorf("oidc %s: link must be verified_email or never, not %q", c.Name, c.Link)
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// checkIssuer admits https issuers, and http only on loopback (development
// and tests).
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("not an absolute URL without query or fragment")
	}
	switch {
	case urlcheck.SecureOrLoopback(u):
		return nil
	case u.Scheme == "http":
		return errors.New("must be https:// (http:// only on loopback)")
	default:
		return errors.New("must be https://")
	}
}

// multiTenant reports whether the issuer is a Microsoft template, whose
// tokens each name their own tenant.
func (c *Config) multiTenant() bool {
	return c.Preset == PresetMicrosoft && (strings.Contains(c.Issuer, "/common/") ||
		strings.Contains(c.Issuer, "/organizations/") || strings.Contains(c.Issuer, "/consumers/"))
}
