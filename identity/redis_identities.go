package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// identityIndexKey holds the id of the customer a provider identity is
// linked to. Like the email index it is a claim on its own key (any slot
// of a cluster): written before the customer record names the identity,
// removed after, and a claim whose customer does not name the identity is
// an orphan that the next claimant replaces.
func (s *RedisStore) identityIndexKey(issuer, subject string) string {
	return s.prefix + "fed:" + identityKey(issuer, subject)
}

// releaseClaim deletes a claim (KEYS[1]) only while it still names ARGV[1].
var releaseClaim = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

func (s *RedisStore) release(ctx context.Context, key, id string) {
	_ = releaseClaim.Run(ctx, s.c, []string{key}, id).Err() // an orphan left behind is harmless
}

// claimIdentity points the identity's index at id, unless another existing
// customer has the identity (ErrIdentityTaken).
func (s *RedisStore) claimIdentity(ctx context.Context, li LinkedIdentity, id string) error {
	return s.claim(ctx, s.identityIndexKey(li.Issuer, li.Subject), id, "identity", func(owner string) (bool, error) {
		c, err := s.load(ctx, s.c, owner)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		_, has := c.Identity(li.Issuer, li.Subject)
		return has, nil
	}, ErrIdentityTaken)
}

// CustomerByIdentity implements IdentityStore.
func (s *RedisStore) CustomerByIdentity(ctx context.Context, issuer, subject string) (*Customer, error) {
	id, err := s.c.Get(ctx, s.identityIndexKey(issuer, subject)).Result()
	if errors.Is(err, redis.Nil) || (err == nil && !rediskey.ValidID(id)) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: redis: look up identity: %w", err)
	}
	c, err := s.load(ctx, s.c, id)
	if err != nil {
		return nil, err
	}
	if _, has := c.Identity(issuer, subject); !has {
		return nil, ErrNotFound // an orphan claim
	}
	return c, nil
}

// LinkIdentity implements IdentityStore. The record names the identity
// before the claim is made (as a new customer's record exists before its
// email claim), so a claim whose owner's record lacks the identity is
// always an orphan; a customer losing the race takes the identity off its
// record again.
func (s *RedisStore) LinkIdentity(ctx context.Context, customerID string, li LinkedIdentity) (*Customer, error) {
	had := false
	c, err := s.update(ctx, customerID, func(c *Customer) error {
		_, had = c.Identity(li.Issuer, li.Subject)
		if !had {
			c.Identities = append(c.Identities, li)
		}
		return nil
	}, changeIdentities)
	if err != nil {
		return nil, err
	}
	if err := s.claimIdentity(ctx, li, customerID); err != nil {
		if !had {
			_, _ = s.update(ctx, customerID, func(c *Customer) error {
				c.dropIdentity(li.Issuer, li.Subject)
				return nil
			}, changeIdentities) // if this fails, the claim (someone else's) still decides
		}
		return nil, err
	}
	return c, nil
}

// UnlinkIdentity implements IdentityStore.
func (s *RedisStore) UnlinkIdentity(ctx context.Context, customerID, issuer, subject string, guard func(*Customer) error) (*Customer, error) {
	c, err := s.update(ctx, customerID, func(c *Customer) error {
		if _, has := c.Identity(issuer, subject); !has {
			return ErrNotFound
		}
		if guard != nil {
			if err := guard(c); err != nil {
				return err
			}
		}
		c.dropIdentity(issuer, subject)
		return nil
	}, changeIdentities)
	if err != nil {
		return nil, err
	}
	s.release(ctx, s.identityIndexKey(issuer, subject), customerID)
	return c, nil
}
