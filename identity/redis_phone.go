package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// phoneKey holds the id of the customer owning a number. Like the email
// index it is a claim on its own key (any slot of a cluster): the record
// names the number before the claim is made and after it is released, so
// a claim whose owner's record names another number is an orphan that the
// next claimant replaces.
func (s *RedisStore) phoneKey(phone string) string { return s.prefix + "phone:" + phone }

// claimPhone points the number's index at id, unless another existing
// customer has the number (ErrPhoneTaken).
func (s *RedisStore) claimPhone(ctx context.Context, phone, id string) error {
	return s.claim(ctx, s.phoneKey(phone), id, "phone", func(owner string) (bool, error) {
		c, err := s.load(ctx, s.c, owner)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return c.Phone == phone, nil
	}, ErrPhoneTaken)
}

// claimedEmail is the address of customer id whose index claim points at
// them; "" when they have none, or it is not claimed yet.
func (s *RedisStore) claimedEmail(ctx context.Context, id string) (string, error) {
	c, err := s.load(ctx, s.c, id)
	if err != nil || c.Email == "" {
		return "", err
	}
	owner, err := s.c.Get(ctx, s.emailKey(c.Email)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("identity: redis: read email claim: %w", err)
	}
	if owner != id {
		return "", nil
	}
	return c.Email, nil
}

// CustomerByPhone implements PhoneStore.
func (s *RedisStore) CustomerByPhone(ctx context.Context, phone string) (*Customer, error) {
	if phone == "" {
		return nil, ErrNotFound
	}
	id, err := s.c.Get(ctx, s.phoneKey(phone)).Result()
	if errors.Is(err, redis.Nil) || (err == nil && !rediskey.ValidID(id)) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: redis: look up phone: %w", err)
	}
	c, err := s.load(ctx, s.c, id)
	if err != nil {
		return nil, err // ErrNotFound for an orphan claim
	}
	if c.Phone != phone {
		return nil, ErrNotFound
	}
	return c, nil
}

// SetPhone implements PhoneStore, in the order ChangeEmail uses: the
// record takes the new number, then claims it; if the number is taken the
// record goes back, and the old claim is released only once the new one
// holds.
//
// A number is taken away only from a customer whose address is claimed
// (the index points at them), not merely written in the record:
// ChangeEmail writes the record before it claims the address, and a
// removal in between, followed by a failed claim (the address was taken),
// would leave the customer with neither.
func (s *RedisStore) SetPhone(ctx context.Context, id, phone string, verified bool) (*Customer, error) {
	if phone != "" && !phoneValid(phone) {
		return nil, ErrBadPhone
	}
	claimed := ""
	if phone == "" {
		var err error
		if claimed, err = s.claimedEmail(ctx, id); err != nil {
			return nil, err
		}
	}
	var old string
	var oldVerified bool
	c, err := s.update(ctx, id, func(c *Customer) error {
		if phone == "" && (c.Email == "" || c.Email != claimed) {
			return ErrNeedsEmailOrPhone
		}
		old, oldVerified = c.Phone, c.PhoneVerified
		c.Phone, c.PhoneVerified = phone, phone != "" && verified
		return nil
	}, changePhone)
	if err != nil {
		return nil, err
	}
	if phone != "" {
		if err := s.claimPhone(ctx, phone, id); err != nil {
			_, _ = s.update(ctx, id, func(c *Customer) error {
				if c.Phone == phone {
					c.Phone, c.PhoneVerified = old, oldVerified
				}
				return nil
			}, changePhone) // if this fails too, the other customer's claim still decides
			return nil, err
		}
	}
	if old != "" && old != phone {
		s.release(ctx, s.phoneKey(old), id)
	}
	return c, nil
}
