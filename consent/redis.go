package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// Key layout (prefix and hash tag are internal/rediskey's):
//
//	<prefix>{u:<id>}:consent   LIST of Record JSON, oldest first (RPUSH)
//
// An anonymised customer's list sits under {u:<pseudonym>}: a pseudonym is
// 64 hex digits, which no customer id is (identity makes "u_" ids), so the
// two cannot meet.
type RedisStore struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisStore uses prefix (rediskey.DefaultPrefix when "").
func NewRedisStore(c redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{c: c, prefix: rediskey.Prefix(prefix)}
}

func (s *RedisStore) key(id string) string { return rediskey.UserTag(s.prefix, id) + ":consent" }

// Append implements Store.
func (s *RedisStore) Append(ctx context.Context, r Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	buf, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := s.c.RPush(ctx, s.key(r.CustomerID), buf).Err(); err != nil {
		return fmt.Errorf("consent: redis: append: %w", err)
	}
	return nil
}

// Records implements Store.
func (s *RedisStore) Records(ctx context.Context, customerID string) ([]Record, error) {
	if !rediskey.ValidID(customerID) {
		return nil, nil
	}
	raw, err := s.c.LRange(ctx, s.key(customerID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("consent: redis: records: %w", err)
	}
	out := make([]Record, 0, len(raw))
	for _, v := range raw {
		var r Record
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			return nil, fmt.Errorf("consent: redis: records: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// dropIfUnchanged deletes the customer's list only if it still has the
// length that was copied: a record appended meanwhile is copied next round.
var dropIfUnchanged = redis.NewScript(`
if redis.call('LLEN', KEYS[1]) == tonumber(ARGV[1]) then
	redis.call('DEL', KEYS[1])
	return 1
end
return 0`)

const maxAnonymiseRounds = 8

// Anonymise implements Store. The id's list and the pseudonym's are in
// different hash slots, so no one command moves them: the records not yet
// under the pseudonym are appended there, then the id's list is deleted
// only if unchanged. A crash in between leaves both, and running Anonymise
// again finishes the job without copying a record twice.
func (s *RedisStore) Anonymise(ctx context.Context, customerID string, key []byte) error {
	if len(key) == 0 {
		return ErrNoKey
	}
	if !rediskey.ValidID(customerID) {
		return nil
	}
	pseudonym := Pseudonym(key, customerID)
	from, to := s.key(customerID), s.key(pseudonym)
	for range maxAnonymiseRounds {
		rs, err := s.Records(ctx, customerID)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return nil
		}
		// Records already copied by an earlier, interrupted run are not
		// copied twice.
		have, err := s.c.LRange(ctx, to, 0, -1).Result()
		if err != nil {
			return fmt.Errorf("consent: redis: anonymise: %w", err)
		}
		copied := make(map[string]int, len(have))
		for _, v := range have {
			copied[v]++
		}
		var vals []any
		for _, r := range anonymised(rs, pseudonym) {
			buf, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if copied[string(buf)] > 0 {
				copied[string(buf)]--
				continue
			}
			vals = append(vals, buf)
		}
		if len(vals) > 0 {
			if err := s.c.RPush(ctx, to, vals...).Err(); err != nil {
				return fmt.Errorf("consent: redis: anonymise: %w", err)
			}
		}
		done, err := dropIfUnchanged.Run(ctx, s.c, []string{from}, len(rs)).Int()
		if err != nil {
			return fmt.Errorf("consent: redis: anonymise: %w", err)
		}
		if done == 1 {
			return nil
		}
	}
	return errors.New("consent: redis: anonymise: records kept changing")
}

// Interface guards
var _ Store = (*RedisStore)(nil)
