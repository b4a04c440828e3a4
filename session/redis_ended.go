package session

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// Ended marks in Redis:
//
//	<prefix>ended:<endedID(uid, sid)>   STRING "1", PEXPIREAT = until
//
// Named by a hash, not in the customer's hash tag: a mark outlives the
// customer's erasure, after which no key may name them (each operation
// is on one key, so no slot needs sharing). Redis drops a mark at its
// time by itself.

func (s *RedisStore) endedKey(userID, sid string) string {
	return s.prefix + "ended:" + endedID(userID, sid)
}

// markEndedScript sets the mark unless one with a later time is kept.
//
// KEYS[1] mark; ARGV[1] until ms.
var markEndedScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
	local t = redis.call('TIME')
	local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
	if now + ttl >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], '1')
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
`)

// MarkEnded implements Store.
func (s *RedisStore) MarkEnded(ctx context.Context, userID, sid string, until time.Time) error {
	if !rediskey.ValidID(userID) {
		return errors.New("session: redis: mark ended: invalid user id")
	}
	if !until.After(time.Now()) {
		return nil
	}
	if err := markEndedScript.Run(ctx, s.c, []string{s.endedKey(userID, sid)}, until.UnixMilli()).Err(); err != nil {
		return redisErr("mark ended", err)
	}
	return nil
}

// Ended implements Store.
func (s *RedisStore) Ended(ctx context.Context, userID, sid string) (bool, error) {
	if !rediskey.ValidID(userID) {
		return false, nil
	}
	n, err := s.c.Exists(ctx, s.endedKey(userID, sid)).Result()
	if err != nil {
		return false, redisErr("ended", err)
	}
	return n == 1, nil
}
