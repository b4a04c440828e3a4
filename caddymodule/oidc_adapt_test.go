package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"
)

// The spelling of a provider, one option per line.
const oidcGoogle = "oidc google {\n" +
	"\t\t\tpreset google\n" +
	"\t\t\tissuer https://accounts.google.com\n" +
	"\t\t\tclient_id {env.GOOGLE_CLIENT_ID}\n" +
	"\t\t\tclient_secret {env.GOOGLE_CLIENT_SECRET}\n" +
	"\t\t\tlabel \"Continue with Google\"\n" +
	"\t\t\tscopes openid email profile\n" +
	"\t\t\tclaims {\n\t\t\t\temail email\n\t\t\t\tname name\n\t\t\t}\n" +
	"\t\t\tlink verified_email\n" +
	"\t\t\tauto_register on\n" +
	"\t\t}"

func TestOIDCCaddyfileAdapt(t *testing.T) {
	cf := "{\n\tfrontdoor {\n\t\t" + oidcGoogle + "\n\t\toidc entra {\n\t\t\tpreset microsoft\n\t\t\tclient_id abc\n\t\t\tclient_secret {env.ENTRA_SECRET}\n\t\t\ttenants 9188040d-6c67-4c5b-b112-36a304b66dad\n\t\t\ttrust_mfa on\n\t\t}\n\t}\n}\n\n" +
		"shop.example.com {\n\tfrontdoor {\n\t\toidc google entra\n\t}\n\treverse_proxy 127.0.0.1:9000\n}\n"
	out, err := adapt(t, cf)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Apps struct {
			Frontdoor App `json:"frontdoor"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	ps := cfg.Apps.Frontdoor.OIDC
	if len(ps) != 2 {
		t.Fatalf("providers: %s", out)
	}
	g := ps[0]
	if g.Name != "google" || g.Preset != "google" || g.ClientSecret != "{env.GOOGLE_CLIENT_SECRET}" || g.Label != "Continue with Google" ||
		len(g.Scopes) != 3 || g.Claims["email"] != "email" || g.Link != "verified_email" || g.AutoRegister == nil || !*g.AutoRegister {
		t.Fatalf("google: %+v", g)
	}
	if e := ps[1]; e.Preset != "microsoft" || len(e.Tenants) != 1 || !e.TrustMFA {
		t.Fatalf("entra: %+v", e)
	}
	if !strings.Contains(string(out), `"oidc":["google","entra"]`) {
		t.Fatalf("site providers missing: %s", out)
	}
}

func TestOIDCCaddyfileErrors(t *testing.T) {
	global := func(block string) string {
		return "{\n\tfrontdoor {\n\t\toidc x {\n\t\t\t" + block + "\n\t\t}\n\t}\n}\n\nshop.example.com {\n\treverse_proxy 127.0.0.1:9000\n}\n"
	}
	tests := []struct {
		name, caddyfile string
		line            int
		want            string
	}{
		{"no name", "{\n\tfrontdoor {\n\t\toidc\n\t}\n}\n", 3, "oidc needs a name"},
		{"bad name", "{\n\tfrontdoor {\n\t\toidc Google {\n\t\t}\n\t}\n}\n", 3, "lower-case"},
		{"twice", "{\n\tfrontdoor {\n\t\toidc a {\n\t\t\tissuer https://a.example\n\t\t\tclient_id c\n\t\t}\n\t\toidc a {\n\t\t}\n\t}\n}\n", 7, "oidc a is configured twice"},
		{"unknown option", global("colour blue"), 4, `oidc x: unknown option "colour"`},
		{"unknown preset", global("preset facebook\n\t\t\tclient_id c"), 6, `unknown preset "facebook"`},
		{"http issuer", global("issuer http://idp.example.com\n\t\t\tclient_id c"), 6, "http:// only on loopback"},
		{"no client id", global("issuer https://idp.example.com"), 5, "client_id is required"},
		{"link bogus", global("issuer https://idp.example.com\n\t\t\tclient_id c\n\t\t\tlink always"), 7, "link must be verified_email or never"},
		{"auto_register bogus", global("auto_register maybe"), 4, "auto_register takes on or off"},
		{"claims unknown field", global("issuer https://idp.example.com\n\t\t\tclient_id c\n\t\t\tclaims {\n\t\t\t\tpassword pw\n\t\t\t}"), 9, `claims: unknown field "password"`},
		{"scopes without openid", global("issuer https://idp.example.com\n\t\t\tclient_id c\n\t\t\tscopes email"), 7, "scopes must include openid"},
		{"apple without key", global("preset apple\n\t\t\tclient_id c"), 6, "team_id, key_id and key_file"},
		{"site oidc without names", "shop.example.com {\n\tfrontdoor {\n\t\toidc\n\t}\n}\n", 3, "oidc names the global providers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, tc.caddyfile, tc.line, tc.want)
		})
	}
}

// TestOIDCValidate loads configs that parse but must not run, as `caddy
// validate` does; no secret appears in an error.
func TestOIDCValidate(t *testing.T) {
	t.Setenv("FD_TEST_SECRET", "s3cr3t-value-never-logged")
	tests := []struct{ name, oidc, site, want string }{
		{"valid", "oidc dev {\n\t\t\tissuer http://127.0.0.1:1\n\t\t\tclient_id c\n\t\t\tclient_secret {env.FD_TEST_SECRET}\n\t\t}", "oidc dev", ""},
		{"unset secret", "oidc dev {\n\t\t\tissuer http://127.0.0.1:1\n\t\t\tclient_id c\n\t\t\tclient_secret {env.FD_TEST_UNSET_SECRET}\n\t\t}", "public /health", "client_secret resolved to nothing"},
		{"issuer placeholder to http", "oidc dev {\n\t\t\tissuer {env.FD_TEST_ISSUER}\n\t\t\tclient_id c\n\t\t}", "public /health", "http:// only on loopback"},
		{"site names unknown provider", "oidc dev {\n\t\t\tissuer http://127.0.0.1:1\n\t\t\tclient_id c\n\t\t}", "oidc google", `no provider "google"`},
		{"apple key file missing", "oidc apple {\n\t\t\tpreset apple\n\t\t\tclient_id c\n\t\t\tteam_id T\n\t\t\tkey_id K\n\t\t\tkey_file /nonexistent/AuthKey.p8\n\t\t}", "public /health", "key_file"},
	}
	t.Setenv("FD_TEST_ISSUER", "http://idp.example.com")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adaptAndValidate(t, tc.oidc, tc.site, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("validate: %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}
