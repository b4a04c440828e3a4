package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOutbox keeps each webhook's queue in a Redis stream, the state of
// failed attempts in a hash beside it and its dead letters in a second
// stream, all under one hash tag per webhook so a move between them is
// one MULTI/EXEC on Redis Cluster:
//
//	<prefix>wh:{<name>}:q      the queue (stream; field d: the event)
//	<prefix>wh:{<name>}:tries  stream id → attempts so far (hash)
//	<prefix>wh:{<name>}:dead   dead letters (stream, capped at MaxDead)
//	<prefix>wh:{<name>}:lease  the node delivering (string with a TTL)
type RedisOutbox struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisOutbox returns the outbox over c, keys under prefix.
func NewRedisOutbox(c redis.UniversalClient, prefix string) *RedisOutbox {
	return &RedisOutbox{c: c, prefix: prefix}
}

func (o *RedisOutbox) key(webhook, part string) string {
	return o.prefix + "wh:{" + webhook + "}:" + part
}

// Add implements Outbox.
func (o *RedisOutbox) Add(ctx context.Context, webhooks []string, e Event) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("events: encode: %w", err)
	}
	if len(raw) > maxEventBytes {
		return ErrTooLarge
	}
	// One round trip; each webhook's stream is its own (slots differ on
	// a cluster), so a failure is reported and the caller logs it.
	cmds, err := o.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range webhooks {
			p.XAdd(ctx, &redis.XAddArgs{Stream: o.key(w, "q"), Values: []string{"d", string(raw)}})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("events: outbox add: %w", err)
	}
	for _, c := range cmds {
		if c.Err() != nil {
			return fmt.Errorf("events: outbox add: %w", c.Err())
		}
	}
	return nil
}

// tries is the state of a delivery's failed attempts, kept beside the
// stream entry (stream entries cannot change).
type tries struct {
	Attempts  int       `json:"n"`
	First     time.Time `json:"first"`
	Next      time.Time `json:"next"`
	LastError string    `json:"err,omitempty"`
}

// deadMeta is what a dead letter keeps beside its event.
type deadMeta struct {
	tries
	Dead time.Time `json:"dead"`
}

// Pending implements Outbox.
func (o *RedisOutbox) Pending(ctx context.Context, webhook string, limit int) ([]Delivery, error) {
	msgs, err := o.c.XRangeN(ctx, o.key(webhook, "q"), "-", "+", int64(limit)).Result()
	if err != nil {
		return nil, fmt.Errorf("events: outbox read: %w", err)
	}
	out, err := decodeMessages(msgs)
	if err != nil || len(out) == 0 {
		return out, err
	}
	keys := make([]string, len(out))
	for i, d := range out {
		keys[i] = d.Key
	}
	vals, err := o.c.HMGet(ctx, o.key(webhook, "tries"), keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("events: outbox read: %w", err)
	}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		var t tries
		if json.Unmarshal([]byte(s), &t) == nil {
			out[i].Attempts, out[i].First, out[i].Next, out[i].LastError = t.Attempts, t.First, t.Next, t.LastError
		}
	}
	return out, nil
}

// decodeMessages reads stream entries holding a delivery's JSON in d;
// an entry that does not decode is skipped (it was not written by this
// package), never fatal.
func decodeMessages(msgs []redis.XMessage) ([]Delivery, error) {
	out := make([]Delivery, 0, len(msgs))
	for _, m := range msgs {
		s, _ := m.Values["d"].(string)
		var d Delivery
		if err := json.Unmarshal([]byte(s), &d.Event); err != nil {
			continue
		}
		if dead, _ := m.Values["dead"].(string); dead != "" {
			var meta deadMeta
			if err := json.Unmarshal([]byte(dead), &meta); err != nil {
				continue
			}
			d.Attempts, d.First, d.Next, d.LastError, d.Dead = meta.Attempts, meta.First, meta.Next, meta.LastError, meta.Dead
		}
		d.Key = m.ID
		out = append(out, d)
	}
	return out, nil
}

// Done implements Outbox.
func (o *RedisOutbox) Done(ctx context.Context, webhook string, ds []Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	keys := make([]string, len(ds))
	for i, d := range ds {
		keys[i] = d.Key
	}
	_, err := o.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XDel(ctx, o.key(webhook, "q"), keys...)
		p.HDel(ctx, o.key(webhook, "tries"), keys...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("events: outbox done: %w", err)
	}
	return nil
}

