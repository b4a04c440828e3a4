package botdefense

import (
	"context"
	"time"
)

// Some routes count an account's failures, not its attempts: a second
// factor is answered right every time its owner signs in, and a device's
// user code every time its owner connects a device; only wrong answers
// are guesses. Their account limits are read by FailuresOver
// before the answer is checked and counted by RecordFailure after a wrong
// one; Check leaves them alone.

// failureCounted reports whether route's account limits count failures.
func failureCounted(route string) bool { return route == RouteStepUp || route == RouteCode }

// FailuresOver reports whether account has reached a failure-counted
// account limit of route, and how long until the window it is over in
// ends.
func (d *Defender) FailuresOver(ctx context.Context, p *Policy, route, account string) (bool, time.Duration, error) {
	if account == "" || !failureCounted(route) {
		return false, 0, nil
	}
	now := d.Now()
	a := Attempt{Route: route, Account: account}
	for _, l := range p.Limits {
		if l.Route != route || l.Dimension != DimAccount {
			continue
		}
		n, err := d.counter.Count(ctx, counterKey(l, &a), l.Period, now)
		if err != nil {
			return false, 0, err
		}
		if n >= l.Count {
			_, end := windowKey("", l.Period, now)
			d.offend(offenderKey(l, &a))
			return true, end.Sub(now), nil
		}
	}
	return false, 0, nil
}

// RecordFailure counts a wrong answer of account on route against its
// failure-counted account limits.
func (d *Defender) RecordFailure(ctx context.Context, p *Policy, route, account string) error {
	if account == "" || !failureCounted(route) {
		return nil
	}
	now := d.Now()
	a := Attempt{Route: route, Account: account}
	for _, l := range p.Limits {
		if l.Route == route && l.Dimension == DimAccount {
			if _, _, err := d.counter.Add(ctx, counterKey(l, &a), 1, l.Period, now); err != nil {
				return err
			}
		}
	}
	return nil
}
