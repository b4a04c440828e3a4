package events

import (
	"context"
	"errors"
	"time"
)

// Delivery is an event waiting in one webhook's outbox, with what came of
// the attempts so far.
type Delivery struct {
	// Key is the delivery's place in the outbox (a stream entry id on
	// Redis, a sequence number on bbolt): queue order.
	Key   string `json:"key"`
	Event Event  `json:"event"`
	// Attempts made so far; First the time of the first, Next the time
	// before which no other is made.
	Attempts  int       `json:"attempts"`
	First     time.Time `json:"first_attempt,omitzero"`
	Next      time.Time `json:"next_attempt,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Dead is when the delivery gave up (dead letters only).
	Dead time.Time `json:"dead,omitzero"`
}

// Outbox keeps each webhook's deliveries durably (a Redis stream, a bbolt
// bucket), so an event survives a restart or a node crash until its
// receiver took it.
type Outbox interface {
	// Add appends the event to the queue of each webhook named, in one
	// write.
	Add(ctx context.Context, webhooks []string, e Event) error
	// Pending returns up to limit of a webhook's deliveries, oldest first.
	Pending(ctx context.Context, webhook string, limit int) ([]Delivery, error)
	// Done removes delivered ones, in one write.
	Done(ctx context.Context, webhook string, ds []Delivery) error
	// Retry records a failed attempt (Attempts, Next, LastError).
	Retry(ctx context.Context, webhook string, d Delivery) error
	// Bury moves a delivery from the queue to the webhook's dead letters.
	Bury(ctx context.Context, webhook string, d Delivery) error
	// Dead returns up to limit of a webhook's dead letters, oldest first.
	Dead(ctx context.Context, webhook string, limit int) ([]Delivery, error)
	// Revive puts the dead letters with the given event ids (none: all)
	// back at the end of the queue, attempts reset; it returns how many.
	Revive(ctx context.Context, webhook string, ids []string) (int, error)
	// Counts returns how many deliveries wait and how many are dead.
	Counts(ctx context.Context, webhook string) (pending, dead int, err error)
	// Lease takes or renews the right to deliver a webhook's events for
	// ttl; it reports false while another holder has it.
	Lease(ctx context.Context, webhook, holder string, ttl time.Duration) (bool, error)
	// Release gives the lease up, if holder has it.
	Release(ctx context.Context, webhook, holder string) error
}

// Bounds on what an outbox keeps.
const (
	// MaxDead is how many dead letters a webhook keeps; the oldest go.
	MaxDead = 10000
	// maxEventBytes bounds one stored event: a larger one is refused
	// rather than stored (events hold ids and short fields).
	maxEventBytes = 16 << 10
)

// ErrTooLarge refuses an event whose encoding exceeds maxEventBytes.
var ErrTooLarge = errors.New("events: event too large to store")

// ValidName reports whether name can name a webhook: 1–64 letters,
// digits, '_' and '-' (it is part of store keys).
func ValidName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
