package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// Tests for findings 5, 6 and 7 of the outside security review (issue 13).

// startProxiedGateway is startGateway behind a trusted proxy on loopback:
// X-Forwarded-For from the test client is the client address, so one test
// speaks for many addresses.
func startProxiedGateway(t *testing.T, o gatewayOpts) *gateway {
	t.Helper()
	skipShort(t)
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	g := &gateway{
		t: t, port: freePort(t), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t)), dir: dir,
		mailDir: filepath.Join(dir, "mail"), logFile: filepath.Join(dir, "caddy.log"), backend: newRecorder(t),
	}
	cf := strings.Replace(g.caddyfile(o), "\tskip_install_trust\n",
		"\tskip_install_trust\n\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}\n", 1)
	cfg, warn, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapt: %v (warnings %v)", err, warn)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping caddy: %v", err)
		}
	})
	g.waitReady()
	return g
}

// loginFrom posts a failed sign-in as client address ip, each for
// another account (no account limit or signal comes into play).
func loginFrom(g *gateway, c *http.Client, ip string) response {
	g.t.Helper()
	loginSeq++
	form := loginForm(fmt.Sprintf("nobody%d@example.com", loginSeq), "wrong password")
	form.Set("csrf_token", g.csrf(c, "/.frontdoor/login"))
	return g.do(c, http.MethodPost, "/.frontdoor/login", form, map[string]string{"X-Forwarded-For": ip})
}

var loginSeq int

