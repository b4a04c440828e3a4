package identity

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket layout of the bbolt store. Every multi-record change happens in one
// bbolt transaction, so it is atomic.
//
//	customers      id → Customer (JSON)
//	customer_email normalised email → id (no entry for a phone-only customer)
//	tokens         kind "/" hash → Token (JSON)
//	audit          customer id "\x00" big-endian sequence → Event (JSON)
//	customer_identity identityKey(issuer, subject) → id
//	erasure_due    id → big-endian Unix ms of the deletion (grace period)
//	customer_api_key SHA-256 of an API key → id
//	customer_phone E.164 phone number → id
var (
	bktCustomers = []byte("customers")
	bktEmails    = []byte("customer_email")
	bktTokens    = []byte("tokens")
	bktAudit     = []byte("audit")
	bktIdentity  = []byte("customer_identity")
	bktErasure   = []byte("erasure_due")
	bktAPIKeys   = []byte("customer_api_key")
	bktPhones    = []byte("customer_phone")
)

// BoltStore is the embedded Store. The *bolt.DB is shared with the session
// store and owned by whoever opened it.
type BoltStore struct {
	db *bolt.DB
}

// NewBoltStore creates the buckets it needs in db.
func NewBoltStore(db *bolt.DB) (*BoltStore, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bktCustomers, bktEmails, bktTokens, bktAudit, bktIdentity, bktErasure, bktAPIKeys, bktPhones} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("identity: bolt: create buckets: %w", err)
	}
	return &BoltStore{db: db}, nil
}

// CreateCustomer implements Store.
func (s *BoltStore) CreateCustomer(_ context.Context, c *Customer) error {
	if c.ID == "" || c.Email == "" && c.Phone == "" {
		return errors.New("identity: bolt: customer needs an id and an email or a phone")
	}
	if c.Phone != "" && !phoneValid(c.Phone) {
		return ErrBadPhone
	}
	buf, err := json.Marshal(c)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		// A phone-only customer (no address) has no email index entry;
		// the phone index below is their unique key.
		emails := tx.Bucket(bktEmails)
		if c.Email != "" && emails.Get([]byte(c.Email)) != nil {
			return ErrEmailTaken
		}
		customers := tx.Bucket(bktCustomers)
		if customers.Get([]byte(c.ID)) != nil {
			return fmt.Errorf("identity: bolt: customer id %q exists", c.ID)
		}
		if c.Email != "" {
			if err := emails.Put([]byte(c.Email), []byte(c.ID)); err != nil {
				return err
			}
		}
		if c.Phone != "" {
			phones := tx.Bucket(bktPhones)
			if phones.Get([]byte(c.Phone)) != nil {
				return ErrPhoneTaken
			}
			if err := phones.Put([]byte(c.Phone), []byte(c.ID)); err != nil {
				return err
			}
		}
		idx := tx.Bucket(bktIdentity)
		for _, li := range c.Identities {
			k := []byte(identityKey(li.Issuer, li.Subject))
			if idx.Get(k) != nil {
				return ErrIdentityTaken
			}
			if err := idx.Put(k, []byte(c.ID)); err != nil {
				return err
			}
		}
		return customers.Put([]byte(c.ID), buf)
	})
	if err != nil && !errors.Is(err, ErrEmailTaken) && !errors.Is(err, ErrIdentityTaken) && !errors.Is(err, ErrPhoneTaken) {
		return fmt.Errorf("identity: bolt: create customer: %w", err)
	}
	return err
}

// boltErr wraps a bbolt failure with the operation; ErrNotFound passes
// through as is.
func boltErr(op string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("identity: bolt: %s: %w", op, err)
}

// Customer implements Store.
func (s *BoltStore) Customer(_ context.Context, id string) (*Customer, error) {
	var c *Customer
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		c, err = getCustomer(tx, id)
		return err
	})
	return c, boltErr("customer", err)
}

// CustomerByEmail implements Store.
func (s *BoltStore) CustomerByEmail(_ context.Context, email string) (*Customer, error) {
	if email == "" {
		return nil, ErrNotFound // phone-only customers have no address
	}
	var c *Customer
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		id := tx.Bucket(bktEmails).Get([]byte(email))
		if id == nil {
			return ErrNotFound
		}
		c, err = getCustomer(tx, string(id))
		return err
	})
	return c, boltErr("customer by email", err)
}

func getCustomer(tx *bolt.Tx, id string) (*Customer, error) {
	v := tx.Bucket(bktCustomers).Get([]byte(id))
	if v == nil {
		return nil, ErrNotFound
	}
	var c Customer
	if err := json.Unmarshal(v, &c); err != nil {
		return nil, fmt.Errorf("identity: bolt: decode customer %q: %w", id, err)
	}
	return &c, nil
}

