package authflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
)

// Erasure: a customer (or an operator for them) deletes the account. The
// customer is signed out everywhere at once; with a grace period the
// account waits, marked, and a sign-in meanwhile keeps it; otherwise, or
// when the grace ends, everything kept of them goes but their consent
// records, anonymised, and one entry with no personal data in the
// erasure log.

// Outcomes of an erasure.
type (
	// Erased: the account is gone.
	Erased struct{}
	// ErasureScheduled: the account goes at At unless the customer signs
	// in before.
	ErasureScheduled struct{ At time.Time }
	// NoSuchCustomer: nothing to erase.
	NoSuchCustomer struct{}
)

func (Erased) outcome()           {}
func (ErasureScheduled) outcome() {}
func (NoSuchCustomer) outcome()   {}

// Who asked for an erasure, as the erasure log records it.
const (
	ErasedByCustomer = "customer"
	ErasedByOperator = "operator"
	ErasedAfterGrace = "grace_ended"
)

// EraseInput names the customer and who asks.
type EraseInput struct {
	CustomerID string
	Client     Client
	// Operator: an operator erases for the customer, at once (no grace),
	// giving Reason.
	Operator bool
	Reason   string
}

// Erase deletes the customer's account, or schedules it when the site has
// a grace period and the customer asked.
func (f *Flows) Erase(ctx context.Context, in EraseInput) (Outcome, error) {
	c, err := f.Data.Customer(ctx, in.CustomerID)
	if errors.Is(err, identity.ErrNotFound) {
		return NoSuchCustomer{}, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Sessions.RevokeUser(ctx, c.ID); err != nil {
		return nil, fmt.Errorf("authflow: erase: sign out everywhere: %w", err)
	}
	if f.ErasureGrace > 0 && !in.Operator {
		at := f.now().Add(f.ErasureGrace).UTC()
		if err := f.Data.ScheduleErasure(ctx, c.ID, at); err != nil {
			return nil, err
		}
		f.audit(ctx, in.Client, c.ID, identity.EventErasureScheduled)
		return ErasureScheduled{At: at}, nil
	}
	by := ErasedByCustomer
	if in.Operator {
		by = ErasedByOperator + ": " + in.Reason
	}
	if err := f.erase(ctx, c, by); err != nil {
		return nil, err
	}
	return Erased{}, nil
}

// erase deletes c and everything kept of them.
func (f *Flows) erase(ctx context.Context, c *identity.Customer, by string) error {
	if f.ConsentData != nil {
		if err := f.ConsentData.Anonymise(ctx, c.ID, f.ErasureKey); err != nil {
			return fmt.Errorf("authflow: erase: anonymise consent records: %w", err)
		}
	}
	if f.ForgetAccount != nil {
		if err := f.ForgetAccount(ctx, c.Email); err != nil {
			return fmt.Errorf("authflow: erase: forget rate-limit keys: %w", err)
		}
	}
	if err := f.Data.DeleteCustomer(ctx, c.ID); err != nil && !errors.Is(err, identity.ErrNotFound) {
		return fmt.Errorf("authflow: erase: %w", err)
	}
	// Again: a sign-in that began before the deletion may have made one.
	if _, err := f.Sessions.RevokeUser(ctx, c.ID); err != nil {
		return fmt.Errorf("authflow: erase: sign out everywhere: %w", err)
	}
	// The customer's id, for the systems that hold a copy of the account
	// to delete theirs: nothing else of the customer.
	f.publish(ctx, Client{}, c.ID, events.CustomerDeleted, map[string]string{"by": by})
	if f.Events != nil {
		// When and by whom, nothing of the customer.
		ev := identity.Event{At: f.now().UTC(), Kind: identity.EventCustomerErased, Detail: by}
		if err := f.Events.AppendEvent(ctx, identity.ErasureLog, ev); err != nil {
			f.warn("recording an erasure", err)
		}
	}
	return nil
}

// EraseDue deletes the accounts whose grace period has ended, up to
// limit, and returns how many it deleted. An account whose record no
// longer asks for it (a sign-in cancelled the erasure) is only taken off
// the schedule.
func (f *Flows) EraseDue(ctx context.Context, limit int) (int, error) {
	now := f.now()
	ids, err := f.Data.DueErasures(ctx, now, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		c, err := f.Data.Customer(ctx, id)
		if errors.Is(err, identity.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if c.ErasureAt.IsZero() || now.Before(c.ErasureAt) {
			if err := f.Data.ScheduleErasure(ctx, id, c.ErasureAt); err != nil {
				return n, err
			}
			continue
		}
		if err := f.erase(ctx, c, ErasedAfterGrace); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// CancelErasure keeps an account that was to be deleted (its customer
// signed in); it reports whether there was an erasure to cancel.
func (f *Flows) CancelErasure(ctx context.Context, c *identity.Customer, client Client) (bool, error) {
	if c == nil || c.ErasureAt.IsZero() || f.Data == nil {
		return false, nil
	}
	if err := f.Data.ScheduleErasure(ctx, c.ID, time.Time{}); err != nil {
		return false, err
	}
	c.ErasureAt = time.Time{}
	f.audit(ctx, client, c.ID, identity.EventErasureCancelled)
	return true, nil
}
