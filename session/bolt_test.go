package session_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

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

func TestBoltSweepExpired(t *testing.T) {
	ctx := context.Background()
	s := newBolt(t)
	now := time.Now()
	made := 0
	mk := func(user string, created, lastSeen time.Time, absolute time.Duration) string {
		made++
		key := session.KeyOf(fmt.Sprintf("%s.tok-%d", user, made))
		if err := s.Create(ctx, &session.Session{Key: key, UserID: user, CreatedAt: created, LastSeen: lastSeen,
			AuthTime: created, ExpiresAt: created.Add(absolute)}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	gone := mk("u_a", now.Add(-13*time.Hour), now.Add(-time.Minute), 12*time.Hour) // past absolute
	idle := mk("u_a", now.Add(-time.Hour), now.Add(-31*time.Minute), 12*time.Hour) // idle
	live := mk("u_a", now.Add(-time.Hour), now.Add(-time.Minute), 12*time.Hour)
	n, err := s.SweepExpired(ctx, now, 30*time.Minute)
	if err != nil || n != 2 {
		t.Fatalf("swept %d, %v", n, err)
	}
	for _, k := range []string{gone, idle} {
		if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("expired session survived: %v", err)
		}
	}
	if l, _ := s.ListUser(ctx, "u_a"); len(l) != 1 || l[0].Key != live {
		t.Fatalf("index after sweep: %v", l)
	}
}