// memoryCounterKeys reads how many keys the memory counter holds from
// the admin API (-1 when it does not say).
func memoryCounterKeys(t *testing.T, g *gateway) int {
	t.Helper()
	_, body := adminGet(t, g, "/frontdoor/defense")
	var out struct {
		Counters map[string]struct {
			Keys int `json:"keys"`
		} `json:"counters"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("admin /frontdoor/defense: %v", err)
	}
	c, ok := out.Counters["bolt"]
	if !ok {
		return -1
	}
	return c.Keys
}

// TestReviewLimiterMemory (finding 5): through a real Caddy on both
// stores, IPv6 addresses of one /64 are one `ip` key, and a request
// refused at its network's limit creates no counter for its address (the
// memory counter's key count, or Redis's, does not grow with a flood of
// new addresses from a network already over its limit).
func TestReviewLimiterMemory(t *testing.T) {
	const limits = `limits {
			login ip 3/1m
			login prefix 10/1m
			automation ignore
		}`
	for _, st := range []string{"bolt", "redis"} {
		t.Run(st, func(t *testing.T) {
			o := gatewayOpts{limits: limits}
			var keys func() int
			if st == "redis" {
				srv := redistest.Start(t)
				o.store = "store redis " + srv.URL()
				rc := srv.Client(t)
				keys = func() int {
					n, err := rc.DBSize(t.Context()).Result()
					if err != nil {
						t.Fatal(err)
					}
					return int(n)
				}
			}
			g := startProxiedGateway(t, o)
			if keys == nil {
				keys = func() int { return memoryCounterKeys(t, g) }
			}
			clk := useClock(t)
			clk.alignTo(time.Minute)
			c := g.newClient()

			// Six addresses of one /64 (and one /56): one ip key.
			for i := 1; i <= 6; i++ {
				r := loginFrom(g, c, fmt.Sprintf("2001:db8:1:1::%x", i))
				want := http.StatusUnauthorized
				if i > 3 {
					want = http.StatusTooManyRequests
				}
				if r.status != want {
					t.Fatalf("attempt %d from 2001:db8:1:1::%x: %d, want %d (the /64 is one ip key)", i, i, r.status, want)
				}
			}
			// An IPv4-mapped address is its IPv4 address.
			for i := 1; i <= 4; i++ {
				ip := "192.0.2.77"
				if i%2 == 0 {
					ip = "::ffff:192.0.2.77"
				}
				r := loginFrom(g, c, ip)
				if want := map[bool]int{true: http.StatusTooManyRequests, false: http.StatusUnauthorized}[i > 3]; r.status != want {
					t.Fatalf("attempt %d from %s: %d, want %d", i, ip, r.status, want)
				}
			}

			// Ten /64s of one /56 use up its prefix limit...
			for i := range 10 {
				if r := loginFrom(g, c, fmt.Sprintf("2001:db8:2:%x::1", i)); r.status != http.StatusUnauthorized {
					t.Fatalf("/64 number %d: %d", i, r.status)
				}
			}
			before := keys()
			if before < 0 {
				t.Fatal("the admin API does not report the memory counter's keys")
			}
			// ...so a flood from new /64s of it is refused at the prefix,
			// and leaves no counter behind per address.
			for i := 10; i < 40; i++ {
				if r := loginFrom(g, c, fmt.Sprintf("2001:db8:2:%x::1", i)); r.status != http.StatusTooManyRequests {
					t.Fatalf("/64 number %d past the /56's limit: %d", i, r.status)
				}
			}
			if after := keys(); after != before {
				t.Fatalf("30 requests refused at their prefix grew the counter store from %d to %d keys", before, after)
			}
		})
	}
}

// TestReviewPassBoundToSite (finding 6): a `challenge` route's pass
// earned on one site does not open another site sharing the store, and a
// pass earned at fewer bits than the route now demands is refused.
func TestReviewPassBoundToSite(t *testing.T) {
	limits := func(bits int) string {
		return fmt.Sprintf("limits {\n\t\t\tpow_bits %d\n\t\t}\n\t\tchallenge /pub/sale /pub/sale/*", bits)
	}
	const other = `
https://other.test:{port} {
	tls internal
	frontdoor {
		public / /pub/*
		limits {
			pow_bits 8
		}
		challenge /pub/sale /pub/sale/*
	}
	reverse_proxy {backend}
}`
	o := gatewayOpts{limits: limits(8), extra: other}
	g := startGateway(t, o)
	c := g.newClient()
	earn := func() string {
		t.Helper()
		r := g.get(c, "/pub/sale", navigate)
		if r.status != http.StatusForbidden || !powRE.MatchString(r.body) {
			t.Fatalf("challenge route without a pass: %d", r.status)
		}
		r = g.postVia(c, "/.frontdoor/login", "/.frontdoor/challenge", url.Values{"rd": {"/pub/sale"}, "pow": {solveFrom(t, r.body)}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("solved: %d", r.status)
		}
		for _, ck := range c.Jar.Cookies(mustURL(t, g.url("/"))) {
			if ck.Name == passCookie {
				return ck.Value
			}
		}
		t.Fatal("no pass cookie")
		return ""
	}
	pass := earn()
	if r := g.get(c, "/pub/sale", navigate); r.status != http.StatusOK {
		t.Fatalf("with the pass on its own site: %d", r.status)
	}

	otherURL := fmt.Sprintf("https://other.test:%d/pub/sale", g.port)
	oc := g.newClient()
	oc.Jar.SetCookies(mustURL(t, otherURL), []*http.Cookie{{Name: passCookie, Value: pass, Path: "/", Secure: true}})
	if r := g.get(oc, otherURL, navigate); r.status != http.StatusForbidden || !powRE.MatchString(r.body) {
		t.Fatalf("shop.test's pass on other.test: %d, want 403 with a challenge", r.status)
	}

	// The operator raises the difficulty: passes earned at 8 bits no
	// longer do; one earned at the new difficulty does.
	o.limits = limits(12)
	g.load(o)
	if r := g.get(c, "/pub/sale", navigate); r.status != http.StatusForbidden || !powRE.MatchString(r.body) {
		t.Fatalf("an 8-bit pass on a 12-bit route: %d, want 403 with a challenge", r.status)
	}
	earn()
	if r := g.get(c, "/pub/sale", navigate); r.status != http.StatusOK {
		t.Fatalf("with a 12-bit pass: %d", r.status)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestReviewDecisionLog (finding 7): a flood of refused requests writes a
// few decision lines, not one per request: the first decision of a key
// in an interval, then one line with the count when the interval ends;
// and no line names the account's email.
func TestReviewDecisionLog(t *testing.T) {
	g := startGateway(t, gatewayOpts{logs: "level INFO", limits: `limits {
			login ip 3/1m
			login account 2/15m
			automation ignore
		}`})
	clk := useClock(t)
	clk.alignTo(time.Hour)
	const email = "victim.person@example.com"
	const n = 40
	c := g.newClient()
	for i := range n {
		r := g.post(c, "/.frontdoor/login", loginForm(email, "wrong password"))
		if i >= 3 && r.status != http.StatusTooManyRequests {
			t.Fatalf("attempt %d: %d", i+1, r.status)
		}
	}
	// A guesser spread over many addresses: the account's limit asks
	// for challenges, each logged under the account's key.
	clk.advance(time.Minute)
	for range 3 {
		if r := g.post(g.newClient(), "/.frontdoor/login", loginForm(email, "wrong password")); r.status != http.StatusForbidden {
			t.Fatalf("over the account limit: %d", r.status)
		}
	}
	decisions := func() []string {
		b, err := os.ReadFile(g.logFile)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for l := range strings.SplitSeq(string(b), "\n") {
			if strings.Contains(l, "edge defence decision") {
				out = append(out, l)
			}
		}
		return out
	}
	lines := decisions()
	if len(lines) > 4 {
		t.Fatalf("%d refused or challenged requests wrote %d decision lines, want a few:\n%s", n+3, len(lines), strings.Join(lines[:5], "\n"))
	}
	// The next interval: the summary says how many were not written.
	clk.advance(2 * time.Minute)
	logLine(t, g.logFile, "edge defence decisions", `"count":37`, `"key":"ip 127.0.0.1"`)
	b, err := os.ReadFile(g.logFile)
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(l, `"level":"info"`) && strings.Contains(l, "victim.person") {
			t.Fatalf("an Info line names the customer's email: %s", l)
		}
	}
	logLine(t, g.logFile, "edge defence decision", `"key":"account `)
	// A flood that stops is summed up all the same (the housekeeping
	// loop, within seconds).
	logLine(t, g.logFile, "edge defence decisions", `"count":3,`, `"key":"account `)
	_, offenders := adminGet(t, g, "/frontdoor/defense/offenders")
	if strings.Contains(offenders, "victim.person") || !strings.Contains(offenders, `"key": "account `) {
		t.Fatalf("offenders: %s", offenders)
	}
	// An SRE finds the account's entry by its email.
	_, mine := adminGet(t, g, "/frontdoor/defense/offenders?account="+url.QueryEscape(email))
	if !strings.Contains(mine, `"key": "account `) || strings.Count(mine, `"key"`) != 1 {
		t.Fatalf("offenders for one account: %s", mine)
	}
}
