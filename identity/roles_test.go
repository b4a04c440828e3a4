package identity_test

import (
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/identity"
)

func TestRoleNames(t *testing.T) {
	for _, ok := range []string{"member", "b2b:admin", "beta-2", "a", "x.y_z", strings.Repeat("r", 64)} {
		if err := identity.ValidRole(ok); err != nil {
			t.Errorf("ValidRole(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Member", "a,b", "a b", "-x", "ä", strings.Repeat("r", 65), "x\n"} {
		if identity.ValidRole(bad) == nil {
			t.Errorf("ValidRole(%q) accepted", bad)
		}
	}
}

func TestCustomerRoles(t *testing.T) {
	var c identity.Customer
	for _, r := range []string{"member", "beta", "member"} {
		c.GrantRole(r)
	}
	if strings.Join(c.Roles, ",") != "beta,member" || !c.HasRole("beta") || c.HasRole("admin") {
		t.Fatalf("roles %v", c.Roles)
	}
	if _, err := c.GrantRole("Bad Role"); err == nil {
		t.Fatal("a bad role was granted")
	}
	c.Identities = []identity.LinkedIdentity{{Issuer: "i", Subject: "s", Roles: []string{"staff", "beta"}}}
	if got := strings.Join(c.AllRoles(), ","); got != "beta,member,staff" {
		t.Fatalf("AllRoles %s", got)
	}
	if !c.RemoveRole("member") || c.RemoveRole("member") || strings.Join(c.Roles, ",") != "beta" {
		t.Fatalf("remove: %v", c.Roles)
	}
	for i := range identity.MaxRoles + 1 {
		if _, err := c.GrantRole("r" + strings.Repeat("x", i%60) + string(rune('a'+i%26))); err != nil && len(c.Roles) < identity.MaxRoles {
			t.Fatalf("grant %d: %v", i, err)
		}
	}
	if len(c.Roles) > identity.MaxRoles {
		t.Fatalf("%d roles, at most %d", len(c.Roles), identity.MaxRoles)
	}
}

func TestCustomerAttributes(t *testing.T) {
	var c identity.Customer
	if err := c.SetAttributes(map[string]string{"plan": "premium", "org": "acme", "gone": ""}); err != nil {
		t.Fatal(err)
	}
	if len(c.Attributes) != 2 || c.Attributes["plan"] != "premium" {
		t.Fatalf("attributes %v", c.Attributes)
	}
	for _, bad := range []map[string]string{{"Plan": "x"}, {"plan": "a\r\nb"}, {"plan": strings.Repeat("x", 201)}, {"a-b": "x"}} {
		if err := c.SetAttributes(bad); err == nil {
			t.Errorf("SetAttributes(%q) accepted", bad)
		}
		if c.Attributes["plan"] != "premium" {
			t.Fatal("a refused change changed the attributes")
		}
	}
	many := map[string]string{}
	for i := range identity.MaxAttributes + 1 {
		many["a"+strings.Repeat("b", i)] = "x"
	}
	if err := c.SetAttributes(many); err == nil {
		t.Fatal("too many attributes accepted")
	}
	if err := c.SetAttributes(nil); err != nil || c.Attributes != nil {
		t.Fatalf("clearing: %v %v", c.Attributes, err)
	}
}
