package botdefense

import (
	"context"
	"fmt"
	"time"
)

// ForgetAccount removes what the defences keep under an account (a
// normalised email) for the policies given: the account-limit counters of
// the windows still kept, and a block on the account. Used when the
// customer's account is erased. The distinct-account signal's counters
// ("seen", keyed by address and a hash of the account) cannot be found
// without the address; they expire within the policy's DistinctWindow.
func (d *Defender) ForgetAccount(ctx context.Context, policies []*Policy, account string) error {
	if account == "" {
		return nil
	}
	now := d.now()
	a := &Attempt{Account: account}
	for _, p := range policies {
		for _, l := range p.Limits {
			if l.Dimension != DimAccount {
				continue
			}
			key := counterKey(l, a)
			// A window's count is kept two periods (keep): the current
			// window and the two before it may still be stored.
			for back := range 3 {
				k, _ := windowKey(key, l.Period, now.Add(-l.Period*time.Duration(back)))
				if _, err := d.counter.store.Reset(ctx, k, keep(l.Period)); err != nil {
					return fmt.Errorf("botdefense: forget account counter: %w", err)
				}
			}
		}
	}
	// The failed sign-ins behind the risk signal recent_failures.
	for back := range 3 {
		k, _ := windowKey(signInFailureKey(account), FailureWindow, now.Add(-FailureWindow*time.Duration(back)))
		if _, err := d.counter.store.Reset(ctx, k, keep(FailureWindow)); err != nil {
			return fmt.Errorf("botdefense: forget account failures: %w", err)
		}
	}
	if err := d.blocks.Remove(ctx, BlockAccount, account); err != nil {
		return fmt.Errorf("botdefense: forget account block: %w", err)
	}
	return nil
}
