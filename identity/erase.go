package identity

import (
	"context"
	"time"
)

// Eraser is the part of a Store that lets a customer take their data and
// leave: what else it keeps of them besides the record (their pending
// one-time tokens), and the deletion of all of it.
type Eraser interface {
	// PendingTokens returns the one-time tokens issued for the customer
	// that the store still holds (live or not yet collected).
	PendingTokens(ctx context.Context, customerID string) ([]*Token, error)
	// DeleteCustomer removes the customer and everything the store keeps
	// of them: the record (profile, credentials, remembered devices, linked
	// identities), the email index, the linked-identity index, the
	// one-time tokens issued for them and their audit trail. ErrNotFound if
	// there is no such customer. The address can register again at once.
	DeleteCustomer(ctx context.Context, id string) error
	// ScheduleErasure marks the customer for deletion at at (zero:
	// unmark); ErrNotFound if absent.
	ScheduleErasure(ctx context.Context, id string, at time.Time) error
	// DueErasures returns up to limit ids of customers marked for
	// deletion at or before now.
	DueErasures(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// ErasureLog is the pseudo customer id under which the store's Auditor
// keeps the record of erasures: one event per erased account, holding no
// personal data. No customer can have it (NewID makes "u_…").
const ErasureLog = "_erasures"

// Kinds of events about taking one's data and leaving.
const (
	EventExported         = "data_exported"
	EventErasureScheduled = "erasure_scheduled"
	EventErasureCancelled = "erasure_cancelled"
	// EventCustomerErased is the one entry in ErasureLog per account
	// deleted.
	EventCustomerErased = "customer_erased"
	// EventAdminLookup: an operator looked the customer up by email.
	EventAdminLookup = "admin_lookup"
	// EventImported: the customer was imported from a legacy system
	// (detail: the password hash's scheme).
	EventImported = "imported"
)

// Events of assisted service (a support agent helping the customer).
const (
	// EventAgentLookup: a support agent opened a case on the customer
	// (detail: the agent's id).
	EventAgentLookup = "agent_lookup"
	// EventAgentVerified: the caller read back the code (detail: agent).
	EventAgentVerified = "agent_verified"
	// EventAgentVerifyFailed: too many wrong codes; the case is closed.
	EventAgentVerifyFailed = "agent_verify_failed"
	// EventAgentAction: a support agent acted on the account (detail:
	// "<action> agent=<id> ticket=<ticket> reason=<reason>").
	EventAgentAction = "agent_action"
	// EventFactorRemovalAsked: a support agent asked to remove the
	// customer's second factors (detail: agent, when, or "approval").
	EventFactorRemovalAsked = "factor_removal_asked"
	// EventFactorRemovalCancelled: the customer cancelled it.
	EventFactorRemovalCancelled = "factor_removal_cancelled"
	// EventFactorsRemoved: the second factors were removed (detail: how).
	EventFactorsRemoved = "factors_removed"
	// EventAgentViewAs: a support agent began a session as the customer,
	// with the code the customer gave them (detail: agent).
	EventAgentViewAs = "agent_view_as"
	// EventAgentActed: on the agent's own trail, what they did for whom
	// (detail: "<action> customer=<id> ticket=… reason=…").
	EventAgentActed = "agent_acted"
)
