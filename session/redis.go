package session

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

// Key layout of the Redis session store (prefix defaults to "fd:"; the
// prefix, the hash tag and the id rule are internal/rediskey's, shared with
// identity and botdefense):
//
//	<prefix>{u:<uid>}:s:<hash>   HASH  d    = Session as JSON
//	                                   seen = LastSeen, Unix ms (Touch writes only this)
//	                             PEXPIREAT = ExpiresAt: Redis drops the session by itself
//	<prefix>{u:<uid>}:sessions   ZSET  member = <hash>, score = ExpiresAt in Unix ms;
//	                                   members past expiry are pruned on every Create;
//	                             PEXPIREAT = the latest member's ExpiresAt
//	<prefix>secret:<name>        STRING the secret's bytes, no expiry
//	<prefix>ended:<hash>         STRING "1", PEXPIREAT = until (redis_ended.go)
//
// <uid> and <hash> are the two halves of a storage key "<uid>.<hash>" (see
// KeyOf and SplitKey). Every key of one customer carries the hash tag
// {u:<uid>}, so they all live in one Redis Cluster hash slot: each script
// below touches the keys of ONE customer only, which makes its multi-key
// update atomic on a single server and on a cluster alike. The per-customer
// index is what lets sign-out-everywhere run without SCAN or KEYS.
//
// User ids are restricted to letters, digits, '_' and '-'
// (rediskey.ValidID), so no id can close the hash tag early. The prefix must
// not contain '{' or '}': a tag inside it would put every customer in one
// slot.

// DefaultRedisPrefix is the key prefix used when NewRedisStore gets "".
const DefaultRedisPrefix = rediskey.DefaultPrefix

// RedisStore is the session Store over Redis: one server, Sentinel or Redis
// Cluster through a go-redis UniversalClient. The client is owned by the
// caller (it is shared with other stores).
type RedisStore struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisStore returns a Store keeping its records under prefix.
func NewRedisStore(c redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{c: c, prefix: rediskey.Prefix(prefix)}
}

// userTag is the part every key of one customer starts with.
func (s *RedisStore) userTag(userID string) string { return rediskey.UserTag(s.prefix, userID) }

func (s *RedisStore) sessionKey(userID, hash string) string {
	return s.userTag(userID) + ":s:" + hash
}

func (s *RedisStore) indexKey(userID string) string { return s.userTag(userID) + ":sessions" }

func (s *RedisStore) secretKey(name string) string { return s.prefix + "secret:" + name }

// createScript stores a session unless its key exists, indexes it, prunes
// expired index members and moves the index's own expiry to its latest
// member. One customer: KEYS share the {u:<uid>} tag.
//
// KEYS[1] session, KEYS[2] index; ARGV[1] JSON, ARGV[2] LastSeen ms,
// ARGV[3] ExpiresAt ms, ARGV[4] hash.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'seen', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then
	redis.call('PEXPIREAT', KEYS[2], string.format('%.0f', tonumber(last[2])))
end
return 1
`)

// touchScript raises seen, never lowers it, and only on an existing
// session. One key.
//
// KEYS[1] session; ARGV[1] LastSeen ms. Returns 0 if the session is gone.
var touchScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'seen')
if not cur then return 0 end
if tonumber(ARGV[1]) > tonumber(cur) then redis.call('HSET', KEYS[1], 'seen', ARGV[1]) end
return 1
`)

// deleteScript drops one session and its index entry. One customer.
//
// KEYS[1] session, KEYS[2] index; ARGV[1] hash.
var deleteScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

// deleteUserScript drops every session in a customer's index and the index.
// The session keys are built here from ARGV[1], "<prefix>{u:<uid>}:s:": they
// carry the same hash tag as KEYS[1], so they are in the slot this node
// serves. Returns how many sessions still existed.
//
// KEYS[1] index; ARGV[1] session key prefix.
var deleteUserScript = redis.NewScript(`
local n = 0
for _, h in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
	n = n + redis.call('DEL', ARGV[1] .. h)
end
redis.call('DEL', KEYS[1])
return n
`)

// swapScript is compare-and-set on a secret; a missing secret equals "".
// One key.
//
// KEYS[1] secret; ARGV[1] prev, ARGV[2] next.
var swapScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// Create implements Store.
func (s *RedisStore) Create(ctx context.Context, sess *Session) error {
	uid, hash, ok := SplitKey(sess.Key)
	switch {
	case !ok:
		return errors.New("session: redis: create: the key carries no valid user id")
	case uid != sess.UserID:
		return fmt.Errorf("session: redis: create: the key belongs to user %q, not %q", uid, sess.UserID)
	case sess.ExpiresAt.IsZero():
		return errors.New("session: redis: create: the session has no expiry")
	}
	buf, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("session: redis: create: encode: %w", err)
	}
	n, err := createScript.Run(ctx, s.c, []string{s.sessionKey(uid, hash), s.indexKey(uid)},
		buf, sess.LastSeen.UnixMilli(), sess.ExpiresAt.UnixMilli(), hash).Int()
	if err != nil {
		return fmt.Errorf("session: redis: create: %w", err)
	}
	if n == 0 {
		return errors.New("session: redis: create: session key exists")
	}
	return nil
}

