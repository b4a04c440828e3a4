package authflow_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

const idpIssuer = "https://idp.example"

var googlePolicy = authflow.ProviderPolicy{Name: "google", LinkByEmail: true, AutoRegister: true}

func fedIn(sub, email string, verified bool) authflow.FederatedSignInInput {
	return authflow.FederatedSignInInput{Provider: googlePolicy, Redirect: "/after",
		Identity: authflow.FederatedIdentity{Issuer: idpIssuer, Subject: sub, Email: email, EmailVerified: verified, Name: "Fed"}}
}

// TestFederatedSignIn: what a verified provider identity leads to, on
// both stores.
func TestFederatedSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()

		// A new identity creates a customer (verified as the provider
		// says) and signs in with amr fed and the provider as idp.
		out, err := e.flows.FederatedSignIn(ctx, fedIn("new-1", "New@Example.com", true))
		due := run[authflow.SessionDue](t, "new identity", out, err)
		if due.Customer.Email != "new@example.com" || !due.Customer.EmailVerified || !slices.Equal(due.AMR, []string{"fed"}) ||
			due.ACR != "aal1" || due.IdP != "google" || due.Redirect != "/after" {
			t.Fatalf("new customer: %+v", due)
		}
		id := due.Customer.ID
		// Returning: the same customer.
		out, err = e.flows.FederatedSignIn(ctx, fedIn("new-1", "changed@example.com", true))
		if due = run[authflow.SessionDue](t, "returning", out, err); due.Customer.ID != id {
			t.Fatal("a returning identity made another customer")
		}
		if c, _ := e.store.Customer(ctx, id); c.Identities[0].LastUsedAt.IsZero() || c.LastLoginAt.IsZero() {
			t.Fatal("last use or last sign-in not recorded")
		}

		// The address of an existing (verified) customer: never linked
		// silently.
		owner := e.verified(t, "owner@example.com")
		out, err = e.flows.FederatedSignIn(ctx, fedIn("other-1", "owner@example.com", true))
		link := run[authflow.LinkRequired](t, "existing address", out, err)
		if link.Customer.ID != owner.ID || link.Identity.Subject != "other-1" || link.Identity.Provider != "google" {
			t.Fatalf("link required: %+v", link)
		}
		if c, _ := e.store.Customer(ctx, owner.ID); len(c.Identities) != 0 {
			t.Fatal("linked before the owner signed in")
		}
		// Unverified: refused, whatever the policy.
		out, err = e.flows.FederatedSignIn(ctx, fedIn("other-2", "owner@example.com", false))
		if r := run[authflow.FederatedRefused](t, "unverified existing address", out, err); !errors.Is(r.Reason, authflow.ErrFederatedUnverified) {
			t.Fatal(r.Reason)
		}
		// link never.
		never := fedIn("other-3", "owner@example.com", true)
		never.Provider.LinkByEmail = false
		out, err = e.flows.FederatedSignIn(ctx, never)
		if r := run[authflow.FederatedRefused](t, "link never", out, err); !errors.Is(r.Reason, authflow.ErrFederatedLinkNever) {
			t.Fatal(r.Reason)
		}
		// auto_register off.
		closed := fedIn("closed-1", "closed@example.com", true)
		closed.Provider.AutoRegister = false
		out, err = e.flows.FederatedSignIn(ctx, closed)
		if r := run[authflow.FederatedRefused](t, "closed", out, err); !errors.Is(r.Reason, authflow.ErrFederatedClosed) {
			t.Fatal(r.Reason)
		}
		if _, err := e.store.CustomerByEmail(ctx, "closed@example.com"); !errors.Is(err, identity.ErrNotFound) {
			t.Fatal("a closed provider created a customer")
		}
		// No email.
		out, err = e.flows.FederatedSignIn(ctx, fedIn("noemail", "", true))
		if r := run[authflow.FederatedRefused](t, "no email", out, err); !errors.Is(r.Reason, authflow.ErrFederatedNoEmail) {
			t.Fatal(r.Reason)
		}

		// An unconfirmed sign-up (a stranger may have typed the address):
		// a provider vouching for the address takes it over; the
		// unconfirmed password is gone.
		e.signUp(t, "squat@example.com", "stranger-password-1", false)
		out, err = e.flows.FederatedSignIn(ctx, fedIn("real-owner", "squat@example.com", true))
		due = run[authflow.SessionDue](t, "unconfirmed account", out, err)
		if c, _ := e.store.Customer(ctx, due.Customer.ID); c.PasswordHash != "" || !c.EmailVerified || len(c.Identities) != 1 {
			t.Fatalf("taken over account: %+v", c)
		}
		out, _ = e.flows.PasswordSignIn(ctx, authflow.PasswordSignInInput{Email: "squat@example.com", Password: "stranger-password-1"})
		if _, ok := out.(authflow.SessionDue); ok {
			t.Fatal("the stranger's password still signs in")
		}

		// An unverified provider email on a new address creates an
		// unverified customer…
		out, err = e.flows.FederatedSignIn(ctx, fedIn("unproven", "later@example.com", false))
		due = run[authflow.SessionDue](t, "unverified new address", out, err)
		if due.Customer.EmailVerified {
			t.Fatal("verified without the provider vouching")
		}
		// …whose identity goes once a provider vouching for the address
		// arrives.
		out, err = e.flows.FederatedSignIn(ctx, fedIn("proven", "later@example.com", true))
		due = run[authflow.SessionDue](t, "vouched", out, err)
		c, _ := e.store.Customer(ctx, due.Customer.ID)
		if len(c.Identities) != 1 || c.Identities[0].Subject != "proven" {
			t.Fatalf("identities after the address was proven: %+v", c.Identities)
		}
		if _, err := e.store.CustomerByIdentity(ctx, idpIssuer, "unproven"); !errors.Is(err, identity.ErrNotFound) {
			t.Fatal("the unproven identity still signs in")
		}

		// The mailbox's reader confirming a sign-up link takes an account
		// made by a provider that did not vouch for the address: its
		// identity is unlinked and its sessions end.
		out, err = e.flows.FederatedSignIn(ctx, fedIn("squatter", "mailbox@example.com", false))
		due = run[authflow.SessionDue](t, "unverified squatter", out, err)
		if _, err := e.flows.StartSession(ctx, authflow.StartSessionInput{Due: due, Site: "https://shop.test"}); err != nil {
			t.Fatal(err)
		}
		secret, nonce := e.signUp(t, "mailbox@example.com", "owner-password-123", false)
		e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce})
		if _, err := e.store.CustomerByIdentity(ctx, idpIssuer, "squatter"); !errors.Is(err, identity.ErrNotFound) {
			t.Fatal("the squatter's identity survived the mailbox owner's confirmation")
		}
		if list, _ := e.sessions.List(ctx, due.Customer.ID); len(list) != 0 {
			t.Fatalf("the squatter's sessions survived: %d", len(list))
		}
	})
}

