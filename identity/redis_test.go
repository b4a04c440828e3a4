package identity_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/identity/storetest"
	"github.com/frontdoorhq/frontdoor/internal/rediskey"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// redisBackends are the setups the shared suite and the Redis-specific
// cases run against: one server, and a three-master cluster.
var redisBackends = []struct {
	name   string
	client func(t *testing.T) redis.UniversalClient
}{
	{"Standalone", func(t *testing.T) redis.UniversalClient { return redistest.Start(t).Client(t) }},
	{"Cluster", func(t *testing.T) redis.UniversalClient { return redistest.StartCluster(t).Client(t) }},
}

func TestRedisStore(t *testing.T) {
	for _, b := range redisBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c := b.client(t) // one server or cluster for every case, emptied in between
			fresh := func(t *testing.T) *identity.RedisStore {
				redistest.Flush(t, c)
				return identity.NewRedisStore(c, "")
			}
			storetest.Run(t, func(t *testing.T) identity.Store { return fresh(t) })
			t.Run("LegacyTokens", func(t *testing.T) {
				// Records of the previous version at <prefix>tok:<kind>:<hash>.
				storetest.RunLegacyTokens(t, func(t *testing.T) (identity.Store, storetest.PutRaw) {
					return fresh(t), func(t *testing.T, kind identity.TokenKind, hash, record []byte) {
						key := "fd:tok:" + string(kind) + ":" + base64.RawURLEncoding.EncodeToString(hash)
						if err := c.Set(context.Background(), key, record, time.Hour).Err(); err != nil {
							t.Fatal(err)
						}
					}
				})
			})
			t.Run("KeyLayout", func(t *testing.T) { testRedisKeyLayout(t, c, fresh(t)) })
			t.Run("OrphanClaim", func(t *testing.T) { testRedisOrphanClaim(t, c, fresh(t)) })
			t.Run("OrphanClaimConcurrent", func(t *testing.T) { testRedisOrphanClaimConcurrent(t, c, fresh(t)) })
		})
	}
}

func redisCustomer(email string) *identity.Customer {
	return &identity.Customer{ID: identity.NewID(), Email: email, CreatedAt: time.Now().UTC(), PasswordHash: "$argon2id$x"}
}

// keyCount is the number of keys on every node (DBSIZE, not SCAN).
func keyCount(t *testing.T, c redis.UniversalClient) int64 {
	t.Helper()
	ctx := context.Background()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		n, err := c.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var mu sync.Mutex
	var total int64
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		k, err := n.DBSize(ctx).Result()
		mu.Lock()
		total += k
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func testRedisKeyLayout(t *testing.T, c redis.UniversalClient, s *identity.RedisStore) {
	ctx := context.Background()
	cu := redisCustomer("kim@example.com")
	if err := s.CreateCustomer(ctx, cu); err != nil {
		t.Fatal(err)
	}
	ckey := "fd:{u:" + cu.ID + "}:customer"
	if raw, err := c.Get(ctx, ckey).Bytes(); err != nil || !bytes.Contains(raw, []byte(`"email":"kim@example.com"`)) {
		t.Fatalf("customer record at %s: %q %v", ckey, raw, err)
	}
	if ttl, err := c.PTTL(ctx, ckey).Result(); err != nil || ttl != -1 {
		t.Fatalf("customer record expires: %v %v", ttl, err)
	}
	if id, err := c.Get(ctx, "fd:email:kim@example.com").Result(); err != nil || id != cu.ID {
		t.Fatalf("email index: %q %v", id, err)
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		// The hash tag, not the whole key, picks the slot.
		got, err1 := cc.ClusterKeySlot(ctx, ckey).Result()
		want, err2 := cc.ClusterKeySlot(ctx, "u:"+cu.ID).Result()
		if err := errors.Join(err1, err2); err != nil || got != want {
			t.Fatalf("customer key in slot %d, its tag in %d (%v)", got, want, err)
		}
	}

	now := time.Now()
	secret, tok := identity.NewToken(identity.VerifyEmail{}, cu.ID, time.Hour, now)
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	tkey := "fd:tok:verify_email:" + base64.RawURLEncoding.EncodeToString(tok.Hash)
	raw, err := c.Get(ctx, tkey).Bytes()
	if err != nil || bytes.Contains(raw, []byte(secret)) {
		t.Fatalf("token record at %s: %v (or the secret is stored)", tkey, err)
	}
	if ttl, err := c.PTTL(ctx, tkey).Result(); err != nil || ttl <= 0 || ttl > time.Hour+time.Second {
		t.Fatalf("token PTTL %v %v, want within (0, 1h]", ttl, err)
	}
	if got, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), now); err != nil || got.CustomerID != cu.ID {
		t.Fatalf("consume: %+v %v", got, err)
	}
	// An expired token is gone after a failed attempt, too.
	secret2, tok2 := identity.NewToken(identity.VerifyEmail{}, cu.ID, time.Hour, now)
	if err := s.PutToken(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret2), now.Add(2*time.Hour)); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("expired token: %v", err)
	}
	if n := keyCount(t, c); n != 2 {
		t.Fatalf("%d keys left after consuming the tokens, want 2 (customer and email index)", n)
	}
}

