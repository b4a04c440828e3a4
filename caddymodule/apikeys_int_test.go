package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

const keysSite = `protect /api/* {
			accept session api_key
			scopes orders:read
		}
		require /api/pay/* {
			actor human
		}`

// TestAPIKeysAtTheEdge: a customer's key calls an API path that accepts
// keys and the backend sees the customer and the key; the key is refused
// with a typo, outside its paths or scopes, on an actor-human route, on a
// path that takes sessions only, after revocation and after expiry.
func TestAPIKeysAtTheEdge(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{site: keysSite}, []scenario{{"keys", func(t *testing.T, g *gateway) {
		ctx := context.Background()
		clk := useClock(t)
		c := g.signUp("dev@example.com")
		id := g.customerID("dev@example.com")
		flows := backendOf(t).flows()
		mint := func(in authflow.CreateAPIKeyInput) authflow.APIKeyCreated {
			t.Helper()
			in.CustomerID = id
			out, err := flows.CreateAPIKey(ctx, in)
			created, ok := out.(authflow.APIKeyCreated)
			if err != nil || !ok {
				t.Fatalf("create key: %T %v", out, err)
			}
			return created
		}
		full := mint(authflow.CreateAPIKeyInput{Name: "deploy", Scopes: []string{"orders:read"}})
		narrow := mint(authflow.CreateAPIKeyInput{Name: "orders only", Scopes: []string{"orders:read"}, Paths: []string{"/api/orders/*"}, Methods: []string{"GET"}})
		noScope := mint(authflow.CreateAPIKeyInput{Name: "no scope"})
		call := func(method, path, key string) response {
			t.Helper()
			return g.do(g.newClient(), method, path, nil, map[string]string{"Authorization": "Bearer " + key, "Accept": "application/json",
				"X-Frontdoor-Actor": "forged"})
		}
		r := call(http.MethodGet, "/api/orders/7", full.Secret)
		if r.status != http.StatusOK || !strings.Contains(r.body, `"backend":true`) {
			t.Fatalf("key call: %d %s", r.status, r.body)
		}
		h := g.backend.lastHeaders()
		if h.Get("X-Frontdoor-User") != id || h.Get("X-Frontdoor-Actor") != full.Key.ID {
			t.Fatalf("backend headers: %v", h)
		}
		cl := assertionClaims(t, g)
		if act, _ := cl["act"].(map[string]any); act["sub"] != full.Key.ID || cl["scope"] != "orders:read" || cl["sub"] != id {
			t.Fatalf("assertion claims: %v", cl)
		}
		refused := func(what string, r response, status int, code string) {
			t.Helper()
			if r.status != status || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="`+code+`"`) {
				t.Errorf("%s: %d %q %s", what, r.status, r.header.Get("WWW-Authenticate"), r.body)
			}
		}
		swap := "A"
		if full.Secret[12] == 'A' {
			swap = "B"
		}
		typo := full.Secret[:12] + swap + full.Secret[13:]
		refused("a changed character", call(http.MethodGet, "/api/orders/7", typo), http.StatusUnauthorized, "invalid_token")
		refused("not a key", call(http.MethodGet, "/api/orders/7", "fdk_nonsense"), http.StatusUnauthorized, "invalid_token")
		refused("outside its paths", call(http.MethodGet, "/api/invoices/1", narrow.Secret), http.StatusForbidden, "insufficient_scope")
		refused("another method", call(http.MethodDelete, "/api/orders/7", narrow.Secret), http.StatusForbidden, "insufficient_scope")
		refused("without the scope", call(http.MethodGet, "/api/orders/7", noScope.Secret), http.StatusForbidden, "insufficient_scope")
		refused("a sessions-only path", call(http.MethodGet, "/app/x", full.Secret), http.StatusUnauthorized, "invalid_token")
		if r := call(http.MethodGet, "/api/pay/1", full.Secret); r.status != http.StatusForbidden || !strings.Contains(r.body, `"missing":"actor"`) {
			t.Errorf("actor human route: %d %s", r.status, r.body)
		}
		if r := call(http.MethodGet, "/api/orders/7", narrow.Secret); r.status != http.StatusOK {
			t.Errorf("narrow key on its path: %d", r.status)
		}
		// A person's session still works on both, and sends no actor.
		g.get(c, "/api/pay/1", map[string]string{"X-Frontdoor-Actor": "forged"})
		if h := g.backend.lastHeaders(); h.Get("X-Frontdoor-User") != id || h.Get("X-Frontdoor-Actor") != "" {
			t.Fatalf("session call headers: %v", h)
		}
		// Revoked: refused within the cache period.
		if _, err := flows.RevokeAPIKey(ctx, id, full.Key.ID, authflow.Client{}); err != nil {
			t.Fatal(err)
		}
		revoked := time.Now()
		for call(http.MethodGet, "/api/orders/7", full.Secret).status != http.StatusUnauthorized {
			if time.Since(revoked) > 2500*time.Millisecond {
				t.Fatal("a revoked key still works after the cache period")
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Expired.
		clk.advance(91 * 24 * time.Hour)
		refused("an expired key", call(http.MethodGet, "/api/orders/7", narrow.Secret), http.StatusUnauthorized, "invalid_token")
	}}})
}

var keyRE = regexp.MustCompile(`fdk_[0-9A-Za-z]{38}`)

// makeKey creates a key on the account page and returns it.
func (g *gateway) makeKey(c *http.Client, form url.Values) string {
	g.t.Helper()
	r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/keys", form)
	key := keyRE.FindString(r.body)
	if r.status != http.StatusOK || key == "" || !strings.Contains(r.body, `id="new-key"`) {
		g.t.Fatalf("create key: %d %s", r.status, r.body)
	}
	return key
}

// TestAPIKeysAccountPage: a customer creates a key on the account page
// (shown once), uses it, sees it listed with its last use, and revokes it
// — refused at once on this node; a stale sign-in steps up first; a bad
// form creates nothing.
func TestAPIKeysAccountPage(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{site: keysSite}, []scenario{{"account keys", func(t *testing.T, g *gateway) {
		clk := useClock(t)
		c := g.signUp("ops@example.com")
		if r := g.get(c, "/.frontdoor/account", nil); !strings.Contains(r.body, `action="/.frontdoor/account/keys"`) {
			t.Fatalf("account page has no key form: %d %v\n%s", r.status, r.header, r.body)
		}
		if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/keys", url.Values{"name": {""}}); r.status != http.StatusBadRequest || keyRE.MatchString(r.body) {
			t.Fatalf("nameless key: %d", r.status)
		}
		if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/keys", url.Values{"name": {"x"}, "expires_days": {"400"}}); r.status != http.StatusBadRequest {
			t.Fatalf("400-day key: %d", r.status)
		}
		key := g.makeKey(c, url.Values{"name": {"nightly export"}, "expires_days": {"30"}, "path": {"/api/orders/*"}, "scope": {"orders:read"}})
		api := func() int {
			return g.do(g.newClient(), http.MethodGet, "/api/orders/1", nil, map[string]string{"Authorization": "Bearer " + key}).status
		}
		if st := api(); st != http.StatusOK {
			t.Fatalf("new key: %d", st)
		}
		page := g.get(c, "/.frontdoor/account", nil).body
		if !strings.Contains(page, "nightly export") || !strings.Contains(page, "…"+key[len(key)-4:]) || strings.Contains(page, key) || !strings.Contains(page, "/api/orders/*") {
			t.Fatalf("account page list:\n%s", page)
		}
		id := regexp.MustCompile(`name="id" value="(k_[0-9a-f]+)"`).FindStringSubmatch(page)
		if id == nil {
			t.Fatal("no revoke form")
		}
		if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/keys/revoke", url.Values{"id": {id[1]}}); r.status != http.StatusSeeOther {
			t.Fatalf("revoke: %d", r.status)
		}
		if st := api(); st != http.StatusUnauthorized {
			t.Fatalf("revoked key on the same node: %d", st)
		}
		// Creating one needs a recent sign-in.
		clk.advance(11 * time.Minute)
		g.get(c, "/app/x", nil) // keep the session alive
		r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/keys", url.Values{"name": {"late"}})
		if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/stepup") || keyRE.MatchString(r.body) {
			t.Fatalf("stale sign-in: %d %s", r.status, r.header.Get("Location"))
		}
	}}})
}

// TestAPIKeysTwoNodes: a key revoked on node A stops working on node B,
// sharing Redis, within the 2 s cache bound.
func TestAPIKeysTwoNodes(t *testing.T) {
	bin := buildBinary(t)
	rs := redistest.Start(t)
	o := gatewayOpts{store: "store redis " + rs.URL(), site: "origin https://shop.test\n\t\t" + keysSite, global: "session {\n\t\t\tcache 2s\n\t\t}"}
	a := startProcess(t, bin, o)
	b := startProcess(t, bin, o)
	shareRoots(t, a, b)
	c := a.signUp("two-keys@example.com")
	key := a.makeKey(c, url.Values{"name": {"script"}, "scope": {"orders:read"}})
	onB := func() int {
		return b.do(b.newClient(), http.MethodGet, "/api/orders/1", nil, map[string]string{"Authorization": "Bearer " + key}).status
	}
	if st := onB(); st != http.StatusOK {
		t.Fatalf("key on node B: %d", st)
	}
	page := a.get(c, "/.frontdoor/account", nil).body
	id := regexp.MustCompile(`name="id" value="(k_[0-9a-f]+)"`).FindStringSubmatch(page)
	if id == nil {
		t.Fatal("no revoke form")
	}
	revoked := time.Now()
	if r := a.postVia(c, "/.frontdoor/account", "/.frontdoor/account/keys/revoke", url.Values{"id": {id[1]}}); r.status != http.StatusSeeOther {
		t.Fatalf("revoke on A: %d", r.status)
	}
	for {
		sent := time.Now()
		st := onB()
		if st == http.StatusUnauthorized {
			return
		}
		if st != http.StatusOK {
			t.Fatalf("node B: %d", st)
		}
		if sent.Sub(revoked) >= 2*time.Second {
			t.Fatalf("node B still took the key %v after it was revoked", sent.Sub(revoked).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAPIKeyManyNetworks: a key is the customer's, wherever it is used
// from, but a key used from a new network is worth a line in their trail,
// and one used from many networks at once (copied, shared, leaked) is a
// risk signal — recorded once per window, even though every call after
// the first is answered from the node's key cache.
func TestAPIKeyManyNetworks(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{site: keysSite}, []scenario{{"networks", func(t *testing.T, g *gateway) {
		ctx := context.Background()
		g.signUp("ops@example.com")
		id := g.customerID("ops@example.com")
		b := backendOf(t)
		out, err := b.flows().CreateAPIKey(ctx, authflow.CreateAPIKeyInput{CustomerID: id, Name: "ci", Scopes: []string{"orders:read"}})
		key, ok := out.(authflow.APIKeyCreated)
		if err != nil || !ok {
			t.Fatalf("create key: %T %v", out, err)
		}
		call := func(ip string) {
			t.Helper()
			r := g.do(clientFrom(g, ip), http.MethodGet, "/api/orders/1", nil, map[string]string{"Authorization": "Bearer " + key.Secret})
			if r.status != http.StatusOK {
				t.Fatalf("call from %s: %d %s", ip, r.status, r.body)
			}
		}
		count := func(kind string) int {
			evs, err := b.identity.Events(ctx, id, 100)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range evs {
				if e.Kind == kind {
					n++
				}
			}
			return n
		}
		waitCount := func(kind string, want int) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for count(kind) < want {
				if time.Now().After(deadline) {
					t.Fatalf("%s events: %d, want %d", kind, count(kind), want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		// The same network twice (another address in it): nothing new.
		call("127.0.61.1")
		call("127.0.61.2")
		call("127.0.61.1")
		// Two more networks, each a line in the trail; not yet many.
		call("127.0.62.1")
		call("127.0.63.1")
		waitCount(identity.EventAPIKeyNewNetwork, 2)
		if n := count(identity.EventAPIKeyManyNetworks); n != 0 {
			t.Fatalf("three networks already gave the many-networks signal (%d)", n)
		}
		// A fourth within the window: the signal, once.
		call("127.0.64.1")
		waitCount(identity.EventAPIKeyManyNetworks, 1)
		call("127.0.65.1")
		call("127.0.61.3")
		waitCount(identity.EventAPIKeyNewNetwork, 4)
		for b.later.Pending() > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		if n := count(identity.EventAPIKeyManyNetworks); n != 1 {
			t.Fatalf("many-networks events: %d, want 1 per window", n)
		}
		c, err := b.identity.Customer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if k := c.APIKeys[0]; len(k.RecentNetworks) < 4 || k.ManyNetworksAt.IsZero() {
			t.Fatalf("key record: %+v", k)
		}
	}}})
}