// Retry implements Outbox.
func (o *RedisOutbox) Retry(ctx context.Context, webhook string, d Delivery) error {
	raw, _ := json.Marshal(tries{Attempts: d.Attempts, First: d.First, Next: d.Next, LastError: d.LastError})
	if err := o.c.HSet(ctx, o.key(webhook, "tries"), d.Key, raw).Err(); err != nil {
		return fmt.Errorf("events: outbox retry: %w", err)
	}
	return nil
}

// Bury implements Outbox.
func (o *RedisOutbox) Bury(ctx context.Context, webhook string, d Delivery) error {
	ev, err := json.Marshal(d.Event)
	if err != nil {
		return fmt.Errorf("events: encode: %w", err)
	}
	meta, _ := json.Marshal(deadMeta{tries: tries{Attempts: d.Attempts, First: d.First, Next: d.Next, LastError: d.LastError}, Dead: d.Dead})
	_, err = o.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: o.key(webhook, "dead"), MaxLen: MaxDead, Approx: true,
			Values: []string{"d", string(ev), "dead", string(meta)}})
		p.XDel(ctx, o.key(webhook, "q"), d.Key)
		p.HDel(ctx, o.key(webhook, "tries"), d.Key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("events: outbox bury: %w", err)
	}
	return nil
}

// Dead implements Outbox.
func (o *RedisOutbox) Dead(ctx context.Context, webhook string, limit int) ([]Delivery, error) {
	msgs, err := o.c.XRangeN(ctx, o.key(webhook, "dead"), "-", "+", int64(limit)).Result()
	if err != nil {
		return nil, fmt.Errorf("events: outbox dead letters: %w", err)
	}
	return decodeMessages(msgs)
}

// Revive implements Outbox. Each dead letter moves in its own MULTI/EXEC,
// so two operators reviving at once cannot queue one twice: the second
// move's XDEL finds nothing and its XADD is discarded with it.
func (o *RedisOutbox) Revive(ctx context.Context, webhook string, ids []string) (int, error) {
	dead, err := o.Dead(ctx, webhook, MaxDead)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range dead {
		if len(ids) > 0 && !slices.Contains(ids, d.Event.ID) {
			continue
		}
		ok, err := o.revive(ctx, webhook, d)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// reviveScript moves one dead letter back to the queue if it is still
// there: KEYS dead, queue; ARGV stream id, event JSON.
var reviveScript = redis.NewScript(`
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
return 1`)

func (o *RedisOutbox) revive(ctx context.Context, webhook string, d Delivery) (bool, error) {
	raw, err := json.Marshal(d.Event)
	if err != nil {
		return false, fmt.Errorf("events: encode: %w", err)
	}
	n, err := reviveScript.Run(ctx, o.c, []string{o.key(webhook, "dead"), o.key(webhook, "q")}, d.Key, raw).Int()
	if err != nil {
		return false, fmt.Errorf("events: outbox revive: %w", err)
	}
	return n == 1, nil
}

// Counts implements Outbox.
func (o *RedisOutbox) Counts(ctx context.Context, webhook string) (int, int, error) {
	var q, dead *redis.IntCmd
	_, err := o.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		q = p.XLen(ctx, o.key(webhook, "q"))
		dead = p.XLen(ctx, o.key(webhook, "dead"))
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("events: outbox counts: %w", err)
	}
	return int(q.Val()), int(dead.Val()), nil
}

// leaseScript takes the lease if free or renews it if holder has it:
// KEYS lease; ARGV holder, ttl ms.
var leaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// Lease implements Outbox.
func (o *RedisOutbox) Lease(ctx context.Context, webhook, holder string, ttl time.Duration) (bool, error) {
	n, err := leaseScript.Run(ctx, o.c, []string{o.key(webhook, "lease")}, holder, ttl.Milliseconds()).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("events: outbox lease: %w", err)
	}
	return n == 1, nil
}

// Release implements Outbox.
func (o *RedisOutbox) Release(ctx context.Context, webhook, holder string) error {
	if err := releaseScript.Run(ctx, o.c, []string{o.key(webhook, "lease")}, holder).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("events: outbox release: %w", err)
	}
	return nil
}

var _ Outbox = (*RedisOutbox)(nil)
