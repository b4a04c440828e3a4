package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// pathTestHandler returns a handler with the site configuration invariant 2 is
// stated against: public "/ /pub/* /static/*", protect "/app/*", and a
// step-up rule on "/pub/pay/*" (under a public prefix on purpose).
func pathTestHandler(t testing.TB) *Handler {
	t.Helper()
	h := &Handler{}
	var err error
	if h.public, err = compilePatterns([]string{"/", "/pub/*", "/static/*"}); err != nil {
		t.Fatal(err)
	}
	if h.protect, err = compilePatterns([]string{"/app/*"}); err != nil {
		t.Fatal(err)
	}
	ps, err := compilePatterns([]string{"/pub/pay/*"})
	if err != nil {
		t.Fatal(err)
	}
	h.rules = []compiledRule{{Rule: Rule{Paths: []string{"/pub/pay/*"}, AAL: "aal2"}, paths: ps}}
	return h
}

// pathRequest builds a GET request the way net/http's server would parse the
// request line, so URL.Path is decoded and URL.RawPath kept when it differs.
func pathRequest(target string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target, nil)
}

// TestPathInvariant2: no reading of a protected path counts as public.
// "/.frontdoor/../app" is left out: ServeHTTP hands everything under the
// prefix to Frontdoor's own router before isPublic runs.
func TestPathInvariant2(t *testing.T) {
	h := pathTestHandler(t)
	notPublic := []string{
		"/app", "/app/", "/app/x",
		"//app", "//app/x", "///app/x",
		"/APP", "/App/x", "/%61pp/x", "/%41PP/x",
		"/app%2f..", "/app%2F..", "/app%2f", "/app%2fx",
		"/app/./x", "/./app", "/pub/../app", "/pub/x/../../app", "/static/../app/x",
		"/pub/..%2fapp", "/pub/..%2Fapp", "/pub%2f..%2fapp",
		"/pub/..;/app", "/pub/..;x=1/app",
		"/pub/%2e%2e/app", "/pub/%2E%2E/app", "/pub/%2e%2e%2fapp", "/pub/.%2e/app", "/pub/%2e./app",
		"/app.", "/app./x", "/app..", "/app%20", "/app%20/x", "/app.%20/x",
		"/app;jsessionid=1/x", "/app;/x", "/APP;x/",
		`/pub\..\app`, "/pub/..%5capp", "/pub/..%5Capp", "/pub%5c..%5capp",
		"/pub/pay", "/pub/pay/", "/pub/pay/x", "/PUB/Pay/x", "/pub/x/../pay/x", "/pub/pay;x/y", "/pub/pay./x",
		"/unknown", "/unknown/", "/pubx", "/publicity", "/staticfoo.css",
		// Issue 13, findings 3 and 9: what a backend that trims segments,
		// applies NFKC or reads "..." and ".. " as ".." serves.
		"/pub/%20pay/x", "/pub/%20pay%20/x", "/pub/pay%c2%a0/x", "/pub/%e3%80%80pay/x", "/pub/%ef%bd%90ay/x",
		"/pub/%20../app", "/pub/..%20/app", "/pub/%20..%20/app", "/pub/.../app", "/pub/..../app",
		"/pub/%ef%bc%8e%ef%bc%8e/app", "/pub/..%ef%bc%8fapp", "/pub/..%ef%bc%bcapp", "/pub/%e2%80%a5/app",
		"/pub/%e2%80%a4%e2%80%a4/app", "/pub/%ef%b9%92%ef%b9%92/app", "/pub/%252e%252e%252e/app",
		"/pub/%c0%ae%c0%ae/app", "/pub/%e0%80%ae./app", "/pub/%2509", "/%20pub/x", "/%ef%bd%90ub/x",
		"/pub/%ef%bc%85%ef%bc%92%ef%bd%85%ef%bc%85%ef%bc%92%ef%bd%85/app", "/pub/..%ef%bc%85%ef%bc%92%ef%bd%86app",
	}
	for _, target := range notPublic {
		if h.isPublic(pathRequest(target)) {
			r := pathRequest(target)
			t.Errorf("isPublic(%q) = true, want false (Path %q, RawPath %q, views %q)", target, r.URL.Path, r.URL.RawPath, pathViews(r))
		}
	}
	public := []string{
		"/", "/pub", "/pub/", "/pub/x", "/PUB/x", "/Pub/X/Y", "/static/a.css", "/pub/a%20b",
		"/pub/x/../y", "/pub/pay.html", "/pub/payment", "/static/..%2e", "/pub/%7e",
		"/pub/.hidden", "/pub/%20x", "/pub/x%20", "/pub/x.../y", "/pub/caf%C3%A9", "/pub/caf%e9",
	}
	for _, target := range public {
		if !h.isPublic(pathRequest(target)) {
			r := pathRequest(target)
			t.Errorf("isPublic(%q) = false, want true (views %q)", target, pathViews(r))
		}
	}
}

