package caddymodule

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestPathUnicodeFold: letters whose case fold is ASCII (ſ → s, K → k)
// are matched as those letters, as case-insensitive Java and .NET backends
// treat them.
func TestPathUnicodeFold(t *testing.T) {
	h := &Handler{}
	var err error
	if h.public, err = compilePatterns([]string{"*.css", "/pub/*"}); err != nil {
		t.Fatal(err)
	}
	if h.protect, err = compilePatterns([]string{"/secret/*", "/kit/*"}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/%C5%BFecret/a.css", "/%E2%84%AAit/a.css", "/SECRET/a.css"} {
		if h.isPublic(httptest.NewRequest("GET", target, nil)) {
			t.Errorf("%s is public", target)
		}
	}
	if !h.isPublic(httptest.NewRequest("GET", "/pub/caf%C3%A9.css", nil)) {
		t.Error("an ordinary non-ASCII public path is not public")
	}
}

// TestOperatorInputValidated: a protocol-relative prefix and malformed
// redirect hosts are configuration errors, not template or CSP injection.
func TestOperatorInputValidated(t *testing.T) {
	for _, tc := range []struct{ site, want string }{
		{"prefix //evil.com", `prefix "//evil.com" must be a path`},
		{"prefix /a/../b", `prefix "/a/../b" must be a path`},
	} {
		cf := "shop.example.com {\n\tfrontdoor {\n\t\t" + tc.site + "\n\t}\n}\n"
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.site, err)
		}
	}
	for _, host := range []string{"evil.com/x", "evil.com; script-src *", "https://evil.com", "*.evil.com", ""} {
		h := &Handler{Origin: "https://shop.example.com", AllowRedirectHosts: []string{host}}
		if err := h.compileRedirectHosts(); err == nil {
			t.Errorf("allow_redirect_hosts %q accepted", host)
		}
	}
	h := &Handler{AllowRedirectHosts: []string{"Account.Example.com", "login.example.com:8443"}}
	if err := h.compileRedirectHosts(); err != nil || !h.allowHosts["account.example.com"] || !strings.Contains(h.formActionExtra, "https://login.example.com:8443") {
		t.Fatalf("valid hosts: %v %v", err, h.allowHosts)
	}
}

// TestForgeablePlaceholdersRefused: reading an identity header through a
// request placeholder is an adapt error, wherever it stands in the site.
func TestForgeablePlaceholdersRefused(t *testing.T) {
	for _, line := range []string{
		"rewrite /app/me /app/users/{http.request.header.X-Forwarded-User}",
		"vars user {header.Remote-User}",
		"map {http.request.header.x-frontdoor-user} {who} {\n\t\tdefault x\n\t}",
	} {
		cf := "shop.example.com {\n\t" + line + "\n\tfrontdoor\n\treverse_proxy 127.0.0.1:9000\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
		if err == nil || !strings.Contains(err.Error(), "where a client can forge it") || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: %v", line, err)
		}
	}
	ok := "shop.example.com {\n\trequest_header X-User {http.auth.user.id}\n\tfrontdoor\n\treverse_proxy 127.0.0.1:9000\n}\n"
	if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(ok), nil); err != nil {
		t.Fatalf("verified placeholder refused: %v", err)
	}
}
