package caddymodule

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The single sign-on setup of these tests: shop.test is the provider, and
// two sites on other registrable domains are its clients — a confidential
// one and a public one (PKCE alone).
const ssoProviderSite = `provider {
			client brand {
				redirect_uri https://brand-b.test:{port}/.frontdoor/sso/callback
				secret brand-secret-0123456789
				scopes openid email profile
				first_party
			}
			client portal {
				redirect_uri https://portal.example:{port}/.frontdoor/sso/callback
				first_party
			}
		}`

const ssoClientSites = `
https://brand-b.test:{port} {
	tls internal
	frontdoor {
		public /pub/*
		protect /app/*
		require /app/recent/* {
			max_age 1m
		}
		require /app/pay/* {
			aal aal2
		}
		limits off
		sso https://shop.test:{port} {
			client_id brand
			client_secret brand-secret-0123456789
		}
	}
	reverse_proxy {backend}
}

https://portal.example:{port} {
	tls internal
	frontdoor {
		protect /app/*
		limits off
		sso https://shop.test:{port} {
			client_id portal
		}
	}
	reverse_proxy {backend}
}
`

// on returns the gateway's helpers aimed at another of its sites.
func (g *gateway) on(host string) *gateway {
	o := *g
	o.host = host
	return &o
}

// walk follows a browser's navigation across sites until a page answers,
// and returns that answer and the hosts it passed through.
func (g *gateway) walk(t *testing.T, c *http.Client, target string) (response, []string) {
	t.Helper()
	var hosts []string
	for range 12 {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, u.Hostname()+u.Path)
		r := g.get(c, target, navigate)
		loc := r.header.Get("Location")
		if r.status < 300 || r.status > 399 || loc == "" {
			return r, hosts
		}
		next, err := u.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		target = next.String()
	}
	t.Fatalf("too many redirects from %s: %v", target, hosts)
	return response{}, nil
}

// signedInAt reports the status an API call (no redirects) gets on site.
func (g *gateway) apiStatus(c *http.Client, site, path string) int {
	return g.on(site).get(c, path, nil).status
}

