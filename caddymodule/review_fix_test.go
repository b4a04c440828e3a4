package caddymodule

import (
	"fmt"
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

// TestIdentityHeaderMatchersRefused (issue 13, finding 8): a `header` or
// `header_regexp` matcher, or a CEL expression, on an identity header is an
// adapt error naming its line — a matcher on a directive ordered before
// frontdoor would see the client's forged copy. Matchers on other headers,
// the response `header` directive and verified placeholders stay allowed.
func TestIdentityHeaderMatchersRefused(t *testing.T) {
	for _, tc := range []struct {
		lines string
		line  int
	}{
		{"@m header X-Frontdoor-User alice\n\trespond @m 403", 2},
		{"@m header x-frontdoor-roles *admin*", 2},
		{"@m header !X-Frontdoor-User", 2},
		{"@m header_regexp X-Forwarded-User ^adm", 2},
		{"@m header_regexp who X-Forwarded-User ^adm", 2},
		{"@m {\n\t\tpath /admin/*\n\t\theader Remote-User alice\n\t}", 4},
		{"@m {\n\t\tnot header X-Frontdoor-Email *\n\t}", 3},
		{"@m {\n\t\tnot {\n\t\t\theader_regexp X-Auth-Request-Groups admin\n\t\t}\n\t}", 4},
		{"@m expression header({'X-Frontdoor-User': 'alice'})", 2},
		{"@m expression `header_regexp('X-Forwarded-User', '^adm')`", 2},
		{"@m `header({'Remote-User': ['alice']})`", 2},
		{"@m {\n\t\texpression \"ph(request, 'http.request.header.X-Frontdoor-User') == 'alice'\"\n\t}", 3},
		{"@m expression {http.request.header.X-Frontdoor-User} == 'alice'", 2},
		{"handle /x/* {\n\t\t@m header X-Frontdoor-User alice\n\t\trespond @m 403\n\t}", 3},
		{"route {\n\t\t@m {\n\t\t\theader X-Shop-Customer 1\n\t\t}\n\t\trespond @m 403\n\t}", 4},
	} {
		cf := "shop.example.com {\n\t" + tc.lines + "\n\tfrontdoor {\n\t\theaders {\n\t\t\tuser X-Shop-Customer\n\t\t}\n\t}\n\treverse_proxy 127.0.0.1:9000\n}\n"
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
		if err == nil || !strings.Contains(err.Error(), "where a client can forge it") || !strings.Contains(err.Error(), fmt.Sprintf("line %d ", tc.line)) {
			t.Errorf("%q: %v", tc.lines, err)
		}
	}
	for _, lines := range []string{
		"@m header Accept text/html\n\trespond @m 406",
		"@m header_regexp ua User-Agent curl\n\trespond @m 403",
		"@m path /remote-user/* /x-frontdoor-user\n\trespond @m 404",
		"@m expression {http.auth.user.id} == 'u_1'\n\trespond @m 403",
		"@m `path('/x-forwarded-user') && {http.frontdoor.email} != ''`\n\trespond @m 403",
		"header -X-Frontdoor-User\n\theader X-Forwarded-User \"\"",
		"request_header -Remote-User",
		"handle /x/* {\n\t\theader Remote-User none\n\t\trespond 204\n\t}",
	} {
		cf := "shop.example.com {\n\t" + lines + "\n\tfrontdoor\n\treverse_proxy 127.0.0.1:9000\n}\n"
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil); err != nil {
			t.Errorf("%q refused: %v", lines, err)
		}
	}
}
