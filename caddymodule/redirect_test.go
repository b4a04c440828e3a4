package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

var redirectAllowHosts = map[string]bool{"allowed.example.com": true}

// refusedRedirects must all fall back to "/" (invariant 3), whether or not
// the operator allow-lists a host.
var refusedRedirects = []string{
	"",
	"//evil.com", "///evil.com", "////evil.com", "//evil.com/%2e%2e",
	`/\evil.com`, `\/evil.com`, `\\evil.com`, `/\/evil.com`,
	"https:evil.com", "https:/evil.com", "https:///evil.com", `https:\\evil.com`,
	"https://evil.com", "http://evil.com", "HTTPS://evil.com", "ftp://allowed.example.com/",
	"javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "vbscript:x",
	"/%2f%2fevil.com", "/%2F%2Fevil.com", "%2f%2fevil.com", "/%2f/evil.com",
	"/%5cevil.com", "/%5Cevil.com", "/%255c%255cevil.com", "/%252f%252fevil.com",
	"/%25252f%25252fevil.com",
	`/\tevil`, "/\tevil", "/\t/evil.com", "/%09/evil.com",
	"/\r\n//evil", "/%0d%0aSet-Cookie:x=1", "/x\r\nLocation: //evil",
	`/x\x00`, "/x\x00", "/x%00", "/x\x7f",
	"https://allowed.example.com@evil.com/", "https://allowed.example.com:443@evil.com/",
	"https://evil.com#@allowed.example.com", "https://evil.com?@allowed.example.com",
	`https://allowed.example.com\@evil.com`, "https://evil.com/allowed.example.com",
	"http://allowed.example.com/", "https://allowed.example.com:8443/",
	"https://allowed.example.com./x", "https:allowed.example.com/x",
	" /x", " //evil.com", "\t//evil.com", "x", "evil.com", "./x", "../x", "?x=1", "#frag",
	"/" + strings.Repeat("a", 2999),
	"/100%", "/%zz", // not decodable: refused rather than repaired
}

// keptRedirects are returned unchanged.
var keptRedirects = []string{
	"/", "/app", "/app/", "/app/x?y=1&z=2", "/app#frag", "/a%20b", "/.frontdoor/account",
	"/app?rd=//evil.com", // the query is not the target
	"/" + strings.Repeat("a", 2000),
	// "/.//evil" is a path-absolute reference: a browser resolves it on the
	// current origin to the path "//evil" (RFC 3986 §5.2.4 removes "/."; the
	// authority is never re-parsed), so it cannot leave the site. The login
	// handler's http.Redirect cleans it to "/evil" anyway (TestRedirectLocation).
	"/.//evil", "/..//evil", "/%2e%2e//evil",
}

func TestSafeRedirect(t *testing.T) {
	for _, hosts := range []map[string]bool{nil, {}, redirectAllowHosts} {
		for _, rd := range refusedRedirects {
			if got := safeRedirect(rd, hosts); got != "/" {
				t.Errorf("safeRedirect(%q, %v) = %q, want /", rd, hosts, got)
			}
		}
		for _, rd := range keptRedirects {
			if got := safeRedirect(rd, hosts); got != rd {
				t.Errorf("safeRedirect(%q, %v) = %q, want it kept", rd, hosts, got)
			}
		}
	}
}

func TestSafeRedirectAllowList(t *testing.T) {
	for _, rd := range []string{
		"https://allowed.example.com/x",
		"https://allowed.example.com",
		"https://allowed.example.com/x?y=1#z",
		"https://ALLOWED.example.com/x",
	} {
		if got := safeRedirect(rd, redirectAllowHosts); got != rd {
			t.Errorf("safeRedirect(%q, allow-listed) = %q, want it kept", rd, got)
		}
		for _, hosts := range []map[string]bool{nil, {}, {"other.example.com": true}} {
			if got := safeRedirect(rd, hosts); got != "/" {
				t.Errorf("safeRedirect(%q, %v) = %q, want /", rd, hosts, got)
			}
		}
	}
}

