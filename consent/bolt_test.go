package consent_test

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/consent/storetest"
)

func TestBoltStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (consent.Store, storetest.Dump) {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "fd.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := consent.NewBoltStore(db)
		if err != nil {
			t.Fatal(err)
		}
		return s, func(t *testing.T) []string {
			var out []string
			err := db.View(func(tx *bolt.Tx) error {
				return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
					return b.ForEach(func(k, v []byte) error {
						out = append(out, string(name)+" "+string(k)+" "+string(v))
						return nil
					})
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	})
}
