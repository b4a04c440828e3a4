package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/frontdoorhq/frontdoor/identity"
)

// testAPIKeys: a key is found by its hash only while its customer holds
// it; an update cannot change keys behind the index's back; a customer
// holds at most MaxAPIKeys; revocation and erasure take the key out of the
// index.
func testAPIKeys(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c, other := newCustomer("kim@example.com"), newCustomer("lee@example.com")
	for _, x := range []*identity.Customer{c, other} {
		if err := s.CreateCustomer(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	secret, k := identity.NewAPIKey()
	k.Name, k.Scopes, k.CreatedAt, k.ExpiresAt = "deploy script", []string{"orders:read"}, t0, t0.Add(identity.APIKeyDefaultTTL)
	got, err := s.AddAPIKey(ctx, c.ID, k)
	if err != nil || len(got.APIKeys) != 1 {
		t.Fatalf("AddAPIKey: %+v %v", got, err)
	}
	found, err := s.CustomerByAPIKey(ctx, identity.APIKeyHash(secret))
	if err != nil || found.ID != c.ID {
		t.Fatalf("CustomerByAPIKey: %+v %v", found, err)
	}
	if rec, ok := found.APIKey(identity.APIKeyHash(secret)); !ok || rec.Name != "deploy script" || rec.Scopes[0] != "orders:read" || rec.ID != k.ID {
		t.Fatalf("key record %+v", rec)
	}
	if _, err := s.CustomerByAPIKey(ctx, identity.APIKeyHash(secret+"x")); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("another hash: %v", err)
	}
	if _, err := s.AddAPIKey(ctx, "u_nobody", k); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("AddAPIKey to no one: %v", err)
	}
	// An ordinary update may touch a key's use, not add or drop keys.
	if _, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.APIKeys[0].LastUsedAt, c.APIKeys[0].LastUsedNetwork = t0, "192.0.2.0/24"
		return nil
	}); err != nil {
		t.Fatalf("touching a key: %v", err)
	}
	_, forged := identity.NewAPIKey()
	if _, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.APIKeys = append(c.APIKeys, forged)
		return nil
	}); err == nil {
		t.Fatal("UpdateCustomer added a key behind the index's back")
	}
	// Bounded.
	for range identity.MaxAPIKeys - 1 {
		_, more := identity.NewAPIKey()
		if _, err := s.AddAPIKey(ctx, c.ID, more); err != nil {
			t.Fatal(err)
		}
	}
	_, extra := identity.NewAPIKey()
	if _, err := s.AddAPIKey(ctx, c.ID, extra); !errors.Is(err, identity.ErrTooManyAPIKeys) {
		t.Fatalf("key %d: %v", identity.MaxAPIKeys+1, err)
	}
	// Revoked: gone; another customer cannot revoke it.
	if _, err := s.RevokeAPIKey(ctx, other.ID, k.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("revoked by another customer: %v", err)
	}
	after, err := s.RevokeAPIKey(ctx, c.ID, k.ID)
	if err != nil || len(after.APIKeys) != identity.MaxAPIKeys-1 {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	if _, err := s.CustomerByAPIKey(ctx, identity.APIKeyHash(secret)); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("revoked key still finds its customer: %v", err)
	}
	if _, err := s.RevokeAPIKey(ctx, c.ID, k.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("second revocation: %v", err)
	}
	// Erased with the customer.
	kept := after.APIKeys[0]
	if err := s.DeleteCustomer(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CustomerByAPIKey(ctx, kept.Hash); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("an erased customer's key: %v", err)
	}
}
