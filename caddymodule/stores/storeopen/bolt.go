package storeopen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Bolt opens the bbolt file at path, creating it and its directory if
// needed, and returns the stores over it. Edge-defence state stays in this
// process's memory: one bolt file serves one gateway process.
func Bolt(_ context.Context, path string) (*Stores, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("frontdoor: store bolt: %w", err)
	}
	// A second process holding the file is a misconfiguration (two
	// gateways on one bolt file): fail fast instead of hanging.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("frontdoor: store bolt: open %s: %w", path, err)
	}
	ids, err := identity.NewBoltStore(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	sess, err := session.NewBoltStore(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	cons, err := consent.NewBoltStore(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	outbox, err := events.NewBoltOutbox(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Stores{
		Outbox: outbox,
		AppendWithDeliveries: func(_ context.Context, customerID string, e identity.Event, webhooks []string, ev events.Event) error {
			err := db.Update(func(tx *bolt.Tx) error {
				if err := identity.AppendEventTx(tx, customerID, e); err != nil {
					return err
				}
				return events.AddTx(tx, webhooks, ev)
			})
			if err != nil {
				return fmt.Errorf("frontdoor: store bolt: append event: %w", err)
			}
			return nil
		},
		Identity: ids,
		Sessions: sess,
		Consent:  cons,
		Sweep: func(ctx context.Context, now time.Time, idle time.Duration) error {
			if _, err := ids.SweepExpired(ctx, now); err != nil {
				return err
			}
			if _, err := sess.SweepExpired(ctx, now, idle); err != nil {
				return err
			}
			_, err := sess.SweepEnded(ctx, now)
			return err
		},
		Close: db.Close,
	}, nil
}
