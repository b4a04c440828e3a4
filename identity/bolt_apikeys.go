package identity

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// AddAPIKey implements APIKeyStore: the record and the index change in
// one transaction.
func (s *BoltStore) AddAPIKey(_ context.Context, customerID string, k APIKey) (*Customer, error) {
	var out *Customer
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCustomer(tx, customerID)
		if err != nil {
			return err
		}
		if len(c.APIKeys) >= MaxAPIKeys {
			return ErrTooManyAPIKeys
		}
		c.APIKeys = append(c.APIKeys, k)
		if err := tx.Bucket(bktAPIKeys).Put(k.Hash, []byte(customerID)); err != nil {
			return err
		}
		out = c
		return putCustomer(tx, c)
	})
	if err != nil {
		out = nil
	}
	return out, boltErr("add api key", err)
}

// CustomerByAPIKey implements APIKeyStore.
func (s *BoltStore) CustomerByAPIKey(_ context.Context, hash []byte) (*Customer, error) {
	var c *Customer
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		id := tx.Bucket(bktAPIKeys).Get(hash)
		if id == nil {
			return ErrNotFound
		}
		if c, err = getCustomer(tx, string(id)); err != nil {
			return err
		}
		if _, ok := c.APIKey(hash); !ok {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		c = nil
	}
	return c, boltErr("customer by api key", err)
}

// RevokeAPIKey implements APIKeyStore.
func (s *BoltStore) RevokeAPIKey(_ context.Context, customerID, keyID string) (*Customer, error) {
	var out *Customer
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCustomer(tx, customerID)
		if err != nil {
			return err
		}
		hash, ok := c.dropAPIKey(keyID)
		if !ok {
			return ErrNotFound
		}
		if err := tx.Bucket(bktAPIKeys).Delete(hash); err != nil {
			return err
		}
		out = c
		return putCustomer(tx, c)
	})
	if err != nil {
		out = nil
	}
	return out, boltErr("revoke api key", err)
}
