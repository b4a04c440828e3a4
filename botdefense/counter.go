package botdefense

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	sredis "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// Counter counts events per key in fixed windows, on a ulule/limiter
// store: in memory on one node (MemoryStore, bounded), in Redis (ulule's
// store) when several nodes must share their counts. The window a count falls in is chosen by the caller's
// clock (each window is its own key), so tests move time instead of
// sleeping, and every node of a cluster agrees on window edges.
type Counter struct {
	store limiter.Store
	mem   *MemoryStore // the store, when it is in this process
}

// NewMemoryCounter counts in this process, in at most DefaultCounterKeys
// counters (see MemoryStore for what happens when they are all in use).
func NewMemoryCounter() *Counter { return NewMemoryCounterSize(DefaultCounterKeys) }

// NewMemoryCounterSize counts in this process in at most maxKeys counters.
func NewMemoryCounterSize(maxKeys int) *Counter {
	m := NewMemoryStore(maxKeys)
	return &Counter{store: m, mem: m}
}

// Stats describes the memory store; false for a shared (Redis) one.
func (c *Counter) Stats() (CounterStats, bool) {
	if c.mem == nil {
		return CounterStats{}, false
	}
	return c.mem.Stats(), true
}

// NewRedisCounter counts in Redis under prefix (the default prefix when
// empty), in keys starting <prefix>rl, shared by every node.
func NewRedisCounter(c redis.UniversalClient, prefix string) (*Counter, error) {
	s, err := sredis.NewStoreWithOptions(c, limiter.StoreOptions{Prefix: rediskey.Prefix(prefix) + "rl"})
	if err != nil {
		return nil, fmt.Errorf("botdefense: redis counter: %w", err)
	}
	return &Counter{store: s}, nil
}

// unlimited is the rate handed to the store: Counter only counts and
// compares itself.
const unlimited = math.MaxInt64 / 2

// windowKey names key's window of length period holding now, and returns
// when that window ends.
func windowKey(key string, period time.Duration, now time.Time) (string, time.Time) {
	p := period.Milliseconds()
	if p <= 0 {
		p = 1
	}
	w := now.UnixMilli() / p
	return key + "|" + strconv.FormatInt(p, 36) + "|" + strconv.FormatInt(w, 36), time.UnixMilli((w + 1) * p)
}

// Add adds n to key's count in the current window and returns the new
// count and the window's end.
func (c *Counter) Add(ctx context.Context, key string, n int64, period time.Duration, now time.Time) (int64, time.Time, error) {
	k, end := windowKey(key, period, now)
	lc, err := c.store.Increment(ctx, k, n, keep(period))
	if err != nil {
		return 0, end, err
	}
	return unlimited - lc.Remaining, end, nil
}

// AddWindow is Add for a window already named (windowKey's name).
func (c *Counter) AddWindow(ctx context.Context, windowed string, n int64, period time.Duration) (int64, error) {
	lc, err := c.store.Increment(ctx, windowed, n, keep(period))
	if err != nil {
		return 0, err
	}
	return unlimited - lc.Remaining, nil
}

// keep is the rate handed to the store: a window's count is kept two
// periods from its first event, so it can still be read through the whole
// next window (Recent).
func keep(period time.Duration) limiter.Rate {
	return limiter.Rate{Period: 2 * period, Limit: unlimited}
}

// Count returns key's count in the current window without changing it.
func (c *Counter) Count(ctx context.Context, key string, period time.Duration, now time.Time) (int64, error) {
	k, _ := windowKey(key, period, now)
	lc, err := c.store.Peek(ctx, k, keep(period))
	if err != nil {
		return 0, err
	}
	return unlimited - lc.Remaining, nil
}

// Recent estimates key's count over the last period, whatever the window
// edges: the current window's count plus the previous window's, weighted
// by how much of it still lies within the last period (a sliding window).
// A burst that straddles an edge is not split in two halves that each
// stay under a threshold.
func (c *Counter) Recent(ctx context.Context, key string, period time.Duration, now time.Time) (int64, error) {
	cur, err := c.Count(ctx, key, period, now)
	if err != nil {
		return 0, err
	}
	prev, err := c.Count(ctx, key, period, now.Add(-period))
	if err != nil {
		return 0, err
	}
	p := max(period.Milliseconds(), 1)
	elapsed := now.UnixMilli() % p // into the current window
	return cur + prev*(p-elapsed)/p, nil
}
