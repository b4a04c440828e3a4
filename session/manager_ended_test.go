package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/session"
)

func mustEnded(t *testing.T, m *session.Manager, user, sid string, want bool) {
	t.Helper()
	got, err := m.Ended(context.Background(), user, sid)
	if err != nil || got != want {
		t.Fatalf("Ended(%s, %s) = %v, %v; want %v", user, sid, got, err, want)
	}
}

// Every end on purpose leaves a mark; expiry and Retire leave none.
func TestManagerEndedMarks(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, session.Config{Idle: 30 * time.Minute, CacheTTL: 2 * time.Second})

	_, s1, _ := m.Create(ctx, session.New{UserID: "u1"})
	mustEnded(t, m, "u1", session.SID(s1), false)
	if err := m.Revoke(ctx, s1.Key); err != nil {
		t.Fatal(err)
	}
	// At once on this node, whatever it cached before.
	mustEnded(t, m, "u1", session.SID(s1), true)

	_, a, _ := m.Create(ctx, session.New{UserID: "u2"})
	_, b, _ := m.Create(ctx, session.New{UserID: "u2"})
	if _, err := m.RevokeUser(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	mustEnded(t, m, "u2", session.SID(a), true)
	mustEnded(t, m, "u2", session.SID(b), true)
	mustEnded(t, m, "u1", session.SID(a), false)

	_, f, _ := m.Create(ctx, session.New{UserID: "u3"})
	_, _, _ = m.Create(ctx, session.New{UserID: "u3", Family: session.SID(f)})
	if n, err := m.RevokeFamily(ctx, "u3", session.SID(f)); err != nil || n != 2 {
		t.Fatalf("revoke family: %d %v", n, err)
	}
	mustEnded(t, m, "u3", session.SID(f), true)

	// Idle expiry removes without a mark, so does Retire.
	tok, idle, _ := m.Create(ctx, session.New{UserID: "u4"})
	_, retired, _ := m.Create(ctx, session.New{UserID: "u4"})
	if err := m.Retire(ctx, retired.Key); err != nil {
		t.Fatal(err)
	}
	c.advance(31 * time.Minute)
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("idle session: %v", err)
	}
	mustEnded(t, m, "u4", session.SID(idle), false)
	mustEnded(t, m, "u4", session.SID(retired), false)
	if ended, err := m.Store().Ended(ctx, "u4", session.SID(idle)); err != nil || ended {
		t.Fatalf("expiry left a mark in the store: %v %v", ended, err)
	}
}

// An end on another node (the store marked behind this manager's back) is
// seen within the cache period.
func TestManagerEndedWithinCacheTTL(t *testing.T) {
	ctx := context.Background()
	m, c := newManager(t, session.Config{CacheTTL: 2 * time.Second})
	mustEnded(t, m, "u1", "sid1", false)
	if err := m.Store().MarkEnded(ctx, "u1", "sid1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	mustEnded(t, m, "u1", "sid1", false) // cached "not ended", within 2 s
	c.advance(time.Second)
	mustEnded(t, m, "u1", "sid1", true)

	// Without a cache, every answer is the store's.
	m2, _ := newManager(t, session.Config{CacheTTL: -1})
	mustEnded(t, m2, "u1", "sid1", false)
	if err := m2.Store().MarkEnded(ctx, "u1", "sid1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustEnded(t, m2, "u1", "sid1", true)
}

// A revocation that cannot leave its mark removes nothing.
func TestManagerRevokeFailsClosed(t *testing.T) {
	ctx := context.Background()
	st := &failingMarks{Store: newBolt(t)}
	m := session.NewManager(st, session.Config{}, nil)
	tok, s, _ := m.Create(ctx, session.New{UserID: "u1"})
	st.fail = true
	if err := m.Revoke(ctx, s.Key); err == nil {
		t.Fatal("revoke without a mark succeeded")
	}
	if _, err := m.RevokeUser(ctx, "u1"); err == nil {
		t.Fatal("revoke user without marks succeeded")
	}
	if _, err := m.Lookup(ctx, tok); err != nil {
		t.Fatalf("a failed revocation removed the session: %v", err)
	}
}

type failingMarks struct {
	session.Store
	fail bool
}

func (f *failingMarks) MarkEnded(ctx context.Context, userID, sid string, until time.Time) error {
	if f.fail {
		return errors.New("store down")
	}
	return f.Store.MarkEnded(ctx, userID, sid, until)
}
