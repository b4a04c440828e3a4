package authflow_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

// oldSystem is a legacy system's directory, as the journeys see one
// through authflow.LegacyAuth (the signed HTTP exchange and its guards
// are internal/legacyauth's, tested there and through Caddy).
type oldSystem struct {
	mu       sync.Mutex
	accounts map[string]oldAccount
	asked    map[string]int
	migrated []string
	// before runs inside Verify (a sign-up racing the migration).
	before func(email string)
	err    error
}

type oldAccount struct {
	password string
	acct     authflow.LegacyAccount
}

func (s *oldSystem) Verify(_ context.Context, email, password string) (authflow.LegacyAccount, bool, error) {
	s.mu.Lock()
	s.asked[email]++
	a, known := s.accounts[email]
	before, err := s.before, s.err
	s.mu.Unlock()
	if before != nil {
		before(email)
	}
	if err != nil {
		return authflow.LegacyAccount{}, false, err
	}
	if !known || a.password != password {
		return authflow.LegacyAccount{}, false, nil
	}
	return a.acct, true, nil
}

func (s *oldSystem) Migrated(_ context.Context, email string) {
	s.mu.Lock()
	s.migrated = append(s.migrated, email)
	s.mu.Unlock()
}

func (s *oldSystem) times(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[email]
}

func TestLegacyMigration(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		joined := time.Date(2015, 6, 1, 12, 0, 0, 0, time.UTC)
		old := &oldSystem{asked: map[string]int{}, accounts: map[string]oldAccount{
			"ada@example.com":   {"ada's old password", authflow.LegacyAccount{EmailVerified: true, Name: "  Ada Lovelace ", CreatedAt: joined}},
			"unver@example.com": {"unverified's password", authflow.LegacyAccount{Name: "bad\u0007name", CreatedAt: e.clock.now().Add(time.Hour)}},
			"race@example.com":  {"race password", authflow.LegacyAccount{EmailVerified: true}},
		}}
		e.flows.Legacy = old

		// A known password: created here, hashed by Frontdoor, signed in.
		out, ok := e.signIn(t, "Ada@Example.com", "ada's old password").(authflow.FirstFactorPassed)
		if !ok || out.Customer.Email != "ada@example.com" || !out.Customer.EmailVerified || strings.Join(out.AMR, " ") != "pwd" {
			t.Fatalf("first sign-in: %#v", out)
		}
		c, err := e.store.CustomerByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(c.PasswordHash, "$argon2id$") || strings.Contains(c.PasswordHash, "old password") {
			t.Fatalf("stored password %q, want Frontdoor's argon2id hash", c.PasswordHash)
		}
		if _, err := hasher.Verify(ctx, c.PasswordHash, "ada's old password"); err != nil {
			t.Fatalf("the stored hash is not the password's: %v", err)
		}
		if c.Name != "Ada Lovelace" || !c.CreatedAt.Equal(joined) || c.LastLoginAt.IsZero() {
			t.Fatalf("record: name %q created %v last login %v", c.Name, c.CreatedAt, c.LastLoginAt)
		}
		evs, _ := e.store.Events(ctx, c.ID, 10)
		if len(evs) == 0 || evs[0].Kind != identity.EventMigrated || evs[0].Detail != authflow.MigratedDetail {
			t.Fatalf("trail %+v, want a migrated event", evs)
		}
		// Known from now on: the legacy system is not asked again, a
		// wrong password is an ordinary wrong password.
		if _, ok := e.signIn(t, "ada@example.com", "ada's old password").(authflow.FirstFactorPassed); !ok {
			t.Fatal("second sign-in")
		}
		if _, ok := e.signIn(t, "ada@example.com", "guess").(authflow.WrongCredentials); !ok {
			t.Fatal("a wrong password after migrating")
		}
		if n := old.times("ada@example.com"); n != 1 {
			t.Fatalf("asked %d times, want once", n)
		}

		// Wrong passwords, unknown addresses, failed exchanges: the one
		// answer of an unknown address, nothing created.
		e.flows.OnWarn = nil // the failed exchange below warns, by design
		for _, try := range []struct{ email, password string }{
			{"ada2@example.com", "ada's old password"}, {"unver@example.com", "wrong"},
		} {
			if _, ok := e.signIn(t, try.email, try.password).(authflow.WrongCredentials); !ok {
				t.Fatalf("%s: not WrongCredentials", try.email)
			}
		}
		old.err = errors.New("legacy: no valid answer")
		if _, ok := e.signIn(t, "race@example.com", "race password").(authflow.WrongCredentials); !ok {
			t.Fatal("a failed exchange signed in")
		}
		old.err = nil
		for _, email := range []string{"ada2@example.com", "unver@example.com", "race@example.com"} {
			if _, err := e.store.CustomerByEmail(ctx, email); !errors.Is(err, identity.ErrNotFound) {
				t.Fatalf("%s created without the legacy system's yes: %v", email, err)
			}
		}

		// Not verified there: created unverified, with a link to this
		// browser, no session; a bad name and a future date are dropped.
		e.mail.take()
		if _, ok := e.signIn(t, "unver@example.com", "unverified's password").(authflow.Unverified); !ok {
			t.Fatal("an address the legacy system never verified signed in")
		}
		if m := e.mail.take(); len(m) != 1 || m[0].kind != "verify" || m[0].to != "unver@example.com" {
			t.Fatalf("mail %+v, want one verification link", m)
		}
		u, err := e.store.CustomerByEmail(ctx, "unver@example.com")
		if err != nil || u.EmailVerified || u.Name != "" || !u.CreatedAt.Equal(e.clock.now().UTC()) {
			t.Fatalf("unverified record %+v (%v)", u, err)
		}

		// A sign-up lands while the legacy system is asked: that account
		// stands, and its own password decides.
		old.before = func(email string) {
			_ = e.store.CreateCustomer(ctx, &identity.Customer{ID: identity.NewID(), Email: email, CreatedAt: e.clock.now(), EmailVerified: true, PasswordHash: mustHash(t, "the sign-up's password")})
		}
		if _, ok := e.signIn(t, "race@example.com", "race password").(authflow.WrongCredentials); !ok {
			t.Fatal("the legacy password beat an account created meanwhile")
		}
		old.before = nil
		if _, ok := e.signIn(t, "race@example.com", "the sign-up's password").(authflow.FirstFactorPassed); !ok {
			t.Fatal("the account created meanwhile lost its password")
		}
		if strings.Join(old.migrated, " ") != "ada@example.com unver@example.com" {
			t.Fatalf("migrated %v", old.migrated)
		}
	})
}

func mustHash(t *testing.T, password string) string {
	t.Helper()
	h, err := hasher.Hash(context.Background(), password)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
