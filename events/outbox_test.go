package events_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// outboxes are the stores an outbox runs on: bbolt, one Redis server and
// a Redis Cluster (each webhook's keys share one hash tag).
func outboxes(t *testing.T) map[string]func(t *testing.T) events.Outbox {
	return map[string]func(t *testing.T) events.Outbox{
		"Bolt": func(t *testing.T) events.Outbox {
			db, err := bolt.Open(filepath.Join(t.TempDir(), "fd.db"), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			o, err := events.NewBoltOutbox(db)
			if err != nil {
				t.Fatal(err)
			}
			return o
		},
		"Redis": func(t *testing.T) events.Outbox {
			return events.NewRedisOutbox(redistest.Start(t).Client(t), "fd:")
		},
		"RedisCluster": func(t *testing.T) events.Outbox {
			return events.NewRedisOutbox(redistest.StartCluster(t).Client(t), "fd:")
		},
	}
}

func ev(i int, customer string) events.Event {
	return events.Event{ID: fmt.Sprintf("evt_%03d", i), Type: events.SignInSucceeded, Time: time.Unix(1_800_000_000+int64(i), 0).UTC(), Customer: customer}
}

func TestOutbox(t *testing.T) {
	for name, open := range outboxes(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o, ctx := open(t), context.Background()
			for i := range 5 {
				if err := o.Add(ctx, []string{"crm", "siem"}, ev(i, "u_a")); err != nil {
					t.Fatal(err)
				}
			}
			got, err := o.Pending(ctx, "crm", 10)
			if err != nil || len(got) != 5 {
				t.Fatalf("pending = %d, %v", len(got), err)
			}
			for i, d := range got {
				if d.Event.ID != fmt.Sprintf("evt_%03d", i) || d.Attempts != 0 {
					t.Fatalf("delivery %d = %+v: want queue order, no attempts", i, d)
				}
			}
			if lim, _ := o.Pending(ctx, "crm", 2); len(lim) != 2 {
				t.Fatalf("limit 2 gave %d", len(lim))
			}

			// Done removes one webhook's copy only.
			if err := o.Done(ctx, "crm", got[:1]); err != nil {
				t.Fatal(err)
			}
			if p, d, err := o.Counts(ctx, "crm"); p != 4 || d != 0 || err != nil {
				t.Fatalf("crm counts = %d %d %v", p, d, err)
			}
			if p, _, _ := o.Counts(ctx, "siem"); p != 5 {
				t.Fatalf("siem pending = %d", p)
			}

			// Retry keeps the attempts with the entry, in place.
			r := got[1]
			r.Attempts, r.First, r.Next, r.LastError = 2, time.Unix(1, 0).UTC(), time.Unix(9, 0).UTC(), "the receiver answered 503"
			if err := o.Retry(ctx, "crm", r); err != nil {
				t.Fatal(err)
			}
			again, _ := o.Pending(ctx, "crm", 10)
			if a := again[0]; a.Event.ID != r.Event.ID || a.Attempts != 2 || !a.Next.Equal(r.Next) || a.LastError != r.LastError {
				t.Fatalf("after retry the head is %+v", a)
			}

			// Bury moves it to the dead letters; Revive brings it back at
			// the end, attempts reset, once.
			r.Dead = time.Unix(10, 0).UTC()
			if err := o.Bury(ctx, "crm", again[0]); err != nil {
				t.Fatal(err)
			}
			if p, d, _ := o.Counts(ctx, "crm"); p != 3 || d != 1 {
				t.Fatalf("after bury counts = %d %d", p, d)
			}
			dead, err := o.Dead(ctx, "crm", 10)
			if err != nil || len(dead) != 1 || dead[0].Event.ID != r.Event.ID || dead[0].Attempts != 2 {
				t.Fatalf("dead = %+v, %v", dead, err)
			}
			if n, err := o.Revive(ctx, "crm", []string{"evt_nope"}); n != 0 || err != nil {
				t.Fatalf("revive of an unknown id = %d, %v", n, err)
			}
			if n, err := o.Revive(ctx, "crm", nil); n != 1 || err != nil {
				t.Fatalf("revive = %d, %v", n, err)
			}
			if n, _ := o.Revive(ctx, "crm", nil); n != 0 {
				t.Fatalf("second revive moved %d", n)
			}
			all, _ := o.Pending(ctx, "crm", 10)
			if last := all[len(all)-1]; last.Event.ID != r.Event.ID || last.Attempts != 0 {
				t.Fatalf("revived = %+v, want last with no attempts", last)
			}

			// The lease: one holder at a time, renewable, released.
			if ok, err := o.Lease(ctx, "crm", "node-a", time.Minute); !ok || err != nil {
				t.Fatalf("lease a = %v %v", ok, err)
			}
			if ok, _ := o.Lease(ctx, "crm", "node-b", time.Minute); ok {
				t.Fatal("node b took a held lease")
			}
			if ok, _ := o.Lease(ctx, "crm", "node-a", time.Minute); !ok {
				t.Fatal("node a could not renew")
			}
			if ok, _ := o.Lease(ctx, "siem", "node-b", time.Minute); !ok {
				t.Fatal("leases are per webhook")
			}
			if err := o.Release(ctx, "crm", "node-b"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := o.Lease(ctx, "crm", "node-b", time.Minute); ok {
				t.Fatal("a release by another holder freed the lease")
			}
			_ = o.Release(ctx, "crm", "node-a")
			if ok, _ := o.Lease(ctx, "crm", "node-b", 50*time.Millisecond); !ok {
				t.Fatal("released lease not free")
			}
			time.Sleep(120 * time.Millisecond)
			if ok, _ := o.Lease(ctx, "crm", "node-a", time.Minute); !ok {
				t.Fatal("an expired lease was not free")
			}

			// A webhook never written to is empty, not an error.
			if p, d, err := o.Counts(ctx, "none"); p != 0 || d != 0 || err != nil {
				t.Fatalf("empty counts = %d %d %v", p, d, err)
			}
			if got, err := o.Pending(ctx, "none", 5); len(got) != 0 || err != nil {
				t.Fatalf("empty pending = %v %v", got, err)
			}
		})
	}
}
