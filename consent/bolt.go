package consent

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// Bucket layout in the shared bbolt file:
//
//	consent   customer id "\x00" big-endian sequence → Record (JSON)
//
// An anonymised customer's records sit under the pseudonym in place of the
// id.
var bktConsent = []byte("consent")

// BoltStore is the Store in a bbolt file, beside identity's and session's
// buckets.
type BoltStore struct{ db *bolt.DB }

// NewBoltStore creates the bucket if needed.
func NewBoltStore(db *bolt.DB) (*BoltStore, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bktConsent)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("consent: bolt: create bucket: %w", err)
	}
	return &BoltStore{db: db}, nil
}

func boltPrefix(id string) []byte { return append([]byte(id), 0) }

// Append implements Store.
func (s *BoltStore) Append(_ context.Context, r Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	buf, err := json.Marshal(r)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktConsent)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(boltPrefix(r.CustomerID), seq), buf)
	})
	if err != nil {
		return fmt.Errorf("consent: bolt: append: %w", err)
	}
	return nil
}

// Records implements Store.
func (s *BoltStore) Records(_ context.Context, customerID string) ([]Record, error) {
	if !rediskey.ValidID(customerID) {
		return nil, nil
	}
	var out []Record
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := boltPrefix(customerID)
		c := tx.Bucket(bktConsent).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("consent: bolt: records: %w", err)
	}
	return out, nil
}

// Anonymise implements Store: one transaction moves the records.
func (s *BoltStore) Anonymise(_ context.Context, customerID string, key []byte) error {
	if len(key) == 0 {
		return ErrNoKey
	}
	if !rediskey.ValidID(customerID) {
		return nil
	}
	pseudonym := Pseudonym(key, customerID)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktConsent)
		prefix := boltPrefix(customerID)
		var keys [][]byte
		var rs []Record
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			keys, rs = append(keys, bytes.Clone(k)), append(rs, r)
		}
		for i, r := range anonymised(rs, pseudonym) {
			buf, err := json.Marshal(r)
			if err != nil {
				return err
			}
			// The sequence is kept, so the order is too.
			seq := keys[i][len(prefix):]
			if err := b.Put(append(boltPrefix(pseudonym), seq...), buf); err != nil {
				return err
			}
			if err := b.Delete(keys[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("consent: bolt: anonymise: %w", err)
	}
	return nil
}

// Interface guards
var _ Store = (*BoltStore)(nil)