// TestPathRequireRule: a step-up path under a public prefix is not public,
// so the rule is enforced (the site configuration of DESIGN.md).
func TestPathRequireRule(t *testing.T) {
	h := &Handler{}
	var err error
	if h.public, err = compilePatterns([]string{"/", "/static/*", "/orders/*"}); err != nil {
		t.Fatal(err)
	}
	ps, err := compilePatterns([]string{"/orders/pay/*"})
	if err != nil {
		t.Fatal(err)
	}
	h.rules = []compiledRule{{Rule: Rule{Paths: []string{"/orders/pay/*"}, AAL: "aal2"}, paths: ps}}
	for target, want := range map[string]bool{
		"/orders":                 true,
		"/orders/123":             true,
		"/orders/payment":         true,
		"/orders/pay":             false,
		"/orders/pay/":            false,
		"/orders/pay/42":          false,
		"/Orders/PAY/42":          false,
		"//orders//pay/42":        false,
		"/orders/x/../pay/42":     false,
		"/orders/pay%2f42":        false,
		"/orders/pay;v=1/42":      false,
		"/orders/pay./42":         false,
		"/static/..%2forders/pay": false,
	} {
		if got := h.isPublic(pathRequest(target)); got != want {
			t.Errorf("isPublic(%q) = %v, want %v", target, got, want)
		}
	}
}

// TestPathHandBuiltURL covers URLs no request line produces but an
// internal rewrite can. Go's parser accepts every target of the table above
// (backslashes and "%00" included), so those go through httptest.NewRequest.
func TestPathHandBuiltURL(t *testing.T) {
	h := pathTestHandler(t)
	for _, u := range []url.URL{
		// An internal rewrite sets Path and leaves RawPath empty.
		{Path: "/pub/../app"},
		{Path: "/pub/x/..\\..\\app"},
		// "%zz" is no valid escape, so Go refuses this request line; a
		// rewrite can still produce the Path. The "%" is literal here.
		{Path: "/pub/%zz/../../app"},
		// A stale RawPath that no longer encodes Path is ignored by
		// EscapedPath, so it cannot add a public view.
		{Path: "/app/x", RawPath: "/pub/x"},
		{Path: "/app/x", RawPath: "/pub%2f..%2fapp%2fx"},
	} {
		r := &http.Request{Method: http.MethodGet, URL: &u}
		if h.isPublic(r) {
			t.Errorf("isPublic(Path %q, RawPath %q) = true, want false (views %q)", u.Path, u.RawPath, pathViews(r))
		}
	}
}

