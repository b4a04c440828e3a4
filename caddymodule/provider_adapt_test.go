package caddymodule

import (
	"strings"
	"testing"
)

// providerCaddyfile wraps client lines (at line 5 onwards) in a provider
// site.
func providerCaddyfile(clients string) string {
	return "login.example.com {\n\tfrontdoor {\n\t\tprovider {\n" + clients + "\t\t}\n\t}\n}\n"
}

func TestProviderCaddyfile(t *testing.T) {
	out, err := adapt(t, providerCaddyfile(`			client shop {
				redirect_uri https://shop.example.com/.frontdoor/sso/callback
				secret {env.SHOP_SSO_SECRET}
				scopes openid email profile offline_access
				first_party
				backchannel_logout_uri https://shop.example.com/.frontdoor/sso/logout
			}
			client app {
				dpop
				name "Shop app"
				redirect_uri http://127.0.0.1:8080/cb https://app.example.com/cb
				scopes openid orders:read
			}
			scope orders:read "see your orders"
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"provider":{"clients":[{"backchannel_logout_uri":"https://shop.example.com/.frontdoor/sso/logout","first_party":true,"id":"shop","redirect_uris":["https://shop.example.com/.frontdoor/sso/callback"],"scopes":["openid","email","profile","offline_access"],"secret":"{env.SHOP_SSO_SECRET}"}`,
		`{"dpop":true,"id":"app","name":"Shop app","redirect_uris":["http://127.0.0.1:8080/cb","https://app.example.com/cb"],"scopes":["openid","orders:read"]}`,
		`"scopes":[{"description":"see your orders","name":"orders:read"}]`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted JSON lacks %s:\n%s", want, out)
		}
	}
}

func TestProviderCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name, clients string
		line          int
		want          string
	}{
		{"unknown option", "\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t\tcolour blue\n\t\t\t}\n", 6, `client a: unknown option "colour"`},
		{"unknown block option", "\t\t\tissuer https://x\n", 4, `provider: unknown option "issuer"`},
		{"missing redirect_uri", "\t\t\tclient a {\n\t\t\t\tfirst_party\n\t\t\t}\n", 4, "client a needs a redirect_uri"},
		{"http redirect", "\t\t\tclient a {\n\t\t\t\tredirect_uri http://a.example/cb\n\t\t\t}\n", 5, "http:// only on loopback"},
		{"fragment", "\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb#x\n\t\t\t}\n", 5, "no fragment"},
		{"relative redirect", "\t\t\tclient a {\n\t\t\t\tredirect_uri /cb\n\t\t\t}\n", 5, "not an absolute URI"},
		{"duplicate client", "\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t}\n\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t}\n", 7, "client a is declared twice"},
		{"no id", "\t\t\tclient {\n\t\t\t}\n", 4, "client needs an id"},
		{"scopes without openid", "\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t\tscopes email\n\t\t\t}\n", 6, "scopes must include openid"},
		{"unknown scope", "\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t\tscopes openid admin\n\t\t\t}\n", 6, `unknown scope "admin"`},
		{"empty secret", "\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t\tsecret\n\t\t\t}\n", 6, "secret needs one value"},
		{"no clients", "", 4, "provider needs at least one client"},
		{"empty name", "\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t\tname\n\t\t\t}\n", 6, "name needs one value"},
		{"undeclared API scope", "\t\t\tscope orders:read\n\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t\tscopes openid orders:write\n\t\t\t}\n", 7, `unknown scope "orders:write"`},
		{"bad scope name", "\t\t\tscope \"orders read\"\n", 4, "1-64 letters, digits"},
		{"scope twice", "\t\t\tscope orders:read\n\t\t\tscope orders:read \"again\"\n", 5, "scope orders:read is declared twice"},
		{"OIDC scope declared", "\t\t\tscope email \"your email\"\n", 4, "is an OpenID Connect scope"},
		{"scope without name", "\t\t\tscope\n", 4, "scope needs a name"},
		{"dpop with an argument", "\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t\tdpop extra\n\t\t\t}\n", 6, "client a: dpop takes no arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, providerCaddyfile(tc.clients), tc.line, tc.want)
		})
	}
}

// ssoCaddyfile wraps sso lines (at line 3 onwards) in a client site.
func ssoCaddyfile(lines string) string {
	return "shop.example.com {\n\tfrontdoor {\n" + lines + "\t}\n}\n"
}

func TestSSOCaddyfile(t *testing.T) {
	out, err := adapt(t, ssoCaddyfile("\t\tsso https://login.example.com {\n\t\t\tclient_id shop\n\t\t\tclient_secret {env.SHOP_SSO_SECRET}\n\t\t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `"sso":{"client_id":"shop","client_secret":"{env.SHOP_SSO_SECRET}","issuer":"https://login.example.com"}`
	if !strings.Contains(string(out), want) {
		t.Errorf("adapted JSON lacks %s:\n%s", want, out)
	}
	for _, tc := range []struct {
		name, lines string
		line        int
		want        string
	}{
		{"no issuer", "\t\tsso {\n\t\t\tclient_id shop\n\t\t}\n", 3, "sso needs the provider's issuer"},
		{"http issuer", "\t\tsso http://login.example.com {\n\t\t\tclient_id shop\n\t\t}\n", 3, "http:// only on loopback"},
		{"no client_id", "\t\tsso https://login.example.com {\n\t\t\tclient_secret s\n\t\t}\n", 3, "client_id is required"},
		{"unknown option", "\t\tsso https://login.example.com {\n\t\t\tclient_id shop\n\t\t\tscope all\n\t\t}\n", 5, `sso: unknown option "scope"`},
		{"twice", "\t\tsso https://a.example {\n\t\t\tclient_id a\n\t\t}\n\t\tsso https://b.example {\n\t\t\tclient_id b\n\t\t}\n", 6, "sso is set twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, ssoCaddyfile(tc.lines), tc.line, tc.want)
		})
	}
}
