package identity

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// CustomerByPhone implements PhoneStore.
func (s *BoltStore) CustomerByPhone(_ context.Context, phone string) (*Customer, error) {
	if phone == "" {
		return nil, ErrNotFound
	}
	var c *Customer
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		id := tx.Bucket(bktPhones).Get([]byte(phone))
		if id == nil {
			return ErrNotFound
		}
		c, err = getCustomer(tx, string(id))
		return err
	})
	return c, boltErr("customer by phone", err)
}

// SetPhone implements PhoneStore: the record and the index in one
// transaction.
func (s *BoltStore) SetPhone(_ context.Context, id, phone string, verified bool) (*Customer, error) {
	if phone != "" && !phoneValid(phone) {
		return nil, ErrBadPhone
	}
	var out *Customer
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCustomer(tx, id)
		if err != nil {
			return err
		}
		if phone == "" && c.Email == "" {
			return ErrNeedsEmailOrPhone
		}
		phones := tx.Bucket(bktPhones)
		if phone != "" {
			if owner := phones.Get([]byte(phone)); owner != nil && string(owner) != id {
				return ErrPhoneTaken
			}
		}
		if c.Phone != "" && c.Phone != phone && string(phones.Get([]byte(c.Phone))) == id {
			if err := phones.Delete([]byte(c.Phone)); err != nil {
				return err
			}
		}
		if phone != "" {
			if err := phones.Put([]byte(phone), []byte(id)); err != nil {
				return err
			}
		}
		c.Phone, c.PhoneVerified = phone, phone != "" && verified
		out = c
		return putCustomer(tx, c)
	})
	if err != nil {
		return nil, boltErr("set phone", err)
	}
	return out, nil
}
