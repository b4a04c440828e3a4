package identity

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PendingTokens implements Eraser. Tokens are keyed by their hash, so the
// customer's are found by reading the bucket: it holds only short-lived
// records, swept as they expire.
func (s *BoltStore) PendingTokens(_ context.Context, customerID string) ([]*Token, error) {
	var out []*Token
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktTokens).ForEach(func(_, v []byte) error {
			var t Token
			if json.Unmarshal(v, &t) == nil && t.CustomerID == customerID {
				out = append(out, &t)
			}
			return nil
		})
	})
	return out, boltErr("pending tokens", err)
}

// DeleteCustomer implements Eraser: one transaction.
func (s *BoltStore) DeleteCustomer(_ context.Context, id string) error {
	return boltErr("delete customer", s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCustomer(tx, id)
		if err != nil {
			return err
		}
		emails := tx.Bucket(bktEmails)
		if c.Email != "" && string(emails.Get([]byte(c.Email))) == id {
			if err := emails.Delete([]byte(c.Email)); err != nil {
				return err
			}
		}
		if c.Phone != "" {
			phones := tx.Bucket(bktPhones)
			if string(phones.Get([]byte(c.Phone))) == id {
				if err := phones.Delete([]byte(c.Phone)); err != nil {
					return err
				}
			}
		}
		idx := tx.Bucket(bktIdentity)
		for _, li := range c.Identities {
			k := []byte(identityKey(li.Issuer, li.Subject))
			if string(idx.Get(k)) == id {
				if err := idx.Delete(k); err != nil {
					return err
				}
			}
		}
		keys := tx.Bucket(bktAPIKeys)
		for _, k := range c.APIKeys {
			if string(keys.Get(k.Hash)) == id {
				if err := keys.Delete(k.Hash); err != nil {
					return err
				}
			}
		}
		toks := tx.Bucket(bktTokens).Cursor()
		for k, v := toks.First(); k != nil; {
			var t Token
			if json.Unmarshal(v, &t) != nil || t.CustomerID != id {
				k, v = toks.Next()
				continue
			}
			if err := toks.Delete(); err != nil {
				return err
			}
			k, v = toks.Seek(k)
		}
		prefix := append([]byte(id), 0)
		audit := tx.Bucket(bktAudit).Cursor()
		for k, _ := audit.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = audit.Seek(prefix) {
			if err := audit.Delete(); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bktErasure).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bktCustomers).Delete([]byte(id))
	}))
}

// ScheduleErasure implements Eraser.
func (s *BoltStore) ScheduleErasure(_ context.Context, id string, at time.Time) error {
	return boltErr("schedule erasure", s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCustomer(tx, id)
		if err != nil {
			return err
		}
		c.ErasureAt = at.UTC()
		due := tx.Bucket(bktErasure)
		if at.IsZero() {
			c.ErasureAt = time.Time{}
			if err := due.Delete([]byte(id)); err != nil {
				return err
			}
		} else if err := due.Put([]byte(id), binary.BigEndian.AppendUint64(nil, uint64(at.UnixMilli()))); err != nil {
			return err
		}
		return putCustomer(tx, c)
	}))
}

// DueErasures implements Eraser.
func (s *BoltStore) DueErasures(_ context.Context, now time.Time, limit int) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktErasure).ForEach(func(k, v []byte) error {
			if len(out) < limit && len(v) == 8 && int64(binary.BigEndian.Uint64(v)) <= now.UnixMilli() {
				out = append(out, string(k))
			}
			return nil
		})
	})
	return out, boltErr("due erasures", err)
}
