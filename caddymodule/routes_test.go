package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
)

// pinnedRoutes are Frontdoor's own paths under the prefix and the methods
// each answers, as they were before the route table: the table must keep
// them exactly.
var pinnedRoutes = map[string]string{
	"/register":                      "GET, HEAD, POST",
	"/verify":                        "GET, HEAD, POST",
	"/login":                         "GET, HEAD, POST",
	"/logout":                        "GET, HEAD, POST",
	"/reset":                         "GET, HEAD, POST",
	"/reset/confirm":                 "GET, HEAD, POST",
	"/not-me":                        "GET, HEAD, POST",
	"/magic":                         "GET, HEAD, POST",
	"/magic/verify":                  "GET, HEAD, POST",
	"/phone":                         "GET, HEAD, POST",
	"/account":                       "GET, HEAD",
	"/account/signout-everywhere":    "POST",
	"/account/consent":               "POST",
	"/consent":                       "GET, HEAD, POST",
	"/account/totp":                  "POST",
	"/account/totp/confirm":          "POST",
	"/account/totp/remove":           "POST",
	"/account/recovery":              "POST",
	"/account/devices/forget":        "POST",
	"/account/passkey/remove":        "POST",
	"/mfa":                           "GET, HEAD, POST",
	"/stepup":                        "GET, HEAD",
	"/lang":                          "GET, HEAD",
	"/passkey/options":               "POST",
	"/passkey/login":                 "POST",
	"/passkey/register":              "POST",
	"/challenge":                     "POST",
	"/account/identity/unlink":       "POST",
	"/oidc/link":                     "GET, HEAD, POST",
	"/account/email":                 "GET, HEAD, POST",
	"/account/email/confirm":         "GET, HEAD, POST",
	"/account/phone":                 "GET, HEAD, POST",
	"/account/phone/confirm":         "POST",
	"/account/phone/remove":          "POST",
	"/account/sms-factor":            "POST",
	"/mfa/sms":                       "POST",
	"/account/sessions/revoke":       "POST",
	"/profile":                       "GET, HEAD, POST",
	"/account/export":                "GET, HEAD",
	"/account/delete":                "GET, HEAD, POST",
	"/invite":                        "GET, HEAD, POST",
	"/account/keys":                  "POST",
	"/account/keys/revoke":           "POST",
	"/account/apps/revoke":           "POST",
	"/apps/consent":                  "POST",
	"/agent":                         "GET, HEAD",
	"/agent/find":                    "POST",
	"/agent/code":                    "POST",
	"/agent/verify":                  "POST",
	"/agent/act":                     "POST",
	"/agent/close":                   "POST",
	"/account/support-code":          "POST",
	"/agent/view":                    "POST",
	"/account/view-code":             "POST",
	"/account/factor-removal/cancel": "POST",
	"/factor-removal/cancel":         "GET, HEAD, POST",
}

// routesTestHandler is a handler that can render pages and route its own
// paths without Caddy or a store; its CSRF tokens are deterministic for a
// request carrying testCSRFCookie.
func routesTestHandler(t *testing.T) *Handler {
	t.Helper()
	p, err := loadPages("")
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{Prefix: defaultPrefix, prefixSlash: defaultPrefix + "/", pages: p,
		allowHosts: map[string]bool{"allowed.example.com": true},
		app:        &App{csrfKey: []byte("routes-test-csrf-key-32-bytes-ok"), policy: identity.DefaultPasswordPolicy}}
	h.routes = h.ownRoutes()
	return h
}

var testCSRFCookie = &http.Cookie{Name: csrfCookie, Value: strings.Repeat("c", 43)}

// ownRequest is a request for sub under the prefix; a form makes it a
// parsed form post, as serveOwn hands it to the defence.
func ownRequest(t *testing.T, method, sub string, form url.Values) *http.Request {
	t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, defaultPrefix+sub, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
	} else {
		r = httptest.NewRequest(method, defaultPrefix+sub, nil)
	}
	r.AddCookie(testCSRFCookie)
	return r
}

