package identity_test

import (
	"path/filepath"
	"testing"

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
