package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/frontdoorhq/frontdoor/identity"
)

// race runs use n times at once on the stored customer and returns how
// many succeeded; every failure must be wantErr.
func race(t *testing.T, s identity.Store, id string, n int, wantErr error, use func(*identity.Customer) error) int {
	t.Helper()
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.UpdateCustomer(context.Background(), id, use)
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, wantErr):
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	wg.Wait()
	return int(ok.Load())
}

// testTOTPReplay: one code, many requests at once: exactly one is
// accepted, through the store's atomic update; later the same code is
// still refused.
func testTOTPReplay(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c := newCustomer("totp@example.com")
	key, err := identity.NewTOTPKey("shop", c.Email)
	if err != nil {
		t.Fatal(err)
	}
	c.TOTP = &identity.TOTP{Secret: key.Secret(), CreatedAt: t0}
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	code, err := totp.GenerateCodeCustom(key.Secret(), now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if n := race(t, s, c.ID, 8, identity.ErrCodeReused, func(c *identity.Customer) error { return c.UseTOTP(code, now) }); n != 1 {
		t.Fatalf("%d concurrent uses of one TOTP code succeeded, want 1", n)
	}
	if _, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.UseTOTP(code, now.Add(20*time.Second)) }); !errors.Is(err, identity.ErrCodeReused) {
		t.Fatalf("replayed code: %v, want ErrCodeReused", err)
	}
	got, _ := s.Customer(ctx, c.ID)
	if got.TOTP == nil || got.TOTP.LastStep != now.Unix()/30 {
		t.Fatalf("stored TOTP %+v, want last step %d", got.TOTP, now.Unix()/30)
	}
}

// testRecoveryCodeSingleUse: a recovery code works once, even when sent
// many times at once, and the others keep working.
func testRecoveryCodeSingleUse(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c := newCustomer("recovery@example.com")
	codes, hashes := identity.NewRecoveryCodes()
	c.RecoveryCodes = hashes
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n := race(t, s, c.ID, 8, identity.ErrBadCode, func(c *identity.Customer) error { return c.UseRecoveryCode(codes[3]) }); n != 1 {
		t.Fatalf("%d concurrent uses of one recovery code succeeded, want 1", n)
	}
	if _, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.UseRecoveryCode(codes[3]) }); !errors.Is(err, identity.ErrBadCode) {
		t.Fatalf("reused recovery code: %v", err)
	}
	if _, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.UseRecoveryCode(codes[4]) }); err != nil {
		t.Fatalf("another recovery code: %v", err)
	}
	got, _ := s.Customer(ctx, c.ID)
	if len(got.RecoveryCodes) != identity.RecoveryCodeCount-2 {
		t.Fatalf("%d codes left, want %d", len(got.RecoveryCodes), identity.RecoveryCodeCount-2)
	}
}

// testPasskeyCounter: one assertion counter accepted once; a counter going
// backwards flags the passkey, and the flag is stored.
func testPasskeyCounter(t *testing.T, s identity.Store) {
	ctx := context.Background()
	c := newCustomer("passkey@example.com")
	id := []byte("credential-1")
	c.Passkeys = []identity.Passkey{{ID: id, PublicKey: []byte{1}, SignCount: 5, BackupEligible: true, CreatedAt: t0}}
	if err := s.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if n := race(t, s, c.ID, 6, identity.ErrCounter, func(c *identity.Customer) error { return c.UsePasskey(id, 6, true, now) }); n != 1 {
		t.Fatalf("%d concurrent uses of one counter value succeeded, want 1", n)
	}
	// Every racer after the first saw the passkey flagged (6 ≤ 6): the
	// store kept the state of the one that won.
	got, _ := s.Customer(ctx, c.ID)
	if p, _ := got.Passkey(id); p.SignCount != 6 || !p.BackupState {
		t.Fatalf("stored passkey %+v", p)
	}
	// A rollback: refused, and flagged for good. The flag is written
	// by its own update (the refused one writes nothing).
	_, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.UsePasskey(id, 3, true, now) })
	if !errors.Is(err, identity.ErrCounter) {
		t.Fatalf("rolled-back counter: %v", err)
	}
	if _, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.FlagPasskey(id) }); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Customer(ctx, c.ID)
	if p, _ := got.Passkey(id); !p.Flagged || got.HasSecondFactor() {
		t.Fatalf("after rollback: %+v, second factor %v", p, got.HasSecondFactor())
	}
	if _, err := s.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.UsePasskey(id, 100, true, now) }); !errors.Is(err, identity.ErrCounter) {
		t.Fatalf("flagged passkey used: %v", err)
	}
}
