package clock

import (
	"sync/atomic"
	"time"
)

// Clock tells the time. Its zero value, and a nil *Clock, tell wall time.
// Set replaces what it reads; Now and Set are safe to call at once from
// any number of goroutines.
type Clock struct {
	now atomic.Pointer[func() time.Time]
}

// New returns a Clock telling wall time.
func New() *Clock { return &Clock{} }

// Now returns the time.
func (c *Clock) Now() time.Time {
	if c != nil {
		if f := c.now.Load(); f != nil {
			return (*f)()
		}
	}
	return time.Now()
}

// Set makes the clock read now from then on (tests move time with it);
// nil goes back to wall time.
func (c *Clock) Set(now func() time.Time) {
	if now == nil {
		c.now.Store(nil)
		return
	}
	c.now.Store(&now)
}
