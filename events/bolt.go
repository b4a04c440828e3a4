package events

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BoltOutbox keeps each webhook's queue and dead letters in buckets of the
// gateway's bbolt file:
//
//	webhooks/<name>/q     sequence → delivery (JSON)
//	webhooks/<name>/dead  sequence → dead letter (JSON, capped at MaxDead)
//
// One bolt file serves one process, so the lease is this process's.
type BoltOutbox struct {
	db *bolt.DB

	mu     sync.Mutex
	leases map[string]lease
}

type lease struct {
	holder string
	until  time.Time
}

var bucketWebhooks = []byte("webhooks")

// NewBoltOutbox returns the outbox over db, creating its bucket.
func NewBoltOutbox(db *bolt.DB) (*BoltOutbox, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketWebhooks)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("events: bolt: %w", err)
	}
	return &BoltOutbox{db: db, leases: make(map[string]lease)}, nil
}

// bucket returns webhooks/<webhook>/<part>, made if create.
func bucket(tx *bolt.Tx, webhook, part string, create bool) (*bolt.Bucket, error) {
	root := tx.Bucket(bucketWebhooks)
	if !create {
		w := root.Bucket([]byte(webhook))
		if w == nil {
			return nil, nil
		}
		return w.Bucket([]byte(part)), nil
	}
	w, err := root.CreateBucketIfNotExists([]byte(webhook))
	if err != nil {
		return nil, err
	}
	return w.CreateBucketIfNotExists([]byte(part))
}

func seqKey(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

func keyString(k []byte) string { return strconv.FormatUint(binary.BigEndian.Uint64(k), 10) }

func parseKey(s string) ([]byte, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("events: bolt: bad key %q", s)
	}
	return seqKey(n), nil
}

// put appends d to b under its next sequence number.
func put(b *bolt.Bucket, d Delivery) error {
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	d.Key = ""
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return b.Put(seqKey(n), raw)
}

// Add implements Outbox.
func (o *BoltOutbox) Add(_ context.Context, webhooks []string, e Event) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("events: encode: %w", err)
	}
	if len(raw) > maxEventBytes {
		return ErrTooLarge
	}
	err = o.db.Update(func(tx *bolt.Tx) error { return AddTx(tx, webhooks, e) })
	if err != nil {
		return fmt.Errorf("events: outbox add: %w", err)
	}
	return nil
}

// AddTx is Add inside the caller's write transaction on the outbox's
// file (the gateway writes an audit-trail entry and its deliveries in one
// sync).
func AddTx(tx *bolt.Tx, webhooks []string, e Event) error {
	if raw, err := json.Marshal(e); err != nil || len(raw) > maxEventBytes {
		if err == nil {
			err = ErrTooLarge
		}
		return err
	}
	for _, w := range webhooks {
		b, err := bucket(tx, w, "q", true)
		if err != nil {
			return err
		}
		if err := put(b, Delivery{Event: e}); err != nil {
			return err
		}
	}
	return nil
}

// list reads up to limit deliveries of webhooks/<webhook>/<part>.
func (o *BoltOutbox) list(webhook, part string, limit int) ([]Delivery, error) {
	var out []Delivery
	err := o.db.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, webhook, part, false)
		if b == nil || err != nil {
			return err
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var d Delivery
			if json.Unmarshal(v, &d) != nil {
				continue
			}
			d.Key = keyString(k)
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events: outbox read: %w", err)
	}
	return out, nil
}

// Pending implements Outbox.
func (o *BoltOutbox) Pending(_ context.Context, webhook string, limit int) ([]Delivery, error) {
	return o.list(webhook, "q", limit)
}

// Dead implements Outbox.
func (o *BoltOutbox) Dead(_ context.Context, webhook string, limit int) ([]Delivery, error) {
	return o.list(webhook, "dead", limit)
}

// update runs fn on the queue bucket and the key of d.
func (o *BoltOutbox) update(webhook string, d Delivery, fn func(tx *bolt.Tx, q *bolt.Bucket, k []byte) error) error {
	k, err := parseKey(d.Key)
	if err != nil {
		return err
	}
	return o.db.Update(func(tx *bolt.Tx) error {
		q, err := bucket(tx, webhook, "q", true)
		if err != nil {
			return err
		}
		return fn(tx, q, k)
	})
}

