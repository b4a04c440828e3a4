package authflow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// TestEmailChange: the new address is proven before it replaces the old;
// the old one is told; sessions end; an address another account has gets
// the same answer and only a notice to its owner.
func TestEmailChange(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.verified(t, "before@example.com")
		other := e.verified(t, "taken@example.com")
		e.mail.take()
		if _, _, err := e.sessions.Create(ctx, session.New{UserID: c.ID, Email: c.Email, Site: "https://shop.test"}); err != nil {
			t.Fatal(err)
		}

		out, err := e.flows.RequestEmailChange(ctx, authflow.ChangeEmailInput{Customer: c, Email: "not an address"})
		run[authflow.Invalid](t, "a bad address", out, err)
		out, err = e.flows.RequestEmailChange(ctx, authflow.ChangeEmailInput{Customer: c, Email: "Before@Example.com"})
		run[authflow.EmailUnchanged](t, "the same address", out, err)

		// Taken: the same answer; its owner is told, nothing else.
		out, err = e.flows.RequestEmailChange(ctx, authflow.ChangeEmailInput{Customer: c, Email: other.Email})
		run[authflow.EmailChangeSent](t, "a taken address", out, err)
		if m := e.mail.take(); len(m) != 1 || m[0].kind != "email_in_use" || m[0].to != other.Email {
			t.Fatalf("mail for a taken address: %+v", m)
		}

		out, err = e.flows.RequestEmailChange(ctx, authflow.ChangeEmailInput{Customer: c, Email: "After@Example.com"})
		run[authflow.EmailChangeSent](t, "a new address", out, err)
		m := e.mail.take()
		if len(m) != 1 || m[0].kind != "new_email" || m[0].to != "after@example.com" {
			t.Fatalf("mail for a new address: %+v", m)
		}
		// Nothing changes until the link is used.
		if got, _ := e.store.Customer(ctx, c.ID); got.Email != "before@example.com" {
			t.Fatal("changed before the link was followed")
		}
		out, err = e.flows.ConfirmEmailChange(ctx, m[0].secret, authflow.Client{})
		done := run[authflow.EmailChanged](t, "confirm", out, err)
		if done.Customer.Email != "after@example.com" || done.Old != "before@example.com" {
			t.Fatalf("changed: %+v", done)
		}
		if told := e.mail.take(); len(told) != 1 || told[0].kind != "email_changed" || told[0].to != "before@example.com" {
			t.Fatalf("the old address was not told: %+v", told)
		}
		if list, _ := e.sessions.List(ctx, c.ID); len(list) != 0 {
			t.Fatalf("%d sessions still carry the old address", len(list))
		}
		// The link works once; the old address is free.
		out, err = e.flows.ConfirmEmailChange(ctx, m[0].secret, authflow.Client{})
		run[authflow.LinkExpired](t, "the link again", out, err)
		if _, err := e.store.CustomerByEmail(ctx, "before@example.com"); !errors.Is(err, identity.ErrNotFound) {
			t.Fatal("the old address still finds the account")
		}

		// Taken between the link and the press.
		out, _ = e.flows.RequestEmailChange(ctx, authflow.ChangeEmailInput{Customer: done.Customer, Email: "race@example.com"})
		run[authflow.EmailChangeSent](t, "race", out, nil)
		link := e.mail.take()[0].secret
		e.verified(t, "race@example.com")
		out, err = e.flows.ConfirmEmailChange(ctx, link, authflow.Client{})
		run[authflow.EmailTakenMeanwhile](t, "taken meanwhile", out, err)
		if got, _ := e.store.Customer(ctx, c.ID); got.Email != "after@example.com" {
			t.Fatalf("address after a refused change: %s", got.Email)
		}
	})
}