// UpdateCustomer implements Store.
func (s *BoltStore) UpdateCustomer(_ context.Context, id string, fn func(*Customer) error) (*Customer, error) {
	var out *Customer
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCustomer(tx, id)
		if err != nil {
			return err
		}
		linked, keys, phone, email := identityKeys(c), apiKeyHashes(c), c.Phone, c.Email
		if err := fn(c); err != nil {
			return err
		}
		if identityKeys(c) != linked {
			return errors.New("identity: linked identities change only through LinkIdentity and UnlinkIdentity")
		}
		if apiKeyHashes(c) != keys {
			return errors.New("identity: API keys change only through AddAPIKey and RevokeAPIKey")
		}
		if c.ID != id {
			return errors.New("identity: update must not change a customer's id")
		}
		if c.Phone != phone {
			return errors.New("identity: a phone number changes only through SetPhone")
		}
		// Compared with the record, not the index: a phone-only customer
		// has no index entry for "".
		if c.Email != email {
			return errors.New("identity: update must not change a customer's email")
		}
		buf, err := json.Marshal(c)
		if err != nil {
			return err
		}
		out = c
		return tx.Bucket(bktCustomers).Put([]byte(id), buf)
	})
	return out, err // fn's own error, or a bbolt failure
}

// ChangeEmail implements Store.
func (s *BoltStore) ChangeEmail(_ context.Context, id, email string) (*Customer, error) {
	if email == "" {
		return nil, ErrBadEmail
	}
	var out *Customer
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCustomer(tx, id)
		if err != nil {
			return err
		}
		emails := tx.Bucket(bktEmails)
		if owner := emails.Get([]byte(email)); owner != nil && string(owner) != id {
			return ErrEmailTaken
		}
		// A phone-only customer adding an address has no old entry to
		// release.
		if c.Email != "" && c.Email != email && string(emails.Get([]byte(c.Email))) == id {
			if err := emails.Delete([]byte(c.Email)); err != nil {
				return err
			}
		}
		if err := emails.Put([]byte(email), []byte(id)); err != nil {
			return err
		}
		c.Email, c.EmailVerified = email, true
		out = c
		return putCustomer(tx, c)
	})
	if err != nil {
		return nil, boltErr("change email", err)
	}
	return out, nil
}

func tokenKey(kind TokenKind, hash []byte) []byte {
	k := make([]byte, 0, len(kind)+1+len(hash))
	k = append(k, kind...)
	k = append(k, '/')
	return append(k, hash...)
}

// PutToken implements Store.
func (s *BoltStore) PutToken(_ context.Context, t *Token) error {
	buf, err := json.Marshal(t)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bktTokens).Put(tokenKey(t.Kind, t.Hash), buf)
	})
	if err != nil {
		return fmt.Errorf("identity: bolt: put token: %w", err)
	}
	return nil
}

// ConsumeToken implements Store.
func (s *BoltStore) ConsumeToken(_ context.Context, kind TokenKind, hash []byte, now time.Time) (*Token, error) {
	var t Token
	valid := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktTokens)
		k := tokenKey(kind, hash)
		v := b.Get(k)
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("identity: bolt: decode token: %w", err)
		}
		if err := b.Delete(k); err != nil {
			return err
		}
		// An expired token is deleted too: the transaction must commit.
		valid = now.Before(t.ExpiresAt) && bytes.Equal(t.Hash, hash)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !valid {
		return nil, ErrNotFound
	}
	return &t, nil
}

// SweepExpired deletes expired tokens; the gateway calls it periodically.
func (s *BoltStore) SweepExpired(_ context.Context, now time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktTokens).Cursor()
		for k, v := c.First(); k != nil; {
			var t Token
			if json.Unmarshal(v, &t) == nil && now.Before(t.ExpiresAt) {
				k, v = c.Next()
				continue
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n++
			k, v = c.Seek(k)
		}
		return nil
	})
	return n, err
}

// AppendEvent implements Auditor.
func (s *BoltStore) AppendEvent(_ context.Context, customerID string, e Event) error {
	return boltErr("append event", s.db.Update(func(tx *bolt.Tx) error { return AppendEventTx(tx, customerID, e) }))
}

// AppendEventTx is AppendEvent inside the caller's write transaction on
// the store's file (the gateway writes a trail entry and its webhook
// deliveries in one sync).
func AppendEventTx(tx *bolt.Tx, customerID string, e Event) error {
	buf, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b := tx.Bucket(bktAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	prefix := append([]byte(customerID), 0)
	if err := b.Put(binary.BigEndian.AppendUint64(bytes.Clone(prefix), seq), buf); err != nil {
		return err
	}
	// Keep the newest MaxEvents.
	var n int
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	for k, _ := c.Seek(prefix); n > MaxEvents && k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := b.Delete(k); err != nil {
			return err
		}
		n--
	}
	return nil
}

// Events implements Auditor.
func (s *BoltStore) Events(_ context.Context, customerID string, limit int) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := append([]byte(customerID), 0)
		c := tx.Bucket(bktAudit).Cursor()
		// Walk backwards from the end of the customer's range.
		var k, v []byte
		if after, _ := c.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)); after == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Prev() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, boltErr("events", err)
}

// Ping implements Store.
func (s *BoltStore) Ping(context.Context) error {
	return s.db.View(func(*bolt.Tx) error { return nil })
}

// Interface guards
var _ Store = (*BoltStore)(nil)
