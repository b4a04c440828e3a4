//go:build linux

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frontdoorhq/frontdoor/session"
)

// countingStore counts the writes the lookup path makes: a Touch per
// lookup would turn a read benchmark into a write one.
type countingStore struct {
	session.Store
	touches atomic.Int64
	deletes atomic.Int64
}

func (s *countingStore) Touch(ctx context.Context, key string, lastSeen time.Time) error {
	s.touches.Add(1)
	return s.Store.Touch(ctx, key, lastSeen)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.deletes.Add(1)
	return s.Store.Delete(ctx, key)
}

// lookupManager is the protected route's session lookup over store: a
// session.Manager with the default lifetimes and the in-process cache off,
// so every lookup reaches the store. Its clock stands 30 s after the
// sessions were stamped, below the 1-minute Touch interval.
func lookupManager(store session.Store, d *dataset) (*session.Manager, *countingStore) {
	cs := &countingStore{Store: store}
	now := d.stamp.Add(30 * time.Second)
	m := session.NewManager(cs, session.Config{CacheTTL: -1}, func() time.Time { return now })
	return m, cs
}

// latency sums up one measurement.
type latency struct {
	n                   int
	p50, p99, p999, max time.Duration
	perSecond           float64
	goroutines, touches int
	wall                time.Duration
}

func (l latency) String() string {
	if l.n == 0 {
		return "—"
	}
	return fmt.Sprintf("%d lookups, %d goroutine(s): p50 %s p99 %s p99.9 %s max %s, %.0f/s, %d touches",
		l.n, l.goroutines, us(l.p50), us(l.p99), us(l.p999), us(l.max), l.perSecond, l.touches)
}

// us formats a duration in microseconds.
func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond)) }

// measureLookups runs total lookups of uniformly random existing keys from
// workers goroutines. Every lookup must find its session.
func measureLookups(ctx context.Context, m *session.Manager, cs *countingStore, keys []string, total, workers int) (latency, error) {
	per := total / workers
	durs := make([][]time.Duration, workers)
	errs := make([]error, workers)
	touches0 := cs.touches.Load()
	deletes0 := cs.deletes.Load()
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			d := make([]time.Duration, 0, per)
			for range per {
				if ctx.Err() != nil {
					errs[w] = ctx.Err()
					break
				}
				key := keys[rand.IntN(len(keys))]
				t := time.Now()
				s, err := m.LookupKey(ctx, key)
				el := time.Since(t)
				if err != nil {
					errs[w] = fmt.Errorf("lookup %s: %w", key, err)
					break
				}
				if s.Key != key {
					errs[w] = fmt.Errorf("lookup %s returned session %s", key, s.Key)
					break
				}
				d = append(d, el)
			}
			durs[w] = d
		})
	}
	wg.Wait()
	wall := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return latency{}, err
		}
	}
	if n := cs.deletes.Load() - deletes0; n > 0 {
		return latency{}, fmt.Errorf("%d sessions were revoked as expired during the lookups", n)
	}
	all := slices.Concat(durs...)
	slices.Sort(all)
	return latency{
		n: len(all), goroutines: workers, wall: wall, perSecond: float64(len(all)) / wall.Seconds(),
		p50: pct(all, 0.50), p99: pct(all, 0.99), p999: pct(all, 0.999), max: all[len(all)-1],
		touches: int(cs.touches.Load() - touches0),
	}, nil
}

// pct is the nearest-rank percentile of sorted.
func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// measureBoth measures lookups from 1 and from 8 goroutines into r, logging
// each under label.
func measureBoth(ctx context.Context, r *result, m *session.Manager, cs *countingStore, keys []string, total int, label string) error {
	var err error
	if r.l1, err = measureLookups(ctx, m, cs, keys, total, 1); err != nil {
		return err
	}
	logf("%s: %s", label, r.l1)
	if r.l8, err = measureLookups(ctx, m, cs, keys, total, 8); err != nil {
		return err
	}
	logf("%s: %s", label, r.l8)
	return nil
}
