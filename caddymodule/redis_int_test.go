package caddymodule

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// TestEndToEndRedis is the foundation's whole flow on the Redis store: a
// single server, a server behind Sentinel, and a three-master cluster.
func TestEndToEndRedis(t *testing.T) {
	t.Run("server", func(t *testing.T) {
		r := redistest.Start(t)
		endToEnd(t, startGateway(t, gatewayOpts{store: "store redis " + r.URL()}))
	})
	t.Run("sentinel", func(t *testing.T) {
		r := redistest.Start(t)
		sentinel := redistest.StartSentinel(t, r)
		endToEnd(t, startGateway(t, gatewayOpts{store: "store redis {\n\t\t\taddrs " + sentinel + "\n\t\t\tmaster_name mymaster\n\t\t}"}))
	})
	t.Run("tls and password", func(t *testing.T) {
		r := redistest.StartTLS(t, "s3cret-redis-pass")
		t.Setenv("FD_TEST_REDIS_PASSWORD", r.Password)
		endToEnd(t, startGateway(t, gatewayOpts{store: "store redis {\n\t\t\taddrs " + r.Addr +
			"\n\t\t\tpassword {env.FD_TEST_REDIS_PASSWORD}\n\t\t\ttls_ca " + r.CAFile + "\n\t\t\ttls_server_name localhost\n\t\t}"}))
	})
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t)
		endToEnd(t, startGateway(t, gatewayOpts{store: "store redis {\n\t\t\taddrs " + strings.Join(c.Addrs, " ") + "\n\t\t}"}))
	})
}

// TestRedisOutage: killing Redis turns protected routes into 503 — never a
// pass-through, never a redirect — while public routes serve; restarting it
// on the same data brings the same session back.
func TestRedisOutage(t *testing.T) {
	r := redistest.Start(t)
	g := startGateway(t, gatewayOpts{store: "store redis " + r.URL()})
	c := g.signUp("ray@example.com")
	if res := g.get(c, "/app/x", navigate); res.status != http.StatusOK {
		t.Fatalf("before the outage: %d", res.status)
	}
	if st, body := adminGet(t, g, "/frontdoor/health"); st != http.StatusOK || !strings.Contains(body, `"healthy":true`) {
		t.Fatalf("health before the outage: %d %s", st, body)
	}
	killed := time.Now()
	r.Kill()
	deadline := killed.Add(10 * time.Second)
	for {
		sent := time.Now()
		res := g.get(c, "/app/x", navigate)
		if res.status == http.StatusServiceUnavailable {
			break
		}
		// Only the session cache may still answer, and only within its
		// 2 s bound of the kill.
		if res.status != http.StatusOK || sent.Sub(killed) > 2*time.Second {
			t.Fatalf("%v after the kill: %d %q", sent.Sub(killed), res.status, res.header.Get("Location"))
		}
		if time.Now().After(deadline) {
			t.Fatal("protected route still served 10 s after Redis died")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, body := adminGet(t, g, "/frontdoor/health"); st != http.StatusServiceUnavailable || !strings.Contains(body, `"healthy":false`) {
		t.Fatalf("health during the outage: %d %s", st, body)
	}
	if _, metrics := adminGet(t, g, "/metrics"); !strings.Contains(metrics, `frontdoor_store_up{backend="redis"} 0`) {
		t.Fatalf("metrics during the outage lack frontdoor_store_up 0")
	}
	for range 3 {
		if res := g.get(c, "/app/x", navigate); res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "Temporarily unavailable") {
			t.Fatalf("protected route during the outage: %d", res.status)
		}
	}
	if res := g.get(c, "/app/x", map[string]string{"Accept": "application/json"}); res.status != http.StatusServiceUnavailable {
		t.Fatalf("API call during the outage: %d", res.status)
	}
	if res := g.get(g.newClient(), "/pub/x", nil); res.status != http.StatusOK {
		t.Fatalf("public route during the outage: %d", res.status)
	}
	login := g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {"ray@example.com"}, "password": {testPassword}})
	if login.status != http.StatusServiceUnavailable || !strings.Contains(login.body, "try again") {
		t.Fatalf("login during the outage: %d", login.status)
	}
	r.Restart()
	waitStatus(t, func() int { return g.get(c, "/app/x", navigate).status }, http.StatusOK)
	if st, _ := adminGet(t, g, "/frontdoor/health"); st != http.StatusOK {
		t.Fatalf("health after the outage: %d", st)
	}
	if h := g.backend.lastHeaders(); h.Get("X-Frontdoor-Email") != "ray@example.com" {
		t.Fatalf("after the outage: %v", h)
	}
}

// startProcess runs a gateway as its own `frontdoor run` process (Caddy is
// one per process, so a second gateway needs its own).
func startProcess(t *testing.T, bin string, o gatewayOpts) *gateway {
	t.Helper()
	g := newProcessGateway(t)
	g.runProcess(bin, o)
	g.waitReady()
	return g
}

