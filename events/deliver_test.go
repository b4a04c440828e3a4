package events_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// receiver is a webhook endpoint checking every signature with the
// reference verifier; fail makes it answer 503 while set.
type receiver struct {
	t    *testing.T
	ref  *standardwebhooks.Webhook
	fail atomic.Bool
	mu   sync.Mutex
	got  []events.Event
	n    atomic.Int64 // requests, accepted or not
	*httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	ref, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, ref: ref}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.n.Add(1)
		body, _ := io.ReadAll(req.Body)
		if err := r.ref.Verify(body, req.Header); err != nil {
			t.Errorf("signature: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var e events.Event
		if err := json.Unmarshal(body, &e); err != nil || e.ID != req.Header.Get(events.HeaderID) {
			t.Errorf("body %s, webhook-id %q", body, req.Header.Get(events.HeaderID))
		}
		r.mu.Lock()
		r.got = append(r.got, e)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) events() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.got...)
}

func (r *receiver) waitFor(n int) []events.Event {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := r.events(); len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("receiver got %d events, want %d", len(r.events()), n)
	return nil
}

// fakeClock is the gateway's clock as tests move it.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func startDeliverer(t *testing.T, o events.Outbox, holder string, clk *fakeClock, hooks ...*events.Webhook) *events.Deliverer {
	d := events.NewDeliverer(o, holder, clk.Now)
	d.OnError = func(msg string, err error) { t.Logf("%s: %s: %v", holder, msg, err) }
	d.SetWebhooks(hooks)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

func hook(t *testing.T, url string) *events.Webhook {
	secret, err := events.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return &events.Webhook{Name: "crm", URL: url, Secret: secret, Timeout: 2 * time.Second}
}

// A receiver down for a while gets everything, in order per customer,
// once back; a delivery failing for three days goes to the dead letters.
func TestDeliverOrderAndDeadLetters(t *testing.T) {
	for name, open := range outboxes(t) {
		if name == "RedisCluster" {
			continue // the outbox suite covers the cluster layout
		}
		t.Run(name, func(t *testing.T) {
			o, ctx := open(t), context.Background()
			clk := new(fakeClock)
			clk.ns.Store(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC).UnixNano())
			r := newReceiver(t)
			r.fail.Store(true)
			d := startDeliverer(t, o, "node-a", clk, hook(t, r.URL))
			for i := range 12 {
				e := ev(i, []string{"u_a", "u_b", "u_c"}[i%3])
				if err := d.Publish(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			// Down: attempts fail and back off; nothing is lost.
			for r.n.Load() == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			for range 5 {
				clk.Advance(time.Minute)
				time.Sleep(100 * time.Millisecond)
			}
			if len(r.events()) != 0 {
				t.Fatal("a failing receiver's answers were taken as deliveries")
			}
			// Back: everything arrives, each customer's in order.
			r.fail.Store(false)
			clk.Advance(2 * time.Hour)
			got := r.waitFor(12)
			last := map[string]string{}
			seen := map[string]bool{}
			for _, e := range got {
				if seen[e.ID] {
					continue // at least once: a duplicate is allowed, out of order is not
				}
				seen[e.ID] = true
				if prev := last[e.Customer]; prev > e.ID {
					t.Fatalf("customer %s: %s after %s", e.Customer, e.ID, prev)
				}
				last[e.Customer] = e.ID
			}
			if len(seen) != 12 {
				t.Fatalf("delivered %d distinct events", len(seen))
			}
			if p, _, _ := o.Counts(ctx, "crm"); p != 0 {
				t.Fatalf("backlog %d after delivery", p)
			}

			// Three days of failures: dead letter, then redelivered.
			r.fail.Store(true)
			if err := d.Publish(ctx, ev(99, "u_a")); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 200; i++ {
				if _, dead, _ := o.Counts(ctx, "crm"); dead == 1 {
					break
				}
				clk.Advance(time.Hour)
				time.Sleep(20 * time.Millisecond)
			}
			dead, _ := o.Dead(ctx, "crm", 10)
			if len(dead) != 1 || dead[0].Event.ID != "evt_099" || dead[0].Attempts < 2 || dead[0].LastError != "the receiver answered 503" {
				t.Fatalf("dead letters = %+v", dead)
			}
			if d.StatsOf("crm").Buried.Load() != 1 {
				t.Fatal("buried not counted")
			}
			r.fail.Store(false)
			if n, err := o.Revive(ctx, "crm", nil); n != 1 || err != nil {
				t.Fatalf("revive = %d %v", n, err)
			}
			d.Kick("crm")
			r.waitFor(13)
		})
	}
}

// Two nodes on one Redis: each event is delivered once.
func TestDeliverTwoNodesOnce(t *testing.T) {
	c := redistest.Start(t).Client(t)
	clk := new(fakeClock)
	clk.ns.Store(time.Now().UnixNano())
	r := newReceiver(t)
	a := startDeliverer(t, events.NewRedisOutbox(c, "fd:"), "node-a", clk, hook(t, r.URL))
	b := startDeliverer(t, events.NewRedisOutbox(c, "fd:"), "node-b", clk, hook(t, r.URL))
	for i := range 40 {
		node := a
		if i%2 == 1 {
			node = b
		}
		if err := node.Publish(context.Background(), ev(i, "u_"+string(rune('a'+i%4)))); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor(40)
	time.Sleep(time.Second) // a second delivery would show by now
	if got := r.events(); len(got) != 40 {
		t.Fatalf("%d deliveries of 40 events", len(got))
	}
}

func TestBackoff(t *testing.T) {
	if events.Backoff(1) != 5*time.Second || events.Backoff(2) != 10*time.Second || events.Backoff(40) != time.Hour {
		t.Fatalf("backoff 1, 2, 40 = %v %v %v", events.Backoff(1), events.Backoff(2), events.Backoff(40))
	}
	var total time.Duration
	n := 0
	for total < events.MaxAge {
		n++
		total += events.Backoff(n)
	}
	if n < 20 {
		t.Fatalf("only %d attempts in three days", n)
	}
}

// A webhook whose receiver is down keeps at most MaxBacklog events; the
// rest are dropped and counted, so a flood cannot fill the store.
func TestDeliverBacklogBound(t *testing.T) {
	o := outboxes(t)["Bolt"](t)
	clk := new(fakeClock)
	clk.ns.Store(time.Now().UnixNano())
	r := newReceiver(t)
	r.fail.Store(true)
	h := hook(t, r.URL)
	h.MaxBacklog = 3
	d := startDeliverer(t, o, "node-a", clk, h)
	for i := range 3 {
		if err := d.Publish(context.Background(), ev(i, "u_a")); err != nil {
			t.Fatal(err)
		}
	}
	st := d.StatsOf("crm")
	for st.Pending.Load() < 3 {
		time.Sleep(20 * time.Millisecond)
	}
	for i := 3; i < 8; i++ {
		if err := d.Publish(context.Background(), ev(i, "u_a")); err != nil {
			t.Fatal(err)
		}
	}
	if p, _, _ := o.Counts(context.Background(), "crm"); p != 3 || st.Dropped.Load() != 5 {
		t.Fatalf("backlog %d, dropped %d; want 3 and 5", p, st.Dropped.Load())
	}
}
