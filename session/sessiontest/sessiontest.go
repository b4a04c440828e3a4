// Package sessiontest is the behaviour every session.Store implementation
// must show, one table run against each implementation.
package sessiontest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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
		{"CreateRace", testCreateRace},
		{"Touch", testTouch},
		{"Delete", testDelete},
		{"DeleteUser", testDeleteUser},
		{"ListUser", testListUser},
		{"ListUserAfterExpiry", testListUserAfterExpiry},
		{"SameHashOtherUser", testSameHashOtherUser},
		{"SecretCreatedOnce", testSecretCreatedOnce},
		{"SwapSecret", testSwapSecret},
		{"EndedMarks", testEndedMarks},
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

// t0 is near the real clock, because a store may hand expiry to its backend
// (Redis drops a session at ExpiresAt by itself). Millisecond precision is
// all a store must keep for LastSeen.
var t0 = time.Now().UTC().Truncate(time.Millisecond)

// key is a storage key of the form the Manager makes: "<user>.<hash>".
func key(user string, n int) string {
	return session.KeyOf(fmt.Sprintf("%s.token-%d", user, n))
}

func sess(key, user string) *session.Session {
	return &session.Session{Key: key, UserID: user, Email: user + "@example.com", CreatedAt: t0, LastSeen: t0,
		AuthTime: t0, ExpiresAt: t0.Add(time.Hour), AMR: []string{"pwd"}, ACR: "aal1"}
}

func create(t *testing.T, s session.Store, ss ...*session.Session) {
	t.Helper()
	for _, x := range ss {
		if err := s.Create(context.Background(), x); err != nil {
			t.Fatalf("create %s: %v", x.Key, err)
		}
	}
}

func keysOf(l []*session.Session) []string {
	var out []string
	for _, x := range l {
		out = append(out, x.Key)
	}
	slices.Sort(out)
	return out
}

func sorted(keys ...string) []string {
	slices.Sort(keys)
	return keys
}

func testCreateGet(t *testing.T, s session.Store) {
	ctx := context.Background()
	k1 := key("u1", 1)
	create(t, s, sess(k1, "u1"))
	got, err := s.Get(ctx, k1)
	if err != nil || got.Key != k1 || got.UserID != "u1" || !got.ExpiresAt.Equal(t0.Add(time.Hour)) ||
		!got.LastSeen.Equal(t0) || len(got.AMR) != 1 || got.ACR != "aal1" {
		t.Fatalf("get: %+v %v", got, err)
	}
	for _, k := range []string{"nope", key("u1", 2), key("u2", 1)} {
		if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("missing %q: %v", k, err)
		}
	}
}

func testDuplicateKey(t *testing.T, s session.Store) {
	ctx := context.Background()
	k1 := key("u1", 1)
	create(t, s, sess(k1, "u1"))
	dup := sess(k1, "u1")
	dup.Email = "other@example.com"
	if err := s.Create(ctx, dup); err == nil {
		t.Fatal("a second session with the same key was stored")
	}
	if got, _ := s.Get(ctx, k1); got.Email != "u1@example.com" {
		t.Fatal("the first session was overwritten")
	}
}

func testCreateRace(t *testing.T, s session.Store) {
	k1 := key("u1", 1)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Create(context.Background(), sess(k1, "u1")) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d racing creates of one key succeeded: %v", won, errs)
	}
	if l, err := s.ListUser(context.Background(), "u1"); err != nil || len(l) != 1 {
		t.Fatalf("index lists %d sessions: %v", len(l), err)
	}
}

func testTouch(t *testing.T, s session.Store) {
	ctx := context.Background()
	k1 := key("u1", 1)
	create(t, s, sess(k1, "u1"))
	later := t0.Add(5 * time.Minute)
	if err := s.Touch(ctx, k1, later); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, k1, t0); err != nil { // older: ignored
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, k1); !got.LastSeen.Equal(later) {
		t.Fatalf("last seen %v, want %v", got.LastSeen, later)
	}
	for _, k := range []string{"gone", key("u1", 2)} {
		if err := s.Touch(ctx, k, later); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("touch of a missing session %q: %v", k, err)
		}
	}
	if _, err := s.Get(ctx, key("u1", 2)); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("touch created a session: %v", err)
	}
}

