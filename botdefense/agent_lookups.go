package botdefense

import (
	"context"
	"time"
)

// AgentLookup counts a support agent's case lookup (agent: their id) and
// reports whether they are over limit an hour.
func (d *Defender) AgentLookup(ctx context.Context, agent string, limit int) (over bool, err error) {
	n, _, err := d.counter.Add(ctx, "a|lookups|"+hashKey(agent), 1, time.Hour, d.Now())
	return err == nil && n > int64(limit), err
}