// Done implements Outbox.
func (o *BoltOutbox) Done(_ context.Context, webhook string, ds []Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	err := o.db.Update(func(tx *bolt.Tx) error {
		q, err := bucket(tx, webhook, "q", true)
		if err != nil {
			return err
		}
		for _, d := range ds {
			k, err := parseKey(d.Key)
			if err != nil {
				return err
			}
			if err := q.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("events: outbox done: %w", err)
	}
	return nil
}

// Retry implements Outbox.
func (o *BoltOutbox) Retry(_ context.Context, webhook string, d Delivery) error {
	err := o.update(webhook, d, func(_ *bolt.Tx, q *bolt.Bucket, k []byte) error {
		if q.Get(k) == nil {
			return nil // delivered or buried meanwhile
		}
		d := d
		d.Key = ""
		raw, err := json.Marshal(d)
		if err != nil {
			return err
		}
		return q.Put(k, raw)
	})
	if err != nil {
		return fmt.Errorf("events: outbox retry: %w", err)
	}
	return nil
}

// Bury implements Outbox.
func (o *BoltOutbox) Bury(_ context.Context, webhook string, d Delivery) error {
	err := o.update(webhook, d, func(tx *bolt.Tx, q *bolt.Bucket, k []byte) error {
		if q.Get(k) == nil {
			return nil
		}
		if err := q.Delete(k); err != nil {
			return err
		}
		dead, err := bucket(tx, webhook, "dead", true)
		if err != nil {
			return err
		}
		if err := put(dead, d); err != nil {
			return err
		}
		// Capped: the oldest dead letters go first.
		c := dead.Cursor()
		for over := dead.Stats().KeyN - MaxDead; over > 0; over-- {
			k, _ := c.First()
			if err := c.Delete(); err != nil || k == nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("events: outbox bury: %w", err)
	}
	return nil
}

// Revive implements Outbox.
func (o *BoltOutbox) Revive(_ context.Context, webhook string, ids []string) (int, error) {
	n := 0
	err := o.db.Update(func(tx *bolt.Tx) error {
		dead, err := bucket(tx, webhook, "dead", true)
		if err != nil {
			return err
		}
		q, err := bucket(tx, webhook, "q", true)
		if err != nil {
			return err
		}
		var keys [][]byte
		c := dead.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var d Delivery
			if json.Unmarshal(v, &d) != nil || (len(ids) > 0 && !slices.Contains(ids, d.Event.ID)) {
				continue
			}
			if err := put(q, Delivery{Event: d.Event}); err != nil {
				return err
			}
			keys = append(keys, slices.Clone(k))
		}
		for _, k := range keys {
			if err := dead.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("events: outbox revive: %w", err)
	}
	return n, nil
}

// Counts implements Outbox.
func (o *BoltOutbox) Counts(_ context.Context, webhook string) (pending, dead int, err error) {
	err = o.db.View(func(tx *bolt.Tx) error {
		if b, _ := bucket(tx, webhook, "q", false); b != nil {
			pending = b.Stats().KeyN
		}
		if b, _ := bucket(tx, webhook, "dead", false); b != nil {
			dead = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("events: outbox counts: %w", err)
	}
	return pending, dead, nil
}

// Lease implements Outbox (this process's: one bolt file, one process).
func (o *BoltOutbox) Lease(_ context.Context, webhook, holder string, ttl time.Duration) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if l, ok := o.leases[webhook]; ok && l.holder != holder && now.Before(l.until) {
		return false, nil
	}
	o.leases[webhook] = lease{holder: holder, until: now.Add(ttl)}
	return true, nil
}

// Release implements Outbox.
func (o *BoltOutbox) Release(_ context.Context, webhook, holder string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.leases[webhook].holder == holder {
		delete(o.leases, webhook)
	}
	return nil
}

var _ Outbox = (*BoltOutbox)(nil)
