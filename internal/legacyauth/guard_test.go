package legacyauth

import (
	"fmt"
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	var b breaker
	now := time.Unix(1_700_000_000, 0)
	for i := range BreakerThreshold - 1 {
		if ok, trial := b.allow(now); !ok || trial {
			t.Fatalf("closed breaker refused call %d", i)
		}
		if opened, _ := b.done(false, callFailed, now); opened {
			t.Fatalf("opened after %d failures", i+1)
		}
	}
	// An answer in between starts the count again.
	b.done(false, callAnswered, now)
	for i := range BreakerThreshold {
		b.allow(now)
		opened, _ := b.done(false, callFailed, now)
		if opened != (i == BreakerThreshold-1) {
			t.Fatalf("failure %d: opened %v", i+1, opened)
		}
	}
	if ok, _ := b.allow(now.Add(BreakerCooldown - time.Second)); ok {
		t.Fatal("open breaker let a call through within its cool-down")
	}
	// After the cool-down, one trial at a time.
	later := now.Add(BreakerCooldown)
	ok, trial := b.allow(later)
	if !ok || !trial {
		t.Fatalf("after the cool-down: ok %v trial %v, want the trial", ok, trial)
	}
	if ok, _ := b.allow(later); ok {
		t.Fatal("a second call went out beside the trial")
	}
	// A failed trial keeps it open for another cool-down, quietly.
	if opened, closed := b.done(true, callFailed, later); opened || closed {
		t.Fatalf("failed trial: opened %v closed %v", opened, closed)
	}
	if ok, _ := b.allow(later.Add(BreakerCooldown - time.Second)); ok {
		t.Fatal("a failed trial did not start a new cool-down")
	}
	// An abandoned trial frees the slot without judging the service.
	again := later.Add(BreakerCooldown)
	if ok, trial := b.allow(again); !ok || !trial {
		t.Fatal("no trial after the second cool-down")
	}
	b.done(true, callAbandoned, again)
	ok, trial = b.allow(again)
	if !ok || !trial {
		t.Fatal("an abandoned trial kept the slot")
	}
	// A good trial closes it.
	if _, closed := b.done(true, callAnswered, again); !closed {
		t.Fatal("a good trial did not close the breaker")
	}
	if ok, trial := b.allow(again); !ok || trial {
		t.Fatal("closed breaker still holding calls back")
	}
}

func TestRefusals(t *testing.T) {
	r := newRefusals()
	now := time.Unix(1_700_000_000, 0)
	addr, wrong := r.prints("ada@example.com", "wrong")
	_, right := r.prints("ada@example.com", "right")
	if addr == wrong || wrong == right {
		t.Fatal("fingerprints collide")
	}
	if r.skip(addr, wrong, now) {
		t.Fatal("skipped before any refusal")
	}
	r.note(addr, wrong, now)
	if !r.skip(addr, wrong, now.Add(time.Minute)) {
		t.Fatal("the refused password is asked again")
	}
	if r.skip(addr, right, now.Add(time.Minute)) {
		t.Fatal("one typo locks the address")
	}
	// RefusalAsks passwords per window, then nothing more is asked.
	for i := 1; i < RefusalAsks; i++ {
		_, p := r.prints("ada@example.com", fmt.Sprint("guess", i))
		r.note(addr, p, now)
	}
	if !r.skip(addr, right, now.Add(time.Minute)) {
		t.Fatalf("asked beyond %d passwords in a window", RefusalAsks)
	}
	// The window does not move with more refusals.
	if r.skip(addr, right, now.Add(RefusalTTL)) {
		t.Fatal("still refused after the window")
	}
	// Other addresses are their own.
	other, p := r.prints("bob@example.com", "wrong")
	if other == addr || r.skip(other, p, now) {
		t.Fatal("addresses share a memory")
	}
	// What the service vouched for is forgotten.
	r.note(other, p, now)
	r.forget(other)
	if r.skip(other, p, now) {
		t.Fatal("forget kept the refusal")
	}
}

// A spray of addresses keeps memory bounded, pushing the oldest out.
func TestRefusalsBounded(t *testing.T) {
	r := newRefusals()
	now := time.Unix(1_700_000_000, 0)
	first, p := r.prints("first@example.com", "x")
	r.note(first, p, now)
	for i := range RefusalEntries + 500 {
		a, p := r.prints(fmt.Sprintf("spray%d@example.com", i), "x")
		r.note(a, p, now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := r.len(); n > RefusalEntries {
		t.Fatalf("%d addresses remembered, bound %d", n, RefusalEntries)
	}
	if r.skip(first, p, now.Add(time.Second)) {
		t.Fatal("the oldest entry survived a full memory")
	}
	// An entry replaced after expiring is not dropped by its old slot.
	r2 := newRefusals()
	a, p2 := r2.prints("again@example.com", "x")
	r2.note(a, p2, now)
	r2.note(a, p2, now.Add(RefusalTTL)) // expired: a new window
	for i := range RefusalEntries - 1 {
		b, q := r2.prints(fmt.Sprintf("fill%d@example.com", i), "x")
		r2.note(b, q, now.Add(RefusalTTL))
	}
	if !r2.skip(a, p2, now.Add(RefusalTTL+time.Minute)) {
		t.Fatal("the old slot of a renewed entry dropped the new entry")
	}
}
