// Package storetest is the behaviour every identity.Store implementation must
// show, written once as a table and run against each implementation (bbolt
// here, Redis next), the way oauth2-proxy tests its session stores.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Run runs the whole table against stores made by newStore; each case gets
// a fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) identity.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s identity.Store)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"EmailTaken", testEmailTaken},
		{"NotFound", testNotFound},
		{"Update", testUpdate},
		{"UpdateKeepsIdentity", testUpdateKeepsIdentity},
		{"UpdateErrorWritesNothing", testUpdateErrorWritesNothing},
		{"TokenSingleUse", testTokenSingleUse},
		{"TokenExpiry", testTokenExpiry},
		{"TokenKindsSeparate", testTokenKindsSeparate},
		{"TokenKeepsPasswordHash", testTokenKeepsPasswordHash},
		{"TokenConcurrentConsume", testTokenConcurrentConsume},
		{"ConcurrentRegister", testConcurrentRegister},
		{"ConcurrentUpdate", testConcurrentUpdate},
		{"AuditTrail", testAuditTrail},
		{"TOTPReplay", testTOTPReplay},
		{"RecoveryCodeSingleUse", testRecoveryCodeSingleUse},
		{"PasskeyCounter", testPasskeyCounter},
		{"Identities", testIdentities},
		{"ChangeEmail", testChangeEmail},
		{"Phone", testPhone},
		{"NoEmail", testNoEmail},
		{"IdentityConcurrentLink", testIdentityConcurrentLink},
		{"DeleteCustomer", testDeleteCustomer},
		{"ErasureSchedule", testErasureSchedule},
		{"APIKeys", testAPIKeys},
		{"Ping", func(t *testing.T, s identity.Store) {
			if err := s.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newStore(t)) })
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newCustomer(email string) *identity.Customer {
	return &identity.Customer{ID: identity.NewID(), Email: email, CreatedAt: t0, PasswordHash: "$argon2id$x"}
}

func testCreateAndGet(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c := newCustomer("ann@example.com")
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, get := range []func() (*identity.Customer, error){
		func() (*identity.Customer, error) { return s.Customer(ctx, c.ID) },
		func() (*identity.Customer, error) { return s.CustomerByEmail(ctx, "ann@example.com") },
	} {
		got, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != c.ID || got.Email != c.Email || !got.CreatedAt.Equal(t0) || got.PasswordHash != c.PasswordHash || got.EmailVerified {
			t.Fatalf("got %+v, want %+v", got, c)
		}
	}
}

func testEmailTaken(t *testing.T, s identity.Store) {
	ctx := context.Background()
	if err := s.CreateCustomer(ctx, newCustomer("bob@example.com")); err != nil {
		t.Fatal(err)
	}
	second := newCustomer("bob@example.com")
	if err := s.CreateCustomer(ctx, second); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("second create: got %v, want ErrEmailTaken", err)
	}
	if _, err := s.Customer(ctx, second.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("refused customer was stored: %v", err)
	}
}

func testNotFound(t *testing.T, s identity.Store) {
	ctx := context.Background()
	if _, err := s.Customer(ctx, "u_nope"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("Customer: %v", err)
	}
	if _, err := s.CustomerByEmail(ctx, "nobody@example.com"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("CustomerByEmail: %v", err)
	}
	_, err := s.UpdateCustomer(ctx, "u_nope", func(*identity.Customer) error { return nil })
	if !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("UpdateCustomer: %v", err)
	}
}

func testUpdate(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c := newCustomer("cy@example.com")
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	login := t0.Add(time.Hour)
	got, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.EmailVerified = true
		c.LastLoginAt = login
		c.PasswordHash = "$argon2id$new"
		return nil
	})
	if err != nil || !got.EmailVerified {
		t.Fatalf("update: %+v, %v", got, err)
	}
	again, err := s.CustomerByEmail(ctx, c.Email)
	if err != nil || !again.EmailVerified || !again.LastLoginAt.Equal(login) || again.PasswordHash != "$argon2id$new" {
		t.Fatalf("after update: %+v, %v", again, err)
	}
}

func testUpdateKeepsIdentity(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c := newCustomer("dee@example.com")
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { c.ID = "u_other"; return nil }); err == nil {
		t.Fatal("changing the id was allowed")
	}
	if _, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { c.Email = "x@example.com"; return nil }); err == nil {
		t.Fatal("changing the email was allowed")
	}
	if got, err := s.Customer(ctx, c.ID); err != nil || got.Email != c.Email {
		t.Fatalf("customer changed: %+v %v", got, err)
	}
}

func testUpdateErrorWritesNothing(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c := newCustomer("eve@example.com")
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { c.EmailVerified = true; return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	if got, _ := s.Customer(ctx, c.ID); got.EmailVerified {
		t.Fatal("a failed update was written")
	}
}

func testTokenSingleUse(t *testing.T, s identity.Store) {
	ctx := context.Background()
	secret, tok := identity.NewToken(identity.VerifyEmail{}, "u_1", time.Hour, t0)
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), t0.Add(time.Minute))
	if err != nil || got.CustomerID != "u_1" {
		t.Fatalf("first consume: %+v %v", got, err)
	}
	if _, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), t0.Add(time.Minute)); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("second consume: %v", err)
	}
}

