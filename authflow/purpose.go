package authflow

import (
	"errors"
	"fmt"
	"slices"
)

// Purposes, one type per family. Their values are stored in one-time
// tokens (identity's payloads keep them as strings), so they never change:
// links in mailboxes, waits and ceremonies under way must still match
// after an upgrade. A stored value not listed here is refused, never read
// as a default.

// WaitPurpose is what a wait for a second factor is for.
type WaitPurpose string

const (
	// PurposeSignIn finishes a sign-in.
	PurposeSignIn WaitPurpose = "login"
	// PurposeStepUp returns to a page (a GET); PurposeResubmit asks the
	// customer to send again the form that needed the step-up.
	PurposeStepUp   WaitPurpose = "stepup"
	PurposeResubmit WaitPurpose = "stepup_resubmit"
	// PurposeReset sets the new password the wait holds.
	PurposeReset WaitPurpose = "reset"
)

// CeremonyPurpose is what a passkey ceremony is for; the HTTP side names
// it in the form that asks for one.
type CeremonyPurpose string

const (
	CeremonySignIn       CeremonyPurpose = "login"
	CeremonySecondFactor CeremonyPurpose = "mfa"
	CeremonyRegister     CeremonyPurpose = "register"
)

// SignUpPurpose is what a verification link's sign-up was: with a
// password (the zero value, stored as nothing), passkey-first, or by email
// alone. The last two are passwordless: confirmed in their own browser
// they sign in, anywhere else they only verify the address.
type SignUpPurpose string

const (
	PurposePasswordSignUp SignUpPurpose = ""
	// PurposePasskeySignUp marks the verification link of a passkey-first
	// sign-up.
	PurposePasskeySignUp SignUpPurpose = "passkey_signup"
	// PurposeEmailSignUp marks the verification link of a sign-up with no
	// password and no passkey: the mailbox is the way in (email links),
	// until the customer adds another on the account page.
	PurposeEmailSignUp SignUpPurpose = "email_signup"
)

// Passwordless reports a sign-up that chose no password.
func (p SignUpPurpose) Passwordless() bool { return p != PurposePasswordSignUp }

var (
	waitPurposes     = []WaitPurpose{PurposeSignIn, PurposeStepUp, PurposeResubmit, PurposeReset}
	ceremonyPurposes = []CeremonyPurpose{CeremonySignIn, CeremonySecondFactor, CeremonyRegister}
	signUpPurposes   = []SignUpPurpose{PurposePasswordSignUp, PurposePasskeySignUp, PurposeEmailSignUp}
)

// ErrUnknownPurpose is a purpose, stored or asked for, that its family
// does not have.
var ErrUnknownPurpose = errors.New("authflow: unknown purpose")

// parsePurpose returns s as a purpose of its family, if it is one.
func parsePurpose[P ~string](s string, known []P) (P, error) {
	if p := P(s); slices.Contains(known, p) {
		return p, nil
	}
	var zero P
	return zero, fmt.Errorf("%w %q (%T)", ErrUnknownPurpose, s, zero)
}
