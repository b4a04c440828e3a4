// Package sessiontest is the behaviour every session.Store implementation
// must show, one table run against each implementation.
package sessiontest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/session"
)

// Run runs the table against stores made by newStore; each case gets a
// fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s session.Store)
	}{
		{"CreateGet", testCreateGet},
		{"DuplicateKey", testDuplicateKey},
		{"Touch", testTouch},
		{"Delete", testDelete},
		{"DeleteUser", testDeleteUser},
		{"SecretCreatedOnce", testSecretCreatedOnce},
		{"SwapSecret", testSwapSecret},
		{"Ping", func(t *testing.T, s session.Store) {
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

func sess(key, user string) *session.Session {
	return &session.Session{Key: key, UserID: user, Email: user + "@example.com", CreatedAt: t0, LastSeen: t0,
		AuthTime: t0, ExpiresAt: t0.Add(time.Hour), AMR: []string{"pwd"}, ACR: "aal1"}
}

func testCreateGet(t *testing.T, s session.Store) {
	ctx := context.Background()
	if err := s.Create(ctx, sess("k1", "u1")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "k1")
	if err != nil || got.UserID != "u1" || !got.ExpiresAt.Equal(t0.Add(time.Hour)) || len(got.AMR) != 1 || got.ACR != "aal1" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func testDuplicateKey(t *testing.T, s session.Store) {
	ctx := context.Background()
	if err := s.Create(ctx, sess("k1", "u1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, sess("k1", "u2")); err == nil {
		t.Fatal("a second session with the same key was stored")
	}
	if got, _ := s.Get(ctx, "k1"); got.UserID != "u1" {
		t.Fatal("the first session was overwritten")
	}
}

func testTouch(t *testing.T, s session.Store) {
	ctx := context.Background()
	if err := s.Create(ctx, sess("k1", "u1")); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(5 * time.Minute)
	if err := s.Touch(ctx, "k1", later); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, "k1", t0); err != nil { // older: ignored
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "k1"); !got.LastSeen.Equal(later) {
		t.Fatalf("last seen %v, want %v", got.LastSeen, later)
	}
	if err := s.Touch(ctx, "gone", later); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("touch of a missing session: %v", err)
	}
}

func testDelete(t *testing.T, s session.Store) {
	ctx := context.Background()
	if err := s.Create(ctx, sess("k1", "u1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "k1"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("deleted session still there: %v", err)
	}
	if err := s.Delete(ctx, "k1"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if l, _ := s.ListUser(ctx, "u1"); len(l) != 0 {
		t.Fatalf("index still lists %d sessions", len(l))
	}
}

func testDeleteUser(t *testing.T, s session.Store) {
	ctx := context.Background()
	for _, k := range []string{"a1", "a2", "a3"} {
		if err := s.Create(ctx, sess(k, "alice")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Create(ctx, sess("b1", "bob")); err != nil {
		t.Fatal(err)
	}
	if l, err := s.ListUser(ctx, "alice"); err != nil || len(l) != 3 {
		t.Fatalf("list: %d %v", len(l), err)
	}
	n, err := s.DeleteUser(ctx, "alice")
	if err != nil || n != 3 {
		t.Fatalf("delete user: %d %v", n, err)
	}
	for _, k := range []string{"a1", "a2", "a3"} {
		if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("%s survived: %v", k, err)
		}
	}
	if _, err := s.Get(ctx, "b1"); err != nil {
		t.Fatalf("another customer's session was removed: %v", err)
	}
}

func testSecretCreatedOnce(t *testing.T, s session.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Go(func() {
			v, err := s.Secret(ctx, "k", func() ([]byte, error) { return []byte{byte(i + 1)}, nil })
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for _, v := range got[1:] {
		if !bytes.Equal(v, got[0]) {
			t.Fatalf("racing creators saw different secrets: %v", got)
		}
	}
	boom := errors.New("boom")
	if _, err := s.Secret(ctx, "other", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("create error lost: %v", err)
	}
}

func testSwapSecret(t *testing.T, s session.Store) {
	ctx := context.Background()
	v1, _ := s.Secret(ctx, "k", func() ([]byte, error) { return []byte("one"), nil })
	if ok, err := s.SwapSecret(ctx, "k", []byte("stale"), []byte("two")); ok || err != nil {
		t.Fatalf("swap against a stale value: %v %v", ok, err)
	}
	if ok, err := s.SwapSecret(ctx, "k", v1, []byte("two")); !ok || err != nil {
		t.Fatalf("swap: %v %v", ok, err)
	}
	v2, _ := s.Secret(ctx, "k", func() ([]byte, error) { return []byte("three"), nil })
	if string(v2) != "two" {
		t.Fatalf("after swap: %q", v2)
	}
}