// TestPathResidualEncoding: what is left after Caddy's one decoding
// must not open a protected path to a backend that reads the path once
// more. "%252e%252e" reaches the backend as "%2e%2e", which a backend that
// decodes twice reads as ".."; a C backend stops at NUL, so "/admin%00.css"
// is "/admin" there. No legitimate public URL needs either.
// (Fails against pathViews as of 0a399ab, which read the path only once.)
func TestPathResidualEncoding(t *testing.T) {
	h := pathTestHandler(t)
	var err error
	if h.public, err = compilePatterns([]string{"/", "/pub/*", "*.css"}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{
		"/pub/%252e%252e/app",
		"/pub/%252e%252e%252fapp",
		"/pub/..%252fapp",
		"/pub/x%252f..%252f..%252fapp",
		"/pub/%255c..%255capp",
		"/admin%00.css",
		"/app%00.css",
	} {
		if h.isPublic(pathRequest(target)) {
			t.Errorf("isPublic(%q) = true, want false (views %q)", target, pathViews(pathRequest(target)))
		}
	}
	// Still public: a literal "%" that is no escape, and encoded spaces.
	for _, target := range []string{"/pub/100%25", "/pub/a%20b.css", "/pub/%25zz"} {
		if !h.isPublic(pathRequest(target)) {
			t.Errorf("isPublic(%q) = false, want true", target)
		}
	}
}

// TestRefusedPath: control characters at any decoding depth, overlong
// UTF-8 and escapes nested too deep are refused; everything a real address
// holds is not (issue 13, findings 3 and 9).
func TestRefusedPath(t *testing.T) {
	for _, target := range []string{
		"/a%00", "/a%09b", "/a%0a", "/a%0D", "/a%0b", "/a%1f", "/a%7f", "/a%7F", "/%20%09x",
		"/a%2509", "/a%252509", "/a%25252509", "/100%25/%2509", "/a%c0%ae", "/a%C1%81", "/a%e0%80%ae",
		"/a%f0%80%80%ae", "/a%fc%80%80%80%80%ae", "/a%25c0%25ae", "/a%ef%bc%85%ef%bc%90%ef%bc%99",
		"/a%" + strings.Repeat("25", maxPathDecodes) + "41",
	} {
		r := pathRequest(target)
		if !refusedPath(r.URL.Path) {
			t.Errorf("refusedPath(%q) = false (Path %q)", target, r.URL.Path)
		}
	}
	for _, p := range []string{"/a\tb", "/a\x00", "/a\x7f", "/a\xc0\xae"} {
		if !refusedPath(p) {
			t.Errorf("refusedPath(%q) = false", p)
		}
	}
	for _, target := range []string{
		"/", "/app/x", "/a%20b", "/100%25", "/%25zz", "/a%2541", "/caf%C3%A9", "/caf%e9", "/%e2%80%a5",
		"/%ef%bc%8e", "/a%c3%80%c2%ae", "/%f0%9f%98%80", "/a%2f..", "/a%" + strings.Repeat("25", maxPathDecodes-1) + "41",
	} {
		r := pathRequest(target)
		if refusedPath(r.URL.Path) {
			t.Errorf("refusedPath(%q) = true (Path %q)", target, r.URL.Path)
		}
	}
}

// TestLenientPath: the readings of a backend that trims, folds or reads
// runs of dots as "..", and what it keeps.
func TestLenientPath(t *testing.T) {
	for in, want := range map[string]string{
		"/orders/ pay/x":      "/orders/pay/x",
		"/orders/\u3000pay/x": "/orders/pay/x",
		"/orders/pay\u00a0/x": "/orders/pay/x",
		"/ｏｒｄｅｒｓ/x":           "/orders/x",
		"/pub/．．/app":         "/app",
		"/pub/..／app":         "/app",
		"/pub/..＼app":         "/app",
		"/pub/‥/app":          "/app",
		"/pub/.../app":        "/app",
		"/pub/.. /app":        "/app",
		"/pub/ ../app":        "/app",
		"/pub/ . /app":        "/pub/app",
		"/.well-known/x":      "/.well-known/x",
		"/pub/.env":           "/pub/.env",
		"/pub/ .env":          "/pub/.env",
		"/pub/caf\xe9":        "/pub/caf",
		"/pub/x...":           "/pub/x",
	} {
		if got := lenientPath(in); got != want {
			t.Errorf("lenientPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPathDenyByDefault: no public line at all means the whole site is
// protected, even "/".
func TestPathDenyByDefault(t *testing.T) {
	h := &Handler{}
	for _, target := range []string{"/", "/pub/x", "/static/a.css"} {
		if h.isPublic(pathRequest(target)) {
			t.Errorf("with no public paths isPublic(%q) = true", target)
		}
	}
}

// TestPathSuffixPattern: a public "*.css" opens stylesheets anywhere but never
// inside a protected prefix, and matrix parameters or dot segments cannot
// fake the suffix.
func TestPathSuffixPattern(t *testing.T) {
	h := &Handler{}
	var err error
	if h.public, err = compilePatterns([]string{"*.css", "/health"}); err != nil {
		t.Fatal(err)
	}
	if h.protect, err = compilePatterns([]string{"/app/*"}); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]bool{
		"/a.css":              true,
		"/x/y/A.CSS":          true,
		"/health":             true,
		"/HEALTH":             true,
		"/health/":            false, // exact: a trailing slash is another path
		"/health/x":           false,
		"/healthz":            false,
		"/app/a.css":          false,
		"//app/a.css":         false,
		"/admin;.css":         false,
		"/admin;x=.css":       false,
		"/admin/x.css/..":     false,
		"/admin/x.css%2f..":   false,
		"/admin.css/../admin": false,
	} {
		if got := h.isPublic(pathRequest(target)); got != want {
			t.Errorf("isPublic(%q) = %v, want %v (views %q)", target, got, want, pathViews(pathRequest(target)))
		}
	}
}

func TestPathCompilePattern(t *testing.T) {
	for _, bad := range []string{"", "foo", "app/*", "/a*b", "/**", "**", "*a*", "/a/*/b", " /a"} {
		if pp, err := compilePattern(bad); err == nil {
			t.Errorf("compilePattern(%q) = %+v, want an error", bad, pp)
		}
	}
	cases := []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{"/health", []string{"/health"}, []string{"/health/", "/healthz", "/health/x", "/"}},
		{"/Static/*", []string{"/static", "/static/", "/static/a/b"}, []string{"/staticx", "/stati", "/"}},
		{"/pub*", []string{"/pub", "/pubx", "/pub/x"}, []string{"/pu", "/"}},
		{"*.css", []string{"/a.css", "/a/b.css", "/.css"}, []string{"/a.cssx", "/acss", "/a.css/"}},
		{"*", []string{"/", "/x", "/x/y"}, nil},
		{"/", []string{"/"}, []string{"/x"}},
	}
	for _, c := range cases {
		pp, err := compilePattern(c.pattern)
		if err != nil {
			t.Fatalf("compilePattern(%q): %v", c.pattern, err)
		}
		for _, p := range c.match {
			if !pp.match(p) {
				t.Errorf("%q should match %q", c.pattern, p)
			}
		}
		for _, p := range c.nomatch {
			if pp.match(p) {
				t.Errorf("%q should not match %q", c.pattern, p)
			}
		}
	}
	if _, err := compilePatterns([]string{"/ok", "bad"}); err == nil {
		t.Error("compilePatterns accepted a list with a bad entry")
	}
}

// canonicalPathSeeds are the request paths of the invariant-2 table, decoded.
var canonicalPathSeeds = []string{
	"/", "", "//app", "/APP", "/app/./x", "/pub/../app", "/pub/..;/app", "/app.", "/app./x",
	"/app;jsessionid=1/x", `/pub\..\app`, "/static/../app/x", "/pub/x/../../app", "/..", "/../..",
	"app", "/a/", "/a//", "/a/../", "/.../x", "/. ./x", "/x. /", "/;/", "/%2f", "\x00", "/\xff",
	"/ ../x", "/.. /x", "/．．/x", "/..／x", "/‥/x", "/\u3000x", "/\xc0\xae",
}

func TestCanonicalPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "/",
		"/":                   "/",
		"//app":               "/app",
		"/APP/X":              "/app/x",
		"/app/":               "/app/",
		"/app//":              "/app/",
		"/app/./x":            "/app/x",
		"/pub/../app":         "/app",
		"/../../app":          "/app",
		"/pub/..;/app":        "/app",
		"/app.":               "/app",
		"/app. . /x":          "/app/x",
		"/app;jsessionid=1/x": "/app/x",
		`\pub\..\app`:         "/app",
		"app":                 "/app",
	} {
		if got := canonicalPath(in); got != want {
			t.Errorf("canonicalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCanonicalPath(f *testing.F) {
	for _, s := range canonicalPathSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c := canonicalPath(p)
		switch {
		case !strings.HasPrefix(c, "/"):
			t.Fatalf("canonicalPath(%q) = %q: not absolute", p, c)
		case strings.Contains(c, "//"):
			t.Fatalf("canonicalPath(%q) = %q: contains //", p, c)
		case strings.Contains(c+"/", "/../") || strings.Contains(c+"/", "/./"):
			t.Fatalf("canonicalPath(%q) = %q: contains a dot segment", p, c)
		case strings.Contains(c, `\`):
			t.Fatalf("canonicalPath(%q) = %q: contains a backslash", p, c)
		}
		if cc := canonicalPath(c); cc != c {
			t.Fatalf("canonicalPath not idempotent: %q -> %q -> %q", p, c, cc)
		}
		l := lenientPath(p)
		switch {
		case !strings.HasPrefix(l, "/"), strings.Contains(l, "//"), strings.Contains(l, `\`),
			strings.Contains(l+"/", "/../"), strings.Contains(l+"/", "/./"):
			t.Fatalf("lenientPath(%q) = %q: not a clean absolute path", p, l)
		}
	})
}
