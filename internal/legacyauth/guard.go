package legacyauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// The circuit breaker: after BreakerThreshold failed calls in a row (no
// answer within the timeout, an error status, an answer refused), the
// service is not called for BreakerCooldown; then one trial call decides
// whether it closes again or stays open for another cool-down. While it
// is open, an outage costs sign-ins nothing.
const (
	BreakerThreshold = 5
	BreakerCooldown  = 30 * time.Second
)

// breaker is the circuit breaker of one Client.
type breaker struct {
	mu        sync.Mutex
	fails     int       // failures in a row, at most BreakerThreshold
	openUntil time.Time // when open: no call before this
	trial     bool      // the one trial call of an open breaker is out
}

// callEnd is how a call ended, as far as the breaker is concerned.
type callEnd int

const (
	callAnswered  callEnd = iota // a valid answer, yes or no
	callFailed                   // the service failed or answered wrongly
	callAbandoned                // the caller gave up: says nothing of the service
)

// allow reports whether a call may go out at now, and whether it is the
// trial call of an open breaker (which done must be told of).
func (b *breaker) allow(now time.Time) (ok, trial bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fails < BreakerThreshold {
		return true, false
	}
	if now.Before(b.openUntil) || b.trial {
		return false, false
	}
	b.trial = true
	return true, true
}

// done records how a call ended and reports whether that opened the
// breaker or closed it (for the log: changes only).
func (b *breaker) done(trial bool, end callEnd, now time.Time) (opened, closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if trial {
		b.trial = false
	}
	wasOpen := b.fails >= BreakerThreshold
	switch end {
	case callAnswered:
		b.fails = 0
		return false, wasOpen
	case callFailed:
		b.fails = min(b.fails+1, BreakerThreshold)
		if b.fails >= BreakerThreshold {
			b.openUntil = now.Add(BreakerCooldown)
		}
		return !wasOpen && b.fails >= BreakerThreshold, false
	}
	return false, false
}

// The memory of refusals: an address the service refused is asked about
// again only with a password not yet refused, at most RefusalAsks
// passwords per RefusalTTL — so a customer who mistypes once still gets
// in with the right password, a script repeating or guessing passwords
// for one address costs the service at most RefusalAsks calls per window
// and node, and nobody can keep an owner out for longer than a window
// without spending those asks again. At most RefusalEntries addresses are
// remembered; a spray of addresses pushes the oldest out (costing the
// service a call each, never memory).
const (
	RefusalTTL     = 5 * time.Minute
	RefusalAsks    = 3
	RefusalEntries = 10000
)

// fingerprint is a keyed hash (HMAC-SHA256 under a random key made per
// process, never stored): the memory holds no address or password in
// clear, and nothing outside the process can test guesses against it.
type fingerprint [16]byte

type refusal struct {
	until time.Time
	tried []fingerprint // at most RefusalAsks
}

// refusals remembers the service's refusals (per node, bounded).
type refusals struct {
	mu  sync.Mutex
	key [32]byte
	m   map[fingerprint]*refusal
	// ring lists entries in the order they were made, which is the order
	// they expire in (a window never moves): the oldest goes first when
	// the memory is full.
	ring       []ringItem
	head, size int
}

type ringItem struct {
	addr  fingerprint
	entry *refusal
}

func newRefusals() *refusals {
	r := &refusals{m: make(map[fingerprint]*refusal), ring: make([]ringItem, RefusalEntries)}
	_, _ = rand.Read(r.key[:]) // crypto/rand.Read never fails (Go ≥1.24)
	return r
}

// prints returns the fingerprints of an address and of a password tried
// for it.
func (r *refusals) prints(email, password string) (addr, pw fingerprint) {
	m := hmac.New(sha256.New, r.key[:])
	m.Write([]byte("address\x00" + email))
	copy(addr[:], m.Sum(nil))
	m.Reset()
	m.Write([]byte("password\x00" + email + "\x00" + password))
	copy(pw[:], m.Sum(nil))
	return addr, pw
}

// skip reports whether asking about addr with pw at now would only repeat
// a refusal or exceed the address's asks.
func (r *refusals) skip(addr, pw fingerprint, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.m[addr]
	if e == nil {
		return false
	}
	if !now.Before(e.until) {
		delete(r.m, addr)
		return false
	}
	return slices.Contains(e.tried, pw) || len(e.tried) >= RefusalAsks
}

// note remembers that the service refused pw for addr at now.
func (r *refusals) note(addr, pw fingerprint, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.m[addr]
	if e != nil && !now.Before(e.until) {
		delete(r.m, addr)
		e = nil
	}
	if e == nil {
		if r.size == len(r.ring) {
			old := r.ring[r.head]
			if r.m[old.addr] == old.entry { // not since replaced
				delete(r.m, old.addr)
			}
			r.ring[r.head] = ringItem{}
			r.head = (r.head + 1) % len(r.ring)
			r.size--
		}
		e = &refusal{until: now.Add(RefusalTTL)}
		r.m[addr] = e
		r.ring[(r.head+r.size)%len(r.ring)] = ringItem{addr: addr, entry: e}
		r.size++
	}
	if len(e.tried) < RefusalAsks && !slices.Contains(e.tried, pw) {
		e.tried = append(e.tried, pw)
	}
}

// forget drops what is remembered of addr (the service vouched for it).
func (r *refusals) forget(addr fingerprint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, addr)
}

// len is how many addresses are remembered (expired ones included until
// looked at or pushed out).
func (r *refusals) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}
