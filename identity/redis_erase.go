package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

func (s *RedisStore) tokenIndexKey(id string) string {
	return rediskey.UserTag(s.prefix, id) + ":tokens"
}
func (s *RedisStore) erasuresKey() string { return s.prefix + "erasures" }

// indexTokenScript adds a token key to a customer's token index and makes
// the index live at least as long as the token. One key.
//
// KEYS[1] index; ARGV[1] token key, ARGV[2] the token's TTL in ms.
var indexTokenScript = redis.NewScript(`
redis.call("SADD", KEYS[1], ARGV[1])
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[2]) then
	redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 1`)

// indexToken records that key holds a token of customer id, so erasure
// finds it. Tokens of no customer are not indexed.
func (s *RedisStore) indexToken(ctx context.Context, id, key string, exp time.Time) error {
	if id == "" || !rediskey.ValidID(id) {
		return nil
	}
	ttl := max(time.Until(exp).Milliseconds(), 1)
	if err := indexTokenScript.Run(ctx, s.c, []string{s.tokenIndexKey(id)}, key, strconv.FormatInt(ttl, 10)).Err(); err != nil {
		return fmt.Errorf("identity: redis: index token of %s: %w", id, err)
	}
	return nil
}

// unindexToken takes a used token off its customer's index (the index
// goes with its last member). Best effort: a stale member only costs
// erasure a DEL of a missing key.
func (s *RedisStore) unindexToken(ctx context.Context, id, key string) {
	if id != "" && rediskey.ValidID(id) {
		_ = s.c.SRem(ctx, s.tokenIndexKey(id), key).Err()
	}
}

// PendingTokens implements Eraser.
func (s *RedisStore) PendingTokens(ctx context.Context, customerID string) ([]*Token, error) {
	if !rediskey.ValidID(customerID) {
		return nil, nil
	}
	keys, err := s.c.SMembers(ctx, s.tokenIndexKey(customerID)).Result()
	if err != nil {
		return nil, fmt.Errorf("identity: redis: tokens of %s: %w", customerID, err)
	}
	var out []*Token
	for _, k := range keys { // one by one: on a cluster they lie in other slots
		v, err := s.c.Get(ctx, k).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // used or expired
		}
		if err != nil {
			return nil, fmt.Errorf("identity: redis: token of %s: %w", customerID, err)
		}
		var t Token
		if json.Unmarshal(v, &t) == nil && t.CustomerID == customerID {
			out = append(out, &t)
		}
	}
	return out, nil
}

// DeleteCustomer implements Eraser. The customer's own keys (record,
// audit trail, token index) go in one transaction; the tokens and the
// index claims, in other slots, before and after it. A failure after the
// record is gone leaves at worst an orphan claim, which the next claimant
// replaces; the caller retries to remove it.
func (s *RedisStore) DeleteCustomer(ctx context.Context, id string) error {
	c, err := s.load(ctx, s.c, id)
	if err != nil {
		return err
	}
	keys, err := s.c.SMembers(ctx, s.tokenIndexKey(id)).Result()
	if err != nil {
		return fmt.Errorf("identity: redis: delete customer %s: tokens: %w", id, err)
	}
	for _, k := range keys {
		if err := s.c.Del(ctx, k).Err(); err != nil {
			return fmt.Errorf("identity: redis: delete customer %s: token: %w", id, err)
		}
	}
	if _, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.customerKey(id), s.auditKey(id), s.tokenIndexKey(id))
		return nil
	}); err != nil {
		return fmt.Errorf("identity: redis: delete customer %s: %w", id, err)
	}
	if c.Email != "" { // a phone-only customer has no email claim
		if err := releaseClaim.Run(ctx, s.c, []string{s.emailKey(c.Email)}, id).Err(); err != nil {
			return fmt.Errorf("identity: redis: delete customer %s: email index: %w", id, err)
		}
	}
	if c.Phone != "" {
		if err := releaseClaim.Run(ctx, s.c, []string{s.phoneKey(c.Phone)}, id).Err(); err != nil {
			return fmt.Errorf("identity: redis: delete customer %s: phone index: %w", id, err)
		}
	}
	for _, li := range c.Identities {
		if err := releaseClaim.Run(ctx, s.c, []string{s.identityIndexKey(li.Issuer, li.Subject)}, id).Err(); err != nil {
			return fmt.Errorf("identity: redis: delete customer %s: identity index: %w", id, err)
		}
	}
	for _, k := range c.APIKeys {
		if err := releaseClaim.Run(ctx, s.c, []string{s.apiKeyIndexKey(k.Hash)}, id).Err(); err != nil {
			return fmt.Errorf("identity: redis: delete customer %s: api key index: %w", id, err)
		}
	}
	if err := s.c.ZRem(ctx, s.erasuresKey(), id).Err(); err != nil {
		return fmt.Errorf("identity: redis: delete customer %s: schedule: %w", id, err)
	}
	return nil
}

// ScheduleErasure implements Eraser: the record first, then the schedule
// the maintenance loop reads.
func (s *RedisStore) ScheduleErasure(ctx context.Context, id string, at time.Time) error {
	if _, err := s.UpdateCustomer(ctx, id, func(c *Customer) error {
		c.ErasureAt = at.UTC()
		if at.IsZero() {
			c.ErasureAt = time.Time{}
		}
		return nil
	}); err != nil {
		return err
	}
	var err error
	if at.IsZero() {
		err = s.c.ZRem(ctx, s.erasuresKey(), id).Err()
	} else {
		err = s.c.ZAdd(ctx, s.erasuresKey(), redis.Z{Score: float64(at.UnixMilli()), Member: id}).Err()
	}
	if err != nil {
		return fmt.Errorf("identity: redis: schedule erasure of %s: %w", id, err)
	}
	return nil
}

// DueErasures implements Eraser.
func (s *RedisStore) DueErasures(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := s.c.ZRangeByScore(ctx, s.erasuresKey(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("identity: redis: due erasures: %w", err)
	}
	return ids, nil
}
