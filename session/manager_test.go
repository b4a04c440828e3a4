package session_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/session"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newManager(t *testing.T, cfg session.Config) (*session.Manager, *clock) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := session.NewManager(newBolt(t), cfg, c.now)
	return m, c
}

func TestManagerLifetimes(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, session.Config{Idle: 30 * time.Minute, Absolute: 2 * time.Hour, CacheTTL: -1})
	tok, _, err := m.Create(ctx, session.New{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	// Activity every 20 minutes keeps it alive past the idle timeout...
	for range 5 {
		c.advance(20 * time.Minute)
		if _, err := m.Lookup(ctx, tok); err != nil {
			t.Fatalf("at %v: %v", c.t, err)
		}
	}
	// ...but not past the absolute timeout.
	c.advance(20 * time.Minute)
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("past absolute: %v", err)
	}

	tok2, _, _ := m.Create(ctx, session.New{UserID: "u1"})
	c.advance(30 * time.Minute)
	if _, err := m.Lookup(ctx, tok2); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("past idle: %v", err)
	}
}

func TestManagerRevocationWithinCacheTTL(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, session.Config{CacheTTL: 2 * time.Second})
	tok, s, _ := m.Create(ctx, session.New{UserID: "u1"})
	if _, err := m.Lookup(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// Revoked behind the manager's back (as another node would): served
	// from cache for at most the TTL, then gone.
	if err := m.Store().Delete(ctx, s.Key); err != nil {
		t.Fatal(err)
	}
	c.advance(2 * time.Second)
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("revoked session served after the cache ttl: %v", err)
	}
	// Revoked through the manager: immediately.
	tok2, _, _ := m.Create(ctx, session.New{UserID: "u2"})
	tok3, _, _ := m.Create(ctx, session.New{UserID: "u2"})
	m.Lookup(ctx, tok2)
	m.Lookup(ctx, tok3)
	if n, err := m.RevokeUser(ctx, "u2"); n != 2 || err != nil {
		t.Fatalf("revoke user: %d %v", n, err)
	}
	for _, tk := range []string{tok2, tok3} {
		if _, err := m.Lookup(ctx, tk); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("sign out everywhere left a session: %v", err)
		}
	}
}

