package caddymodule

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// reviewPathsSite is the site of issue 13's findings 3 and 9: a step-up
// rule and a challenge route on paths that are protected by default, so
// only an aal1 session that the rules fail to see reaches the backend.
const reviewPathsSite = "require /orders/pay/* {\n\t\t\taal aal2\n\t\t}\n\t\tchallenge /sale/* /pub/sale/*"

var apiAccept = map[string]string{"Accept": "application/json"}

// TestReviewPathsControlCharacters (issue 13, finding 3, and the overlong
// dots of finding 9): a path holding a control character, raw or encoded
// at any depth, or an overlong UTF-8 sequence, is refused with 400 before
// any rule is judged — on protected, step-up, challenge and public routes
// alike — and never reaches the backend.
func TestReviewPathsControlCharacters(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{site: reviewPathsSite}, []scenario{
		{"refused", func(t *testing.T, g *gateway) {
			c := g.signUp("ctl@example.com")
			if r := g.get(c, "/orders/pay/x", apiAccept); r.status != http.StatusUnauthorized {
				t.Fatalf("baseline: aal1 session on the aal2 route: %d", r.status)
			}
			anon := g.newClient()
			for _, p := range []string{
				"/orders/pay%09/x", "/orders/pay%00/x", "/orders/pay%0a/x", "/orders/pay%0d/x",
				"/orders/pay%0b/x", "/orders/pay%7f/x", "/orders/pay%1f/x", "/orders/%09pay/x",
				"/orders/pay%2509/x", "/orders/pay%252509/x", "/orders/pay%25252509/x",
				"/sale%09/x", "/sale%2500/x", "/pub/sale%0d/x",
				"/pub/x%00", "/pub/a%2500.css", "/pub/a%0ab", "/%00",
				"/pub/%c0%ae%c0%ae/app/x", "/pub/%25c0%25ae%25c0%25ae/app/x", "/orders/p%c1%a1y/x",
				"/pub/%e0%80%ae%e0%80%ae/app/x", "/pub/%f0%80%80%ae/app/x",
				"/orders/pay%ef%bc%85%ef%bc%90%ef%bc%99/x", // "％０９": "%09" once folded (NFKC)
			} {
				for _, who := range []struct {
					name string
					c    *http.Client
				}{{"aal1", c}, {"anonymous", anon}} {
					before := g.backend.count()
					r := g.get(who.c, p, apiAccept)
					var body struct{ Error string }
					if r.status != http.StatusBadRequest || json.Unmarshal([]byte(r.body), &body) != nil || body.Error == "" {
						t.Errorf("%s %s, API: %d %.80s", who.name, p, r.status, r.body)
					}
					r = g.get(who.c, p, navigate)
					if r.status != http.StatusBadRequest || !strings.Contains(r.header.Get("Content-Type"), "text/html") || !strings.Contains(r.body, "<html") {
						t.Errorf("%s %s, browser: %d %q", who.name, p, r.status, r.header.Get("Content-Type"))
					}
					if g.backend.count() != before {
						t.Errorf("%s %s reached the backend", who.name, p)
					}
				}
			}
			// Ordinary paths, encoded or not, still work.
			for _, p := range []string{"/pub/a%20b", "/pub/100%25", "/pub/caf%C3%A9", "/pub/.hidden", "/pub/%25zz"} {
				if r := g.get(anon, p, apiAccept); r.status != http.StatusOK {
					t.Errorf("public %s: %d %.80s", p, r.status, r.body)
				}
			}
			for _, p := range []string{"/.well-known/x", "/orders/payment", "/orders/a.b/c"} {
				if r := g.get(c, p, apiAccept); r.status != http.StatusOK {
					t.Errorf("aal1 session, %s: %d %.80s", p, r.status, r.body)
				}
			}
		}},
	})
}