// An email claim whose customer record is missing (a lost reply, a crash)
// must not lock the address out.
func testRedisOrphanClaim(t *testing.T, c redis.UniversalClient, s *identity.RedisStore) {
	ctx := context.Background()
	if err := c.Set(ctx, "fd:email:olive@example.com", identity.NewID(), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CustomerByEmail(ctx, "olive@example.com"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("orphan claim: got %v, want ErrNotFound", err)
	}
	cu := redisCustomer("olive@example.com")
	if err := s.CreateCustomer(ctx, cu); err != nil {
		t.Fatalf("register over an orphan claim: %v", err)
	}
	if got, err := s.CustomerByEmail(ctx, "olive@example.com"); err != nil || got.ID != cu.ID {
		t.Fatalf("after healing: %+v %v", got, err)
	}
	if err := s.CreateCustomer(ctx, redisCustomer("olive@example.com")); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("healed claim is not binding: %v", err)
	}
}

// Many sign-ups racing over one orphan claim: exactly one wins, and the
// losers leave no record behind.
func testRedisOrphanClaimConcurrent(t *testing.T, c redis.UniversalClient, s *identity.RedisStore) {
	ctx := context.Background()
	if err := c.Set(ctx, "fd:email:race@example.com", "u_ghost", 0).Err(); err != nil {
		t.Fatal(err)
	}
	const n = 8
	customers := make([]*identity.Customer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		customers[i] = redisCustomer("race@example.com")
		wg.Go(func() { errs[i] = s.CreateCustomer(ctx, customers[i]) })
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil && winner == "":
			winner = customers[i].ID
		case err == nil:
			t.Fatal("two registrations of one email over an orphan claim succeeded")
		case !errors.Is(err, identity.ErrEmailTaken):
			t.Fatalf("loser: %v", err)
		default:
			if _, err := s.Customer(ctx, customers[i].ID); !errors.Is(err, identity.ErrNotFound) {
				t.Fatalf("a refused customer was stored: %v", err)
			}
		}
	}
	if got, err := s.CustomerByEmail(ctx, "race@example.com"); err != nil || got.ID != winner || winner == "" {
		t.Fatalf("index points at %+v (%v), winner %q", got, err, winner)
	}
}

func TestRedisPrefixIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redistest.Start(t).Client(t)
	a, b := identity.NewRedisStore(c, "a:"), identity.NewRedisStore(c, "b:")
	ca, cb := redisCustomer("pat@example.com"), redisCustomer("pat@example.com")
	if err := a.CreateCustomer(ctx, ca); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateCustomer(ctx, cb); err != nil {
		t.Fatalf("the same email under another prefix: %v", err)
	}
	if got, err := b.CustomerByEmail(ctx, "pat@example.com"); err != nil || got.ID != cb.ID {
		t.Fatalf("b sees %+v %v", got, err)
	}
	if _, err := b.Customer(ctx, ca.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("b sees a's customer: %v", err)
	}
	now := time.Now()
	secret, tok := identity.NewToken(identity.VerifyEmail{}, ca.ID, time.Hour, now)
	if err := a.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), now); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("b consumed a's token: %v", err)
	}
	if _, err := a.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), now); err != nil {
		t.Fatalf("a's token: %v", err)
	}
}