// TestRoutesMethodsAndAllow pins the paths under the prefix, and for every
// method a path does not answer: 405 with the same Allow header. Unknown
// paths are 404.
func TestRoutesMethodsAndAllow(t *testing.T) {
	h := routesTestHandler(t)
	var got []string
	for p := range h.routes {
		got = append(got, p)
	}
	var want []string
	for p := range pinnedRoutes {
		want = append(want, p)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("own paths:\n got %v\nwant %v", got, want)
	}
	for sub, allow := range pinnedRoutes {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			if strings.Contains(allow, m) {
				continue // answering needs a store; the integration tests cover it
			}
			w := httptest.NewRecorder()
			if err := h.serveOwn(w, ownRequest(t, m, sub, nil)); err != nil {
				t.Fatalf("%s %s: %v", m, sub, err)
			}
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != allow {
				t.Errorf("%s %s = %d Allow %q, want 405 Allow %q", m, sub, w.Code, w.Header().Get("Allow"), allow)
			}
		}
	}
	for _, sub := range []string{"/", "/nope", "/login/", "/Login", "/account/totp/x", "/static/other.css"} {
		w := httptest.NewRecorder()
		if err := h.serveOwn(w, ownRequest(t, http.MethodGet, sub, nil)); err != nil {
			t.Fatal(err)
		}
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", sub, w.Code)
		}
	}
}

// defenceCases: which limit route each of Frontdoor's own requests counts
// against, whether it can be answered with a challenge, and the form page
// the challenge is shown on.
var defenceCases = []struct {
	method, sub   string
	form          url.Values
	route         string
	challengeable bool
	// page, title and message of the challenge page of a challengeable
	// request; localRD: its rd may only go back to this site.
	page, title, message string
	localRD              bool
}{
	{method: "GET", sub: "/login"},
	{method: "HEAD", sub: "/login"},
	{method: "POST", sub: "/login", form: url.Values{"email": {"A@Example.com"}, "password": {"x"}, "rd": {"https://allowed.example.com/x"}},
		route: botdefense.RouteLogin, challengeable: true, page: "login", title: "Sign in",
		message: "One more step: your browser is doing a quick security check. Then enter your password again and continue."},
	{method: "GET", sub: "/register"},
	{method: "POST", sub: "/register", form: url.Values{"email": {"new@example.com"}, "rd": {"/after"}},
		route: botdefense.RouteRegister, challengeable: true, page: "register", title: "Create your account",
		message: "One more step: your browser is doing a quick security check. Then enter your password again and continue."},
	{method: "GET", sub: "/magic"},
	{method: "POST", sub: "/magic", form: url.Values{"email": {"a@example.com"}, "rd": {"https://allowed.example.com/y"}},
		route: botdefense.RouteMagic, challengeable: true, page: "magic", title: "Sign in with email",
		message: "One more step: your browser is doing a quick security check."},
	{method: "POST", sub: "/magic", form: url.Values{"email": {"a@example.com"}, "code": {"123456"}}, route: botdefense.RouteCode},
	{method: "POST", sub: "/magic", form: url.Values{"code": {""}}, route: botdefense.RouteCode},
	{method: "GET", sub: "/magic", form: url.Values{"code": {"123456"}}},
	{method: "GET", sub: "/magic/verify"},
	{method: "POST", sub: "/magic/verify", form: url.Values{"token": {"t"}}, route: botdefense.RouteCode},
	{method: "POST", sub: "/account/phone/confirm", form: url.Values{"code": {"123456"}}, route: botdefense.RouteCode},
	{method: "GET", sub: "/reset"},
	{method: "POST", sub: "/reset", form: url.Values{"email": {"a@example.com"}},
		route: botdefense.RouteReset, challengeable: true, page: "reset", title: "Reset your password",
		message: "One more step: your browser is doing a quick security check."},
	{method: "GET", sub: "/reset/confirm"},
	{method: "POST", sub: "/reset/confirm", form: url.Values{"token": {"t"}}, route: botdefense.RouteVerify},
	{method: "GET", sub: "/not-me", route: botdefense.RouteVerify},
	{method: "GET", sub: "/factor-removal/cancel", route: botdefense.RouteVerify},
	{method: "POST", sub: "/factor-removal/cancel", form: url.Values{"token": {"t"}}, route: botdefense.RouteVerify},
	{method: "POST", sub: "/not-me", form: url.Values{"token": {"t"}}, route: botdefense.RouteVerify},
	{method: "GET", sub: "/verify", route: botdefense.RouteVerify},
	{method: "HEAD", sub: "/verify", route: botdefense.RouteVerify},
	{method: "POST", sub: "/verify", form: url.Values{"token": {"t"}}, route: botdefense.RouteVerify},
	{method: "GET", sub: "/mfa"},
	{method: "POST", sub: "/mfa", form: url.Values{"code": {"123456"}}, route: botdefense.RouteStepUp},
	{method: "POST", sub: "/mfa/sms", form: url.Values{}, route: botdefense.RouteStepUp},
	{method: "GET", sub: "/stepup"},
	{method: "POST", sub: "/passkey/options", form: url.Values{"purpose": {"login"}}, route: botdefense.RoutePasskey},
	{method: "POST", sub: "/passkey/options", form: url.Values{"purpose": {"register"}}, route: botdefense.RoutePasskey},
	{method: "POST", sub: "/passkey/login", form: url.Values{"credential": {"{}"}}, route: botdefense.RoutePasskey},
	{method: "POST", sub: "/passkey/register", form: url.Values{"credential": {"{}"}}},
	{method: "POST", sub: "/challenge", form: url.Values{"pow": {"p"}, "rd": {"https://allowed.example.com/sale"}},
		route: botdefense.RouteChallenge, challengeable: true, page: "challenge", title: "Just a moment",
		message: "One more step: your browser is doing a quick security check.", localRD: true},
	{method: "GET", sub: "/logout"},
	{method: "POST", sub: "/logout", form: url.Values{}},
	{method: "GET", sub: "/account"},
	{method: "POST", sub: "/account/signout-everywhere", form: url.Values{}},
	{method: "POST", sub: "/account/totp", form: url.Values{}},
	{method: "POST", sub: "/account/totp/confirm", form: url.Values{"code": {"123456"}}},
	{method: "POST", sub: "/account/totp/remove", form: url.Values{}},
	{method: "POST", sub: "/account/recovery", form: url.Values{}},
	{method: "POST", sub: "/account/devices/forget", form: url.Values{}},
	{method: "POST", sub: "/account/passkey/remove", form: url.Values{"id": {"x"}}},
}

