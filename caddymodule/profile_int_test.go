package caddymodule

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const profileGlobal = "profile {\n\t\t\tfield name {\n\t\t\t\tlabel \"Full name\"\n\t\t\t\tmax 40\n\t\t\t}\n\t\t\tfield phone {\n\t\t\t\ttype tel\n\t\t\t}\n\t\t\tfield birthdate {\n\t\t\t\ttype date\n\t\t\t}\n\t\t}"

// TestProfilePrompt: a route asking for profile fields prompts only for
// the missing ones (browser: a page that returns; API: 403
// profile_required), refuses bad input with a clear message, stores what
// passes, and the site's backend gets the fields it names as headers.
func TestProfilePrompt(t *testing.T) {
	o := gatewayOpts{global: profileGlobal, site: "require /checkout/* {\n\t\t\tprofile name phone\n\t\t}\n\t\tprofile name phone"}
	runOnBothStoresWith(t, o, []scenario{{name: "prompt", run: func(t *testing.T, g *gateway) {
		c := g.signUp("profiled@example.com")
		// API callers get the JSON error naming what is missing.
		r := g.get(c, "/checkout/pay", map[string]string{"Accept": "application/json"})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, `"error":"profile_required"`) || !strings.Contains(r.body, `"fields":["name","phone"]`) {
			t.Fatalf("API: %d %s", r.status, r.body)
		}
		// A browser goes to the prompt, for the missing fields only.
		r = g.get(c, "/checkout/pay?item=1", map[string]string{"Accept": "text/html"})
		loc := r.header.Get("Location")
		if r.status != http.StatusFound || !strings.HasPrefix(loc, "/.frontdoor/profile?") {
			t.Fatalf("browser: %d %s", r.status, loc)
		}
		page := g.get(c, loc, nil)
		if !strings.Contains(page.body, "Full name") || !strings.Contains(page.body, `type="tel"`) || strings.Contains(page.body, "Birthdate") {
			t.Fatalf("prompt:\n%s", page.body)
		}
		// Bad input: a clear message per field, nothing stored.
		form := url.Values{"field": {"name", "phone"}, "name": {"Ann Example"}, "phone": {"call me maybe"}, "rd": {"/checkout/pay?item=1"}}
		r = g.postVia(c, loc, "/.frontdoor/profile", form)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Enter a phone number") || !strings.Contains(r.body, `value="Ann Example"`) {
			t.Fatalf("bad phone: %d\n%s", r.status, r.body)
		}
		form.Set("name", "Ann\r\nX-Frontdoor-User: admin")
		form.Set("phone", "+44 20 7946 0958")
		if r := g.postVia(c, loc, "/.frontdoor/profile", form); r.status != http.StatusBadRequest || !strings.Contains(r.body, "line breaks") {
			t.Fatalf("header injection: %d", r.status)
		}
		form.Set("name", strings.Repeat("x", 41))
		if r := g.postVia(c, loc, "/.frontdoor/profile", form); r.status != http.StatusBadRequest || !strings.Contains(r.body, "at most 40") {
			t.Fatalf("too long: %d", r.status)
		}
		form.Set("name", "Ann Example")
		r = g.postVia(c, loc, "/.frontdoor/profile", form)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/checkout/pay?item=1" {
			t.Fatalf("save: %d %v %s", r.status, r.header, r.body)
		}
		// Back where it was going; the backend gets the fields.
		if r := g.get(c, "/checkout/pay?item=1", nil); r.status != http.StatusOK {
			t.Fatalf("after the prompt: %d %s", r.status, r.body)
		}
		h := g.backend.lastHeaders()
		if h.Get("X-Frontdoor-Name") != "Ann Example" || h.Get("X-Frontdoor-Phone") != "+44 20 7946 0958" {
			t.Fatalf("profile headers: %v", h)
		}
		// And the assertion states them, as the profile claim.
		prof, _ := assertionClaims(t, g)["profile"].(map[string]any)
		if prof["name"] != "Ann Example" || prof["phone"] != "+44 20 7946 0958" || len(prof) != 2 {
			t.Fatalf("profile claim: %v", prof)
		}
		// A client cannot forge them.
		g.get(c, "/app/x", map[string]string{"X-Frontdoor-Phone": "+1 555 0100", "X-Frontdoor-Birthdate": "2000-01-01"})
		if h := g.backend.lastHeaders(); h.Get("X-Frontdoor-Phone") != "+44 20 7946 0958" || h.Get("X-Frontdoor-Birthdate") != "" {
			t.Fatalf("forged profile headers reached the backend: %v", h)
		}
		// The account page shows them, with a way to change them.
		if acct := g.get(c, "/.frontdoor/account", nil).body; !strings.Contains(acct, "Ann Example") || !strings.Contains(acct, "/.frontdoor/profile?rd=") {
			t.Fatalf("account page:\n%s", acct)
		}
	}}})
}

