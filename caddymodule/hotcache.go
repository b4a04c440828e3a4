package caddymodule

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/identity"
)

// hotCache keeps one fact per customer that protected requests need beside
// the session — the consent state, the customer record for profile rules
// and headers — for as long as the session cache keeps a session (≤ 2 s by
// default, so a change made on another node is seen within that), so a
// protected request costs no store read. It is per node, shared by every
// site: a change made on this node forgets the customer's entry at once
// (backend.forgetCustomer).
type hotCache[V any] struct {
	mu sync.RWMutex
	m  map[string]hotEntry[V]
	// gen rises with every forget: a value read before a change must not
	// be cached after it.
	gen atomic.Uint64
}

type hotEntry[V any] struct {
	v     V
	until time.Time
}

// hotCacheMax bounds each cache: past it, expired entries go, and if none
// has, all of them (a burst of distinct customers beyond this many in 2 s
// is served from the store).
const hotCacheMax = 100_000

func (c *hotCache[V]) get(id string, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *hotCache[V]) put(id string, v V, until time.Time, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if c.m == nil {
		c.m = make(map[string]hotEntry[V])
	}
	if len(c.m) >= hotCacheMax {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= hotCacheMax {
			clear(c.m)
		}
	}
	c.m[id] = hotEntry[V]{v: v, until: until}
}

// forgetWhere drops every entry whose value matches (a revocation that
// knows the value, not the key).
func (c *hotCache[V]) forgetWhere(match func(V) bool) {
	c.mu.Lock()
	c.gen.Add(1)
	for k, e := range c.m {
		if match(e.v) {
			delete(c.m, k)
		}
	}
	c.mu.Unlock()
}

func (c *hotCache[V]) forget(id string) {
	c.mu.Lock()
	c.gen.Add(1)
	delete(c.m, id)
	c.mu.Unlock()
}

// load returns the customer's value from the cache when it is fresh, else
// reads it and keeps it for ttl (0: never cached).
func (c *hotCache[V]) load(ctx context.Context, id string, now time.Time, ttl time.Duration, read func(context.Context, string) (V, error)) (V, error) {
	if ttl > 0 {
		if v, ok := c.get(id, now); ok {
			return v, nil
		}
	}
	gen := c.gen.Load()
	v, err := read(ctx, id)
	if err != nil {
		return v, err
	}
	if ttl > 0 {
		c.put(id, v, now.Add(ttl), gen, now)
	}
	return v, nil
}

// consentState returns the customer's consent state, from the cache when
// it is fresh.
func (b *backend) consentState(ctx context.Context, id string) (consent.State, error) {
	return b.consentCache.load(ctx, id, b.clock.Now(), b.sessions.Config().CacheTTL, func(ctx context.Context, id string) (consent.State, error) {
		rs, err := b.consent.Records(ctx, id)
		if err != nil {
			return nil, err
		}
		return consent.StateOf(rs), nil
	})
}

// customer returns the customer record for rules, headers and the
// assertion, from
// the cache when it is fresh. The record is shared: read it, never change it.
func (b *backend) customer(ctx context.Context, id string) (*hotCustomer, error) {
	return b.customerCache.load(ctx, id, b.clock.Now(), b.sessions.Config().CacheTTL, func(ctx context.Context, id string) (*hotCustomer, error) {
		c, err := b.identity.Customer(ctx, id)
		if errors.Is(err, identity.ErrNotFound) {
			// A session whose customer is gone (erased on another node a
			// moment ago): no roles, no profile; kept like any other
			// answer, so such requests do not each read the store.
			c, err = &identity.Customer{ID: id}, nil
		}
		if err != nil {
			return nil, err
		}
		return newHotCustomer(c), nil
	})
}

// forgetCustomer drops what this node caches of a customer, after a change
// made here (consent, profile, email, erasure).
func (b *backend) forgetCustomer(id string) {
	b.consentCache.forget(id)
	b.customerCache.forget(id)
}
