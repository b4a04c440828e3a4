package botdefense

import (
	"context"
	"time"
)

// FailureWindow is how far back an account's failed sign-ins count for
// the adaptive-risk signal recent_failures (a sliding window).
const FailureWindow = time.Hour

func signInFailureKey(account string) string { return "f|signin|" + hashKey(account) }

// NoteSignInFailure counts a failed password sign-in against account (the
// normalised address; kept as a hash), known to the store or not — the
// caller must not answer differently for either.
func (d *Defender) NoteSignInFailure(ctx context.Context, account string) error {
	if account == "" {
		return nil
	}
	_, _, err := d.counter.Add(ctx, signInFailureKey(account), 1, FailureWindow, d.Now())
	return err
}

// SignInFailures estimates account's failed sign-ins over the last
// FailureWindow (every node's, with a shared store).
func (d *Defender) SignInFailures(ctx context.Context, account string) (int, error) {
	if account == "" {
		return 0, nil
	}
	n, err := d.counter.Recent(ctx, signInFailureKey(account), FailureWindow, d.Now())
	return int(n), err
}
