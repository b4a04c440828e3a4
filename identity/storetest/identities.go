package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/frontdoorhq/frontdoor/identity"
)

func linked(sub string) identity.LinkedIdentity {
	return identity.LinkedIdentity{Provider: "idp", Issuer: "https://idp.example", Subject: sub, Email: sub + "@example.net", EmailVerified: true, LinkedAt: t0}
}

// testIdentities: a provider identity belongs to at most one customer,
// is found again by issuer and subject, and changes only through
// LinkIdentity and UnlinkIdentity.
func testIdentities(t *testing.T, s identity.Store) {
	ctx := context.Background()
	a := newCustomer("fed-a@example.com")
	a.Identities = []identity.LinkedIdentity{linked("s1")}
	if err := s.CreateCustomer(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.CustomerByIdentity(ctx, "https://idp.example", "s1")
	if err != nil || got.ID != a.ID || len(got.Identities) != 1 {
		t.Fatalf("by identity: %v %+v", err, got)
	}
	if _, err := s.CustomerByIdentity(ctx, "https://other.example", "s1"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("another issuer's s1: %v", err)
	}
	// A second customer created with the same identity is refused, and
	// leaves nothing behind: its email is free again.
	b := newCustomer("fed-b@example.com")
	b.Identities = []identity.LinkedIdentity{linked("s1")}
	if err := s.CreateCustomer(ctx, b); !errors.Is(err, identity.ErrIdentityTaken) {
		t.Fatalf("duplicate identity on create: %v", err)
	}
	if _, err := s.Customer(ctx, b.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("refused customer exists: %v", err)
	}
	b = newCustomer("fed-b@example.com")
	if err := s.CreateCustomer(ctx, b); err != nil {
		t.Fatalf("email kept by a refused create: %v", err)
	}
	if _, err := s.LinkIdentity(ctx, b.ID, linked("s1")); !errors.Is(err, identity.ErrIdentityTaken) {
		t.Fatalf("link a taken identity: %v", err)
	}
	if _, err := s.LinkIdentity(ctx, "u_nobody", linked("s9")); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("link to a missing customer: %v", err)
	}
	c, err := s.LinkIdentity(ctx, b.ID, linked("s2"))
	if err != nil || len(c.Identities) != 1 {
		t.Fatalf("link: %v %+v", err, c)
	}
	if c, err = s.LinkIdentity(ctx, b.ID, linked("s2")); err != nil || len(c.Identities) != 1 {
		t.Fatalf("link twice: %v %+v", err, c)
	}
	// UpdateCustomer may not add or drop identities behind the index.
	if _, err := s.UpdateCustomer(ctx, b.ID, func(c *identity.Customer) error {
		c.Identities = append(c.Identities, linked("s3"))
		return nil
	}); err == nil {
		t.Fatal("UpdateCustomer added an identity")
	}
	if _, err := s.UpdateCustomer(ctx, b.ID, func(c *identity.Customer) error {
		c.Identities[0].LastUsedAt = t0.Add(1)
		return nil
	}); err != nil {
		t.Fatalf("UpdateCustomer touching an identity's last use: %v", err)
	}
	// A guard refusing leaves it linked.
	refused := errors.New("last way to sign in")
	if _, err := s.UnlinkIdentity(ctx, b.ID, "https://idp.example", "s2", func(*identity.Customer) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("guarded unlink: %v", err)
	}
	if got, err := s.CustomerByIdentity(ctx, "https://idp.example", "s2"); err != nil || got.ID != b.ID {
		t.Fatalf("after a refused unlink: %v", err)
	}
	if c, err = s.UnlinkIdentity(ctx, b.ID, "https://idp.example", "s2", nil); err != nil || len(c.Identities) != 0 {
		t.Fatalf("unlink: %v %+v", err, c)
	}
	if _, err := s.CustomerByIdentity(ctx, "https://idp.example", "s2"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("unlinked identity still found: %v", err)
	}
	if _, err := s.UnlinkIdentity(ctx, b.ID, "https://idp.example", "s2", nil); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("unlink twice: %v", err)
	}
	// Once unlinked it may go to another customer.
	if _, err := s.LinkIdentity(ctx, a.ID, linked("s2")); err != nil {
		t.Fatalf("relink elsewhere: %v", err)
	}
	if got, _ := s.CustomerByIdentity(ctx, "https://idp.example", "s2"); got == nil || got.ID != a.ID {
		t.Fatalf("relinked identity found at %+v", got)
	}
}

// testIdentityConcurrentLink: two customers racing for one identity, one
// wins.
func testIdentityConcurrentLink(t *testing.T, s identity.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 8 {
		c := newCustomer("race" + string(rune('a'+i)) + "@example.com")
		if err := s.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	won := raceFor(t, ids, identity.ErrIdentityTaken, func(id string) error {
		_, err := s.LinkIdentity(ctx, id, linked("contested"))
		return err
	})
	if won != 1 {
		t.Fatalf("%d customers got the identity", won)
	}
	holders := 0
	for _, id := range ids {
		c, _ := s.Customer(ctx, id)
		if _, has := c.Identity("https://idp.example", "contested"); has {
			holders++
		}
	}
	if holders != 1 {
		t.Fatalf("%d records name the identity", holders)
	}
}
