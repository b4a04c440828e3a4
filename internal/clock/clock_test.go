package clock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/clock"
)

func TestWallByDefault(t *testing.T) {
	for name, c := range map[string]*clock.Clock{"New": clock.New(), "zero": {}, "nil": nil} {
		before := time.Now()
		got := c.Now()
		if got.Before(before) || got.After(time.Now()) {
			t.Errorf("%s: Now() = %v, not wall time", name, got)
		}
	}
}

func TestSetMovesEveryHolder(t *testing.T) {
	c := clock.New()
	// Holders keep the method value, as the session manager and the
	// defences do: moving the clock afterwards must move them too.
	a, b := c.Now, c.Now
	at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	c.Set(func() time.Time { return at })
	if !a().Equal(at) || !b().Equal(at) {
		t.Fatalf("after Set: %v, %v; want %v", a(), b(), at)
	}
	c.Set(nil)
	if d := time.Since(a()); d < 0 || d > time.Minute {
		t.Fatalf("after Set(nil): %v is not wall time", a())
	}
}

// TestConcurrentSet runs under -race: tests move the clock while
// requests read it.
func TestConcurrentSet(t *testing.T) {
	c := clock.New()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 1000 {
				at := base.Add(time.Duration(i*1000+j) * time.Second)
				c.Set(func() time.Time { return at })
			}
		})
		wg.Go(func() {
			for range 1000 {
				if got := c.Now(); got.Before(base) && time.Since(got) > time.Minute {
					t.Errorf("Now() = %v: neither wall time nor a set time", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
