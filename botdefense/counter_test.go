package botdefense

import (
	"context"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// TestCounterRecent: a sliding estimate over the last period that a burst
// straddling a window edge does not split, on both stores.
func TestCounterRecent(t *testing.T) {
	r := redistest.Start(t)
	redisCounter, err := NewRedisCounter(r.Client(t), "fdtest:")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Counter{"memory": NewMemoryCounter(), "redis": redisCounter} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			edge := time.Date(2026, 11, 23, 12, 1, 0, 0, time.UTC) // a minute window's start
			add := func(at time.Time, n int64) {
				if _, _, err := c.Add(ctx, "k", n, time.Minute, at); err != nil {
					t.Fatal(err)
				}
			}
			recent := func(at time.Time) int64 {
				n, err := c.Recent(ctx, "k", time.Minute, at)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			add(edge.Add(-10*time.Second), 150) // the end of one window
			add(edge.Add(6*time.Second), 100)   // the start of the next
			if n, _ := c.Count(ctx, "k", time.Minute, edge.Add(6*time.Second)); n != 100 {
				t.Errorf("Count in the new window = %d, want 100", n)
			}
			if n := recent(edge.Add(6 * time.Second)); n != 100+150*54/60 {
				t.Errorf("Recent 6 s past the edge = %d, want %d", n, 100+150*54/60)
			}
			if n := recent(edge.Add(90 * time.Second)); n != 50 {
				t.Errorf("Recent a window and a half later = %d, want 50 (half of the previous window)", n)
			}
			if n := recent(edge.Add(3 * time.Minute)); n != 0 {
				t.Errorf("Recent long after = %d, want 0", n)
			}
		})
	}
}
