package caddymodule

import (
	"strings"
	"testing"
)

// TestRolesCaddyfileErrors: a rule's role, attribute, email_domain and
// expression options are checked when the Caddyfile is read — a CEL
// syntax or type error included — and the error names the line.
func TestRolesCaddyfileErrors(t *testing.T) {
	site := func(rule string) string {
		return "shop.example.com {\n\tfrontdoor {\n\t\trequire /members/* {\n\t\t\t" + rule + "\n\t\t}\n\t}\n}\n"
	}
	oidcWith := func(opt string) string {
		return "{\n\tfrontdoor {\n\t\toidc x {\n\t\t\tissuer https://idp.example.com\n\t\t\tclient_id c\n\t\t\t" + opt + "\n\t\t}\n\t}\n}\n"
	}
	tests := []struct {
		name, caddyfile string
		line            int
		want            string
	}{
		{"role without a name", site("role"), 4, "require role needs at least one role"},
		{"role with capitals", site("role Member"), 4, `role "Member"`},
		{"role with a comma", site("role a,b"), 4, `role "a,b"`},
		{"attribute without values", site("attribute org"), 4, "a name and at least one value"},
		{"attribute bad name", site("attribute Org-X acme"), 4, `attribute "Org-X"`},
		{"email_domain without a domain", site("email_domain"), 4, "at least one domain"},
		{"email_domain an address", site("email_domain ann@acme.com"), 4, "is not a domain"},
		{"expression syntax", site(`expression "'beta' in roles &&"`), 4, "Syntax error"},
		{"expression type", site(`expression "roles + 1"`), 4, "found no matching overload"},
		{"expression not a bool", site(`expression "email"`), 4, "not a bool"},
		{"expression unknown name", site(`expression "group == 'x'"`), 4, "undeclared reference to 'group'"},
		{"expression two args", site(`expression "true" "false"`), 4, "one quoted CEL expression"},
		{"roles_claim without a claim", oidcWith("roles_claim"), 6, "roles_claim names the claim"},
		{"roles_claim without a map", oidcWith("roles_claim groups"), 6, "maps nothing"},
		{"roles_claim group without a role", oidcWith("roles_claim groups {\n\t\t\t\tacme-staff\n\t\t\t}"), 7, "acme-staff needs at least one role"},
		{"roles_claim bad role", oidcWith("roles_claim groups {\n\t\t\t\tacme-staff Staff\n\t\t\t}"), 7, `role "Staff"`},
		{"site attributes empty", "shop.example.com {\n\tfrontdoor {\n\t\tattributes\n\t}\n}\n", 3, "attributes names the customer attributes"},
		{"site attributes bad", "shop.example.com {\n\tfrontdoor {\n\t\tattributes plan Org\n\t}\n}\n", 3, `attribute "Org"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, tc.caddyfile, tc.line, tc.want)
		})
	}
	// A good rule adapts, with its options in the JSON.
	out, err := adapt(t, site("role member premium\n\t\t\tattribute org acme globex\n\t\t\temail_domain acme.com\n\t\t\texpression \"'beta' in roles\""))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"roles":["member","premium"]`, `"attributes":[{"name":"org","values":["acme","globex"]}]`, `"email_domains":["acme.com"]`, `"expression":"'beta' in roles"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted JSON lacks %s:\n%s", want, out)
		}
	}
}