func TestManagerRotatesTokens(t *testing.T) {
	m, _ := newManager(t, session.Config{})
	seen := map[string]bool{}
	for range 50 {
		tok, s, err := m.Create(context.Background(), session.New{UserID: "u"})
		if err != nil || seen[tok] || len(tok) < 22 || s.Key == tok || strings.Contains(s.Key, tok) {
			t.Fatalf("token %q key %q err %v", tok, s.Key, err)
		}
		seen[tok] = true
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []session.Config{
		{Idle: time.Second, Absolute: time.Hour},
		{Idle: time.Hour, Absolute: time.Minute},
		{Idle: time.Hour, Absolute: 2 * time.Hour, CacheTTL: 3 * time.Second},
	} {
		if err := c.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (session.Config{}).WithDefaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestManagerCapsSessionsPerCustomer(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, session.Config{})
	var first string
	for i := range session.MaxSessionsPerCustomer + 5 {
		tok, _, err := m.Create(ctx, session.New{UserID: "u_many"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = tok
		}
		c.advance(time.Second)
	}
	if l, _ := m.List(ctx, "u_many"); len(l) != session.MaxSessionsPerCustomer {
		t.Fatalf("%d sessions kept", len(l))
	}
	if _, err := m.Lookup(ctx, first); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("the least recently used session survived: %v", err)
	}
}

// TestManagerCached: the cache-only answer serves a fresh, live session
// with no write due, and defers to LookupKey in every other case.
func TestManagerCached(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, session.Config{Idle: 30 * time.Minute, Absolute: time.Hour, CacheTTL: 2 * time.Second})
	tok, _, err := m.Create(ctx, session.New{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	key := session.KeyOf(tok)
	if m.Cached(key) != nil {
		t.Fatal("answered before any lookup filled the cache")
	}
	s, err := m.LookupKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Cached(key); got != s {
		t.Fatalf("cache hit: got %v, want the looked-up session", got)
	}
	c.advance(2 * time.Second) // past the TTL
	if m.Cached(key) != nil {
		t.Fatal("served past the cache TTL")
	}
	// A LastSeen write is due (a tenth of idle, at most a minute): only
	// LookupKey may make it.
	for range 31 {
		c.advance(time.Second)
		if _, err := m.LookupKey(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(time.Minute)
	if m.Cached(key) != nil {
		t.Fatal("answered though a LastSeen write is due")
	}
	if _, err := m.LookupKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if m.Cached(key) == nil {
		t.Fatal("no hit after the touch")
	}
	// Revoked: gone from the cache at once.
	if err := m.Revoke(ctx, key); err != nil || m.Cached(key) != nil {
		t.Fatalf("revoked session still cached: %v", err)
	}
	// Cache off: never an answer.
	m.SetConfig(session.Config{Idle: 30 * time.Minute, Absolute: time.Hour, CacheTTL: -1})
	tok2, _, _ := m.Create(ctx, session.New{UserID: "u1"})
	if _, err := m.Lookup(ctx, tok2); err != nil || m.Cached(session.KeyOf(tok2)) != nil {
		t.Fatalf("cache off answered: %v", err)
	}
}

// TestManagerFamilies: a session that joins another's family shares its
// sid; ending the family ends both and leaves the customer's other
// sessions (and other customers') alone; a provider's auth time is kept.
func TestManagerFamilies(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, session.Config{CacheTTL: -1})
	_, parent, err := m.Create(ctx, session.New{UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	signedInAt := c.t
	c.advance(time.Minute)
	sid := session.SID(parent)
	childTok, child, err := m.Create(ctx, session.New{UserID: "u1", Family: sid, AuthTime: signedInAt})
	if err != nil {
		t.Fatal(err)
	}
	if session.SID(child) != sid || child.Key == parent.Key {
		t.Fatalf("child sid %q key %q, parent sid %q key %q", session.SID(child), child.Key, sid, parent.Key)
	}
	if !child.AuthTime.Equal(signedInAt) {
		t.Fatalf("child auth time %v, want the provider's %v", child.AuthTime, signedInAt)
	}
	// An auth time in the future is not taken.
	_, odd, _ := m.Create(ctx, session.New{UserID: "u1", AuthTime: c.t.Add(time.Hour)})
	if !odd.AuthTime.Equal(c.t) {
		t.Fatalf("future auth time taken: %v", odd.AuthTime)
	}
	otherTok, _, _ := m.Create(ctx, session.New{UserID: "u2", Family: sid})
	n, err := m.RevokeFamily(ctx, "u1", sid)
	if err != nil || n != 2 {
		t.Fatalf("RevokeFamily: %d, %v (want 2)", n, err)
	}
	if _, err := m.Lookup(ctx, childTok); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("child after family revocation: %v", err)
	}
	if live, _ := m.List(ctx, "u1"); len(live) != 1 || live[0].Key != odd.Key {
		t.Fatalf("u1's other session: %v", live)
	}
	if _, err := m.Lookup(ctx, otherTok); err != nil {
		t.Fatalf("another customer's session with the same family id: %v", err)
	}
}

// TestManagerEndHook: sessions ended on purpose are heard of, with their
// family's sid; expiry and Retire are not ends.
func TestManagerEndHook(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, session.Config{Idle: 30 * time.Minute, Absolute: time.Hour, CacheTTL: -1})
	var heard []string
	m.SetEndHook(func(user string, sids []string) { heard = append(heard, user+":"+strings.Join(sids, ",")) })
	_, a, _ := m.Create(ctx, session.New{UserID: "u1"})
	_, b, _ := m.Create(ctx, session.New{UserID: "u1", Family: session.SID(a)})
	_, _, _ = m.Create(ctx, session.New{UserID: "u1"}) // another family, never heard of
	fam := session.SID(a)

	if err := m.Retire(ctx, b.Key); err != nil || len(heard) != 0 {
		t.Fatalf("Retire heard: %v %v", heard, err)
	}
	if err := m.Revoke(ctx, a.Key); err != nil || len(heard) != 1 || heard[0] != "u1:"+fam {
		t.Fatalf("Revoke heard %v, %v", heard, err)
	}
	if err := m.Revoke(ctx, a.Key); err != nil || len(heard) != 1 {
		t.Fatalf("revoking a gone session heard %v, %v", heard, err)
	}
	_, _, _ = m.Create(ctx, session.New{UserID: "u1", Family: fam})
	if n, err := m.RevokeFamily(ctx, "u1", fam); n != 1 || err != nil || len(heard) != 2 || heard[1] != "u1:"+fam {
		t.Fatalf("RevokeFamily: %d %v heard %v", n, err, heard)
	}
	tok, _, _ := m.Create(ctx, session.New{UserID: "u2"})
	c.advance(31 * time.Minute)
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, session.ErrNotFound) || len(heard) != 2 {
		t.Fatalf("expiry heard %v, %v", heard, err)
	}
	_, x, _ := m.Create(ctx, session.New{UserID: "u3"})
	_, _, _ = m.Create(ctx, session.New{UserID: "u3", Family: session.SID(x)})
	_, y, _ := m.Create(ctx, session.New{UserID: "u3"})
	if _, err := m.RevokeUser(ctx, "u3"); err != nil {
		t.Fatal(err)
	}
	want := []string{session.SID(x), session.SID(y)}
	slices.Sort(want)
	if len(heard) != 3 || heard[2] != "u3:"+strings.Join(want, ",") {
		t.Fatalf("RevokeUser heard %v, want u3:%v", heard, want)
	}
}

// TestManagerCounts: Counts sees every session started and every end on
// purpose, one per session, and neither a retirement nor an expiry.
func TestManagerCounts(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, session.Config{Idle: 30 * time.Minute, Absolute: time.Hour, CacheTTL: -1})
	want := func(created, revoked uint64) {
		t.Helper()
		if c, r := m.Counts(); c != created || r != revoked {
			t.Fatalf("Counts = %d created, %d revoked; want %d, %d", c, r, created, revoked)
		}
	}
	_, a, _ := m.Create(ctx, session.New{UserID: "u1"})
	_, b, _ := m.Create(ctx, session.New{UserID: "u1", Family: session.SID(a)})
	want(2, 0)
	if err := m.Retire(ctx, b.Key); err != nil {
		t.Fatal(err)
	}
	want(2, 0)
	if err := m.Revoke(ctx, a.Key); err != nil {
		t.Fatal(err)
	}
	if err := m.Revoke(ctx, a.Key); err != nil { // gone already: no second end
		t.Fatal(err)
	}
	want(2, 1)
	_, x, _ := m.Create(ctx, session.New{UserID: "u2"})
	_, _, _ = m.Create(ctx, session.New{UserID: "u2", Family: session.SID(x)})
	if n, err := m.RevokeFamily(ctx, "u2", session.SID(x)); n != 2 || err != nil {
		t.Fatalf("RevokeFamily: %d %v", n, err)
	}
	want(4, 3)
	_, _, _ = m.Create(ctx, session.New{UserID: "u3"})
	_, _, _ = m.Create(ctx, session.New{UserID: "u3"})
	if n, err := m.RevokeUser(ctx, "u3"); n != 2 || err != nil {
		t.Fatalf("RevokeUser: %d %v", n, err)
	}
	want(6, 5)
	tok, _, _ := m.Create(ctx, session.New{UserID: "u4"})
	c.advance(31 * time.Minute)
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("expired lookup: %v", err)
	}
	want(7, 5)
}
