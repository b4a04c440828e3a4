package storeopen

import (
	"context"
	"time"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Stores is an opened storage system.
type Stores struct {
	Identity identity.Store
	Sessions session.Store
	// Consent keeps consent records.
	Consent consent.Store
	// Outbox keeps webhook deliveries until their receivers took them.
	Outbox events.Outbox
	// AppendWithDeliveries, where the storage can, writes an audit-trail
	// entry and its webhook deliveries in one write (bolt: one sync
	// instead of two on the request path); nil: write them apart.
	AppendWithDeliveries func(ctx context.Context, customerID string, e identity.Event, webhooks []string, ev events.Event) error
	// Sweep deletes expired records where the storage does not expire them
	// itself; may be nil.
	Sweep func(ctx context.Context, now time.Time, idle time.Duration) error
	Close func() error
	// Edge-defence state: rate counters, the block list, used challenge
	// solutions. Nil means this process's memory.
	Counter *botdefense.Counter
	Blocks  botdefense.BlockList
	Seen    botdefense.Seen
}
