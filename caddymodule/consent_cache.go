package caddymodule

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frontdoorhq/frontdoor/consent"
)

// consentCache keeps each customer's consent state for as long as the
// session cache keeps a session (≤ 2 s, so a change made on another node
// is seen within that), so a protected request costs no store read. A
// change on this node forgets the customer's entry at once.
type consentCache struct {
	mu sync.RWMutex
	m  map[string]consentEntry
	// gen rises with every forget: a state read before a change must not
	// be cached after it.
	gen atomic.Uint64
}

type consentEntry struct {
	st    consent.State
	until time.Time
}

// consentCacheMax bounds the cache: past it, expired entries go, and if
// none has, all of them (a burst of distinct customers beyond this many
// in 2 s is served from the store).
const consentCacheMax = 100_000

func (c *consentCache) get(id string, now time.Time) (consent.State, bool) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.st, true
}

func (c *consentCache) put(id string, st consent.State, until time.Time, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if c.m == nil {
		c.m = make(map[string]consentEntry)
	}
	if len(c.m) >= consentCacheMax {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= consentCacheMax {
			clear(c.m)
		}
	}
	c.m[id] = consentEntry{st: st, until: until}
}

func (c *consentCache) forget(id string) {
	c.mu.Lock()
	c.gen.Add(1)
	delete(c.m, id)
	c.mu.Unlock()
}

// consentState returns the customer's consent state, from the cache when
// it is fresh.
func (b *backend) consentState(ctx context.Context, id string) (consent.State, error) {
	ttl := b.sessions.Config().CacheTTL
	now := b.clock.Now()
	if ttl > 0 {
		if st, ok := b.consentCache.get(id, now); ok {
			return st, nil
		}
	}
	gen := b.consentCache.gen.Load()
	rs, err := b.consent.Records(ctx, id)
	if err != nil {
		return nil, err
	}
	st := consent.StateOf(rs)
	if ttl > 0 {
		b.consentCache.put(id, st, now.Add(ttl), gen, now)
	}
	return st, nil
}
