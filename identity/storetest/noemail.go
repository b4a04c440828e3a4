package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

func phoneOnly(phone string) *identity.Customer {
	return &identity.Customer{ID: identity.NewID(), Phone: phone, PhoneVerified: true, CreatedAt: t0}
}

// testNoEmail: a customer who signed up by phone alone (Email "") is
// found by their number and never by the empty address, does not collide
// with another such customer, can be updated, add an address later, lose
// the number only once they have one, and be erased.
func testNoEmail(t *testing.T, s identity.Store) {
	ctx := context.Background()
	const one, two, three = "+447400123451", "+447400123452", "+447400123453"
	holder := newCustomer("noemail-holder@example.com")
	a, b := phoneOnly(one), phoneOnly(two)
	for _, c := range []*identity.Customer{holder, a, b} {
		if err := s.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.CustomerByPhone(ctx, one); err != nil || got.ID != a.ID || got.Email != "" || !got.PhoneVerified {
		t.Fatalf("by phone: %v %+v", err, got)
	}
	if _, err := s.CustomerByEmail(ctx, ""); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("by the empty address: %v", err)
	}

	// The number is the unique key: taken, refused, nothing stored.
	dup := phoneOnly(one)
	if err := s.CreateCustomer(ctx, dup); !errors.Is(err, identity.ErrPhoneTaken) {
		t.Fatalf("a phone-only customer with a taken number: %v", err)
	}
	if _, err := s.Customer(ctx, dup.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("the refused customer was stored: %v", err)
	}
	if got, err := s.CustomerByPhone(ctx, one); err != nil || got.ID != a.ID {
		t.Fatalf("after a refused creation: %v %+v", err, got)
	}
	// A customer with an address and a taken number: refused, and the
	// address it claimed first is free again.
	both := newCustomer("noemail-both@example.com")
	both.Phone = two
	if err := s.CreateCustomer(ctx, both); !errors.Is(err, identity.ErrPhoneTaken) {
		t.Fatalf("an address and a taken number: %v", err)
	}
	if err := s.CreateCustomer(ctx, newCustomer(both.Email)); err != nil {
		t.Fatalf("the refused customer's address is not free: %v", err)
	}
	// Neither an address nor a number: refused.
	neither := &identity.Customer{ID: identity.NewID(), CreatedAt: t0}
	if err := s.CreateCustomer(ctx, neither); err == nil {
		t.Fatal("a customer with neither an email nor a phone was created")
	}
	if _, err := s.Customer(ctx, neither.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("the customer with neither was stored: %v", err)
	}

	// UpdateCustomer works, and still may not change the address.
	got, err := s.UpdateCustomer(ctx, a.ID, func(c *identity.Customer) error {
		c.Name, c.PasswordHash = "Ana", "$argon2id$phone"
		return nil
	})
	if err != nil || got.Name != "Ana" || got.Email != "" {
		t.Fatalf("update: %v %+v", err, got)
	}
	if got, err := s.CustomerByPhone(ctx, one); err != nil || got.Name != "Ana" || got.PasswordHash != "$argon2id$phone" {
		t.Fatalf("after update: %v %+v", err, got)
	}
	if _, err := s.UpdateCustomer(ctx, a.ID, func(c *identity.Customer) error { c.Email = "sneaky@example.com"; return nil }); err == nil {
		t.Fatal("UpdateCustomer gave a phone-only customer an address")
	}
	if _, err := s.CustomerByEmail(ctx, "sneaky@example.com"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("the refused address finds someone: %v", err)
	}

	// The number of a customer without an address stays; another is fine.
	if _, err := s.SetPhone(ctx, a.ID, "", false); !errors.Is(err, identity.ErrNeedsEmailOrPhone) {
		t.Fatalf("removing the only number: %v", err)
	}
	if got, err := s.CustomerByPhone(ctx, one); err != nil || got.ID != a.ID || !got.PhoneVerified {
		t.Fatalf("after a refused removal: %v %+v", err, got)
	}
	if c, err := s.SetPhone(ctx, a.ID, three, true); err != nil || c.Phone != three || c.Email != "" {
		t.Fatalf("moving the only number: %v %+v", err, c)
	}
	if _, err := s.CustomerByPhone(ctx, one); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("the old number still finds the customer: %v", err)
	}

	// Adding an address: a taken one is refused with nothing changed; a
	// free one is claimed, found, and taken from then on.
	if _, err := s.ChangeEmail(ctx, a.ID, holder.Email); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("adding a taken address: %v", err)
	}
	if got, err := s.Customer(ctx, a.ID); err != nil || got.Email != "" {
		t.Fatalf("after a refused address: %v %+v", err, got)
	}
	if got, err := s.CustomerByEmail(ctx, holder.Email); err != nil || got.ID != holder.ID {
		t.Fatalf("the holder lost the address: %v %+v", err, got)
	}
	const added = "noemail-added@example.com"
	c, err := s.ChangeEmail(ctx, a.ID, added)
	if err != nil || c.Email != added || !c.EmailVerified {
		t.Fatalf("adding an address: %v %+v", err, c)
	}
	if got, err := s.CustomerByEmail(ctx, added); err != nil || got.ID != a.ID || got.Phone != three {
		t.Fatalf("by the added address: %v %+v", err, got)
	}
	if err := s.CreateCustomer(ctx, newCustomer(added)); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("creating with the added address: %v", err)
	}
	if _, err := s.ChangeEmail(ctx, holder.ID, added); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("moving to the added address: %v", err)
	}
	if _, err := s.CustomerByEmail(ctx, ""); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("by the empty address after adding one: %v", err)
	}
	// With an address, the number can go.
	if c, err := s.SetPhone(ctx, a.ID, "", false); err != nil || c.Phone != "" || c.Email != added {
		t.Fatalf("removing the number after adding an address: %v %+v", err, c)
	}
	if _, err := s.CustomerByPhone(ctx, three); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("a removed number still finds the customer: %v", err)
	}
	if got, err := s.CustomerByEmail(ctx, added); err != nil || got.ID != a.ID {
		t.Fatalf("by address after removing the number: %v %+v", err, got)
	}

	// Erasure, scheduled then done, removes a phone-only customer and
	// frees the number; the others keep theirs.
	now := time.Now()
	_, tok := identity.NewToken(identity.VerifyEmail{}, b.ID, time.Hour, now)
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvent(ctx, b.ID, identity.Event{At: t0, Kind: "k"}); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(14 * 24 * time.Hour)
	if err := s.ScheduleErasure(ctx, b.ID, at); err != nil {
		t.Fatal(err)
	}
	if due, err := s.DueErasures(ctx, at, 10); err != nil || len(due) != 1 || due[0] != b.ID {
		t.Fatalf("due: %v %v", due, err)
	}
	if err := s.DeleteCustomer(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Customer(ctx, b.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("record after deletion: %v", err)
	}
	if _, err := s.CustomerByPhone(ctx, two); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("phone index after deletion: %v", err)
	}
	if p, err := s.PendingTokens(ctx, b.ID); err != nil || len(p) != 0 {
		t.Fatalf("pending tokens after deletion: %+v %v", p, err)
	}
	if ev, err := s.Events(ctx, b.ID, 10); err != nil || len(ev) != 0 {
		t.Fatalf("audit trail after deletion: %+v %v", ev, err)
	}
	if due, _ := s.DueErasures(ctx, at.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("due after deletion: %v", due)
	}
	for email, id := range map[string]string{holder.Email: holder.ID, added: a.ID} {
		if got, err := s.CustomerByEmail(ctx, email); err != nil || got.ID != id {
			t.Fatalf("%s after another's deletion: %v %+v", email, err, got)
		}
	}
	if err := s.CreateCustomer(ctx, phoneOnly(two)); err != nil {
		t.Fatalf("an erased customer's number is not free: %v", err)
	}

	// Two phone-only sign-ups racing for one number: one gets it.
	const four = "+447400123454"
	won := raceFor(t, []string{identity.NewID(), identity.NewID()}, identity.ErrPhoneTaken, func(id string) error {
		c := phoneOnly(four)
		c.ID = id
		return s.CreateCustomer(ctx, c)
	})
	if _, err := s.CustomerByPhone(ctx, four); won != 1 || err != nil {
		t.Fatalf("%d won; lookup %v", won, err)
	}
}
