package consent_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/consent/storetest"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

func TestRedisStore(t *testing.T) {
	for _, b := range []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient
	}{
		{"Standalone", func(t *testing.T) redis.UniversalClient { return redistest.Start(t).Client(t) }},
		{"Cluster", func(t *testing.T) redis.UniversalClient { return redistest.StartCluster(t).Client(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c := b.client(t)
			storetest.Run(t, func(t *testing.T) (consent.Store, storetest.Dump) {
				redistest.Flush(t, c)
				return consent.NewRedisStore(c, ""), func(t *testing.T) []string { return dumpRedis(t, c) }
			})
		})
	}
}

// dumpRedis lists every key with its list values (the store keeps lists).
func dumpRedis(t *testing.T, c redis.UniversalClient) []string {
	ctx := context.Background()
	var out []string
	scan := func(ctx context.Context, n *redis.Client) error {
		it := n.Scan(ctx, 0, "*", 100).Iterator()
		for it.Next(ctx) {
			k := it.Val()
			vals, err := n.LRange(ctx, k, 0, -1).Result()
			if err != nil {
				return err
			}
			out = append(out, k)
			out = append(out, vals...)
		}
		return it.Err()
	}
	var err error
	switch cc := c.(type) {
	case *redis.ClusterClient:
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	case *redis.Client:
		err = scan(ctx, cc)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}