func testDelete(t *testing.T, s session.Store) {
	ctx := context.Background()
	k1, k2 := key("u1", 1), key("u1", 2)
	create(t, s, sess(k1, "u1"), sess(k2, "u1"))
	if err := s.Delete(ctx, k1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, k1); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("deleted session still there: %v", err)
	}
	for _, k := range []string{k1, "nope", key("nobody", 1)} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatalf("delete of a missing session %q: %v", k, err)
		}
	}
	if l, _ := s.ListUser(ctx, "u1"); !slices.Equal(keysOf(l), []string{k2}) {
		t.Fatalf("index lists %v, want only %s", keysOf(l), k2)
	}
	if err := s.Delete(ctx, k2); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.ListUser(ctx, "u1"); len(l) != 0 {
		t.Fatalf("index still lists %d sessions", len(l))
	}
}

func testDeleteUser(t *testing.T, s session.Store) {
	ctx := context.Background()
	alice := []string{key("alice", 1), key("alice", 2), key("alice", 3)}
	for _, k := range alice {
		create(t, s, sess(k, "alice"))
	}
	b1 := key("bob", 1)
	create(t, s, sess(b1, "bob"))
	if l, err := s.ListUser(ctx, "alice"); err != nil || len(l) != 3 {
		t.Fatalf("list: %d %v", len(l), err)
	}
	n, err := s.DeleteUser(ctx, "alice")
	if err != nil || n != 3 {
		t.Fatalf("delete user: %d %v", n, err)
	}
	for _, k := range alice {
		if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("%s survived: %v", k, err)
		}
	}
	if l, err := s.ListUser(ctx, "alice"); err != nil || len(l) != 0 {
		t.Fatalf("after delete user, list: %d %v", len(l), err)
	}
	if _, err := s.Get(ctx, b1); err != nil {
		t.Fatalf("another customer's session was removed: %v", err)
	}
	if n, err := s.DeleteUser(ctx, "alice"); err != nil || n != 0 {
		t.Fatalf("second delete user: %d %v", n, err)
	}
	if n, err := s.DeleteUser(ctx, "nobody"); err != nil || n != 0 {
		t.Fatalf("delete user without sessions: %d %v", n, err)
	}
	// The customer can sign in again afterwards.
	a4 := key("alice", 4)
	create(t, s, sess(a4, "alice"))
	if l, err := s.ListUser(ctx, "alice"); err != nil || !slices.Equal(keysOf(l), []string{a4}) {
		t.Fatalf("after signing in again: %v %v", keysOf(l), err)
	}
}

func testListUser(t *testing.T, s session.Store) {
	ctx := context.Background()
	a1, a2, b1 := key("alice", 1), key("alice", 2), key("bob", 1)
	create(t, s, sess(a1, "alice"), sess(a2, "alice"), sess(b1, "bob"))
	if err := s.Touch(ctx, a2, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	l, err := s.ListUser(ctx, "alice")
	if err != nil || !slices.Equal(keysOf(l), sorted(a1, a2)) {
		t.Fatalf("list alice: %v %v", keysOf(l), err)
	}
	for _, x := range l {
		if x.UserID != "alice" || x.Email != "alice@example.com" {
			t.Fatalf("listed %+v", x)
		}
		if x.Key == a2 && !x.LastSeen.Equal(t0.Add(time.Minute)) {
			t.Fatalf("list shows last seen %v, want the touched time", x.LastSeen)
		}
	}
	if l, err := s.ListUser(ctx, "carol"); err != nil || len(l) != 0 {
		t.Fatalf("list of a customer without sessions: %v %v", keysOf(l), err)
	}
	if c, ok := s.(session.UserCounter); ok {
		for user, want := range map[string]int{"alice": 2, "bob": 1, "carol": 0} {
			if n, err := c.CountUser(ctx, user); err != nil || n != want {
				t.Errorf("CountUser(%s) = %d, %v; want %d", user, n, err, want)
			}
		}
		if err := s.Delete(ctx, a1); err != nil {
			t.Fatal(err)
		}
		if n, err := c.CountUser(ctx, "alice"); err != nil || n != 1 {
			t.Errorf("CountUser(alice) after a delete = %d, %v; want 1", n, err)
		}
	}
}

// A session past its absolute expiry may linger in the store (the Manager
// judges expiry) or be gone already; either way it never hides the live
// ones, and sign-out-everywhere still clears the customer.
func testListUserAfterExpiry(t *testing.T, s session.Store) {
	ctx := context.Background()
	old, live := key("alice", 1), key("alice", 2)
	expired := sess(old, "alice")
	expired.CreatedAt, expired.LastSeen, expired.AuthTime = t0.Add(-2*time.Hour), t0.Add(-2*time.Hour), t0.Add(-2*time.Hour)
	expired.ExpiresAt = t0.Add(-time.Hour)
	create(t, s, expired, sess(live, "alice"))

	l, err := s.ListUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if ks := keysOf(l); !slices.Contains(ks, live) || len(ks) > 2 {
		t.Fatalf("list after expiry: %v", ks)
	}
	if got, err := s.Get(ctx, old); err == nil && !got.ExpiresAt.Equal(expired.ExpiresAt) {
		t.Fatalf("expired session came back changed: %+v", got)
	} else if err != nil && !errors.Is(err, session.ErrNotFound) {
		t.Fatal(err)
	}
	// A later sign-in is indexed next to what is left.
	next := key("alice", 3)
	create(t, s, sess(next, "alice"))
	if l, err := s.ListUser(ctx, "alice"); err != nil || !slices.Contains(keysOf(l), next) || !slices.Contains(keysOf(l), live) {
		t.Fatalf("list after a new sign-in: %v %v", keysOf(l), err)
	}
	if n, err := s.DeleteUser(ctx, "alice"); err != nil || n < 2 || n > 3 {
		t.Fatalf("delete user: %d %v", n, err)
	}
	for _, k := range []string{old, live, next} {
		if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("%s survived sign-out-everywhere: %v", k, err)
		}
	}
	if l, err := s.ListUser(ctx, "alice"); err != nil || len(l) != 0 {
		t.Fatalf("list after delete user: %v %v", keysOf(l), err)
	}
}

