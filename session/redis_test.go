package session_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/internal/redistest"
	"github.com/frontdoorhq/frontdoor/session"
	"github.com/frontdoorhq/frontdoor/session/sessiontest"
)

func TestRedisStore(t *testing.T) {
	c := redistest.Start(t).Client(t)
	sessiontest.Run(t, func(t *testing.T) session.Store {
		redistest.Flush(t, c)
		return session.NewRedisStore(c, "")
	})
}

func TestRedisStoreCluster(t *testing.T) {
	c := redistest.StartCluster(t).Client(t)
	sessiontest.Run(t, func(t *testing.T) session.Store {
		redistest.Flush(t, c)
		return session.NewRedisStore(c, "")
	})
}

// redisSession is a session as the Manager makes it, expiring in ttl.
func redisSession(user string, n int, ttl time.Duration) *session.Session {
	now := time.Now()
	return &session.Session{Key: session.KeyOf(user + ".tok-" + strconv.Itoa(n)), UserID: user,
		CreatedAt: now, LastSeen: now, AuthTime: now, ExpiresAt: now.Add(ttl)}
}

func mustCreate(t *testing.T, s session.Store, ss ...*session.Session) {
	t.Helper()
	for _, x := range ss {
		if err := s.Create(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
}

func near(t *testing.T, what string, got, want, tol time.Duration) {
	t.Helper()
	if got < want-tol || got > want+tol {
		t.Fatalf("%s: %v, want %v ± %v", what, got, want, tol)
	}
}

func TestRedisKeyLayout(t *testing.T) {
	ctx := context.Background()
	c := redistest.Start(t).Client(t)
	s := session.NewRedisStore(c, "")
	x := redisSession("u_1", 1, time.Hour)
	mustCreate(t, s, x)
	_, hash, _ := session.SplitKey(x.Key)

	sk, ik := "fd:{u:u_1}:s:"+hash, "fd:{u:u_1}:sessions"
	if !strings.Contains(sk, "{u:u_1}") {
		t.Fatal(sk)
	}
	got, err := c.HGetAll(ctx, sk).Result()
	if err != nil || !strings.Contains(got["d"], `"user_id":"u_1"`) || got["seen"] != strconv.FormatInt(x.LastSeen.UnixMilli(), 10) {
		t.Fatalf("session record %s: %v %v", sk, got, err)
	}
	ttl, err := c.PTTL(ctx, sk).Result()
	if err != nil {
		t.Fatal(err)
	}
	near(t, "session PTTL", ttl, time.Until(x.ExpiresAt), 2*time.Second)
	if score, err := c.ZScore(ctx, ik, hash).Result(); err != nil || int64(score) != x.ExpiresAt.UnixMilli() {
		t.Fatalf("index score %v %v", score, err)
	}
	if ttl, _ := c.PTTL(ctx, ik).Result(); ttl <= 0 {
		t.Fatalf("index has no expiry: %v", ttl)
	}

	// Touch writes seen only; d keeps the sign-in snapshot.
	later := x.LastSeen.Add(time.Minute)
	if err := s.Touch(ctx, x.Key, later); err != nil {
		t.Fatal(err)
	}
	if seen, _ := c.HGet(ctx, sk, "seen").Result(); seen != strconv.FormatInt(later.UnixMilli(), 10) {
		t.Fatalf("seen %s", seen)
	}
	if ttl2, _ := c.PTTL(ctx, sk).Result(); ttl2 > ttl {
		t.Fatalf("touch extended the absolute expiry: %v > %v", ttl2, ttl)
	}

	// Delete drops the record and its index entry together.
	if err := s.Delete(ctx, x.Key); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, sk, ik).Result(); n != 0 {
		t.Fatalf("delete left %d keys (session or index entry)", n)
	}

	if _, err := s.Secret(ctx, "cookie-keys", func() ([]byte, error) { return []byte("k"), nil }); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "fd:secret:cookie-keys").Result(); err != nil || v != "k" {
		t.Fatalf("secret: %q %v", v, err)
	}
	if ttl, _ := c.PTTL(ctx, "fd:secret:cookie-keys").Result(); ttl != -1 {
		t.Fatalf("secret expires: %v", ttl)
	}

	// Another prefix, another namespace.
	p := session.NewRedisStore(c, "shop:")
	y := redisSession("u_1", 2, time.Hour)
	mustCreate(t, p, y)
	_, yh, _ := session.SplitKey(y.Key)
	if n, _ := c.Exists(ctx, "shop:{u:u_1}:s:"+yh, "shop:{u:u_1}:sessions").Result(); n != 2 {
		t.Fatalf("prefixed keys: %d exist", n)
	}
	if l, _ := s.ListUser(ctx, "u_1"); len(l) != 0 {
		t.Fatalf("prefixes mix: %d sessions under fd:", len(l))
	}
	if l, _ := p.ListUser(ctx, "u_1"); len(l) != 1 {
		t.Fatalf("%d sessions under shop:", len(l))
	}
}

