package botdefense

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// Block kinds: what a block names.
const (
	BlockIP      = "ip"
	BlockPrefix  = "prefix"
	BlockAccount = "account"
)

// Block is one entry of the block list.
type Block struct {
	Kind   string    `json:"kind"`
	Value  string    `json:"value"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason,omitempty"`
}

// BlockList holds blocks until they expire. Implementations are safe for
// concurrent use.
type BlockList interface {
	// Put adds or replaces a block; when the list is full, blocks over at
	// now make room.
	Put(ctx context.Context, now time.Time, b Block) error
	// Remove lifts a block; lifting an absent one is not an error.
	Remove(ctx context.Context, kind, value string) error
	// Match returns the first block in force at now among the candidates
	// (kind, value pairs).
	Match(ctx context.Context, now time.Time, candidates ...[2]string) (*Block, error)
	// List returns the blocks in force at now.
	List(ctx context.Context, now time.Time) ([]Block, error)
}

// MaxBlocks bounds the block list.
const MaxBlocks = 100_000

// ErrTooManyBlocks is returned when the block list is full.
var ErrTooManyBlocks = errors.New("botdefense: block list full")

func blockField(kind, value string) string { return kind + "\x00" + value }

// MemoryBlocks is the block list of a single node.
type MemoryBlocks struct {
	mu sync.RWMutex
	m  map[string]Block
}

// NewMemoryBlocks returns an empty block list.
func NewMemoryBlocks() *MemoryBlocks { return &MemoryBlocks{m: make(map[string]Block)} }

// Put implements BlockList.
func (l *MemoryBlocks) Put(_ context.Context, now time.Time, b Block) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= MaxBlocks {
		for k, v := range l.m {
			if !now.Before(v.Until) {
				delete(l.m, k)
			}
		}
		if len(l.m) >= MaxBlocks {
			return ErrTooManyBlocks
		}
	}
	l.m[blockField(b.Kind, b.Value)] = b
	return nil
}

// Remove implements BlockList.
func (l *MemoryBlocks) Remove(_ context.Context, kind, value string) error {
	l.mu.Lock()
	delete(l.m, blockField(kind, value))
	l.mu.Unlock()
	return nil
}

// Match implements BlockList.
func (l *MemoryBlocks) Match(_ context.Context, now time.Time, candidates ...[2]string) (*Block, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.m) == 0 {
		return nil, nil
	}
	for _, c := range candidates {
		if b, ok := l.m[blockField(c[0], c[1])]; ok && now.Before(b.Until) {
			return &b, nil
		}
	}
	return nil, nil
}

// List implements BlockList.
func (l *MemoryBlocks) List(_ context.Context, now time.Time) ([]Block, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []Block
	for _, b := range l.m {
		if now.Before(b.Until) {
			out = append(out, b)
		}
	}
	sortBlocks(out)
	return out, nil
}

func sortBlocks(bs []Block) {
	slices.SortFunc(bs, func(a, b Block) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
}

// RedisBlocks keeps the block list in one Redis hash, so every node sees
// the same blocks with one round trip per check (and one hash slot on a
// cluster). Field: kind NUL value; value: expiry (unix ms) NUL reason.
type RedisBlocks struct {
	c   redis.UniversalClient
	key string
}

// NewRedisBlocks returns the block list stored under prefix (the default
// prefix when empty), in the hash <prefix>blocks.
func NewRedisBlocks(c redis.UniversalClient, prefix string) *RedisBlocks {
	return &RedisBlocks{c: c, key: rediskey.Prefix(prefix) + "blocks"}
}

// Put implements BlockList.
func (l *RedisBlocks) Put(ctx context.Context, now time.Time, b Block) error {
	n, err := l.c.HLen(ctx, l.key).Result()
	if err != nil {
		return err
	}
	if n >= MaxBlocks {
		if err := l.prune(ctx, now); err != nil {
			return err
		}
	}
	return l.c.HSet(ctx, l.key, blockField(b.Kind, b.Value), strconv.FormatInt(b.Until.UnixMilli(), 10)+"\x00"+b.Reason).Err()
}

func (l *RedisBlocks) prune(ctx context.Context, now time.Time) error {
	all, err := l.c.HGetAll(ctx, l.key).Result()
	if err != nil {
		return err
	}
	var dead []string
	for f, v := range all {
		if b, ok := parseBlock(f, v); !ok || !now.Before(b.Until) {
			dead = append(dead, f)
		}
	}
	if len(dead) > 0 {
		return l.c.HDel(ctx, l.key, dead...).Err()
	}
	return nil
}

func parseBlock(field, value string) (Block, bool) {
	kind, val, ok := strings.Cut(field, "\x00")
	ms, reason, _ := strings.Cut(value, "\x00")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return Block{}, false
	}
	return Block{Kind: kind, Value: val, Until: time.UnixMilli(n).UTC(), Reason: reason}, true
}

// Remove implements BlockList.
func (l *RedisBlocks) Remove(ctx context.Context, kind, value string) error {
	return l.c.HDel(ctx, l.key, blockField(kind, value)).Err()
}

// Match implements BlockList.
func (l *RedisBlocks) Match(ctx context.Context, now time.Time, candidates ...[2]string) (*Block, error) {
	fields := make([]string, len(candidates))
	for i, c := range candidates {
		fields[i] = blockField(c[0], c[1])
	}
	vals, err := l.c.HMGet(ctx, l.key, fields...).Result()
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if b, ok := parseBlock(fields[i], s); ok && now.Before(b.Until) {
			return &b, nil
		}
	}
	return nil, nil
}

// List implements BlockList.
func (l *RedisBlocks) List(ctx context.Context, now time.Time) ([]Block, error) {
	all, err := l.c.HGetAll(ctx, l.key).Result()
	if err != nil {
		return nil, err
	}
	var out []Block
	for f, v := range all {
		if b, ok := parseBlock(f, v); ok && now.Before(b.Until) {
			out = append(out, b)
		}
	}
	sortBlocks(out)
	return out, nil
}