// The user id is part of the key: the same hash under two customers is two
// sessions.
func testSameHashOtherUser(t *testing.T, s session.Store) {
	ctx := context.Background()
	ka := key("alice", 1)
	kb := "bob" + ka[len("alice"):]
	create(t, s, sess(ka, "alice"), sess(kb, "bob"))
	if got, err := s.Get(ctx, kb); err != nil || got.UserID != "bob" {
		t.Fatalf("bob: %+v %v", got, err)
	}
	if n, err := s.DeleteUser(ctx, "alice"); err != nil || n != 1 {
		t.Fatalf("delete alice: %d %v", n, err)
	}
	if got, err := s.Get(ctx, kb); err != nil || got.UserID != "bob" {
		t.Fatalf("bob after alice signed out everywhere: %+v %v", got, err)
	}
	if l, err := s.ListUser(ctx, "bob"); err != nil || !slices.Equal(keysOf(l), []string{kb}) {
		t.Fatalf("list bob: %v %v", keysOf(l), err)
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
	again, err := s.Secret(ctx, "k", func() ([]byte, error) { t.Error("created twice"); return []byte("x"), nil })
	if err != nil || !bytes.Equal(again, got[0]) {
		t.Fatalf("second read: %v %v", again, err)
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

// Ended marks outlive the sessions they name, are per customer and sid,
// never shortened by a mark with an earlier time, and go at their time.
func testEndedMarks(t *testing.T, s session.Store) {
	ctx := context.Background()
	k1 := key("alice", 1)
	create(t, s, sess(k1, "alice"))
	sid := session.SID(sess(k1, "alice"))
	ended := func(user, sid string) bool {
		t.Helper()
		e, err := s.Ended(ctx, user, sid)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if ended("alice", sid) {
		t.Fatal("a live session reads as ended")
	}
	now := time.Now()
	if err := s.MarkEnded(ctx, "alice", sid, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if !ended("alice", sid) {
		t.Fatal("the mark went with the sessions")
	}
	if ended("bob", sid) || ended("alice", sid+"x") || ended("alice", "") {
		t.Fatal("a mark reads for another customer or sid")
	}
	// An earlier time does not shorten it; a time past adds nothing.
	if err := s.MarkEnded(ctx, "alice", sid, now.Add(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkEnded(ctx, "alice", "old", now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ended("alice", "old") {
		t.Fatal("a mark past its time reads as ended")
	}
	// A short mark goes at its time (polled: a store may drop it a little
	// late, never early).
	if err := s.MarkEnded(ctx, "alice", "short", now.Add(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if time.Since(now) < 250*time.Millisecond && !ended("alice", "short") {
		t.Fatal("a fresh mark reads as absent")
	}
	for deadline := time.Now().Add(5 * time.Second); ended("alice", "short"); {
		if time.Now().After(deadline) {
			t.Fatal("a mark outlived its time")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !ended("alice", sid) {
		t.Fatal("an earlier time shortened a mark")
	}
}
