package authflow

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/identity"
)

// TestParsePurpose: each family takes its own values, exactly as stored.
func TestParsePurpose(t *testing.T) {
	for _, p := range []string{"login", "stepup", "stepup_resubmit", "reset"} {
		if got, err := parsePurpose(p, waitPurposes); err != nil || string(got) != p {
			t.Errorf("wait purpose %q: %q %v", p, got, err)
		}
	}
	for _, p := range []string{"login", "mfa", "register"} {
		if got, err := parsePurpose(p, ceremonyPurposes); err != nil || string(got) != p {
			t.Errorf("ceremony purpose %q: %q %v", p, got, err)
		}
	}
	for _, p := range []string{"", "passkey_signup"} {
		if got, err := parsePurpose(p, signUpPurposes); err != nil || string(got) != p {
			t.Errorf("sign-up purpose %q: %q %v", p, got, err)
		}
	}
	for _, bad := range []struct{ family, value string }{
		{"wait", ""}, {"wait", "mfa"}, {"wait", "Login"},
		{"ceremony", ""}, {"ceremony", "stepup"},
		{"sign-up", "login"}, {"sign-up", "passkey"},
	} {
		var err error
		switch bad.family {
		case "wait":
			_, err = parsePurpose(bad.value, waitPurposes)
		case "ceremony":
			_, err = parsePurpose(bad.value, ceremonyPurposes)
		default:
			_, err = parsePurpose(bad.value, signUpPurposes)
		}
		if !errors.Is(err, ErrUnknownPurpose) {
			t.Errorf("%s purpose %q accepted (%v)", bad.family, bad.value, err)
		}
	}
}

// TestCeremonyUnknownPurpose: a ceremony stored with a purpose the
// family does not have is refused, and one of another purpose too.
func TestCeremonyUnknownPurpose(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "fd.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := identity.NewBoltStore(db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := &Flows{Tokens: s, Clock: func() time.Time { return now }}
	ctx := context.Background()
	binding := identity.HashToken("nonce")
	for _, c := range []struct {
		stored string
		want   error
	}{
		{"login", nil},
		{"register", ErrPasskeyRefused},
		{"bogus", ErrPasskeyRefused},
		{"", ErrPasskeyRefused},
	} {
		challenge := NewNonce()
		tok := identity.NewTokenUnder(identity.HashToken(challenge),
			identity.Ceremony{Purpose: c.stored, Binding: binding, SessionData: []byte(`{"challenge":"` + challenge + `"}`)},
			"", now.Add(identity.CeremonyTTL))
		if err := s.PutToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		_, sd, err := f.ceremony(ctx, challenge, CeremonySignIn, binding)
		if !errors.Is(err, c.want) || (err == nil && sd.Challenge != challenge) {
			t.Errorf("a sign-in answering a ceremony stored for %q: %v", c.stored, err)
		}
	}
}