// newProcessGateway is a gateway to run as a process (runProcess), its
// ports chosen, so that another's Caddyfile can name them first.
func newProcessGateway(t *testing.T) *gateway {
	t.Helper()
	dir := t.TempDir()
	return &gateway{
		t: t, port: freePort(t), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t)), dir: dir,
		mailDir: filepath.Join(dir, "mail"), logFile: filepath.Join(dir, "caddy.log"), backend: newRecorder(t),
	}
}

// runProcess runs the frontdoor binary with g's Caddyfile for o, with
// env added to the test's environment.
func (g *gateway) runProcess(bin string, o gatewayOpts, env ...string) {
	g.t.Helper()
	cf := filepath.Join(g.dir, "Caddyfile")
	if err := os.WriteFile(cf, []byte(g.caddyfile(o)), 0o600); err != nil {
		g.t.Fatal(err)
	}
	env = append(append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(g.dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(g.dir, "config")), env...)
	runProcess(g.t, env, "", bin, "run", "--config", cf)
}

// TestTwoGatewaysShareRedis: two nodes behind one origin on one Redis. A
// customer signed in on one is signed in on the other; each node's
// assertion verifies with either node's JWKS; logout and sign-out-everywhere
// on one bite on the other within the 2 s cache bound.
func TestTwoGatewaysShareRedis(t *testing.T) {
	bin := buildBinary(t)
	r := redistest.Start(t)
	o := gatewayOpts{store: "store redis " + r.URL(), site: "origin https://shop.test", global: "session {\n\t\t\tcache 2s\n\t\t}"}
	a := startProcess(t, bin, o)
	b := startProcess(t, bin, o)
	// One browser trusting both nodes' local CAs; cookies are per host, not
	// per port, so it presents the same cookie to both nodes.
	shareRoots(t, a, b)

	c := a.signUp("sam@example.com")
	if res := b.get(c, "/app/x", nil); res.status != http.StatusOK || b.backend.lastHeaders().Get("X-Frontdoor-Email") != "sam@example.com" {
		t.Fatalf("node B does not know a session made on node A: %d", res.status)
	}
	fromB := b.backend.lastHeaders().Get("X-Frontdoor-Assertion")
	a.get(c, "/app/x", nil)
	fromA := a.backend.lastHeaders().Get("X-Frontdoor-Assertion")
	jwksA := a.get(a.newClient(), "/.well-known/frontdoor/jwks.json", nil).body
	jwksB := b.get(b.newClient(), "/.well-known/frontdoor/jwks.json", nil).body
	for _, tc := range []struct{ name, jwks, token string }{
		{"A's assertion, B's JWKS", jwksB, fromA}, {"B's assertion, A's JWKS", jwksA, fromB},
	} {
		if _, err := verifyAssertionErr(tc.jwks, tc.token, "shop.test"); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}

	// Logout on A: B refuses the cookie once its cache entry (≤ 2 s) is gone.
	old := a.sessionCookie(c)
	a.post(c, "/.frontdoor/logout", url.Values{})
	oldOnB := b.withCookie(old)
	refusedWithin(t, "B after logout on A", time.Now(), 2*time.Second, func() int {
		return b.get(oldOnB, "/app/x", navigate).status
	})

	// Sign out everywhere on B: A refuses within 2 s.
	c2 := b.newClient()
	b.login(c2, "sam@example.com", testPassword, "/")
	cookie := b.sessionCookie(c2)
	if res := a.get(a.withCookie(cookie), "/app/x", nil); res.status != http.StatusOK {
		t.Fatalf("A with B's session: %d", res.status)
	}
	b.postVia(c2, "/.frontdoor/account", "/.frontdoor/account/signout-everywhere", url.Values{})
	onA := a.withCookie(cookie)
	refusedWithin(t, "A after sign-out-everywhere on B", time.Now(), 2*time.Second, func() int {
		return a.get(onA, "/app/x", navigate).status
	})
}

// refusedWithin polls a page request for a session ended at since (on
// another node) until it is refused (302 to sign in). The node's session
// cache may still serve the session, but only to a request sent before
// bound has passed; a served request sent later, or any other answer,
// fails. The nodes are processes of their own, so their clocks cannot be
// moved: polling ends as soon as the cache entry has gone, where a sleep
// of the whole bound would wait for it every time.
func refusedWithin(t *testing.T, what string, since time.Time, bound time.Duration, get func() int) {
	t.Helper()
	for {
		sent := time.Now()
		switch status := get(); {
		case status == http.StatusFound:
			return
		case status != http.StatusOK:
			t.Fatalf("%s: %d", what, status)
		case sent.Sub(since) >= bound:
			t.Fatalf("%s: still served %v later (the cache bound is %v)", what, sent.Sub(since).Round(time.Millisecond), bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// adminGet reads a path of the gateway's admin API.
func adminGet(t *testing.T, g *gateway, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + g.admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
