//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// site is the public origin of the benchmark site: sessions are bound to
// it, and the gateway's Caddyfile sets it.
const site = "https://scale.test"

// userAgents are real browsers' strings, so a session record is the size a
// real one is.
var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
}

// dataset is N customers with one session each. Every record carries the
// same timestamp, stamp: lookups run with the manager's clock just after
// it, so no session is idle and none needs a Touch however long loading
// took.
type dataset struct {
	n      int
	stamp  time.Time
	hash   string
	ids    []string
	keys   []string // session storage keys, "<user id>.<hash>"
	tokens []string // bearer tokens of the first few sessions, for cookies
}

func newDataset(n, sample int, hash string) *dataset {
	d := &dataset{n: n, stamp: time.Now(), hash: hash, ids: make([]string, n), keys: make([]string, n)}
	var b [32]byte
	for i := range n {
		d.ids[i] = identity.NewID()
		// What session.Manager.Create makes: "<user id>.<256 random bits>".
		_, _ = rand.Read(b[:])
		token := d.ids[i] + "." + base64.RawURLEncoding.EncodeToString(b[:])
		d.keys[i] = session.KeyOf(token)
		if i < sample {
			d.tokens = append(d.tokens, token)
		}
	}
	return d
}

func (d *dataset) email(i int) string { return fmt.Sprintf("customer%07d@example.com", i) }

func (d *dataset) customer(i int) *identity.Customer {
	return &identity.Customer{ID: d.ids[i], Email: d.email(i), EmailVerified: true, CreatedAt: d.stamp,
		LastLoginAt: d.stamp, PasswordHash: d.hash}
}

// session is the record session.Manager.Create stores after a password
// sign-in.
func (d *dataset) session(i int) *session.Session {
	return &session.Session{
		Key: d.keys[i], UserID: d.ids[i], Email: d.email(i), EmailVerified: true, Site: site,
		CreatedAt: d.stamp, LastSeen: d.stamp, AuthTime: d.stamp, ExpiresAt: d.stamp.Add(session.DefaultAbsolute),
		AMR: []string{"pwd"}, ACR: "aal1", UserAgent: userAgents[i%len(userAgents)],
		IP: fmt.Sprintf("198.51.%d.%d", i>>8&0xff, i&0xff),
	}
}

// passwordHash is one argon2id hash with the default parameters, which every
// customer shares: hashing a million times would take hours and measure
// nothing here.
func passwordHash(ctx context.Context) (string, error) {
	h, err := identity.NewHasher(identity.DefaultArgon2, 1)
	if err != nil {
		return "", err
	}
	return h.Hash(ctx, "correct horse battery staple 42")
}

// parallel calls fn for 0…n-1 from workers goroutines, printing progress
// every 5 s; it stops at the first error.
func parallel(ctx context.Context, label string, n, workers int, fn func(i int) error) (time.Duration, error) {
	var next, done atomic.Int64
	var once sync.Once
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(1)
			}
		})
	}
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				k, el := done.Load(), time.Since(start)
				logf("  %s: %d/%d (%.0f/s)", label, k, n, float64(k)/el.Seconds())
			}
		}
	}()
	wg.Wait()
	close(stop)
	el := time.Since(start)
	if firstErr != nil {
		return el, firstErr
	}
	if err := ctx.Err(); err != nil && done.Load() < int64(n) {
		return el, err
	}
	logf("  %s: %d in %s (%.0f/s)", label, n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	return el, nil
}
