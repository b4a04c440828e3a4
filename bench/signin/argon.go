//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
	"github.com/frontdoorhq/frontdoor/identity"
)

// argonTiming is argon2id measured in this process, the gateway idle.
type argonTiming struct {
	median, min    time.Duration // of serial runs
	runs           int
	parallelPerSec float64 // runs per second with one goroutine per core
}

// timeArgon2 runs argon2id n times one after another after a warm-up run,
// then on every core at once for as many runs per core: what hashing alone
// could reach here, shared memory bandwidth included.
func timeArgon2(p identity.Argon2Params, n int) argonTiming {
	pw, salt := make([]byte, 24), make([]byte, 16)
	_, _ = rand.Read(pw)
	_, _ = rand.Read(salt)
	one := func() time.Duration {
		start := time.Now()
		argon2.IDKey(pw, salt, p.Iterations, p.MemoryKiB, p.Parallelism, 32)
		return time.Since(start)
	}
	one()
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = one()
	}
	slices.Sort(ds)
	t := argonTiming{median: ds[n/2], min: ds[0], runs: n}

	cores := runtime.NumCPU()
	per := max(4, n)
	var wg sync.WaitGroup
	start := time.Now()
	for range cores {
		wg.Go(func() {
			for range per {
				one()
			}
		})
	}
	wg.Wait()
	t.parallelPerSec = float64(cores*per) / time.Since(start).Seconds()
	return t
}

// hasherState is the gateway's frontdoor_password_* metrics.
type hasherState struct {
	hashes, busy          float64
	inFlight, inFlightMax float64
	waiting, waitingMax   float64
	slots, queue, memory  float64
}

func readHasher(ctx context.Context, g *benchkit.Gateway) (hasherState, error) {
	m, err := g.Metrics(ctx)
	if err != nil {
		return hasherState{}, err
	}
	var s hasherState
	for name, v := range map[string]*float64{
		"frontdoor_password_hashes_total":         &s.hashes,
		"frontdoor_password_hash_busy_total":      &s.busy,
		"frontdoor_password_hashes_in_flight":     &s.inFlight,
		"frontdoor_password_hashes_in_flight_max": &s.inFlightMax,
		"frontdoor_password_hash_waiting":         &s.waiting,
		"frontdoor_password_hash_waiting_max":     &s.waitingMax,
		"frontdoor_password_hash_slots":           &s.slots,
		"frontdoor_password_hash_queue_limit":     &s.queue,
		"frontdoor_password_hash_memory_bytes":    &s.memory,
	} {
		x, ok := m[name]
		if !ok {
			return s, fmt.Errorf("no %s on the admin /metrics", name)
		}
		*v = x
	}
	return s, nil
}

// hasherWatch polls the hasher's gauges until stopped and keeps the most
// runs in flight and waiters it saw.
type hasherWatch struct {
	stop                    chan struct{}
	done                    chan struct{}
	mu                      sync.Mutex
	maxInFlight, maxWaiting float64
	polls                   int
}

func watchHasher(ctx context.Context, g *benchkit.Gateway, every time.Duration) *hasherWatch {
	w := &hasherWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if s, err := readHasher(ctx, g); err == nil {
				w.mu.Lock()
				w.maxInFlight, w.maxWaiting = max(w.maxInFlight, s.inFlight), max(w.maxWaiting, s.waiting)
				w.polls++
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// end stops the polling and returns the maxima and the number of polls.
func (w *hasherWatch) end() (maxInFlight, maxWaiting float64, polls int) {
	close(w.stop)
	<-w.done
	return w.maxInFlight, w.maxWaiting, w.polls
}
