package identity

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// apiKeyIndexKey holds the id of the customer with the API key. The hash
// is random, so no two customers ever claim one key: the record names the
// key first, the index follows (a lookup checks the record, so an index
// entry whose record lost the key is ignored).
func (s *RedisStore) apiKeyIndexKey(hash []byte) string {
	return s.prefix + "apikey:" + hex.EncodeToString(hash)
}

// AddAPIKey implements APIKeyStore.
func (s *RedisStore) AddAPIKey(ctx context.Context, customerID string, k APIKey) (*Customer, error) {
	c, err := s.update(ctx, customerID, func(c *Customer) error {
		if len(c.APIKeys) >= MaxAPIKeys {
			return ErrTooManyAPIKeys
		}
		c.APIKeys = append(c.APIKeys, k)
		return nil
	}, changeAPIKeys)
	if err != nil {
		return nil, err
	}
	if err := s.c.Set(ctx, s.apiKeyIndexKey(k.Hash), customerID, 0).Err(); err != nil {
		return nil, fmt.Errorf("identity: redis: index api key: %w", err)
	}
	return c, nil
}

// CustomerByAPIKey implements APIKeyStore.
func (s *RedisStore) CustomerByAPIKey(ctx context.Context, hash []byte) (*Customer, error) {
	id, err := s.c.Get(ctx, s.apiKeyIndexKey(hash)).Result()
	if errors.Is(err, redis.Nil) || (err == nil && !rediskey.ValidID(id)) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: redis: look up api key: %w", err)
	}
	c, err := s.load(ctx, s.c, id)
	if err != nil {
		return nil, err
	}
	if _, ok := c.APIKey(hash); !ok {
		return nil, ErrNotFound
	}
	return c, nil
}

// RevokeAPIKey implements APIKeyStore: the record first (the key stops
// working there), then the index.
func (s *RedisStore) RevokeAPIKey(ctx context.Context, customerID, keyID string) (*Customer, error) {
	var hash []byte
	c, err := s.update(ctx, customerID, func(c *Customer) error {
		h, ok := c.dropAPIKey(keyID)
		if !ok {
			return ErrNotFound
		}
		hash = h
		return nil
	}, changeAPIKeys)
	if err != nil {
		return nil, err
	}
	s.release(ctx, s.apiKeyIndexKey(hash), customerID)
	return c, nil
}
