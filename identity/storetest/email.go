package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/frontdoorhq/frontdoor/identity"
)

// testChangeEmail: the email index moves with the address, a taken address
// is refused with nothing changed, and the old address is free again.
func testChangeEmail(t *testing.T, s identity.Store) {
	ctx := context.Background()
	a, b := newCustomer("move-a@example.com"), newCustomer("move-b@example.com")
	for _, c := range []*identity.Customer{a, b} {
		if err := s.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ChangeEmail(ctx, a.ID, "move-b@example.com"); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("change to a taken address: %v", err)
	}
	if got, err := s.CustomerByEmail(ctx, "move-a@example.com"); err != nil || got.ID != a.ID {
		t.Fatalf("after a refused change: %v %+v", err, got)
	}
	c, err := s.ChangeEmail(ctx, a.ID, "moved@example.com")
	if err != nil || c.Email != "moved@example.com" || !c.EmailVerified {
		t.Fatalf("change: %v %+v", err, c)
	}
	if got, err := s.CustomerByEmail(ctx, "moved@example.com"); err != nil || got.ID != a.ID {
		t.Fatalf("by the new address: %v", err)
	}
	if _, err := s.CustomerByEmail(ctx, "move-a@example.com"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("the old address still finds the customer: %v", err)
	}
	again := newCustomer("move-a@example.com")
	if err := s.CreateCustomer(ctx, again); err != nil {
		t.Fatalf("the old address is not free: %v", err)
	}
	if _, err := s.ChangeEmail(ctx, "u_nobody", "x@example.com"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("change of a missing customer: %v", err)
	}
	// UpdateCustomer still may not change the address.
	if _, err := s.UpdateCustomer(ctx, a.ID, func(c *identity.Customer) error { c.Email = "sneaky@example.com"; return nil }); err == nil {
		t.Fatal("UpdateCustomer changed the address")
	}
	// Two customers racing for one new address: one gets it.
	won := raceFor(t, []string{a.ID, b.ID}, identity.ErrEmailTaken, func(id string) error {
		_, err := s.ChangeEmail(ctx, id, "contested@example.com")
		return err
	})
	owner, err := s.CustomerByEmail(ctx, "contested@example.com")
	if won != 1 || err != nil {
		t.Fatalf("%d won; lookup %v", won, err)
	}
	loser := a.ID
	if owner.ID == a.ID {
		loser = b.ID
	}
	if c, _ := s.Customer(ctx, loser); c.Email == "contested@example.com" {
		t.Fatal("the loser's record holds the contested address")
	}
}

// raceFor runs do for every id at once and counts the calls that succeeded;
// every other must fail with lost.
func raceFor(t *testing.T, ids []string, lost error, do func(id string) error) int {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = do(id) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, lost):
			t.Fatal(err)
		}
	}
	return won
}
