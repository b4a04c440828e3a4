package identity

import (
	"context"
	"time"
)

// Event is one entry of a customer's security audit trail: append-only,
// kept in the store with the customer, shown to them and exported with
// their data.
type Event struct {
	// ID is the event's id (events.NewID): the same in the trail, the
	// audit stream and every webhook delivery of it. Empty in entries
	// recorded before events had ids.
	ID        string    `json:"id,omitempty"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"` // e.g. password_reset, signed_out_everywhere
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	// Detail names what the event was about (the provider of a linked
	// identity); never a secret.
	Detail string `json:"detail,omitempty"`
}

// Kinds of security events.
const (
	EventPasswordReset       = "password_reset"
	EventSignedOutEverywhere = "signed_out_everywhere"
	EventTOTPAdded           = "totp_added"
	EventTOTPRemoved         = "totp_removed"
	EventRecoveryCodesNew    = "recovery_codes_generated"
	EventRecoveryCodeUsed    = "recovery_code_used"
	EventPasskeyAdded        = "passkey_added"
	EventPasskeyRemoved      = "passkey_removed"
	EventPasskeyFlagged      = "passkey_counter_rollback"
	EventSecondFactorFailed  = "second_factor_failed"
	EventDevicesForgotten    = "trusted_devices_forgotten"
	EventIdentityLinked      = "identity_linked"
	EventIdentityUnlinked    = "identity_unlinked"
	EventEmailChanged        = "email_changed"
	EventSignedIn            = "signed_in"
	EventSignInFailed        = "signin_failed"
	EventSessionRevoked      = "session_revoked"
	EventProfileUpdated      = "profile_updated"
	// The phone number: added (or verified again), changed to another,
	// removed. Detail is the number masked (sms.MaskNumber), never whole.
	EventPhoneAdded   = "phone_added"
	EventPhoneChanged = "phone_changed"
	EventPhoneRemoved = "phone_removed"
	// A code texted to the verified phone as a second factor: turned on,
	// turned off (by the customer, or with the number's removal).
	EventSMSFactorAdded   = "sms_factor_added"
	EventSMSFactorRemoved = "sms_factor_removed"
	// EventMigrated: the account was created from a legacy system that
	// vouched for its password (Detail names the mechanism, legacy_auth).
	EventMigrated = "migrated"
)

// MaxEvents is how many events a customer's trail keeps; the oldest go
// first, so a script cannot grow the store without bound.
const MaxEvents = 1000

// Auditor is the audit-trail part of a Store.
type Auditor interface {
	// AppendEvent adds an event to the customer's trail.
	AppendEvent(ctx context.Context, customerID string, e Event) error
	// Events returns up to limit of the customer's most recent events,
	// newest first.
	Events(ctx context.Context, customerID string, limit int) ([]Event, error)
}
