package caddymodule

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestForgedIdentityOutsideTheHeaderSection: invariant 1 beyond plain
// headers — trailers, Connection nominations, "_"/"." spellings — and the
// backend never receives Frontdoor's own cookies.
func TestForgedIdentityOutsideTheHeaderSection(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	signedIn := g.signUp("uma@example.com")
	cookie := g.sessionCookie(signedIn)

	t.Run("trailers", func(t *testing.T) {
		for _, c := range []*http.Client{g.newClient(), g.newClientH1()} {
			req, _ := http.NewRequest(http.MethodPost, g.url("/pub/upload"), io.NopCloser(strings.NewReader("payload")))
			req.ContentLength = -1
			req.Trailer = http.Header{"X-Frontdoor-User": {"u_attacker"}, "Remote-User": {"admin"}, "X-Other": {"kept"}}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			tr := g.backend.lastTrailers()
			if tr.Get("X-Frontdoor-User") != "" || tr.Get("Remote-User") != "" {
				t.Fatalf("forged trailers reached the backend: %v", tr)
			}
		}
	})

	t.Run("connection nomination", func(t *testing.T) {
		c := g.withCookie(cookie)
		h1 := g.newClientH1()
		h1.Jar = c.Jar
		r := g.get(h1, "/app/x", map[string]string{"Connection": "keep-alive, X-Frontdoor-User, X-Frontdoor-Assertion, x-frontdoor-email"})
		if r.status != http.StatusOK {
			t.Fatalf("%d", r.status)
		}
		h := g.backend.lastHeaders()
		if h.Get("X-Frontdoor-User") == "" || h.Get("X-Frontdoor-Assertion") == "" || h.Get("X-Frontdoor-Email") != "uma@example.com" {
			t.Fatalf("identity dropped through Connection: %v", h)
		}
	})

	t.Run("underscore and dot spellings", func(t *testing.T) {
		h1 := g.newClientH1()
		r := g.get(h1, "/pub/x", map[string]string{"X_Frontdoor_User": "u_attacker", "Remote.User": "admin", "X-Forwarded_User": "admin"})
		if r.status != http.StatusOK {
			t.Fatalf("%d", r.status)
		}
		for k, v := range g.backend.lastHeaders() {
			if strings.Contains(strings.Join(v, ","), "u_attacker") || strings.Contains(strings.Join(v, ","), "admin") {
				t.Fatalf("forged %s reached the backend", k)
			}
		}
	})

	t.Run("own cookies stay at the edge", func(t *testing.T) {
		c := g.withCookie(cookie)
		u, _ := url.Parse(g.url("/"))
		c.Jar.SetCookies(u, []*http.Cookie{{Name: "shop_cart", Value: "42", Path: "/"}})
		g.csrf(c, "/.frontdoor/login") // adds the CSRF cookie
		// The binding nonces and the remembered-device secret are bearer
		// secrets too.
		for _, name := range []string{"__Host-frontdoor-magic", "__Host-frontdoor-mfa", "__Host-frontdoor-ceremony", "__Host-frontdoor-device"} {
			c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: "secret", Path: "/", Secure: true}})
		}
		for _, p := range []string{"/app/x", "/pub/x"} {
			if r := g.get(c, p, nil); r.status != http.StatusOK {
				t.Fatalf("%s: %d", p, r.status)
			}
			got := strings.Join(g.backend.lastHeaders().Values("Cookie"), "; ")
			if strings.Contains(got, "__Host-frontdoor") || !strings.Contains(got, "shop_cart=42") {
				t.Fatalf("%s: backend got cookies %q", p, got)
			}
		}
	})
}

// TestSecondSiteAddressForms: a site block with two names accepts its own
// form posts on both (CSRF origin check) and refuses a foreign Origin.
func TestSecondSiteAddressForms(t *testing.T) {
	g := startGateway(t, gatewayOpts{extra: `
https://a.test:{port}, https://www.a.test:{port} {
	tls internal
	frontdoor {
		limits off
	}
	reverse_proxy {backend}
}`})
	g.signUp("vic@example.com") // on shop.test; customers are shared
	for _, host := range []string{"a.test", "www.a.test"} {
		g2 := *g
		g2.host = host
		c := g2.newClient()
		tok := g2.csrf(c, "/.frontdoor/login")
		form := url.Values{"csrf_token": {tok}, "email": {"vic@example.com"}, "password": {testPassword}, "rd": {"/"}}
		origin := map[string]string{"Origin": strings.TrimSuffix(g2.url("/"), "/")}
		if r := g2.do(c, http.MethodPost, "/.frontdoor/login", form, origin); r.status != http.StatusSeeOther {
			t.Errorf("%s: own form refused: %d", host, r.status)
		}
		form.Set("csrf_token", g2.csrf(c, "/.frontdoor/login"))
		if r := g2.do(c, http.MethodPost, "/.frontdoor/login", form, map[string]string{"Origin": "https://evil.test"}); r.status != http.StatusForbidden {
			t.Errorf("%s: foreign origin accepted: %d", host, r.status)
		}
	}
}
