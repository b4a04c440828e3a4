package identity

import (
	"context"
	"time"
)

// Store persists customers and one-time tokens. Implementations must be safe
// for concurrent use; every method that changes more than one record does so
// atomically. The behaviour every implementation must show is written down
// as the table in identity/storetest.
type Store interface {
	// CreateCustomer stores a new customer, who needs an id and an email
	// or a phone (a phone-only customer has Email ""); ErrEmailTaken if
	// the email is already used by another customer, ErrPhoneTaken if the
	// phone is.
	CreateCustomer(ctx context.Context, c *Customer) error
	// Customer returns the customer with the id, or ErrNotFound.
	Customer(ctx context.Context, id string) (*Customer, error)
	// CustomerByEmail returns the customer with the normalised email, or
	// ErrNotFound (always for "": phone-only customers are not indexed by
	// email).
	CustomerByEmail(ctx context.Context, email string) (*Customer, error)
	// UpdateCustomer applies fn to the stored customer atomically and stores
	// the result. fn must not change ID or Email. ErrNotFound if absent.
	UpdateCustomer(ctx context.Context, id string, fn func(*Customer) error) (*Customer, error)

	// ChangeEmail gives the customer a new (normalised, verified) address:
	// the email index moves with it atomically (a customer who had none
	// only claims the new one); ErrEmailTaken if another customer has the
	// address, ErrNotFound if the customer is gone.
	ChangeEmail(ctx context.Context, id, email string) (*Customer, error)

	// PutToken stores a one-time token under its hash.
	PutToken(ctx context.Context, t *Token) error
	// ConsumeToken removes and returns the token of that kind and hash if it
	// exists and has not expired at now; ErrNotFound otherwise. Two
	// concurrent calls for one token never both succeed.
	ConsumeToken(ctx context.Context, kind TokenKind, hash []byte, now time.Time) (*Token, error)

	// The phone number index.
	PhoneStore

	// Linked provider identities ("Continue with Google").
	IdentityStore

	// Personal API keys.
	APIKeyStore

	// The customer's append-only security audit trail.
	Auditor

	// Export and erasure of everything kept of a customer.
	Eraser

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
}
