package botdefense

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var powTestKey = bytes.Repeat([]byte("k"), 32)

// powClock is a settable clock for tests.
type powClock struct{ t atomic.Int64 }

func newPowClock() *powClock {
	c := &powClock{}
	c.t.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *powClock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *powClock) add(d time.Duration) { c.t.Add(int64(d)) }
func newTestPowIssuer(c *powClock) *PowIssuer {
	return NewPowIssuer(powTestKey, NewMemorySeen(), c.now)
}

// powUnsolved returns challenge~counter for a counter whose hash falls short
// of bits.
func powUnsolved(challenge string, bits int) string {
	for c := 0; ; c++ {
		s := challenge + "~" + strconv.Itoa(c)
		if powZeroBits(s) < bits {
			return s
		}
	}
}

// powResign edits a challenge's payload and signs it with key, as someone
// who knew the key could; with key nil it keeps the original MAC.
func powResign(t *testing.T, key []byte, challenge string, edit func(b []byte)) string {
	t.Helper()
	text, mac, _ := strings.Cut(challenge, ".")
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	edit(b)
	out := base64.RawURLEncoding.EncodeToString(b)
	if key == nil {
		return out + "." + mac
	}
	p := NewPowIssuer(key, NewMemorySeen(), nil)
	var sum [32]byte
	p.mac.sum(&sum, []byte(out))
	return out + "." + base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestPowRoundTrip(t *testing.T) {
	c := newPowClock()
	p := newTestPowIssuer(c)
	ch := p.Issue("203.0.113.7", 12, time.Minute)
	if len(ch) >= 150 || len(ch) != powChallengeLen {
		t.Fatalf("challenge is %d characters: %s", len(ch), ch)
	}
	if strings.Trim(ch, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
		t.Fatalf("challenge not URL safe: %s", ch)
	}
	if strings.Contains(ch, "203.0.113.7") {
		t.Fatal("binding in clear")
	}
	if ch2 := p.Issue("203.0.113.7", 12, time.Minute); ch2 == ch {
		t.Fatal("two challenges alike")
	}
	sol := SolvePow(ch, 12)
	if !strings.HasPrefix(sol, ch+"~") || powZeroBits(sol) < 12 {
		t.Fatalf("SolvePow: %s", sol)
	}
	if err := p.Verify(t.Context(), sol, "203.0.113.7", 12); err != nil {
		t.Fatal(err)
	}
	// Another node with the same key and the same single-use store.
	c.add(59 * time.Second)
	ch = p.Issue("203.0.113.7", 8, time.Minute)
	q := NewPowIssuer(powTestKey, p.seen, c.now)
	if err := q.Verify(t.Context(), SolvePow(ch, 8), "203.0.113.7", 0); err != nil {
		t.Fatalf("other node: %v", err)
	}
}

func TestPowIssueClampsAndDefaults(t *testing.T) {
	c := newPowClock()
	p := newTestPowIssuer(c)
	for _, tc := range []struct{ in, want int }{{-3, 1}, {0, 1}, {1, 1}, {20, 20}, {32, 32}, {33, 32}, {1000, 32}} {
		if got := ClampPowBits(tc.in); got != tc.want {
			t.Errorf("ClampPowBits(%d) = %d", tc.in, got)
		}
		b, _ := base64.RawURLEncoding.DecodeString(p.Issue("x", tc.in, 0)[:powPayloadText])
		if int(b[9]) != tc.want {
			t.Errorf("Issue(%d) has %d bits", tc.in, b[9])
		}
	}
	ch := p.Issue("x", 4, 0)
	sol := SolvePow(ch, 4)
	c.add(DefaultPowTTL - time.Second)
	if err := p.Verify(t.Context(), sol, "x", 1); err != nil {
		t.Fatalf("before DefaultPowTTL: %v", err)
	}
	// A TTL with a fraction of a second is rounded up, never down.
	ch = p.Issue("x", 4, 1500*time.Millisecond)
	sol = SolvePow(ch, 4)
	c.add(1999 * time.Millisecond)
	if err := p.Verify(t.Context(), sol, "x", 1); err != nil {
		t.Fatalf("rounded TTL: %v", err)
	}
}

func TestPowVerifyErrors(t *testing.T) {
	c := newPowClock()
	p := newTestPowIssuer(c)
	const ip = "198.51.100.4"
	ch := p.Issue(ip, 10, time.Minute)
	good := SolvePow(ch, 10)
	counter := good[len(ch):]
	otherKey := bytes.Repeat([]byte("o"), 32)
	// noncanonical sets the two unused low bits of the MAC's last
	// character: the same bytes, another text.
	noncanonical := func(s string) string {
		const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(abc, s[len(s)-1])
		return s[:len(s)-1] + string(abc[last|3])
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}

	tests := []struct {
		name     string
		solution string
		binding  string
		min      int
		clock    time.Duration
		want     error
	}{
		{"empty", "", ip, 1, 0, ErrPowMalformed},
		{"no counter", ch, ip, 1, 0, ErrPowMalformed},
		{"empty counter", ch + "~", ip, 1, 0, ErrPowMalformed},
		{"counter not decimal", ch + "~12a", ip, 1, 0, ErrPowMalformed},
		{"counter signed", ch + "~+12", ip, 1, 0, ErrPowMalformed},
		{"counter too long", ch + "~" + strings.Repeat("1", 21), ip, 1, 0, ErrPowMalformed},
		{"too long", ch + "~" + strings.Repeat("1", 600), ip, 1, 0, ErrPowMalformed},
		{"two tildes", ch + "~1" + counter, ip, 1, 0, ErrPowMalformed},
		{"short challenge", ch[1:] + counter, ip, 1, 0, ErrPowMalformed},
		{"no dot", strings.Replace(ch, ".", "A", 1) + counter, ip, 1, 0, ErrPowMalformed},
		{"not base64", "*" + good[1:], ip, 1, 0, ErrPowMalformed},
		{"dot replaced", strings.Replace(good, ".", "=", 1), ip, 1, 0, ErrPowMalformed},
		{"MAC not canonical base64", noncanonical(ch) + counter, ip, 1, 0, ErrPowMalformed},
		{"unknown version", powResign(t, powTestKey, ch, func(b []byte) { b[0] = 2 }) + counter, ip, 1, 0, ErrPowMalformed},
		{"payload changed", flip(good, 20), ip, 1, 0, ErrPowForged},
		{"MAC changed", flip(good, powPayloadText+5), ip, 1, 0, ErrPowForged},
		{"difficulty lowered", powResign(t, nil, ch, func(b []byte) { b[9] = 1 }) + counter, ip, 1, 0, ErrPowForged},
		{"expiry raised", powResign(t, nil, ch, func(b []byte) { b[8]++ }) + counter, ip, 1, 0, ErrPowForged},
		{"binding changed", powResign(t, nil, ch, func(b []byte) { b[30]++ }) + counter, ip, 1, 0, ErrPowForged},
		{"signed by another key", powResign(t, otherKey, ch, func([]byte) {}) + counter, ip, 1, 0, ErrPowForged},
		{"expired", good, ip, 1, time.Minute, ErrPowExpired},
		{"long expired", good, ip, 1, 24 * time.Hour, ErrPowExpired},
		{"other client", good, "198.51.100.5", 1, 0, ErrPowWrongClient},
		{"no client", good, "", 1, 0, ErrPowWrongClient},
		{"too easy", good, ip, 11, 0, ErrPowTooEasy},
		{"too easy clamped", good, ip, 99, 0, ErrPowTooEasy},
		{"not solved", powUnsolved(ch, 10), ip, 1, 0, ErrPowNotSolved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.add(tc.clock)
			defer c.add(-tc.clock)
			err := p.Verify(t.Context(), tc.solution, tc.binding, tc.min)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// None of the refused solutions was recorded: the good one still works,
	// once.
	if n := p.seen.(*MemorySeen).Len(); n != 0 {
		t.Fatalf("refused solutions reached Seen: %d", n)
	}
	if err := p.Verify(t.Context(), good, ip, 10); err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(t.Context(), good, ip, 10); !errors.Is(err, ErrPowReplayed) {
		t.Fatalf("replay: %v", err)
	}
	// A different counter that also solves it is the same challenge.
	for i := 0; ; i++ {
		if s := ch + "~" + strconv.Itoa(i); s != good && powZeroBits(s) >= 10 {
			if err := p.Verify(t.Context(), s, ip, 10); !errors.Is(err, ErrPowReplayed) {
				t.Fatalf("second counter: %v", err)
			}
			break
		}
	}
}

// powFailSeen is a Seen whose store is down.
type powFailSeen struct{ calls atomic.Int32 }

func (s *powFailSeen) FirstUse(context.Context, string, time.Time, time.Time) (bool, error) {
	s.calls.Add(1)
	return false, errors.New("redis: connection refused")
}

func TestPowSeenFailureFailsClosed(t *testing.T) {
	seen := &powFailSeen{}
	p := NewPowIssuer(powTestKey, seen, nil)
	ch := p.Issue("x", 4, time.Minute)
	err := p.Verify(t.Context(), SolvePow(ch, 4), "x", 1)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("got %v", err)
	}
	// Garbage never reaches the store.
	_ = p.Verify(t.Context(), "garbage", "x", 1)
	_ = p.Verify(t.Context(), powUnsolved(ch, 4), "x", 1)
	if n := seen.calls.Load(); n != 1 {
		t.Fatalf("store called %d times", n)
	}
}

func TestNewPowIssuerRefusesShortKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewPowIssuer(make([]byte, 31), NewMemorySeen(), nil)
}

func TestPowConcurrentVerifyOnce(t *testing.T) {
	p := NewPowIssuer(powTestKey, NewMemorySeen(), nil)
	sol := SolvePow(p.Issue("x", 8, time.Minute), 8)
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			switch err := p.Verify(context.Background(), sol, "x", 8); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrPowReplayed):
				replayed.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 49 {
		t.Fatalf("%d accepted, %d replays", ok.Load(), replayed.Load())
	}
}