func testTokenExpiry(t *testing.T, s identity.Store) {
	ctx := context.Background()
	secret, tok := identity.NewToken(identity.VerifyEmail{}, "u_1", time.Hour, t0)
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), t0.Add(time.Hour)); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("expired token: %v", err)
	}
	// An expired attempt burns the token.
	if _, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), t0); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("token usable after an expired attempt: %v", err)
	}
}

func testTokenKindsSeparate(t *testing.T, s identity.Store) {
	ctx := context.Background()
	secret, tok := identity.NewToken(identity.VerifyEmail{}, "u_1", time.Hour, t0)
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeToken(ctx, "other_kind", identity.HashToken(secret), t0); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("token of another kind accepted: %v", err)
	}
	if _, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), t0); err != nil {
		t.Fatalf("token consumed by a wrong-kind attempt: %v", err)
	}
}

// testTokenKeepsPasswordHash: a verification token hands back the password
// hash of the sign-up that made it; verifying relies on it.
func testTokenKeepsPasswordHash(t *testing.T, s identity.Store) {
	ctx := context.Background()
	const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5"
	secret, tok := identity.NewToken(identity.VerifyEmail{PasswordHash: hash}, "u_1", time.Hour, t0)
	plainSecret, plain := identity.NewToken(identity.VerifyEmail{}, "u_1", time.Hour, t0)
	for _, tok := range []*identity.Token{tok, plain} {
		if err := s.PutToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), t0)
	if err != nil || verifyPayload(t, got).PasswordHash != hash || got.CustomerID != "u_1" {
		t.Fatalf("token with a password hash: %+v %v", got, err)
	}
	got, err = s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(plainSecret), t0)
	if err != nil || verifyPayload(t, got).PasswordHash != "" {
		t.Fatalf("token without a password hash: %+v %v", got, err)
	}
}

// verifyPayload is the payload of a verification token (a zero one for
// no token, so a failed consume reports its error).
func verifyPayload(t *testing.T, tok *identity.Token) identity.VerifyEmail {
	t.Helper()
	if tok == nil {
		return identity.VerifyEmail{}
	}
	p, err := identity.PayloadOf[identity.VerifyEmail](tok)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testTokenConcurrentConsume(t *testing.T, s identity.Store) {
	ctx := context.Background()
	secret, tok := identity.NewToken(identity.VerifyEmail{}, "u_1", time.Hour, t0)
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), t0); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent consumes succeeded, want 1", wins.Load())
	}
}

func testConcurrentRegister(t *testing.T, s identity.Store) {
	ctx := context.Background()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.CreateCustomer(ctx, newCustomer("race@example.com")); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent registrations of one email succeeded, want 1", wins.Load())
	}
}

// testConcurrentUpdate: each fn sees the value the previous one stored, so
// no update is lost however the store serialises them.
func testConcurrentUpdate(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c := newCustomer("fay@example.com")
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { c.PasswordHash += "+"; return nil })
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent update: %v", err)
		}
	}
	got, err := s.Customer(ctx, c.ID)
	if want := c.PasswordHash + strings.Repeat("+", n); err != nil || got.PasswordHash != want {
		t.Fatalf("after %d concurrent updates: %+v %v, want hash %q", n, got, err, want)
	}
}

func testAuditTrail(t *testing.T, s identity.Store) {
	ctx := context.Background()
	a, b := identity.NewID(), identity.NewID()
	for i := range 5 {
		e := identity.Event{At: t0.Add(time.Duration(i) * time.Minute), Kind: fmt.Sprintf("k%d", i), IP: "192.0.2.1"}
		if err := s.AppendEvent(ctx, a, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendEvent(ctx, b, identity.Event{At: t0, Kind: "other"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, a, 3)
	if err != nil || len(got) != 3 || got[0].Kind != "k4" || got[2].Kind != "k2" || got[0].IP != "192.0.2.1" || !got[0].At.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("newest three: %+v %v", got, err)
	}
	if all, _ := s.Events(ctx, a, 100); len(all) != 5 {
		t.Fatalf("all events: %d", len(all))
	}
	if other, _ := s.Events(ctx, b, 100); len(other) != 1 || other[0].Kind != "other" {
		t.Fatalf("another customer's trail: %+v", other)
	}
	if none, err := s.Events(ctx, identity.NewID(), 10); err != nil || len(none) != 0 {
		t.Fatalf("empty trail: %+v %v", none, err)
	}
	// The trail is bounded: the oldest events go.
	for i := range identity.MaxEvents + 3 {
		if err := s.AppendEvent(ctx, b, identity.Event{At: t0, Kind: fmt.Sprintf("n%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := s.Events(ctx, b, 2*identity.MaxEvents)
	if len(all) != identity.MaxEvents || all[0].Kind != fmt.Sprintf("n%d", identity.MaxEvents+2) {
		t.Fatalf("bounded trail: %d events, newest %+v", len(all), all[0])
	}
}
