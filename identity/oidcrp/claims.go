package oidcrp

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// defaultClaims maps each profile field to the standard claim.
var defaultClaims = map[string]string{
	"email": "email", "email_verified": "email_verified", "name": "name",
	"given_name": "given_name", "family_name": "family_name", "picture": "picture", "locale": "locale",
}

// maxClaim bounds a profile value taken from a provider.
const maxClaim = 256

// mapProfile fills the profile fields of id from the token's claims, as the
// operator's claims mapping says, and Apple's first-sign-in user field.
func (p *Provider) mapProfile(id *Identity, claims map[string]any, cb Callback) {
	claim := func(field string) any {
		name := defaultClaims[field]
		if n, ok := p.cfg.Claims[field]; ok {
			name = n
		}
		return claims[name]
	}
	str := func(field string) string {
		s, _ := claim(field).(string)
		s = strings.TrimSpace(s)
		if len(s) > maxClaim || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return ""
		}
		return s
	}
	id.Email = str("email")
	id.EmailVerified = truthy(claim("email_verified"))
	id.Name, id.GivenName, id.FamilyName = str("name"), str("given_name"), str("family_name")
	id.Picture, id.Locale = str("picture"), str("locale")
	if p.cfg.Preset == PresetApple && cb.User != "" && id.Name == "" {
		// Apple sends the name once, on the first sign-in, as a form field
		// beside the code — not in the token, so it is not signed: it is
		// only ever a display name.
		var u struct {
			Name struct {
				FirstName string `json:"firstName"`
				LastName  string `json:"lastName"`
			} `json:"name"`
		}
		if len(cb.User) <= 4096 && json.Unmarshal([]byte(cb.User), &u) == nil {
			clean := func(s string) string {
				s = strings.TrimSpace(s)
				if len(s) > 100 || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
					return ""
				}
				return s
			}
			id.GivenName, id.FamilyName = clean(u.Name.FirstName), clean(u.Name.LastName)
			id.Name = strings.TrimSpace(id.GivenName + " " + id.FamilyName)
		}
	}
	if p.cfg.RolesClaim != "" {
		id.RolesMapped = true
		if v, ok := claims[p.cfg.RolesClaim]; ok {
			id.rolesSeen = true
			id.Roles = p.mapRoles(v)
		}
	}
	if id.Name == "" && (id.GivenName != "" || id.FamilyName != "") {
		id.Name = strings.TrimSpace(id.GivenName + " " + id.FamilyName)
	}
}

// truthy reads a boolean claim that some providers (Apple) send as the
// string "true".
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// maxGroups bounds the values of a roles claim that are read.
const maxGroups = 1000

// mapRoles turns a roles claim's values — a list of strings or one
// string of space-separated values — into the roles the operator maps
// them to (sorted, no repeats). Anything else gives nothing.
func (p *Provider) mapRoles(v any) []string {
	var groups []string
	switch v := v.(type) {
	case string:
		groups = strings.Fields(v)
	case []any:
		for _, g := range v {
			if s, ok := g.(string); ok {
				groups = append(groups, s)
			}
		}
	}
	if len(groups) > maxGroups {
		groups = groups[:maxGroups]
	}
	var roles []string
	for _, g := range groups {
		roles = append(roles, p.cfg.RoleMap[g]...)
	}
	slices.Sort(roles)
	return slices.Compact(roles)
}
