package oidcrp

import (
	"fmt"
	"time"
)

// StartOptions ask more of the sign-in at the provider.
type StartOptions struct {
	// Prompt is sent as prompt (none, login).
	Prompt string
	// MaxAge > 0 is sent as max_age (seconds): the customer must have
	// signed in at the provider within it; Finish checks auth_time.
	MaxAge int64
	// ACR is sent as acr_values; Finish checks the ID token's acr is it
	// (or, for aal1, any of aal1 and aal2).
	ACR string
}

// checkAsked checks the ID token meets what the attempt asked (max_age,
// acr_values): a provider may ignore both, so the answer is checked, not
// trusted (OpenID Connect Core 3.1.2.1, 3.1.3.7).
func checkAsked(a Attempt, id *Identity, now time.Time) error {
	if a.MaxAge > 0 {
		if id.AuthTime.IsZero() {
			return fmt.Errorf("%w: max_age was asked and the ID token has no auth_time", ErrInvalidResponse)
		}
		if id.AuthTime.After(now.Add(clockSkew)) || now.Sub(id.AuthTime) > time.Duration(a.MaxAge)*time.Second+clockSkew {
			return fmt.Errorf("%w: the sign-in at the provider is older than the max_age asked", ErrInvalidResponse)
		}
	}
	if a.ACR != "" && !acrMeets(id.ACR, a.ACR) {
		return fmt.Errorf("%w: acr %q does not meet the %q asked", ErrInvalidResponse, safeWord(id.ACR), a.ACR)
	}
	return nil
}

// acrMeets: aal2 meets aal2 and aal1; anything else must be equal.
func acrMeets(got, want string) bool {
	return got == want || (want == "aal1" && got == "aal2")
}
