package botdefense

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulule/limiter/v3"
)

// DefaultCounterKeys is how many counters the memory store of one node
// holds at most (about 150 bytes each: some 20 MB when full; see
// docs/BENCHMARKS.md). A sign-in creates about a dozen counters (its
// address, network, account, signals), so this is the recent counters of
// some 20,000 active clients.
const DefaultCounterKeys = 1 << 17

// memShards spreads the store's lock: every defended request takes it
// several times.
const memShards = 16

// MemoryStore is a ulule/limiter store in this process's memory that holds
// at most a fixed number of counters. When full, a new counter evicts the
// least recently used one of its shard (one sixteenth of the keys, chosen
// by a keyed hash): the counters every request touches — a route's,
// the global one, an account under attack, a network being refused — stay,
// and the ones that go are those of clients not seen for the longest
// time, which then start again from zero. Expired counters are dropped
// first as they are met. A flood of new addresses therefore costs at
// most the cap in memory, whatever its size; Evicted says how often the
// cap was reached (a node that evicts all the time needs a larger cap or
// the Redis store).
type MemoryStore struct {
	seed    maphash.Seed
	max     int
	shards  [memShards]memShard
	evicted atomic.Uint64
	// now is wall time, as the Redis store's key expiry is Redis's: it
	// only decides when a counter's memory is given back. Which window a
	// count falls in is the caller's clock (Counter's windowKey).
	now func() time.Time
}

type memShard struct {
	mu   sync.Mutex
	m    map[string]*memEntry
	head memEntry // sentinel: head.next is the most recently used
}

type memEntry struct {
	key        string
	count      int64
	expires    int64 // unix nanoseconds
	prev, next *memEntry
}

// NewMemoryStore returns an empty store holding at most maxKeys counters
// (at least one per shard).
func NewMemoryStore(maxKeys int) *MemoryStore {
	s := &MemoryStore{seed: maphash.MakeSeed(), max: max(maxKeys, memShards), now: time.Now}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.m = make(map[string]*memEntry)
		sh.head.next, sh.head.prev = &sh.head, &sh.head
	}
	return s
}

func (s *MemoryStore) shard(key string) *memShard {
	return &s.shards[maphash.String(s.seed, key)%memShards]
}

func (sh *memShard) unlink(e *memEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (sh *memShard) pushFront(e *memEntry) {
	e.prev, e.next = &sh.head, sh.head.next
	sh.head.next.prev = e
	sh.head.next = e
}

func (sh *memShard) touch(e *memEntry) {
	if sh.head.next != e {
		sh.unlink(e)
		sh.pushFront(e)
	}
}

func (sh *memShard) remove(e *memEntry) {
	sh.unlink(e)
	delete(sh.m, e.key)
}

// Increment implements limiter.Store: it adds count to key's counter,
// creating it (or starting it again once expired) for rate.Period.
func (s *MemoryStore) Increment(ctx context.Context, key string, count int64, rate limiter.Rate) (limiter.Context, error) {
	if err := ctx.Err(); err != nil {
		return limiter.Context{}, err
	}
	now := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	// The least recently used entries that have expired go first, a few
	// at a time, so quiet periods give memory back without a sweeper.
	for i := 0; i < 2 && sh.head.prev != &sh.head && sh.head.prev.expires <= now; i++ {
		sh.remove(sh.head.prev)
	}
	e := sh.m[key]
	switch {
	case e == nil:
		e = &memEntry{key: key, expires: now + int64(rate.Period)}
		sh.m[key] = e
		sh.pushFront(e)
		for len(sh.m) > s.max/memShards {
			old := sh.head.prev
			if old.expires > now {
				s.evicted.Add(1)
			}
			sh.remove(old)
		}
	case e.expires <= now:
		e.count, e.expires = 0, now+int64(rate.Period)
		sh.touch(e)
	default:
		sh.touch(e)
	}
	e.count += count
	return limiterContext(rate, e.count, e.expires), nil
}

// Get implements limiter.Store (an increment by one).
func (s *MemoryStore) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	return s.Increment(ctx, key, 1, rate)
}

// Peek implements limiter.Store. Reading a counter is using it: it
// moves to the front of the eviction order.
func (s *MemoryStore) Peek(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	if err := ctx.Err(); err != nil {
		return limiter.Context{}, err
	}
	now := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[key]; e != nil && e.expires > now {
		sh.touch(e)
		return limiterContext(rate, e.count, e.expires), nil
	}
	return limiterContext(rate, 0, now+int64(rate.Period)), nil
}

// Reset implements limiter.Store.
func (s *MemoryStore) Reset(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	if err := ctx.Err(); err != nil {
		return limiter.Context{}, err
	}
	now := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[key]; e != nil {
		sh.remove(e)
	}
	return limiterContext(rate, 0, now+int64(rate.Period)), nil
}

func limiterContext(rate limiter.Rate, count, expires int64) limiter.Context {
	c := limiter.Context{Limit: rate.Limit, Reset: time.Unix(0, expires).Unix()}
	if count <= rate.Limit {
		c.Remaining = rate.Limit - count
	} else {
		c.Reached = true
	}
	return c
}

// CounterStats describes a memory counter store.
type CounterStats struct {
	Keys     int    `json:"keys"`     // counters held now
	Capacity int    `json:"capacity"` // the most it holds
	Evicted  uint64 `json:"evicted"`  // live counters dropped to make room, since start
}

// Stats returns the store's size and evictions.
func (s *MemoryStore) Stats() CounterStats {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return CounterStats{Keys: n, Capacity: s.max / memShards * memShards, Evicted: s.evicted.Load()}
}

// Interface guards
var _ limiter.Store = (*MemoryStore)(nil)