// TestDefendedRoutes pins the defended-route name and challengeability of
// every request to Frontdoor's own paths, and the page a challenge is
// shown on: byte for byte what the page handler would render with the
// same data.
func TestDefendedRoutes(t *testing.T) {
	h := routesTestHandler(t)
	d := botdefense.Decision{Action: botdefense.Challenge, Challenge: "c.h.a.l", Bits: 14}
	for _, c := range defenceCases {
		name := c.method + " " + c.sub + "?" + c.form.Encode()
		r := ownRequest(t, c.method, c.sub, c.form)
		route, challengeable := defenceOf(h, r)
		if route != c.route || challengeable != c.challengeable {
			t.Errorf("%s: defended as (%q, %v), want (%q, %v)", name, route, challengeable, c.route, c.challengeable)
		}
		if !c.challengeable {
			continue
		}
		w := httptest.NewRecorder()
		if err := showChallenge(h, w, r, d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		hosts := h.allowHosts
		if c.localRD {
			hosts = nil
		}
		want := httptest.NewRecorder()
		want.Header().Set("Cache-Control", "no-store")
		pd := &pageData{Title: c.title, CSRF: csrfToken(h.app.csrfKey, testCSRFCookie.Value),
			RD: safeRedirect(c.form.Get("rd"), hosts), Email: c.form.Get("email"),
			Pow: &powView{Challenge: d.Challenge, Bits: d.Bits}, Message: c.message}
		if err := h.render(want, r, http.StatusForbidden, c.page, pd); err != nil {
			t.Fatal(err)
		}
		if w.Code != want.Code || w.Body.String() != want.Body.String() || !equalHeaders(w.Header(), want.Header()) {
			t.Errorf("%s: challenge page differs:\n got %d %v %s\nwant %d %v %s", name, w.Code, w.Header(), w.Body, want.Code, want.Header(), want.Body)
		}
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// defenceOf is the defence serveOwn applies to r.
func defenceOf(h *Handler, r *http.Request) (string, bool) {
	rt, ok := h.routes[strings.TrimPrefix(r.URL.Path, h.Prefix)]
	if !ok {
		return "", false
	}
	d := rt.defenceOf(r)
	return d.route, d.challenge != nil
}

// showChallenge renders the challenge page of r, as defend does.
func showChallenge(h *Handler, w http.ResponseWriter, r *http.Request, d botdefense.Decision) error {
	rt := h.routes[strings.TrimPrefix(r.URL.Path, h.Prefix)]
	return h.challengePage(w, r, rt.defenceOf(r).challenge, d)
}

// TestRouteTable checks every entry of the route table is one a handler
// can serve: a clean path under the prefix, once; a handler for each
// method it defends; defended routes botdefense knows; challenges only on
// posts, shown on a page that exists.
func TestRouteTable(t *testing.T) {
	h := routesTestHandler(t)
	seen := map[string]bool{}
	for _, rt := range routeTable {
		p := rt.path
		full := h.Prefix + p
		if p == "/" || !strings.HasPrefix(full, h.prefixSlash) || path.Clean(full) != full || strings.HasPrefix(p, "/static/") {
			t.Errorf("%q: not a clean path of its own under the prefix", p)
		}
		if seen[p] {
			t.Errorf("%q: twice in the table", p)
		}
		seen[p] = true
		if rt.get == nil && rt.post == nil {
			t.Errorf("%q: no handler", p)
		}
		if rt.getDefence != (defence{}) && rt.get == nil {
			t.Errorf("%q: defends a GET it does not answer", p)
		}
		if (rt.postDefence != (defence{}) || rt.postDefenceBy != nil) && rt.post == nil {
			t.Errorf("%q: defends a post it does not answer", p)
		}
		if rt.postDefence != (defence{}) && rt.postDefenceBy != nil {
			t.Errorf("%q: both postDefence and postDefenceBy", p)
		}
		if rt.getDefence.challenge != nil {
			// The challenge page posts its form again; a GET has none.
			t.Errorf("%q: a GET cannot be challenged", p)
		}
		defences := []defence{rt.getDefence, rt.postDefence}
		if rt.postDefenceBy != nil {
			for _, form := range []url.Values{{}, {"code": {"1"}}, {"email": {"a@example.com"}}, {"purpose": {"register"}}} {
				defences = append(defences, rt.postDefenceBy(ownRequest(t, http.MethodPost, p, form)))
			}
		}
		for _, d := range defences {
			if d.route == "" {
				if d != (defence{}) {
					t.Errorf("%q: a challenge or hashing without a defended route", p)
				}
				continue
			}
			if !slices.Contains(botdefense.Routes, d.route) {
				t.Errorf("%q: defended route %q is not one of botdefense.Routes", p, d.route)
			}
			if c := d.challenge; c != nil && (h.pages.locales[0].tmpl[c.page] == nil || c.title == "") {
				t.Errorf("%q: challenge page %q (title %q) does not exist", p, c.page, c.title)
			}
		}
	}
	if len(h.routes) != len(routeTable) {
		t.Errorf("ownRoutes has %d paths, the table %d", len(h.routes), len(routeTable))
	}
}

// TestPageNames: the pages a theme may override are every built-in
// template but the layout, as the list written out before them was.
func TestPageNames(t *testing.T) {
	want := []string{"register", "register_sent", "verify", "login", "logout", "reset", "reset_confirm", "magic", "magic_confirm", "account", "message",
		"mfa", "totp", "recovery", "confirm", "verify_passkey", "verify_confirm", "verify_password", "challenge"}
	for _, name := range want {
		if !slices.Contains(pageNames, name) {
			t.Errorf("page %q missing from %v", name, pageNames)
		}
	}
	if slices.Contains(pageNames, "layout") {
		t.Error("layout.html is not a page")
	}
}
