package caddymodule

import (
	"bytes"
	"strings"
	"testing"
)

// TestLegacyAuthCaddyfileErrors: a broken legacy_auth option is a
// Caddyfile error naming legacy_auth and the line at fault — the option's
// own line when the fault is something missing from its block.
func TestLegacyAuthCaddyfileErrors(t *testing.T) {
	site := func(opt string) string { // the option on line 3
		return "shop.example.com {\n\tfrontdoor {\n\t\t" + opt + "\n\t}\n\treverse_proxy 127.0.0.1:9000\n}\n"
	}
	const secret = "\n\t\t\tsecret {env.LEGACY_SECRET}"
	tests := []struct {
		name, opt string
		line      int
		want      string
	}{
		{"no URL", "legacy_auth", 3, "legacy_auth needs the legacy service's URL"},
		{"two URLs", "legacy_auth https://a.internal/v https://b.internal/v {" + secret + "\n\t\t}", 3, "legacy_auth takes one URL"},
		{"missing secret, no block", "legacy_auth https://legacy.internal/verify", 3, "legacy_auth needs the secret"},
		{"missing secret, block", "legacy_auth https://legacy.internal/verify {\n\t\t\ttimeout 2s\n\t\t}", 3, "legacy_auth needs the secret"},
		{"secret without value", "legacy_auth https://legacy.internal/verify {\n\t\t\tsecret\n\t\t}", 4, "legacy_auth: secret needs one value"},
		{"short literal secret", "legacy_auth https://legacy.internal/verify {\n\t\t\tsecret hunter2\n\t\t}", 4, "legacy_auth: the secret has 7 bytes, at least 16"},
		{"secret twice", "legacy_auth https://legacy.internal/verify {" + secret + secret + "\n\t\t}", 5, "legacy_auth: secret is set twice"},
		{"plain http elsewhere", "legacy_auth http://legacy.internal/verify {" + secret + "\n\t\t}", 3, "legacy_auth: \"http://legacy.internal/verify\": passwords go over https; plain http only to a loopback host"},
		{"plain http to a private address", "legacy_auth http://10.1.2.3/verify {" + secret + "\n\t\t}", 3, "plain http only to a loopback host"},
		{"not a URL", "legacy_auth legacy.internal {" + secret + "\n\t\t}", 3, "legacy_auth: \"legacy.internal\" is not an absolute URL"},
		{"user in the URL", "legacy_auth https://me:pw@legacy.internal/verify {" + secret + "\n\t\t}", 3, "legacy_auth: \"https://me:pw@legacy.internal/verify\": no user information"},
		{"timeout too long", "legacy_auth https://legacy.internal/verify {" + secret + "\n\t\t\ttimeout 30s\n\t\t}", 5, "legacy_auth: timeout 30s: between 100ms and 10s"},
		{"timeout zero", "legacy_auth https://legacy.internal/verify {" + secret + "\n\t\t\ttimeout 0s\n\t\t}", 5, "legacy_auth: timeout 0s: between 100ms and 10s"},
		{"timeout too short", "legacy_auth https://legacy.internal/verify {" + secret + "\n\t\t\ttimeout 5ms\n\t\t}", 5, "legacy_auth: timeout 5ms: between 100ms and 10s"},
		{"timeout not a duration", "legacy_auth https://legacy.internal/verify {" + secret + "\n\t\t\ttimeout soon\n\t\t}", 5, `legacy_auth: timeout "soon" is not a duration`},
		{"unknown option", "legacy_auth https://legacy.internal/verify {" + secret + "\n\t\t\tretries 3\n\t\t}", 5, `legacy_auth: unknown option "retries"`},
		{"twice", "legacy_auth https://a.internal/v {" + secret + "\n\t\t}\n\t\tlegacy_auth https://b.internal/v {" + secret + "\n\t\t}", 6, "legacy_auth is set twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, site(tc.opt), tc.line, tc.want)
		})
	}
}

// TestLegacyAuthValidate: what only start-up can know (the secret behind
// a placeholder), and JSON written by hand past the Caddyfile's checks,
// fail the load naming legacy_auth.
func TestLegacyAuthValidate(t *testing.T) {
	t.Setenv("FRONTDOOR_TEST_LEGACY_SECRET", "0123456789abcdef0123456789abcdef")
	t.Setenv("FRONTDOOR_TEST_LEGACY_SHORT", "short")
	const good = "legacy_auth https://legacy.internal/verify {\n\t\t\tsecret {env.FRONTDOOR_TEST_LEGACY_SECRET}\n\t\t}"
	edit := func(old, new string) func([]byte) []byte {
		return func(out []byte) []byte {
			if !bytes.Contains(out, []byte(old)) {
				t.Fatalf("adapted JSON lacks %s:\n%s", old, out)
			}
			return bytes.Replace(out, []byte(old), []byte(new), 1)
		}
	}
	tests := []struct {
		name, site string
		edit       func([]byte) []byte
		want       string
	}{
		{name: "valid", site: good},
		{name: "secret unset", site: "legacy_auth https://legacy.internal/verify {\n\t\t\tsecret {env.FRONTDOOR_TEST_LEGACY_UNSET}\n\t\t}",
			want: "frontdoor: legacy_auth: the secret is empty (is the variable of {env.FRONTDOOR_TEST_LEGACY_UNSET} set?)"},
		{name: "secret short", site: "legacy_auth https://legacy.internal/verify {\n\t\t\tsecret {env.FRONTDOOR_TEST_LEGACY_SHORT}\n\t\t}",
			want: "frontdoor: legacy_auth: the secret has 5 bytes, at least 16 needed"},
		{name: "JSON plain http elsewhere", site: good, edit: edit(`"url":"https://legacy.internal/verify"`, `"url":"http://legacy.internal/verify"`),
			want: "frontdoor: legacy_auth: \"http://legacy.internal/verify\": passwords go over https"},
		{name: "JSON timeout too long", site: good, edit: edit(`"url":`, `"timeout":60000000000,"url":`),
			want: "frontdoor: legacy_auth: timeout 1m0s: between 100ms and 10s"},
		{name: "JSON no secret", site: good, edit: edit(`"secret":"{env.FRONTDOOR_TEST_LEGACY_SECRET}"`, `"secret":""`),
			want: "frontdoor: legacy_auth: the secret is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adaptAndValidate(t, "from shop@example.com", tc.site, tc.edit)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("validate: error %v, want one containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
				t.Fatalf("the error tells the secret: %v", err)
			}
		})
	}
}