// Get implements Store. Redis removes a session at its absolute expiry, so
// an expired session is usually ErrNotFound here.
func (s *RedisStore) Get(ctx context.Context, key string) (*Session, error) {
	uid, hash, ok := SplitKey(key)
	if !ok {
		return nil, ErrNotFound
	}
	m, err := s.c.HGetAll(ctx, s.sessionKey(uid, hash)).Result()
	if err != nil {
		return nil, redisErr("get", err)
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	return decodeRedisSession(m)
}

func decodeRedisSession(m map[string]string) (*Session, error) {
	d, ok := m["d"]
	if !ok {
		return nil, errors.New("session: redis: decode: record has no data")
	}
	var sess Session
	if err := json.Unmarshal([]byte(d), &sess); err != nil {
		return nil, fmt.Errorf("session: redis: decode: %w", err)
	}
	if ms, err := strconv.ParseInt(m["seen"], 10, 64); err == nil {
		if seen := time.UnixMilli(ms); seen.After(sess.LastSeen) {
			sess.LastSeen = seen
		}
	}
	return &sess, nil
}

// Touch implements Store. LastSeen is kept to the millisecond.
func (s *RedisStore) Touch(ctx context.Context, key string, lastSeen time.Time) error {
	uid, hash, ok := SplitKey(key)
	if !ok {
		return ErrNotFound
	}
	n, err := touchScript.Run(ctx, s.c, []string{s.sessionKey(uid, hash)}, lastSeen.UnixMilli()).Int()
	if err != nil {
		return redisErr("touch", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, key string) error {
	uid, hash, ok := SplitKey(key)
	if !ok {
		return nil // such a key was never stored
	}
	err := deleteScript.Run(ctx, s.c, []string{s.sessionKey(uid, hash), s.indexKey(uid)}, hash).Err()
	if err != nil {
		return redisErr("delete", err)
	}
	return nil
}

// DeleteUser implements Store. The count is of sessions that had not yet
// expired.
func (s *RedisStore) DeleteUser(ctx context.Context, userID string) (int, error) {
	if !rediskey.ValidID(userID) {
		return 0, nil
	}
	n, err := deleteUserScript.Run(ctx, s.c, []string{s.indexKey(userID)}, s.sessionKey(userID, "")).Int()
	if err != nil {
		return 0, redisErr("delete user sessions", err)
	}
	return n, nil
}

// ListUser implements Store. Sessions past their absolute expiry are left
// out.
// CountUser implements UserCounter: the index members that have not
// expired (a session deleted since is no longer a member).
func (s *RedisStore) CountUser(ctx context.Context, userID string) (int, error) {
	if !rediskey.ValidID(userID) {
		return 0, nil
	}
	// Wall time: the index mirrors the PEXPIREAT Redis drops sessions by
	// (its own clock); the Manager judges what is left by its clock.
	n, err := s.c.ZCount(ctx, s.indexKey(userID), "("+strconv.FormatInt(time.Now().UnixMilli(), 10), "+inf").Result()
	if err != nil {
		return 0, redisErr("count user sessions", err)
	}
	return int(n), nil
}

func (s *RedisStore) ListUser(ctx context.Context, userID string) ([]*Session, error) {
	if !rediskey.ValidID(userID) {
		return nil, nil
	}
	hashes, err := s.c.ZRangeByScore(ctx, s.indexKey(userID), &redis.ZRangeBy{
		// Wall time, as in CountUser: Redis has dropped these by now anyway.
		Min: "(" + strconv.FormatInt(time.Now().UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, redisErr("list user sessions", err)
	}
	if len(hashes) == 0 {
		return nil, nil
	}
	// One slot, so on a cluster the whole pipeline goes to one node.
	cmds := make([]*redis.MapStringStringCmd, len(hashes))
	_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range hashes {
			cmds[i] = p.HGetAll(ctx, s.sessionKey(userID, h))
		}
		return nil
	})
	if err != nil {
		return nil, redisErr("list user sessions", err)
	}
	out := make([]*Session, 0, len(cmds))
	for _, cmd := range cmds {
		m := cmd.Val()
		if len(m) == 0 {
			continue // expired or deleted since the index was read
		}
		sess, err := decodeRedisSession(m)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, nil
}

// Secret implements Store: set-if-absent, so racing nodes all end up with
// the value stored first.
func (s *RedisStore) Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	k := s.secretKey(name)
	v, err := s.c.Get(ctx, k).Bytes()
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, redis.Nil) {
		return nil, redisErr("read secret", err)
	}
	fresh, err := create()
	if err != nil {
		return nil, fmt.Errorf("session: create secret %q: %w", name, err)
	}
	won, err := s.c.SetNX(ctx, k, fresh, 0).Result()
	if err != nil {
		return nil, redisErr("store secret", err)
	}
	if won {
		return fresh, nil
	}
	if v, err = s.c.Get(ctx, k).Bytes(); err != nil {
		return nil, redisErr("read secret", err)
	}
	return v, nil
}

// SwapSecret implements Store.
func (s *RedisStore) SwapSecret(ctx context.Context, name string, prev, next []byte) (bool, error) {
	n, err := swapScript.Run(ctx, s.c, []string{s.secretKey(name)}, prev, next).Int()
	if err != nil {
		return false, redisErr("swap secret", err)
	}
	return n == 1, nil
}

// Ping implements Store.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return redisErr("ping", err)
	}
	return nil
}

// redisErr wraps a client error; redis.Nil (no such key) is ErrNotFound.
func redisErr(what string, err error) error {
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	return fmt.Errorf("session: redis: %s: %w", what, err)
}

// Interface guards
var (
	_ Store       = (*RedisStore)(nil)
	_ UserCounter = (*RedisStore)(nil)
)
