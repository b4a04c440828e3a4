package identity

import (
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"
)

// CustomerByIdentity implements IdentityStore.
func (s *BoltStore) CustomerByIdentity(_ context.Context, issuer, subject string) (*Customer, error) {
	var c *Customer
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		id := tx.Bucket(bktIdentity).Get([]byte(identityKey(issuer, subject)))
		if id == nil {
			return ErrNotFound
		}
		c, err = getCustomer(tx, string(id))
		return err
	})
	return c, boltErr("customer by identity", err)
}

// LinkIdentity implements IdentityStore.
func (s *BoltStore) LinkIdentity(_ context.Context, customerID string, li LinkedIdentity) (*Customer, error) {
	var out *Customer
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCustomer(tx, customerID)
		if err != nil {
			return err
		}
		idx := tx.Bucket(bktIdentity)
		k := []byte(identityKey(li.Issuer, li.Subject))
		if owner := idx.Get(k); owner != nil && string(owner) != customerID {
			return ErrIdentityTaken
		}
		out = c
		if _, ok := c.Identity(li.Issuer, li.Subject); ok {
			return nil
		}
		c.Identities = append(c.Identities, li)
		if err := idx.Put(k, []byte(customerID)); err != nil {
			return err
		}
		return putCustomer(tx, c)
	})
	if err != nil {
		out = nil
	}
	return out, boltErr("link identity", err)
}

// UnlinkIdentity implements IdentityStore.
func (s *BoltStore) UnlinkIdentity(_ context.Context, customerID, issuer, subject string, guard func(*Customer) error) (*Customer, error) {
	var out *Customer
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCustomer(tx, customerID)
		if err != nil {
			return err
		}
		if _, ok := c.Identity(issuer, subject); !ok {
			return ErrNotFound
		}
		if guard != nil {
			if err := guard(c); err != nil {
				return err
			}
		}
		c.dropIdentity(issuer, subject)
		idx := tx.Bucket(bktIdentity)
		k := []byte(identityKey(issuer, subject))
		if string(idx.Get(k)) == customerID {
			if err := idx.Delete(k); err != nil {
				return err
			}
		}
		out = c
		return putCustomer(tx, c)
	})
	if err != nil {
		out = nil
	}
	return out, err
}

func putCustomer(tx *bolt.Tx, c *Customer) error {
	buf, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return tx.Bucket(bktCustomers).Put([]byte(c.ID), buf)
}
