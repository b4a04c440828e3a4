package botdefense

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/store/memory"
)

// TestMemoryStoreBounded: a flood of new keys never holds more than the
// cap; the least recently used go first, so a key in use all along keeps
// its count; evictions are counted.
func TestMemoryStoreBounded(t *testing.T) {
	const capKeys = 1024
	s := NewMemoryStore(capKeys)
	ctx := context.Background()
	rate := limiter.Rate{Period: time.Hour, Limit: unlimited}
	for i := range 100_000 {
		if _, err := s.Increment(ctx, fmt.Sprintf("flood|%d", i), 1, rate); err != nil {
			t.Fatal(err)
		}
		if i%16 == 0 {
			if _, err := s.Increment(ctx, "hot", 1, rate); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := s.Stats()
	if st.Keys > capKeys || st.Capacity != capKeys || st.Evicted < 100_000-capKeys {
		t.Fatalf("stats %+v, want at most %d keys and about %d evictions", st, capKeys, 100_000-capKeys)
	}
	lc, err := s.Peek(ctx, "hot", rate)
	if err != nil {
		t.Fatal(err)
	}
	if n := unlimited - lc.Remaining; n != 100_000/16 {
		t.Fatalf("the hot key counts %d, want %d", n, 100_000/16)
	}
	if lc, _ := s.Peek(ctx, "flood|0", rate); lc.Remaining != unlimited {
		t.Fatal("the oldest flood key survived")
	}
}

// TestMemoryStoreExpiry: a counter starts again from zero once its period
// is over, and expired counters make room without counting as evictions.
func TestMemoryStoreExpiry(t *testing.T) {
	s := NewMemoryStore(memShards) // one key per shard
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	rate := limiter.Rate{Period: time.Minute, Limit: 5}
	for range 7 {
		if _, err := s.Increment(ctx, "k", 1, rate); err != nil {
			t.Fatal(err)
		}
	}
	if lc, _ := s.Peek(ctx, "k", rate); !lc.Reached || lc.Remaining != 0 || lc.Reset != now.Add(time.Minute).Unix() {
		t.Fatalf("after 7 of 5: %+v", lc)
	}
	now = now.Add(time.Minute)
	if lc, _ := s.Peek(ctx, "k", rate); lc.Remaining != 5 {
		t.Fatalf("expired counter peeks %+v", lc)
	}
	if lc, _ := s.Increment(ctx, "k", 2, rate); lc.Remaining != 3 {
		t.Fatalf("expired counter restarts at %+v", lc)
	}
	now = now.Add(time.Hour)
	for i := range 200 {
		if _, err := s.Increment(ctx, fmt.Sprint(i), 1, rate); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Minute) // each key expired before the next comes
	}
	if st := s.Stats(); st.Evicted != 0 || st.Keys > memShards {
		t.Fatalf("expired keys only: %+v", st)
	}
	if _, err := s.Reset(ctx, "199", rate); err != nil {
		t.Fatal(err)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":             "192.0.2.1",
		"::ffff:192.0.2.1":      "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":  "2001:db8:1:2::/64",
		"2001:db8:1:2::ffff":    "2001:db8:1:2::/64",
		"fe80::1%eth0":          "fe80::/64",
		"not an address":        "not an address",
		"2001:db8:1:2ff::1":     "2001:db8:1:2ff::/64",
		"2001:db8:1:2ff:0:0:0:": "2001:db8:1:2ff:0:0:0:", // unparsable: itself
	} {
		if got := ClientKey(in); got != want {
			t.Errorf("ClientKey(%q) = %q, want %q", in, got, want)
		}
	}
	if Prefix("::ffff:192.0.2.1") != "192.0.2.0/24" || Unmapped("::ffff:192.0.2.1") != "192.0.2.1" {
		t.Error("mapped IPv4 is IPv4")
	}
}

// TestCheckPrefixBeforeAddress: addresses of one /64 share their ip
// limit, and an attempt refused at its network's limit creates no
// counter for its address.
func TestCheckPrefixBeforeAddress(t *testing.T) {
	d, _ := newTestDefender(t)
	p := quietPolicy()
	p.Limits = []Limit{{RouteLogin, DimIP, 3, time.Minute}, {RouteLogin, DimPrefix, 10, time.Minute}}
	for i := 1; i <= 4; i++ {
		dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: fmt.Sprintf("2001:db8:1:1::%x", i)})
		if want := map[bool]Action{true: Limited, false: Allow}[i > 3]; dec.Action != want {
			t.Fatalf("attempt %d of one /64: %v, want %v", i, dec.Action, want)
		}
		if i == 4 && dec.Key != "ip 2001:db8:1:1::/64" {
			t.Fatalf("key %q", dec.Key)
		}
	}
	for i := range 6 {
		check(t, d, &p, Attempt{Route: RouteLogin, IP: fmt.Sprintf("2001:db8:1:%x::1", 0x10+i)})
	}
	before, _ := d.CounterStats()
	for i := range 1000 {
		dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: fmt.Sprintf("2001:db8:1:%x::1", 0x20+i%0xd0)})
		if dec.Action != Limited || dec.Key != "prefix 2001:db8:1::/56" {
			t.Fatalf("past the /56's limit: %+v", dec)
		}
	}
	if after, _ := d.CounterStats(); after.Keys != before.Keys {
		t.Fatalf("1,000 attempts refused at their prefix grew the counters from %d to %d keys", before.Keys, after.Keys)
	}
}

// heapMB is the live heap after a collection, in MB.
func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / 1e6
}

// BenchmarkCounterFlood: b.N new client addresses each add to their own
// `ip` counter (a flood from that many networks: the worst case, where
// no /64 or prefix reading helps), on the ulule/limiter memory store the
// counter used before and on the bounded one. Reports the live heap
// before and after (heap-MB-before, heap-MB-after) and the keys held; run
// with -benchtime 1000000x for the 1M-address flood of docs/BENCHMARKS.md.
func BenchmarkCounterFlood(b *testing.B) {
	stores := []struct {
		name string
		new  func() *Counter
	}{
		{"ulule-memory", func() *Counter {
			return &Counter{store: memory.NewStoreWithOptions(limiter.StoreOptions{Prefix: "fd", CleanUpInterval: time.Minute})}
		}},
		{"bounded", NewMemoryCounter},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			before := heapMB()
			c := st.new()
			ctx := context.Background()
			now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
			base := netip.MustParseAddr("2001:db8::").As16()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				a := base
				a[4], a[5], a[6], a[7] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i) // a new /64 each
				if _, _, err := c.Add(ctx, "l|login|ip|"+ClientKey(netip.AddrFrom16(a).String()), 1, 5*time.Minute, now); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			after := heapMB()
			b.ReportMetric(before, "heap-MB-before")
			b.ReportMetric(after, "heap-MB-after")
			if s, ok := c.Stats(); ok {
				b.ReportMetric(float64(s.Keys), "keys")
			}
			runtime.KeepAlive(c)
		})
	}
}