// TestReviewPathsWhitespace (issue 13, findings 3 and 9): a segment with
// leading or trailing whitespace, compatibility characters a backend
// applying NFKC folds ("ｐ", "．", "／", U+3000), or a "..." or ".. "
// segment is judged by every kind of rule as a lenient backend would read
// it: the step-up rule and the challenge route apply, and no such path
// turns a protected one public.
func TestReviewPathsWhitespace(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{site: reviewPathsSite}, []scenario{
		{"step-up", func(t *testing.T, g *gateway) {
			c := g.signUp("ws@example.com")
			for _, p := range []string{
				"/orders/%20pay/x", "/orders/pay%20/x", "/orders/%20pay%20/x", "/orders/%20%20pay/x",
				"/orders/%20pay./x", "/%20orders/pay/x", "/orders/%e3%80%80pay/x", "/orders/pay%c2%a0/x",
				"/orders/%ef%bd%90ay/x", "/orders%ef%bc%8fpay/x", "/orders/x/%20../pay/x",
				"/orders/x/.../pay/x", "/orders/x/..%20/pay/x", "/orders/x/%ef%bc%8e%ef%bc%8e/pay/x",
			} {
				before := g.backend.count()
				r := g.get(c, p, apiAccept)
				if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_user_authentication") {
					t.Errorf("aal1 session, %s, API: %d %q", p, r.status, r.header.Get("WWW-Authenticate"))
				}
				r = g.get(c, p, navigate)
				if r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), "/.frontdoor/stepup?") {
					t.Errorf("aal1 session, %s, browser: %d %q", p, r.status, r.header.Get("Location"))
				}
				if g.backend.count() != before {
					t.Errorf("aal1 session, %s reached the backend", p)
				}
			}
		}},
		{"challenge", func(t *testing.T, g *gateway) {
			c := g.signUp("wsc@example.com")
			anon := g.newClient()
			for _, tc := range []struct {
				c *http.Client
				p string
			}{
				{c, "/sale/x"}, {c, "/%20sale/x"}, {c, "/sale%20/x"}, {c, "/%e3%80%80sale/x"}, {c, "/%ef%bd%93ale/x"},
				{anon, "/pub/sale/x"}, {anon, "/pub/%20sale/x"}, {anon, "/pub/%20sale%20/x"}, {anon, "/pub%ef%bc%8fsale/x"},
			} {
				before := g.backend.count()
				if r := g.get(tc.c, tc.p, apiAccept); r.status != http.StatusForbidden || !strings.Contains(r.body, "challenge_required") {
					t.Errorf("%s: %d %.80s", tc.p, r.status, r.body)
				}
				if g.backend.count() != before {
					t.Errorf("%s reached the backend", tc.p)
				}
			}
		}},
		{"never public", func(t *testing.T, g *gateway) {
			anon := g.newClient()
			for _, p := range []string{
				"/pub/%ef%bc%8e%ef%bc%8e/app/x", "/pub/%ef%bc%8e%ef%bc%8e%ef%bc%8fapp/x", "/pub/..%ef%bc%8fapp/x",
				"/pub/..%ef%bc%bcapp/x", "/pub/%e2%80%a4%e2%80%a4/app/x", "/pub/%ef%b9%92%ef%b9%92/app/x",
				"/pub/%e2%80%a5/app/x", "/pub/.../app/x", "/pub/..%20/app/x", "/pub/%20../app/x",
				"/pub/%20..%20/app/x", "/pub/%ef%bd%81pp/../../app/x", "/%20pub/x", "/%ef%bd%90ub/x",
				"/pub/%ef%bc%85%ef%bc%92%ef%bd%85%ef%bc%85%ef%bc%92%ef%bd%85/app/x", // "％２ｅ％２ｅ"
				"/pub/..%ef%bc%85%ef%bc%92%ef%bd%86app/x",                           // "..％２ｆ"
			} {
				before := g.backend.count()
				if r := g.get(anon, p, apiAccept); r.status != http.StatusUnauthorized {
					t.Errorf("anonymous %s: %d %.80s", p, r.status, r.body)
				}
				if g.backend.count() != before {
					t.Errorf("anonymous %s reached the backend", p)
				}
			}
		}},
	})
}

// TestReviewIdentityMatcherRefusedOnLoad (issue 13, finding 8): a running
// Caddy refuses, through its admin /load, a Caddyfile whose matcher reads
// an identity header (here for a redir, which runs before frontdoor and
// would see the client's forged X-Frontdoor-User), and keeps serving the
// config it had.
func TestReviewIdentityMatcherRefusedOnLoad(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	for _, direct := range []string{
		"@alice header X-Frontdoor-User u_alice\n\tredir @alice /pub/welcome-alice",
		"@adm header_regexp X-Forwarded-User ^adm\n\tredir @adm /pub/admin",
		"@cel expression header({'X-Frontdoor-User': 'u_alice'})\n\tredir @cel /pub/welcome-alice",
	} {
		cf := g.caddyfile(gatewayOpts{direct: direct})
		resp, err := http.Post("http://"+g.admin+"/load", "text/caddyfile", strings.NewReader(cf))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || !strings.Contains(string(body), "where a client can forge it") {
			t.Errorf("%q: load answered %d %s", direct, resp.StatusCode, body)
		}
		forged := map[string]string{"X-Frontdoor-User": "u_alice", "X-Forwarded-User": "admin", "Accept": "application/json"}
		if r := g.get(g.newClient(), "/pub/x", forged); r.status != http.StatusOK || !strings.Contains(r.body, `"backend":true`) {
			t.Errorf("%q: after the refused load, /pub/x answers %d %.80s", direct, r.status, r.body)
		}
	}
}
