package identity_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/identity/storetest"
)

func TestBoltStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) identity.Store {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "fd.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := identity.NewBoltStore(db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestBoltLegacyTokens: tokens written by the previous version, flat
// records in the tokens bucket under kind "/" hash, still work.
func TestBoltLegacyTokens(t *testing.T) {
	storetest.RunLegacyTokens(t, func(t *testing.T) (identity.Store, storetest.PutRaw) {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "fd.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := identity.NewBoltStore(db)
		if err != nil {
			t.Fatal(err)
		}
		return s, func(t *testing.T, kind identity.TokenKind, hash, record []byte) {
			key := append([]byte(string(kind)+"/"), hash...)
			if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("tokens")).Put(key, record) }); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestBoltSweepExpiredTokens(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "fd.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, _ := identity.NewBoltStore(db)
	ctx := context.Background()
	now := time.Now()
	_, old := identity.NewToken(identity.VerifyEmail{}, "u_1", time.Hour, now.Add(-2*time.Hour))
	secret, fresh := identity.NewToken(identity.VerifyEmail{}, "u_1", time.Hour, now)
	for _, tok := range []*identity.Token{old, fresh} {
		if err := s.PutToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.SweepExpired(ctx, now); err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	if _, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), now); err != nil {
		t.Fatalf("live token swept: %v", err)
	}
}
