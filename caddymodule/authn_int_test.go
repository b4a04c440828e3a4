package caddymodule

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestAuthenticatorsExplicitSession: a site that lists the session
// authenticator (`authenticate session`, adapted to "authenticators":
// [{"authenticator":"session"}]) behaves exactly as the default — the whole
// end-to-end journey — and a reload naming an authenticator this build
// lacks is refused with its name, leaving the running config serving.
func TestAuthenticatorsExplicitSession(t *testing.T) {
	o := gatewayOpts{site: "authenticate session"}
	g := startGateway(t, o)
	endToEnd(t, g)

	c := g.signUp("bea@example.com")
	good := g.sessionCookie(c)
	tampered := []byte(good)
	tampered[len(tampered)/2] ^= 1
	if r := g.get(g.withCookie(string(tampered)), "/app/x", nil); r.status != http.StatusUnauthorized {
		t.Errorf("tampered cookie: %d, want 401", r.status)
	}

	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(g.caddyfile(o)), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatal(err)
	}
	explicit := []byte(`"authenticators":[{"authenticator":"session"}]`)
	if !bytes.Contains(cfg, explicit) {
		t.Fatalf("adapted config lacks %s:\n%s", explicit, cfg)
	}
	bad := bytes.Replace(cfg, explicit, []byte(`"authenticators":[{"authenticator":"session"},{"authenticator":"nosuch"}]`), 1)
	err = caddy.Load(bad, true)
	if err == nil || !strings.Contains(err.Error(), `authenticators[1]: unknown authenticator "nosuch" (this build has: session)`) {
		t.Fatalf("loading an unknown authenticator: %v", err)
	}
	if r := g.get(c, "/app/x", nil); r.status != http.StatusOK || !strings.HasPrefix(g.backend.lastHeaders().Get("X-Frontdoor-User"), "u_") {
		t.Errorf("after the refused reload: %d", r.status)
	}
}

// TestAuthenticatorsExplicitStoreFailure: invariant 5 with the session
// authenticator configured: protected routes 503, public ones served.
func TestAuthenticatorsExplicitStoreFailure(t *testing.T) {
	g := startGateway(t, gatewayOpts{store: "store faulty {dir}/frontdoor.db", site: "authenticate session"})
	c := g.signUp("cal@example.com")
	t.Cleanup(func() { storeFailing.Store(false) })
	storeFailing.Store(true)
	waitStatus(t, func() int { return g.get(c, "/app/x", nil).status }, http.StatusServiceUnavailable)
	if r := g.get(c, "/pub/x", nil); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-User") != "" {
		t.Errorf("public route with the store down: %d, user %q", r.status, g.backend.lastHeaders().Get("X-Frontdoor-User"))
	}
	storeFailing.Store(false)
	if r := g.get(c, "/app/x", nil); r.status != http.StatusOK {
		t.Fatalf("session lost after the store came back: %d", r.status)
	}
}
