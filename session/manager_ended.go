package session

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Sessions ended on purpose leave a mark ("sid S of user U ended") for as
// long as a refresh token of theirs can live (Config.EndedFor): the
// provider refuses the family's refresh tokens, and its userinfo,
// introspection and the edge refuse its access tokens. Expiry leaves none:
// an app with offline_access keeps working after the browser session
// idles out.

// DefaultEndedFor is how long an end is remembered unless the config says.
const DefaultEndedFor = 30 * 24 * time.Hour

// endedPositiveTTL is how long a node trusts "ended" from its cache: an
// ended session never comes back, so it may be long; it only bounds memory.
const endedPositiveTTL = 10 * time.Minute

// endedCacheMax bounds the cache of answers; past it, stale answers go, and
// if none has, all of them.
const endedCacheMax = 100_000

type endKey struct{ user, sid string }

type endAnswer struct {
	ended bool
	at    time.Time
}

// endCache holds Ended's answers per node.
type endCache struct {
	mu   sync.RWMutex
	m    map[endKey]endAnswer
	puts int
}

func (c *endCache) get(k endKey) (endAnswer, bool) {
	c.mu.RLock()
	a, ok := c.m[k]
	c.mu.RUnlock()
	return a, ok
}

func (c *endCache) put(k endKey, a endAnswer, negTTL time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[endKey]endAnswer)
	}
	if prev, ok := c.m[k]; ok && prev.ended && !a.ended {
		return // an end is never undone
	}
	c.m[k] = a
	if c.puts++; c.puts >= 1024 || len(c.m) > endedCacheMax {
		c.puts = 0
		for k, e := range c.m {
			if a.at.Sub(e.at) >= endedPositiveTTL || (!e.ended && a.at.Sub(e.at) >= negTTL) {
				delete(c.m, k)
			}
		}
		if len(c.m) > endedCacheMax {
			clear(c.m)
		}
	}
}

// Ended reports whether the user's session family sid ended on purpose.
// "Not ended" is cached per node for the session cache period (≤ 2 s), so
// an end on another node is seen within it; "ended" longer. An end on
// this node is seen at once.
func (m *Manager) Ended(ctx context.Context, userID, sid string) (bool, error) {
	if ended, ok := m.EndedCached(userID, sid); ok {
		return ended, nil
	}
	cfg, now := m.Config(), m.Now()
	k := endKey{userID, sid}
	ended, err := m.store.Ended(ctx, userID, sid)
	if err != nil {
		return false, fmt.Errorf("session: ended: %w", err)
	}
	if ended || cfg.CacheTTL > 0 {
		m.ends.put(k, endAnswer{ended: ended, at: now}, cfg.CacheTTL)
	}
	return ended, nil
}

// EndedCached answers Ended from this node's cache alone; ok is false
// when only the store can tell. It never reaches the store, so the hot
// path needs no store context for the requests it answers.
func (m *Manager) EndedCached(userID, sid string) (ended, ok bool) {
	return m.EndedCachedAt(userID, sid, m.Now())
}

// EndedCachedAt is EndedCached at now, the caller's reading of the
// manager's clock (a hot path reads it once).
func (m *Manager) EndedCachedAt(userID, sid string, now time.Time) (ended, ok bool) {
	a, found := m.ends.get(endKey{userID, sid})
	if !found {
		return false, false
	}
	age := now.Sub(a.at)
	if a.ended && age < endedPositiveTTL {
		return true, true
	}
	if ttl := m.Config().CacheTTL; !a.ended && ttl > 0 && age >= 0 && age < ttl {
		return false, true
	}
	return false, false
}

// markEnded leaves the marks of ended sessions, before they are removed:
// if it fails, nothing is removed (a sign-out that fails is retried; one
// that half-succeeds would leave the tokens of a gone session working).
func (m *Manager) markEnded(ctx context.Context, userID string, sids ...string) error {
	now := m.Now()
	// Wall time, as the store judges marks by (Redis drops a key by its
	// own clock); a test clock moved on does not shorten a mark.
	until := time.Now().Add(m.Config().EndedFor)
	for _, sid := range sids {
		if err := m.store.MarkEnded(ctx, userID, sid, until); err != nil {
			return err
		}
		m.ends.put(endKey{userID, sid}, endAnswer{ended: true, at: now}, m.Config().CacheTTL)
	}
	return nil
}

// EndFamilies leaves the marks of families that no session holds (an
// agent's grant, named in its access tokens as a session family is):
// Ended reports them ended from now on, on this node at once and on the
// others within the cache period.
func (m *Manager) EndFamilies(ctx context.Context, userID string, sids ...string) error {
	if err := m.markEnded(ctx, userID, sids...); err != nil {
		return fmt.Errorf("session: end families: %w", err)
	}
	return nil
}