// TestFederatedSecondFactor: an account's second factor applies to
// provider sign-ins, unless the operator trusts the provider's MFA and
// the provider did MFA.
func TestFederatedSecondFactor(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		out, err := e.flows.FederatedSignIn(ctx, fedIn("mfa-1", "mfa@example.com", true))
		c := run[authflow.SessionDue](t, "new", out, err).Customer
		e.withTOTP(t, c)
		out, err = e.flows.FederatedSignIn(ctx, fedIn("mfa-1", "mfa@example.com", true))
		run[authflow.SecondFactorDue](t, "with a second factor", out, err)

		in := fedIn("mfa-1", "mfa@example.com", true)
		in.Identity.MFA = true
		out, err = e.flows.FederatedSignIn(ctx, in)
		run[authflow.SecondFactorDue](t, "provider MFA, not trusted", out, err)
		in.Provider.TrustMFA = true
		out, err = e.flows.FederatedSignIn(ctx, in)
		if due := run[authflow.SessionDue](t, "provider MFA trusted", out, err); due.ACR != "aal2" || !slices.Contains(due.AMR, "mfa") {
			t.Fatalf("trusted MFA: %+v", due)
		}
		in.Identity.MFA = false
		out, err = e.flows.FederatedSignIn(ctx, in)
		run[authflow.SecondFactorDue](t, "trusted, but no MFA done", out, err)
	})
}

// TestUnlinkIdentity: never the last way to sign in.
func TestUnlinkIdentity(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		out, err := e.flows.FederatedSignIn(ctx, fedIn("only-1", "only@example.com", true))
		c := run[authflow.SessionDue](t, "new", out, err).Customer
		out, err = e.flows.UnlinkIdentity(ctx, authflow.UnlinkInput{CustomerID: c.ID, Issuer: idpIssuer, Subject: "only-1"})
		run[authflow.LastWayToSignIn](t, "the only way in", out, err)
		if _, err := e.store.LinkIdentity(ctx, c.ID, identity.LinkedIdentity{Provider: "entra", Issuer: "https://login.example", Subject: "x"}); err != nil {
			t.Fatal(err)
		}
		out, err = e.flows.UnlinkIdentity(ctx, authflow.UnlinkInput{CustomerID: c.ID, Issuer: idpIssuer, Subject: "only-1"})
		run[authflow.IdentityUnlinked](t, "one of two", out, err)
		out, err = e.flows.UnlinkIdentity(ctx, authflow.UnlinkInput{CustomerID: c.ID, Issuer: idpIssuer, Subject: "only-1"})
		run[authflow.IdentityNotLinked](t, "again", out, err)
		evs, _ := e.store.Events(ctx, c.ID, 10)
		found := false
		for _, ev := range evs {
			found = found || ev.Kind == identity.EventIdentityUnlinked && ev.Detail == "google"
		}
		if !found {
			t.Fatalf("no unlink event: %+v", evs)
		}
	})
}
