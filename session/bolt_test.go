package session_test

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/session"
	"github.com/frontdoorhq/frontdoor/session/sessiontest"
)

func newBolt(t testing.TB) *session.BoltStore {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "fd.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := session.NewBoltStore(db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBoltStore(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) session.Store { return newBolt(t) })
}