func TestRedisBadKeys(t *testing.T) {
	ctx := context.Background()
	c := redistest.Start(t).Client(t)
	s := session.NewRedisStore(c, "")
	for _, k := range []string{"nohash", ".abc", "u1.", "u}1.abc", "u 1.abc"} {
		if err := s.Create(ctx, &session.Session{Key: k, UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)}); err == nil {
			t.Fatalf("create with key %q succeeded", k)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("get %q: %v", k, err)
		}
		if err := s.Touch(ctx, k, time.Now()); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("touch %q: %v", k, err)
		}
		if err := s.Delete(ctx, k); err != nil {
			t.Fatalf("delete %q: %v", k, err)
		}
	}
	other := redisSession("u1", 1, time.Hour)
	other.UserID = "u2"
	if err := s.Create(ctx, other); err == nil {
		t.Fatal("a session was stored under another customer's key")
	}
	if n, _ := c.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("bad keys left %d records", n)
	}
}

func TestRedisIndexPrunedAndExpires(t *testing.T) {
	ctx := context.Background()
	c := redistest.Start(t).Client(t)
	s := session.NewRedisStore(c, "")
	ik := "fd:{u:u1}:sessions"

	// A session created already past its expiry leaves nothing behind.
	mustCreate(t, s, redisSession("u1", 1, -time.Minute))
	if n, _ := c.Exists(ctx, ik).Result(); n != 0 {
		t.Fatal("index kept an expired session")
	}

	// A member whose session Redis dropped is pruned on the next Create,
	// and the index expires with its latest member.
	if err := c.ZAdd(ctx, ik, redis.Z{Score: float64(time.Now().Add(-time.Second).UnixMilli()), Member: "stale"}).Err(); err != nil {
		t.Fatal(err)
	}
	short, long := redisSession("u1", 2, time.Hour), redisSession("u1", 3, 3*time.Hour)
	mustCreate(t, s, long, short)
	if _, err := c.ZScore(ctx, ik, "stale").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("stale member not pruned: %v", err)
	}
	if n, _ := c.ZCard(ctx, ik).Result(); n != 2 {
		t.Fatalf("index holds %d members", n)
	}
	ttl, _ := c.PTTL(ctx, ik).Result()
	near(t, "index PTTL", ttl, 3*time.Hour, 2*time.Second)

	// Redis drops both on its own at expiry.
	soon := redisSession("u2", 1, 150*time.Millisecond)
	mustCreate(t, s, soon)
	_, h, _ := session.SplitKey(soon.Key)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := c.Exists(ctx, "fd:{u:u2}:s:"+h, "fd:{u:u2}:sessions").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d keys outlived their expiry", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.Get(ctx, soon.Key); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
}