// TestSSO: one sign-in at the provider reaches two sites on other
// registrable domains with no prompt; their sessions are the provider
// session's family, so signing out on any one ends the others; step-up
// rules on a client site make the provider ask (max_age: sign in again;
// acr aal2: the second factor) and the client checks what comes back.
func TestSSO(t *testing.T) {
	skipShort(t)
	runOnBothStoresWith(t, gatewayOpts{site: ssoProviderSite, extra: ssoClientSites}, []scenario{
		{"one sign-in, every site, one sign-out", func(t *testing.T, g *gateway) {
			c := g.signUp("sso-ann@example.com")
			id := customerID(t, "sso-ann@example.com")
			var sid string
			for _, site := range []string{"brand-b.test", "portal.example"} {
				r, hops := g.walk(t, c, g.on(site).url("/app/home"))
				if r.status != http.StatusOK {
					t.Fatalf("%s: %d after %v\n%.400s", site, r.status, hops, r.body)
				}
				for _, h := range hops {
					if strings.HasSuffix(h, "/.frontdoor/login") {
						t.Fatalf("%s: a sign-in prompt on the way: %v", site, hops)
					}
				}
				got := g.backend.lastHeaders()
				if got.Get("X-Frontdoor-User") != id {
					t.Fatalf("%s: backend got user %q, want %q", site, got.Get("X-Frontdoor-User"), id)
				}
				claims := assertionClaims(t, g)
				if sid == "" {
					sid, _ = claims["sid"].(string)
				} else if claims["sid"] != sid {
					t.Fatalf("%s: sid %v, want the family's %q", site, claims["sid"], sid)
				}
				if g.on(site).sessionCookie(c) == "" {
					t.Fatalf("%s: no host-only session of its own", site)
				}
			}
			// Signing out on one client site ends the provider's session
			// and the other site's.
			logout(t, g.on("brand-b.test"), c)
			for _, site := range []string{"shop.test", "portal.example", "brand-b.test"} {
				waitStatus(t, func() int { return g.apiStatus(c, site, "/app/home") }, http.StatusUnauthorized)
			}
		}},
		{"sign-out at the provider ends the client sites", func(t *testing.T, g *gateway) {
			c := g.signUp("sso-bo@example.com")
			for _, site := range []string{"brand-b.test", "portal.example"} {
				if r, hops := g.walk(t, c, g.on(site).url("/app/x")); r.status != http.StatusOK {
					t.Fatalf("%s: %d after %v", site, r.status, hops)
				}
			}
			logout(t, g, c)
			for _, site := range []string{"portal.example", "brand-b.test"} {
				waitStatus(t, func() int { return g.apiStatus(c, site, "/app/x") }, http.StatusUnauthorized)
			}
			// And the next visit asks the provider, which asks the customer.
			r, _ := g.walk(t, c, g.on("portal.example").url("/app/x"))
			if r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
				t.Fatalf("after sign-out: %d, not the provider's sign-in page", r.status)
			}
		}},
		{"sign out everywhere ends the client sites", func(t *testing.T, g *gateway) {
			c := g.signUp("sso-cy@example.com")
			if r, hops := g.walk(t, c, g.on("portal.example").url("/app/x")); r.status != http.StatusOK {
				t.Fatalf("portal: %d after %v", r.status, hops)
			}
			if r := g.on("portal.example").postVia(c, "/.frontdoor/account", "/.frontdoor/account/signout-everywhere", url.Values{}); r.status >= 400 {
				t.Fatalf("sign out everywhere on the client site: %d", r.status)
			}
			for _, site := range []string{"shop.test", "portal.example"} {
				waitStatus(t, func() int { return g.apiStatus(c, site, "/app/x") }, http.StatusUnauthorized)
			}
		}},
		{"max_age: the provider asks to sign in again", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			c := g.signUp("sso-di@example.com")
			b := g.on("brand-b.test")
			if r, hops := g.walk(t, c, b.url("/app/home")); r.status != http.StatusOK {
				t.Fatalf("brand: %d after %v", r.status, hops)
			}
			clk.advance(5 * time.Minute)
			r, hops := g.walk(t, c, b.url("/app/recent/x"))
			if r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) || !strings.Contains(hops[len(hops)-1], "shop.test/.frontdoor/login") {
				t.Fatalf("stale sign-in on a max_age route: %d after %v, want the provider's sign-in page", r.status, hops)
			}
			rd := loginRD(t, hops, r)
			r = g.login(c, "sso-di@example.com", testPassword, rd)
			r, hops = g.walk(t, c, g.url(r.header.Get("Location")))
			if r.status != http.StatusOK || !strings.HasSuffix(hops[len(hops)-1], "brand-b.test/app/recent/x") {
				t.Fatalf("after signing in again: %d after %v\n%.300s", r.status, hops, r.body)
			}
		}},
		{"acr aal2: the provider asks for the second factor", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			c := g.signUp("sso-ed@example.com")
			secret, _ := enrolTOTP(t, g, c, clk)
			b := g.on("brand-b.test")
			r, hops := g.walk(t, c, b.url("/app/pay/now"))
			if r.status != http.StatusOK || !strings.Contains(r.body, "authenticator app") || !strings.Contains(hops[len(hops)-1], "shop.test") {
				t.Fatalf("aal2 route: %d after %v, want the provider's second-factor page", r.status, hops)
			}
			r = mfaPost(g, c, url.Values{"code": {clk.code(t, secret, 30*time.Second)}})
			if r.status != http.StatusSeeOther {
				t.Fatalf("second factor: %d %.300s", r.status, r.body)
			}
			r, hops = g.walk(t, c, g.url(r.header.Get("Location")))
			if r.status != http.StatusOK || !strings.HasSuffix(hops[len(hops)-1], "brand-b.test/app/pay/now") {
				t.Fatalf("after the second factor: %d after %v", r.status, hops)
			}
			if acr := assertionClaims(t, g)["acr"]; acr != "aal2" {
				t.Fatalf("client session acr %v", acr)
			}
		}},
		ssoBackchannelScenario,
		{"a callback without this browser's flow is refused", func(t *testing.T, g *gateway) {
			victim := g.signUp("sso-fa@example.com")
			attacker := g.signUp("sso-gu@example.com")
			// The attacker stops at the callback with their own code...
			b := g.on("brand-b.test")
			r := b.get(attacker, "/app/x", navigate)
			var callback string
			for range 6 {
				loc, _ := url.Parse(r.header.Get("Location"))
				if loc == nil {
					t.Fatalf("no redirect: %d", r.status)
				}
				if strings.HasSuffix(loc.Path, "/sso/callback") {
					callback = loc.String()
					break
				}
				r = g.get(attacker, loc.String(), navigate)
			}
			// ...and plants it in the victim's browser (login CSRF): refused.
			if r := g.get(victim, callback, navigate); r.status != http.StatusBadRequest || b.sessionCookie(victim) != "" {
				t.Fatalf("planted callback: %d, victim session %q", r.status, b.sessionCookie(victim))
			}
			// The attacker's own browser uses it once, and only once.
			if r := g.get(attacker, callback, navigate); r.status != http.StatusSeeOther {
				t.Fatalf("own callback: %d %.200s", r.status, r.body)
			}
			if r := g.get(attacker, callback, navigate); r.status != http.StatusBadRequest {
				t.Fatalf("callback replayed: %d", r.status)
			}
		}},
	})
}

// loginRD is the rd of the sign-in page a walk ended on.
func loginRD(t *testing.T, hops []string, r response) string {
	t.Helper()
	m := rdFieldRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no rd on the sign-in page (after %v)", hops)
	}
	return html.UnescapeString(m[1])
}

var rdFieldRE = regexp.MustCompile(`name="rd" value="([^"]*)"`)
