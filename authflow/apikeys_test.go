package authflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

// TestAPIKeys: a key is made with checked limits, works until it expires
// or is revoked, records its use (a new network in the trail), and a
// changed character is refused as malformed.
func TestAPIKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := &identity.Customer{ID: identity.NewID(), Email: "kai@example.com", EmailVerified: true, CreatedAt: e.clock.now()}
		if err := e.store.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []authflow.CreateAPIKeyInput{
			{Name: ""}, {Name: "x\ny"}, {Name: "ok", ExpiresDays: 366}, {Name: "ok", ExpiresDays: -1},
			{Name: "ok", Paths: []string{"api/*"}}, {Name: "ok", Paths: []string{"/a/*/b"}}, {Name: "ok", Paths: []string{"/a/../b"}},
			{Name: "ok", Scopes: []string{"orders read"}}, {Name: "ok", Methods: []string{"BREW"}},
		} {
			bad.CustomerID = c.ID
			if out, err := e.flows.CreateAPIKey(ctx, bad); err != nil || !isInvalid(out) {
				t.Errorf("%+v: %T %v", bad, out, err)
			}
		}
		out, err := e.flows.CreateAPIKey(ctx, authflow.CreateAPIKeyInput{CustomerID: c.ID, Name: " deploy ", Paths: []string{"/api/orders/*", ""},
			Scopes: []string{"orders:read"}, Methods: []string{"get"}, Client: authflow.Client{IP: "192.0.2.7"}})
		created, ok := out.(authflow.APIKeyCreated)
		if err != nil || !ok {
			t.Fatalf("create: %T %v", out, err)
		}
		k := created.Key
		if k.Name != "deploy" || len(k.Paths) != 1 || k.Methods[0] != "GET" || k.ExpiresAt.Sub(k.CreatedAt) != 90*24*time.Hour {
			t.Fatalf("key %+v", k)
		}
		auth := func(secret, ip string) authflow.Outcome {
			t.Helper()
			out, err := e.flows.AuthenticateAPIKey(ctx, secret, authflow.Client{IP: ip})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		valid, ok := auth(created.Secret, "192.0.2.7").(authflow.APIKeyValid)
		if !ok || valid.Customer.ID != c.ID || valid.Key.ID != k.ID {
			t.Fatalf("valid key: %+v", valid)
		}
		swap := byte('A')
		if created.Secret[10] == 'A' {
			swap = 'B'
		}
		typo := created.Secret[:10] + string(swap) + created.Secret[11:]
		if r, ok := auth(typo, "192.0.2.7").(authflow.APIKeyRefused); !ok || r.Reason != "malformed" {
			t.Fatalf("typo: %+v", r)
		}
		// Use from another network: recorded, and in the trail.
		auth(created.Secret, "198.51.100.9")
		got, _ := e.store.Customer(ctx, c.ID)
		if got.APIKeys[0].LastUsedNetwork != "198.51.100.0/24" || got.APIKeys[0].LastUsedAt.IsZero() {
			t.Fatalf("use not recorded: %+v", got.APIKeys[0])
		}
		evs, _ := e.store.Events(ctx, c.ID, 10)
		kinds := map[string]bool{}
		for _, ev := range evs {
			kinds[ev.Kind] = true
		}
		if !kinds[identity.EventAPIKeyCreated] || !kinds[identity.EventAPIKeyNewNetwork] {
			t.Fatalf("trail %+v", evs)
		}
		if !authflow.KeyAllows(k, "GET", "/api/orders/7", []string{"orders:read"}) || authflow.KeyAllows(k, "POST", "/api/orders/7", nil) ||
			authflow.KeyAllows(k, "GET", "/api/ordersX", nil) || authflow.KeyAllows(k, "GET", "/api/orders/7", []string{"orders:write"}) {
			t.Fatal("KeyAllows")
		}
		// Expired.
		e.clock.advance(91 * 24 * time.Hour)
		if r, ok := auth(created.Secret, "192.0.2.7").(authflow.APIKeyRefused); !ok || r.Reason != "expired" {
			t.Fatalf("expired: %+v", r)
		}
		// Revoked.
		if out, err := e.flows.RevokeAPIKey(ctx, c.ID, k.ID, authflow.Client{}); err != nil || out.(authflow.APIKeyRevoked).Key.Name != "deploy" {
			t.Fatalf("revoke: %+v %v", out, err)
		}
		if r, ok := auth(created.Secret, "192.0.2.7").(authflow.APIKeyRefused); !ok || r.Reason != "unknown" {
			t.Fatalf("revoked: %+v", r)
		}
		if out, err := e.flows.RevokeAPIKey(ctx, c.ID, k.ID, authflow.Client{}); err != nil || out != (authflow.NoSuchCustomer{}) {
			t.Fatalf("second revoke: %+v", out)
		}
	})
}

func isInvalid(o authflow.Outcome) bool { _, ok := o.(authflow.Invalid); return ok }
