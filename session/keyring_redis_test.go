package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/redistest"
	"github.com/frontdoorhq/frontdoor/session"
)

// TestKeyRingSharedThroughRedis: two nodes' rings over one Redis start
// with the same key (set-if-absent), and a rotation made by one is seen by
// the other at its next refresh.
func TestKeyRingSharedThroughRedis(t *testing.T) {
	r := redistest.Start(t)
	ctx := context.Background()
	storeA := session.NewRedisStore(r.Client(t), "fd:")
	storeB := session.NewRedisStore(r.Client(t), "fd:")
	c := &clock{t: time.Now()}
	a, err := session.NewKeyRing(ctx, storeA, time.Hour, 10*time.Minute, c.now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := session.NewKeyRing(ctx, storeB, time.Hour, 10*time.Minute, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if a.CurrentKID() != b.CurrentKID() || string(a.JWKS()) != string(b.JWKS()) {
		t.Fatal("nodes started with different keys")
	}
	c.advance(55 * time.Minute)
	if err := a.MaybeRotate(ctx); err != nil { // publishes the next key
		t.Fatal(err)
	}
	c.advance(10 * time.Minute)
	// Both nodes run the check; exactly one promotion happens.
	if err := a.MaybeRotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.MaybeRotate(ctx); err != nil {
		t.Fatal(err)
	}
	if a.CurrentKID() != b.CurrentKID() || string(a.JWKS()) != string(b.JWKS()) {
		t.Fatalf("nodes disagree after rotation: %s vs %s", a.CurrentKID(), b.CurrentKID())
	}
}
