package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

// testDeleteCustomer: deleting a customer removes the record, both
// indexes, their tokens (not another's) and their audit trail; the address
// and the provider identity can be used again.
func testDeleteCustomer(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c := newCustomer("leaver@example.com")
	c.Identities = []identity.LinkedIdentity{linked("leaver-sub")}
	other := newCustomer("stayer@example.com")
	for _, x := range []*identity.Customer{c, other} {
		if err := s.CreateCustomer(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	mine, tok := identity.NewToken(identity.VerifyEmail{}, c.ID, time.Hour, now)
	theirs, tok2 := identity.NewToken(identity.VerifyEmail{}, other.ID, time.Hour, now)
	for _, x := range []*identity.Token{tok, tok2} {
		if err := s.PutToken(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{c.ID, other.ID} {
		if err := s.AppendEvent(ctx, id, identity.Event{At: t0, Kind: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := s.PendingTokens(ctx, c.ID); err != nil || len(p) != 1 || p[0].Kind != identity.TokenVerifyEmail || p[0].CustomerID != c.ID {
		t.Fatalf("pending tokens before: %+v %v", p, err)
	}
	if err := s.DeleteCustomer(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Customer(ctx, c.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("record after deletion: %v", err)
	}
	if _, err := s.CustomerByEmail(ctx, c.Email); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("email index after deletion: %v", err)
	}
	li := c.Identities[0]
	if _, err := s.CustomerByIdentity(ctx, li.Issuer, li.Subject); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("identity index after deletion: %v", err)
	}
	if _, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(mine), now); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("token after deletion: %v", err)
	}
	if p, err := s.PendingTokens(ctx, c.ID); err != nil || len(p) != 0 {
		t.Fatalf("pending tokens after: %+v %v", p, err)
	}
	if ev, err := s.Events(ctx, c.ID, 10); err != nil || len(ev) != 0 {
		t.Fatalf("audit trail after deletion: %+v %v", ev, err)
	}
	if err := s.DeleteCustomer(ctx, c.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("second deletion: %v", err)
	}
	// The other customer keeps everything.
	if _, err := s.Customer(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(theirs), now); err != nil {
		t.Fatalf("another's token: %v", err)
	}
	if ev, _ := s.Events(ctx, other.ID, 10); len(ev) != 1 {
		t.Fatalf("another's trail: %+v", ev)
	}
	// The address and the identity can be used again.
	again := newCustomer(c.Email)
	again.Identities = c.Identities
	if err := s.CreateCustomer(ctx, again); err != nil {
		t.Fatalf("registering the address again: %v", err)
	}
}

// testErasureSchedule: a scheduled deletion is due once its time comes,
// shows on the record, and can be cancelled.
func testErasureSchedule(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c := newCustomer("later@example.com")
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(14 * 24 * time.Hour)
	if err := s.ScheduleErasure(ctx, c.ID, at); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Customer(ctx, c.ID); !got.ErasureAt.Equal(at) {
		t.Fatalf("ErasureAt = %v, want %v", got.ErasureAt, at)
	}
	if due, err := s.DueErasures(ctx, at.Add(-time.Second), 10); err != nil || len(due) != 0 {
		t.Fatalf("due early: %v %v", due, err)
	}
	if due, err := s.DueErasures(ctx, at, 10); err != nil || len(due) != 1 || due[0] != c.ID {
		t.Fatalf("due: %v %v", due, err)
	}
	if err := s.ScheduleErasure(ctx, c.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Customer(ctx, c.ID); !got.ErasureAt.IsZero() {
		t.Fatalf("ErasureAt after cancel = %v", got.ErasureAt)
	}
	if due, _ := s.DueErasures(ctx, at.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("due after cancel: %v", due)
	}
	if err := s.ScheduleErasure(ctx, identity.NewID(), at); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("scheduling a missing customer: %v", err)
	}
	// Deletion clears the schedule too.
	if err := s.ScheduleErasure(ctx, c.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCustomer(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueErasures(ctx, at.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("due after deletion: %v", due)
	}
}