// TestRedirectLocation follows rd to the Location header the login handler
// sends (http.Redirect) and checks where a browser lands.
func TestRedirectLocation(t *testing.T) {
	for rd, want := range map[string]string{
		"/.//evil":                      "https://site.example/evil",
		"/app/x?y=1":                    "https://site.example/app/x?y=1",
		"//evil.com":                    "https://site.example/",
		"https://allowed.example.com/x": "https://allowed.example.com/x",
	} {
		if got := redirectLanding(t, safeRedirect(rd, redirectAllowHosts)); got.String() != want {
			t.Errorf("rd %q lands on %q, want %q", rd, got, want)
		}
	}
}

// redirectLanding returns the URL a browser on https://site.example/.frontdoor/login
// goes to when it receives the redirect the login handler sends for target.
func redirectLanding(t testing.TB, target string) *url.URL {
	t.Helper()
	w := httptest.NewRecorder()
	http.Redirect(w, httptest.NewRequest(http.MethodPost, "/.frontdoor/login", nil), target, http.StatusSeeOther)
	return redirectBrowserResolve(t, w.Header().Get("Location"))
}

// redirectBrowserResolve resolves ref against the login page as a browser would:
// the WHATWG URL parser first drops tabs and newlines, trims C0 controls and
// spaces, and reads "\" as "/" in http(s) URLs.
func redirectBrowserResolve(t testing.TB, ref string) *url.URL {
	t.Helper()
	ref = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(ref)
	ref = strings.TrimFunc(ref, func(r rune) bool { return r <= ' ' })
	base, _ := url.Parse("https://site.example/.frontdoor/login")
	u, err := url.Parse(ref)
	if err != nil {
		t.Fatalf("Location %q does not parse: %v", ref, err)
	}
	return base.ResolveReference(u)
}

func FuzzSafeRedirect(f *testing.F) {
	for _, s := range refusedRedirects {
		f.Add(s)
	}
	for _, s := range keptRedirects {
		f.Add(s)
	}
	f.Add("https://allowed.example.com/x")
	f.Fuzz(func(t *testing.T, rd string) {
		got := safeRedirect(rd, redirectAllowHosts)
		if got != "/" && got != rd && !strings.HasPrefix(strings.ToLower(rd), "https:") {
			t.Fatalf("safeRedirect(%q) = %q: a relative target was rewritten, not kept or refused", rd, got)
		}
		if g := safeRedirect(rd, nil); g != "/" && (g != rd || !strings.HasPrefix(g, "/")) {
			t.Fatalf("safeRedirect(%q, nil) = %q: only paths may pass without an allow-list", rd, g)
		}
		switch {
		case strings.HasPrefix(got, "/"):
			if strings.HasPrefix(got, "//") || strings.HasPrefix(got, `/\`) {
				t.Fatalf("safeRedirect(%q) = %q: protocol-relative", rd, got)
			}
		case strings.HasPrefix(strings.ToLower(got), "https://allowed.example.com"):
		default:
			t.Fatalf("safeRedirect(%q) = %q: neither a path nor an allow-listed https URL", rd, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] < 0x20 || got[i] == 0x7f || got[i] == '\\' {
				t.Fatalf("safeRedirect(%q) = %q: control character or backslash", rd, got)
			}
		}
		for _, u := range []*url.URL{redirectBrowserResolve(t, got), redirectLanding(t, got)} {
			if h := strings.ToLower(u.Host); h != "site.example" && !redirectAllowHosts[h] {
				t.Fatalf("safeRedirect(%q) = %q lands on host %q", rd, got, u.Host)
			}
			if u.User != nil || (u.Scheme != "https") {
				t.Fatalf("safeRedirect(%q) = %q lands on %q", rd, got, u)
			}
		}
	})
}
