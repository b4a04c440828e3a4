package identity

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Roles and attributes say who a customer is to the operator's sites: a
// set of role names (member, premium, beta) and a small map of attributes
// (plan: premium, org: acme). The operator sets them (admin API), a
// provider's claims map to them, an invitation grants a role. Route rules
// read them; backends are told them.

// Audit event kinds of role and attribute changes.
const (
	EventRoleGranted   = "role_granted"
	EventRoleRemoved   = "role_removed"
	EventAttributesSet = "attributes_set"
	EventInvited       = "invited"
)

// Limits on what a customer carries: roles and attributes travel in every
// request's headers and assertion.
const (
	MaxRoles          = 64
	MaxAttributes     = 32
	MaxAttributeValue = 200
)

var (
	roleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.:-]{0,63}$`)
	attrNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// ValidRole reports whether name can be a role: lower-case letters,
// digits and _ . : -, at most 64, starting with a letter or digit (no
// comma or space: the header lists roles comma-separated).
func ValidRole(name string) error {
	if !roleNameRE.MatchString(name) {
		return fmt.Errorf("role %q: use 1–64 lower-case letters, digits and _ . : - (starting with a letter or digit)", name)
	}
	return nil
}

// ValidAttribute checks an attribute's name (lower-case letters, digits,
// _; it becomes a header X-Frontdoor-Attr-<Name>) and value (at most 200
// characters, no control characters).
func ValidAttribute(name, value string) error {
	if !attrNameRE.MatchString(name) {
		return fmt.Errorf("attribute %q: use 1–32 lower-case letters, digits and _ (starting with a letter)", name)
	}
	if len(value) > MaxAttributeValue {
		return fmt.Errorf("attribute %s: the value is longer than %d bytes", name, MaxAttributeValue)
	}
	if strings.ContainsFunc(value, unicode.IsControl) {
		return fmt.Errorf("attribute %s: the value holds a control character", name)
	}
	return nil
}

// HasRole reports whether the operator (or an invitation) gave the
// customer role; AllRoles adds the providers'.
func (c *Customer) HasRole(role string) bool {
	_, found := slices.BinarySearch(c.Roles, role)
	return found
}

// AllRoles returns the roles the customer holds from any source — the
// operator's or an invitation's (Roles) and each linked provider's —
// sorted, no repeats.
func (c *Customer) AllRoles() []string {
	all := slices.Clone(c.Roles)
	for _, li := range c.Identities {
		all = append(all, li.Roles...)
	}
	if len(all) == len(c.Roles) {
		return all
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// GrantRole adds role (kept sorted, no repeats); it reports whether the
// customer did not have it.
func (c *Customer) GrantRole(role string) (bool, error) {
	if err := ValidRole(role); err != nil {
		return false, err
	}
	i, found := slices.BinarySearch(c.Roles, role)
	if found {
		return false, nil
	}
	if len(c.Roles) >= MaxRoles {
		return false, fmt.Errorf("a customer holds at most %d roles", MaxRoles)
	}
	c.Roles = slices.Insert(c.Roles, i, role)
	return true, nil
}

// RemoveRole removes role; it reports whether the customer had it.
func (c *Customer) RemoveRole(role string) bool {
	i, found := slices.BinarySearch(c.Roles, role)
	if !found {
		return false
	}
	c.Roles = slices.Delete(c.Roles, i, i+1)
	if len(c.Roles) == 0 {
		c.Roles = nil
	}
	return true
}

// SetAttributes replaces the customer's attributes with attrs (checked
// first: on an error nothing changes). An empty value removes the
// attribute.
func (c *Customer) SetAttributes(attrs map[string]string) error {
	out := make(map[string]string, len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		if err := ValidAttribute(k, attrs[k]); err != nil {
			return err
		}
		if attrs[k] != "" {
			out[k] = attrs[k]
		}
	}
	if len(out) > MaxAttributes {
		return fmt.Errorf("a customer holds at most %d attributes", MaxAttributes)
	}
	if len(out) == 0 {
		out = nil
	}
	c.Attributes = out
	return nil
}
