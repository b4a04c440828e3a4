package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/frontdoorhq/frontdoor/identity"
)

// testPhone: the phone index is unique, moves with the number, is freed
// when the number changes or goes, and UpdateCustomer cannot go around it.
func testPhone(t *testing.T, s identity.Store) {
	ctx := context.Background()
	a, b := newCustomer("phone-a@example.com"), newCustomer("phone-b@example.com")
	for _, c := range []*identity.Customer{a, b} {
		if err := s.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	const one, two = "+447700900001", "+447700900002"
	if _, err := s.CustomerByPhone(ctx, one); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("lookup of a number nobody has: %v", err)
	}
	c, err := s.SetPhone(ctx, a.ID, one, true)
	if err != nil || c.Phone != one || !c.PhoneVerified {
		t.Fatalf("set: %v %+v", err, c)
	}
	if got, err := s.CustomerByPhone(ctx, one); err != nil || got.ID != a.ID || !got.PhoneVerified {
		t.Fatalf("by phone: %v %+v", err, got)
	}
	// Unique: b cannot take it, and nothing of b changes.
	if _, err := s.SetPhone(ctx, b.ID, one, true); !errors.Is(err, identity.ErrPhoneTaken) {
		t.Fatalf("set a taken number: %v", err)
	}
	if got, _ := s.Customer(ctx, b.ID); got.Phone != "" {
		t.Fatalf("the refused customer holds %q", got.Phone)
	}
	if got, err := s.CustomerByPhone(ctx, one); err != nil || got.ID != a.ID {
		t.Fatalf("after a refused set: %v %+v", err, got)
	}
	// Setting one's own number again is no conflict.
	if _, err := s.SetPhone(ctx, a.ID, one, true); err != nil {
		t.Fatalf("set the same number again: %v", err)
	}
	// Moved: the new number finds a, the old one nobody, and is free.
	if c, err = s.SetPhone(ctx, a.ID, two, false); err != nil || c.Phone != two || c.PhoneVerified {
		t.Fatalf("move: %v %+v", err, c)
	}
	if _, err := s.CustomerByPhone(ctx, one); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("the old number still finds the customer: %v", err)
	}
	if _, err := s.SetPhone(ctx, b.ID, one, true); err != nil {
		t.Fatalf("the old number is not free: %v", err)
	}
	// Removed: freed.
	if c, err = s.SetPhone(ctx, a.ID, "", true); err != nil || c.Phone != "" || c.PhoneVerified {
		t.Fatalf("remove: %v %+v", err, c)
	}
	if _, err := s.CustomerByPhone(ctx, two); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("a removed number still finds the customer: %v", err)
	}
	// Garbage stays out of the index; a missing customer is ErrNotFound.
	if _, err := s.SetPhone(ctx, a.ID, "07700900003", true); !errors.Is(err, identity.ErrBadPhone) {
		t.Fatalf("a national number: %v", err)
	}
	if _, err := s.SetPhone(ctx, "u_nobody", two, true); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("set for a missing customer: %v", err)
	}
	// UpdateCustomer may not change the number.
	if _, err := s.UpdateCustomer(ctx, b.ID, func(c *identity.Customer) error { c.Phone = two; return nil }); err == nil {
		t.Fatal("UpdateCustomer changed the number")
	}
	// A new customer with a taken number is refused; with a free one,
	// indexed.
	dup := newCustomer("phone-dup@example.com")
	dup.Phone = one
	if err := s.CreateCustomer(ctx, dup); !errors.Is(err, identity.ErrPhoneTaken) {
		t.Fatalf("create with a taken number: %v", err)
	}
	if _, err := s.CustomerByEmail(ctx, dup.Email); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("a refused creation left the customer: %v", err)
	}
	fresh := newCustomer("phone-fresh@example.com")
	fresh.Phone, fresh.PhoneVerified = two, true
	if err := s.CreateCustomer(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if got, err := s.CustomerByPhone(ctx, two); err != nil || got.ID != fresh.ID {
		t.Fatalf("created with a number: %v %+v", err, got)
	}
	// Erasure frees it.
	if err := s.DeleteCustomer(ctx, fresh.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CustomerByPhone(ctx, two); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("an erased customer's number still finds them: %v", err)
	}
	if _, err := s.SetPhone(ctx, a.ID, two, true); err != nil {
		t.Fatalf("an erased customer's number is not free: %v", err)
	}
	// Two customers racing for one number: one gets it.
	const three = "+447700900003"
	won := raceFor(t, []string{a.ID, b.ID}, identity.ErrPhoneTaken, func(id string) error {
		_, err := s.SetPhone(ctx, id, three, true)
		return err
	})
	owner, err := s.CustomerByPhone(ctx, three)
	if won != 1 || err != nil {
		t.Fatalf("%d won; lookup %v", won, err)
	}
	loser := a.ID
	if owner.ID == a.ID {
		loser = b.ID
	}
	if c, _ := s.Customer(ctx, loser); c.Phone == three {
		t.Fatal("the loser's record holds the contested number")
	}
}