func TestProfileCaddyfileErrors(t *testing.T) {
	cases := []struct{ global, site, want string }{
		{"profile {\n\t\t\tfield Name\n\t\t}", "public /health", "lower-case letters"},
		{"profile {\n\t\t\tfield phone {\n\t\t\t\ttype fax\n\t\t\t}\n\t\t}", "public /health", `type "fax"`},
		{"profile {\n\t\t\tfield phone {\n\t\t\t\tmax lots\n\t\t\t}\n\t\t}", "public /health", "not a positive number"},
		{"profile {\n\t\t\tcolour blue\n\t\t}", "public /health", `unknown option "colour"`},
		// A field whose header is one of Frontdoor's own identity headers.
		{"profile {\n\t\t\tfield email\n\t\t}", "public /health", `X-Frontdoor-Email is Frontdoor's own header`},
		{"profile {\n\t\t\tfield phone_number\n\t\t}", "public /health", `X-Frontdoor-Phone-Number is Frontdoor's own header`},
		{"profile {\n\t\t\tfield attr_plan\n\t\t}", "public /health", `own header`},
	}
	for _, tc := range cases {
		_, err := adapt(t, "{\n\tfrontdoor {\n\t\t"+tc.global+"\n\t}\n}\n\nshop.example.com {\n\tfrontdoor {\n\t\t"+tc.site+"\n\t}\n}\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Caddyfile:") {
			t.Errorf("%q: %v, want %q with the line", tc.global, err, tc.want)
		}
	}
	// A site naming an undeclared field does not load.
	if _, err := adaptAndValidate(t, profileGlobal, "profile shoe_size", nil); err == nil || !strings.Contains(err.Error(), `"shoe_size" is not a profile field`) {
		t.Fatalf("undeclared field: %v", err)
	}
	if _, err := adaptAndValidate(t, profileGlobal, "require /x/* {\n\t\t\tprofile shoe_size\n\t\t}", nil); err == nil || !strings.Contains(err.Error(), "not a profile field") {
		t.Fatalf("undeclared field in a rule: %v", err)
	}
}

// TestBrand: a site's brand puts its name, logo and accent on its pages
// and mail without a theme directory; an unreadable accent or a logo off
// the site is refused with the line.
func TestBrand(t *testing.T) {
	skipShort(t)
	g := startGateway(t, gatewayOpts{site: "brand \"Shop\" {\n\t\t\tlogo /static/logo.svg\n\t\t\tcolour \"#7a1fa2\"\n\t\t}"})
	c := g.newClient()
	page := g.get(c, "/.frontdoor/login", nil).body
	if !strings.Contains(page, "<title>Sign in to Shop</title>") || !strings.Contains(page, `<img src="/static/logo.svg" alt="Shop"`) {
		t.Fatalf("branded sign-in page:\n%s", page)
	}
	css := regexpFind(`href="(/\.frontdoor/static/style-[0-9a-f]+\.css)"`, page)
	if r := g.get(c, css, nil); !strings.Contains(r.body, "--accent:#7a1fa2") {
		t.Fatalf("stylesheet %s lacks the accent", css)
	}
	if !strings.Contains(g.get(c, "/.frontdoor/register", nil).body, "Create your Shop account") {
		t.Fatal("branded sign-up page")
	}
	// The brand's titles in every language.
	fr := map[string]string{"Accept-Language": "fr"}
	if page := g.get(c, "/.frontdoor/login", fr).body; !strings.Contains(page, "<title>Connexion à Shop</title>") {
		t.Fatalf("branded French sign-in page:\n%s", page)
	}
	if page := g.get(c, "/.frontdoor/register", fr).body; !strings.Contains(page, "<h1>Créez votre compte Shop</h1>") {
		t.Fatalf("branded French sign-up page:\n%s", page)
	}
	g.post(c, "/.frontdoor/register", url.Values{"email": {"brand@example.com"}, "password": {testPassword}})
	g.mailLink("brand@example.com", "/.frontdoor/verify?token=") // delivered; its text names the brand:
	for _, tc := range []struct{ site, want string }{
		{"brand \"Shop\" {\n\t\t\tcolour ffcc00\n\t\t}", "contrast"},
		{"brand \"Shop\" {\n\t\t\tcolour #0b5cad\n\t\t}", "quoted, since # starts a comment"},
		{"brand \"Shop\" {\n\t\t\tlogo https://cdn.example.com/logo.svg\n\t\t}", "a path on this site"},
		{"brand \"Shop\" {\n\t\t\tcolour blue\n\t\t}", "#rrggbb"},
		{"brand", "brand needs a name"},
	} {
		_, err := adapt(t, "shop.example.com {\n\tfrontdoor {\n\t\t"+tc.site+"\n\t}\n}\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Caddyfile:") {
			t.Errorf("%q: %v, want %q with the line", tc.site, err, tc.want)
		}
	}
}