// On a cluster, customers spread over the masters; sign-out-everywhere
// clears exactly one customer, wherever it lives.
func TestRedisClusterDeleteUser(t *testing.T) {
	ctx := context.Background()
	c := redistest.StartCluster(t).Client(t)
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("not a cluster client: %T", c)
	}
	s := session.NewRedisStore(c, "")
	node := func(key string) string {
		t.Helper()
		n, err := cc.MasterForKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return n.Options().Addr
	}
	byNode := map[string]string{} // node → a customer stored there
	for i := 0; len(byNode) < 3 && i < 1000; i++ {
		u := "u" + strconv.Itoa(i)
		if a := node("fd:{u:" + u + "}:sessions"); byNode[a] == "" {
			byNode[a] = u
		}
	}
	if len(byNode) < 3 {
		t.Fatalf("customers reached %d masters", len(byNode))
	}
	var users []string
	for a, u := range byNode {
		users = append(users, u)
		for i := range 3 {
			x := redisSession(u, i, time.Hour)
			mustCreate(t, s, x)
			_, h, _ := session.SplitKey(x.Key)
			if got := node("fd:{u:" + u + "}:s:" + h); got != a {
				t.Fatalf("%s's session on %s, its index on %s", u, got, a)
			}
		}
	}
	n, err := s.DeleteUser(ctx, users[0])
	if err != nil || n != 3 {
		t.Fatalf("delete user: %d %v", n, err)
	}
	for i := range 3 {
		if _, err := s.Get(ctx, redisSession(users[0], i, 0).Key); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("session %d survived: %v", i, err)
		}
	}
	if n, _ := c.Exists(ctx, "fd:{u:"+users[0]+"}:sessions").Result(); n != 0 {
		t.Fatal("index survived")
	}
	for _, u := range users[1:] {
		if l, err := s.ListUser(ctx, u); err != nil || len(l) != 3 {
			t.Fatalf("%s has %d sessions: %v", u, len(l), err)
		}
	}
}

func TestRedisManager(t *testing.T) {
	ctx := context.Background()
	m := session.NewManager(session.NewRedisStore(redistest.Start(t).Client(t), ""), session.Config{}, nil)
	tok, created, err := m.Create(ctx, session.New{UserID: "u_1", Email: "a@example.com", AMR: []string{"pwd"}})
	if err != nil {
		t.Fatal(err)
	}
	tok2, _, err := m.Create(ctx, session.New{UserID: "u_1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Lookup(ctx, tok)
	if err != nil || got.Key != created.Key || got.Email != "a@example.com" {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if l, err := m.List(ctx, "u_1"); err != nil || len(l) != 2 {
		t.Fatalf("list: %d %v", len(l), err)
	}
	if n, err := m.RevokeUser(ctx, "u_1"); err != nil || n != 2 {
		t.Fatalf("revoke user: %d %v", n, err)
	}
	for _, tk := range []string{tok, tok2} {
		if _, err := m.Lookup(ctx, tk); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("after revoke: %v", err)
		}
	}
}

// A dead Redis fails closed, fast; a restarted one has the same sessions.
func TestRedisDownAndBack(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	m := session.NewManager(session.NewRedisStore(srv.Client(t), ""), session.Config{CacheTTL: -1}, nil)
	tok, created, err := m.Create(ctx, session.New{UserID: "u_1"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()

	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = m.Lookup(dctx, tok)
	took := time.Since(start)
	if err == nil || errors.Is(err, session.ErrNotFound) {
		t.Fatalf("lookup with Redis down: %v (want a store error, not a verdict)", err)
	}
	if took > 2500*time.Millisecond {
		t.Fatalf("lookup with Redis down took %v", took)
	}
	t.Logf("lookup took %v: %v", took, err)
	pctx, cancelPing := context.WithTimeout(ctx, 2*time.Second)
	defer cancelPing()
	if err := m.Store().Ping(pctx); err == nil {
		t.Fatal("ping of a dead server succeeded")
	}

	srv.Restart()
	got, err := m.Lookup(ctx, tok)
	if err != nil || got.Key != created.Key || got.UserID != "u_1" {
		t.Fatalf("after restart: %+v %v", got, err)
	}
}

func benchRedisManager(b *testing.B, cfg session.Config) (*session.Manager, string) {
	m := session.NewManager(session.NewRedisStore(redistest.Start(b).Client(b), ""), cfg, nil)
	tok, _, err := m.Create(context.Background(), session.New{UserID: "u_1", AMR: []string{"pwd"}, ACR: "aal1"})
	if err != nil {
		b.Fatal(err)
	}
	return m, session.KeyOf(tok)
}

// BenchmarkLookupRedis reads the session from Redis every time (one round
// trip on loopback).
func BenchmarkLookupRedis(b *testing.B) {
	m, key := benchRedisManager(b, session.Config{CacheTTL: -1})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.LookupKey(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupRedisCached is the same lookup served by the in-process
// cache (a round trip at most every CacheTTL).
func BenchmarkLookupRedisCached(b *testing.B) {
	m, key := benchRedisManager(b, session.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.LookupKey(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}