func TestPowMemorySeen(t *testing.T) {
	c := newPowClock()
	s := NewMemorySeen()
	s.max = 3
	ctx := t.Context()
	first := func(id string, until time.Duration) bool {
		t.Helper()
		ok, err := s.FirstUse(ctx, id, c.now(), c.now().Add(until))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return ok
	}
	if !first("a", time.Minute) || first("a", time.Minute) {
		t.Fatal("a not single use")
	}
	if !first("b", 2*time.Minute) || !first("c", 3*time.Minute) {
		t.Fatal("b, c")
	}
	// Full: refuse rather than forget a live id.
	if ok, err := s.FirstUse(ctx, "d", c.now(), c.now().Add(time.Minute)); ok || !errors.Is(err, ErrPowSeenFull) {
		t.Fatalf("full: %v %v", ok, err)
	}
	// After a's time, a is pruned and d fits.
	c.add(time.Minute)
	if !first("d", time.Hour) {
		t.Fatal("d after prune")
	}
	if s.Len() != 3 {
		t.Fatalf("len %d", s.Len())
	}
	if first("b", time.Minute) {
		t.Fatal("b forgotten early")
	}
	// An id whose time has passed is not guarded any more (Verify refuses
	// the expired challenge anyway) and takes no room.
	if !first("e", -time.Second) || s.Len() != 3 {
		t.Fatal("expired id stored")
	}
	c.add(2 * time.Hour)
	if !first("b", time.Minute) || s.Len() != 1 {
		t.Fatalf("after everything expired: len %d", s.Len())
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.FirstUse(cancelled, "z", c.now(), c.now().Add(time.Minute)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestPowMemorySeenPrunesGradually checks that many expiring ids are pruned
// a few at a time, yet never make the store refuse a new one.
func TestPowMemorySeenPrunesGradually(t *testing.T) {
	c := newPowClock()
	s := NewMemorySeen()
	s.max = 1000
	for i := range 1000 {
		if ok, err := s.FirstUse(t.Context(), strconv.Itoa(i), c.now(), c.now().Add(time.Duration(1000-i)*time.Millisecond)); !ok || err != nil {
			t.Fatal(i, ok, err)
		}
	}
	c.add(time.Second)
	if ok, err := s.FirstUse(t.Context(), "new", c.now(), c.now().Add(time.Minute)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if s.Len() != 1000-64+1 {
		t.Fatalf("len %d after one call", s.Len())
	}
	for i := range 20 {
		if ok, err := s.FirstUse(t.Context(), "more"+strconv.Itoa(i), c.now(), c.now().Add(time.Minute)); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if s.Len() != 21 || len(s.exp) != 21 {
		t.Fatalf("len %d, heap %d", s.Len(), len(s.exp))
	}
	// The heap gives back ids in order of their time.
	var h powExpiryHeap
	for _, u := range []int64{5, 3, 9, 1, 7, 3, 8} {
		h.push(powExpiry{until: u})
	}
	var got []int64
	for len(h) > 0 {
		got = append(got, h.pop().until)
	}
	if want := []int64{1, 3, 3, 5, 7, 8, 9}; !slices.Equal(got, want) {
		t.Fatalf("heap order %v", got)
	}
}

func TestPowSolverJSEmbedded(t *testing.T) {
	for _, want := range []string{"data-pow-challenge", "WorkerGlobalScope", "Math.clz32"} {
		if !bytes.Contains(SolverJS, []byte(want)) {
			t.Errorf("solver.js lacks %q", want)
		}
	}
	for _, bad := range []string{"eval(", "new Function", "crypto.subtle", "WebAssembly", "innerHTML"} {
		if bytes.Contains(SolverJS, []byte(bad)) {
			t.Errorf("solver.js uses %q", bad)
		}
	}
}

func BenchmarkPowVerify(b *testing.B) {
	p := NewPowIssuer(powTestKey, NewMemorySeen(), nil)
	sols := make([]string, b.N)
	for i := range sols {
		sols[i] = SolvePow(p.Issue("203.0.113.7", 1, time.Hour), 1)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := p.Verify(ctx, sols[i], "203.0.113.7", 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPowVerifyGarbage(b *testing.B) {
	p := NewPowIssuer(powTestKey, NewMemorySeen(), nil)
	ch := p.Issue("203.0.113.7", 20, time.Hour)
	forged := strings.Replace(ch, ch[10:11], "A", 1)
	if forged == ch {
		forged = strings.Replace(ch, ch[10:11], "B", 1)
	}
	cases := map[string]string{
		"junk":         strings.Repeat("x", 300),
		"forged":       forged + "~12345",
		"wrong-client": ch + "~12345",
		"not-solved":   powUnsolved(ch, 20),
	}
	ctx := context.Background()
	for name, sol := range cases {
		binding := "203.0.113.7"
		if name == "wrong-client" {
			binding = "203.0.113.8"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if p.Verify(ctx, sol, binding, 1) == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

func BenchmarkPowSolve(b *testing.B) {
	p := NewPowIssuer(powTestKey, NewMemorySeen(), nil)
	ch := p.Issue("x", 16, time.Hour)
	var tries int
	b.ReportAllocs()
	for range b.N {
		s := SolvePow(ch, 16)
		n, _ := strconv.Atoi(s[len(ch)+1:])
		tries += n + 1
		ch = p.Issue("x", 16, time.Hour)
	}
	b.ReportMetric(float64(tries)/b.Elapsed().Seconds()/1e6, "Mtries/s")
}
