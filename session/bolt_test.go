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

// TestBoltSweepInSlices: the sweep reads the sessions a slice at a time,
// resuming after the last key read even when that key was just deleted,
// and misses none; it stops between slices when its context ends.
func TestBoltSweepInSlices(t *testing.T) {
	defer session.SetSweepScan(3)()
	ctx := context.Background()
	s := newBolt(t)
	now := time.Now()
	var dead, live []string
	for i := range 25 {
		key := session.KeyOf(fmt.Sprintf("u_%02d.tok-%d", i, i))
		exp := now.Add(time.Hour)
		if i%5 == 0 || i%7 == 0 {
			exp = now.Add(-time.Second)
			dead = append(dead, key)
		} else {
			live = append(live, key)
		}
		if err := s.Create(ctx, &session.Session{Key: key, UserID: fmt.Sprintf("u_%02d", i), CreatedAt: now,
			LastSeen: now, AuthTime: now, ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.SweepExpired(cancelled, now, 30*time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("sweep with an ended context: %v", err)
	}
	n, err := s.SweepExpired(ctx, now, 30*time.Minute)
	if err != nil || n != len(dead) {
		t.Fatalf("swept %d, %v; want %d", n, err, len(dead))
	}
	for _, k := range dead {
		if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("expired %s survived: %v", k, err)
		}
	}
	for _, k := range live {
		if _, err := s.Get(ctx, k); err != nil {
			t.Errorf("live %s: %v", k, err)
		}
	}
}

func TestBoltSweepEnded(t *testing.T) {
	ctx := context.Background()
	s := newBolt(t)
	now := time.Now()
	if err := s.MarkEnded(ctx, "u1", "gone", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkEnded(ctx, "u1", "kept", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepEnded(ctx, now.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if e, err := s.Ended(ctx, "u1", "kept"); err != nil || !e {
		t.Fatalf("the sweep took a mark still in force: %v %v", e, err)
	}
	if n, err := s.SweepEnded(ctx, now.Add(2*time.Minute)); err != nil || n != 0 {
		t.Fatalf("second sweep: %d %v", n, err)
	}
}