// With the server gone every call fails promptly with an error that is
// neither ErrNotFound nor a secret; after a restart nothing is lost and
// nothing half-written is left.
func TestRedisServerDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	c := srv.Client(t)
	s := identity.NewRedisStore(c, "")
	cu := redisCustomer("sam@example.com")
	if err := s.CreateCustomer(ctx, cu); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	secret, tok := identity.NewToken(identity.VerifyEmail{}, cu.ID, time.Hour, now)
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	_, other := identity.NewToken(identity.VerifyEmail{}, cu.ID, time.Hour, now)

	srv.Kill()
	calls := []struct {
		name string
		fn   func(ctx context.Context) error
	}{
		{"Ping", s.Ping},
		{"Customer", func(ctx context.Context) error { _, err := s.Customer(ctx, cu.ID); return err }},
		{"CustomerByEmail", func(ctx context.Context) error { _, err := s.CustomerByEmail(ctx, cu.Email); return err }},
		{"CreateCustomer", func(ctx context.Context) error { return s.CreateCustomer(ctx, redisCustomer("new@example.com")) }},
		{"UpdateCustomer", func(ctx context.Context) error {
			_, err := s.UpdateCustomer(ctx, cu.ID, func(c *identity.Customer) error { c.EmailVerified = true; return nil })
			return err
		}},
		{"PutToken", func(ctx context.Context) error { return s.PutToken(ctx, other) }},
		{"ConsumeToken", func(ctx context.Context) error {
			_, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), now)
			return err
		}},
	}
	for _, call := range calls {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		start := time.Now()
		err := call.fn(cctx)
		cancel()
		switch {
		case err == nil || errors.Is(err, identity.ErrNotFound) || errors.Is(err, identity.ErrEmailTaken):
			t.Errorf("%s with the server down: %v, want a store error", call.name, err)
		case time.Since(start) > 3*time.Second:
			t.Errorf("%s took %v with a 2s deadline", call.name, time.Since(start))
		case !strings.HasPrefix(err.Error(), "identity: redis: ") || strings.Contains(err.Error(), secret):
			t.Errorf("%s: badly formed error %q", call.name, err)
		}
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("client did not reconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, err := s.CustomerByEmail(ctx, cu.Email); err != nil || got.ID != cu.ID || got.EmailVerified {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	if got, err := s.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), now); err != nil || got.CustomerID != cu.ID {
		t.Fatalf("token lost in the outage: %+v %v", got, err)
	}
	if _, err := s.CustomerByEmail(ctx, "new@example.com"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("a failed registration left a customer: %v", err)
	}
	if err := s.CreateCustomer(ctx, redisCustomer("new@example.com")); err != nil {
		t.Fatalf("a failed registration blocks the email: %v", err)
	}
}

// TestRedisPhoneRemovalNeedsClaimedEmail: a phone-only customer's number
// is not taken away while their record names an address its index does
// not point at yet (ChangeEmail's gap between the two): if that claim then
// failed, the customer would have neither.
func TestRedisPhoneRemovalNeedsClaimedEmail(t *testing.T) {
	c := redisBackends[0].client(t)
	redistest.Flush(t, c)
	s := identity.NewRedisStore(c, "")
	ctx := context.Background()
	cu := &identity.Customer{ID: identity.NewID(), Phone: "+447400123491", PhoneVerified: true, CreatedAt: time.Now().UTC()}
	if err := s.CreateCustomer(ctx, cu); err != nil {
		t.Fatal(err)
	}
	// The gap: the record names the address, no claim points at it.
	key := rediskey.UserTag("fd:", cu.ID) + ":customer"
	raw, err := c.Get(ctx, key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	rec["email"], rec["email_verified"] = "gap@example.com", true
	raw, _ = json.Marshal(rec)
	if err := c.Set(ctx, key, raw, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPhone(ctx, cu.ID, "", false); !errors.Is(err, identity.ErrNeedsEmailOrPhone) {
		t.Fatalf("removal in the gap: %v", err)
	}
	// Once the address is claimed, the number may go.
	if _, err := s.ChangeEmail(ctx, cu.ID, "gap@example.com"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SetPhone(ctx, cu.ID, "", false); err != nil || got.Phone != "" {
		t.Fatalf("removal after the claim: %+v %v", got, err)
	}
}
