package botdefense

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// RedisSeen records single-use values once spent — challenge solutions,
// and (under their own id prefixes) DPoP proofs and client assertions —
// in Redis (SET NX with an expiry), so each works once across every node.
type RedisSeen struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisSeen returns a Seen keeping its records under prefix (the
// default prefix when empty), as <prefix>pow:<id>.
func NewRedisSeen(c redis.UniversalClient, prefix string) *RedisSeen {
	return &RedisSeen{c: c, prefix: rediskey.Prefix(prefix) + "pow:"}
}

// FirstUse implements Seen.
// The expiry is relative (PX until-now), measured on the caller's clock:
// Redis keeps the id for as long as the caller counts the solution live,
// whatever Redis's own clock says.
func (s *RedisSeen) FirstUse(ctx context.Context, id string, now, until time.Time) (bool, error) {
	ttl := until.Sub(now)
	if ttl < time.Second {
		ttl = time.Second
	}
	return s.c.SetNX(ctx, s.prefix+id, 1, ttl).Result()
}
