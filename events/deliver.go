package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Webhook is one receiver of events, as the operator configured it.
type Webhook struct {
	Name   string
	URL    string
	Secret []byte
	Filter Filter
	// IncludeEmail adds the customer's current address to each event
	// delivered (looked up at delivery: the outbox holds none).
	IncludeEmail bool
	// Timeout bounds one attempt (default DefaultTimeout).
	Timeout time.Duration
	// MaxBacklog bounds the events waiting for the receiver (default
	// DefaultMaxBacklog): past it, new events for this webhook are
	// dropped and counted, so a flood (failed sign-ins by the million)
	// against a dead receiver cannot fill the store.
	MaxBacklog int
}

// Delivery schedule.
const (
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBacklog is a webhook's default MaxBacklog.
	DefaultMaxBacklog = 1_000_000
	// MaxAge is how long a delivery is retried before it is dead.
	MaxAge = 72 * time.Hour
	// firstBackoff doubles after each failed attempt up to maxBackoff.
	firstBackoff = 5 * time.Second
	maxBackoff   = time.Hour
	// maxPause bounds a webhook's own wait after failures.
	maxPause = time.Minute
	// gather is how long a worker woken by a new event waits for more
	// before it delivers: events reach receivers that much later, and the
	// store records deliveries in fewer writes.
	gather = 100 * time.Millisecond
	// ackBatch is how many deliveries one store write records at most.
	ackBatch = 64
	// window is how many queued deliveries one pass looks at.
	window = 256
	// leaseTTL is how long a node holds a webhook without renewing; a
	// node that dies mid-delivery hands over within it.
	leaseTTL = 15 * time.Second
	// pollEvery is how often every node looks at the outbox (events
	// added on another node, retries falling due).
	pollEvery = 500 * time.Millisecond
	// maxResponse is how much of a receiver's answer is read.
	maxResponse = 64 << 10
)

// Backoff returns the wait after the n-th failed attempt (n ≥ 1).
func Backoff(n int) time.Duration {
	d := firstBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// Stats are one webhook's counters on this node.
type Stats struct {
	Delivered, Failed, Buried atomic.Uint64
	// Dropped counts events not kept because the backlog was full.
	Dropped atomic.Uint64
	// Pending and Dead are the outbox's counts at the last look (every
	// node looks, so each reports the shared backlog).
	Pending, Dead atomic.Int64
	// LastError is the last failed attempt's reason (never a secret: a
	// status code or a network error).
	LastError atomic.Pointer[string]
}

// Deliverer takes events from the outbox to the webhooks. Every node runs
// one; per webhook, the node holding the store's lease delivers and the
// others wait, so each event is posted by one node at a time, and again
// only if that node died before the receiver's answer was recorded.
type Deliverer struct {
	Outbox Outbox
	Client *http.Client
	// Now is the clock retries are scheduled by (the gateway's).
	Now func() time.Time
	// Holder names this node in leases.
	Holder string
	// Email looks up a customer's address for IncludeEmail webhooks
	// ("" and no error: none, e.g. erased).
	Email func(ctx context.Context, customer string) (string, error)
	// OnError hears of failures no request waits for.
	OnError func(msg string, err error)

	hooks atomic.Pointer[[]*Webhook]
	wake  chan struct{}

	mu      sync.Mutex
	stats   map[string]*Stats
	workers map[string]*worker
}

type worker struct {
	hook *Webhook
	stop chan struct{}
	done chan struct{}
	wake chan struct{}
	kick chan struct{}
	// paused is the webhook's own back-off after a failure (only the
	// worker's goroutine touches it).
	paused time.Time
	fails  int
}

// NewDeliverer returns a deliverer over the outbox; Run starts it.
func NewDeliverer(o Outbox, holder string, now func() time.Time) *Deliverer {
	return &Deliverer{
		Outbox: o, Holder: holder, Now: now,
		Client: &http.Client{
			// A receiver's redirect is a failure, not a second target.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		wake:    make(chan struct{}, 1),
		stats:   make(map[string]*Stats),
		workers: make(map[string]*worker),
	}
}

// SetWebhooks replaces the webhooks (a config reload): removed ones stop,
// new ones start, changed ones restart with their new settings. Their
// queues stay in the store.
func (d *Deliverer) SetWebhooks(hooks []*Webhook) {
	d.hooks.Store(&hooks)
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Webhooks returns the webhooks in force.
func (d *Deliverer) Webhooks() []*Webhook {
	if p := d.hooks.Load(); p != nil {
		return *p
	}
	return nil
}

// StatsOf returns the named webhook's counters (made at first use).
func (d *Deliverer) StatsOf(name string) *Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.stats[name]
	if !ok {
		s = new(Stats)
		d.stats[name] = s
	}
	return s
}

// Publish adds e to the outbox of every webhook whose filter takes it.
// It waits for the store's write only: delivery happens elsewhere.
func (d *Deliverer) Publish(ctx context.Context, e Event) error {
	names := d.Targets(e)
	if len(names) == 0 {
		return nil
	}
	if err := d.Outbox.Add(ctx, names, e); err != nil {
		return err
	}
	d.Added(names)
	return nil
}

// Targets names the webhooks e goes to: those whose filter takes it and
// whose backlog has room (an event for a full one is dropped and
// counted). For a caller that writes the outbox itself, then calls Added.
func (d *Deliverer) Targets(e Event) []string {
	var names []string
	for _, h := range d.Webhooks() {
		if !h.Filter.Match(e.Type) {
			continue
		}
		// The backlog as last counted (every poll): a bound, not a
		// store read per event.
		limit := h.MaxBacklog
		if limit <= 0 {
			limit = DefaultMaxBacklog
		}
		if st := d.StatsOf(h.Name); st.Pending.Load() >= int64(limit) {
			st.Dropped.Add(1)
			continue
		}
		names = append(names, h.Name)
	}
	return names
}

// Added wakes the workers of webhooks whose outbox just got an event.
func (d *Deliverer) Added(names []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range names {
		if w := d.workers[n]; w != nil {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Kick ends the named webhook's own back-off and looks at its queue now
// (after an operator's redelivery).
func (d *Deliverer) Kick(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if w := d.workers[name]; w != nil {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx ends.
func (d *Deliverer) Run(ctx context.Context) {
	for {
		d.reconcile(ctx)
		select {
		case <-ctx.Done():
			d.reconcileTo(ctx, nil)
			return
		case <-d.wake:
		}
	}
}

func (d *Deliverer) reconcile(ctx context.Context) { d.reconcileTo(ctx, d.Webhooks()) }

// reconcileTo runs one worker per webhook in hooks and none other.
func (d *Deliverer) reconcileTo(ctx context.Context, hooks []*Webhook) {
	want := make(map[string]*Webhook, len(hooks))
	for _, h := range hooks {
		want[h.Name] = h
	}
	d.mu.Lock()
	var stopping []*worker
	for name, w := range d.workers {
		if h, ok := want[name]; !ok || !sameHook(h, w.hook) {
			stopping = append(stopping, w)
			delete(d.workers, name)
		}
	}
	for name, h := range want {
		if _, ok := d.workers[name]; !ok {
			w := &worker{hook: h, stop: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
			d.workers[name] = w
			go d.work(ctx, w)
		}
	}
	d.mu.Unlock()
	for _, w := range stopping {
		close(w.stop)
		<-w.done
	}
}

func sameHook(a, b *Webhook) bool {
	return a.URL == b.URL && bytes.Equal(a.Secret, b.Secret) && a.IncludeEmail == b.IncludeEmail && a.Timeout == b.Timeout
}

// work is one webhook's loop: hold the lease, deliver what is due, look
// again at the next poll or wake-up.
func (d *Deliverer) work(ctx context.Context, w *worker) {
	defer close(w.done)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	name := w.hook.Name
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = d.Outbox.Release(rctx, name, d.Holder)
	}()
	for {
		d.pass(ctx, w)
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case <-w.wake:
			// Let a burst gather, so one pass (and one store write of
			// what was delivered) takes many events.
			select {
			case <-time.After(gather):
			case <-ctx.Done():
				return
			case <-w.stop:
				return
			}
		case <-w.kick:
			w.paused, w.fails = time.Time{}, 0
		case <-tick.C:
		}
	}
}

// pass counts the backlog and, holding the lease, delivers what is due in
// queue order, never one of a customer's events before an earlier one.
func (d *Deliverer) pass(ctx context.Context, w *worker) {
	h, st := w.hook, d.StatsOf(w.hook.Name)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	pending, dead, err := d.Outbox.Counts(cctx, h.Name)
	cancel()
	if err != nil {
		d.onError("counting a webhook's backlog", err)
		return
	}
	st.Pending.Store(int64(pending))
	st.Dead.Store(int64(dead))
	if pending == 0 || d.Now().Before(w.paused) {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	held, err := d.Outbox.Lease(lctx, h.Name, d.Holder, leaseTTL)
	cancel()
	if err != nil || !held {
		if err != nil {
			d.onError("taking a webhook's lease", err)
		}
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	due, err := d.Outbox.Pending(rctx, h.Name, window)
	cancel()
	if err != nil {
		d.onError("reading a webhook's outbox", err)
		return
	}
	blocked := make(map[string]bool)
	leased := time.Now()
	// Deliveries are recorded in batches: one store write for many (a
	// crash before it re-posts them, same webhook-id: at least once).
	var acked []Delivery
	defer func() { d.ack(ctx, h.Name, acked) }()
	for _, p := range due {
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		default:
		}
		group := p.Event.Customer
		if blocked[group] {
			continue
		}
		now := d.Now()
		if now.Before(w.paused) {
			return
		}
		if p.Next.After(now) {
			blocked[group] = true
			continue
		}
		// Renew the lease well before it lapses (wall time: the lease
		// is the store's).
		if time.Since(leased) > leaseTTL/3 {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ok, err := d.Outbox.Lease(lctx, h.Name, d.Holder, leaseTTL)
			cancel()
			if err != nil || !ok {
				return
			}
			leased = time.Now()
		}
		delivered, next := d.attempt(ctx, w, p, st)
		if delivered {
			if acked = append(acked, p); len(acked) >= ackBatch {
				d.ack(ctx, h.Name, acked)
				acked = nil
			}
		}
		if !next {
			blocked[group] = true
		}
	}
}

// ack records deliveries made.
func (d *Deliverer) ack(ctx context.Context, webhook string, ds []Delivery) {
	if len(ds) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.Outbox.Done(sctx, webhook, ds); err != nil {
		// Delivered again later: at least once, same webhook-id.
		d.onError("recording webhook deliveries", err)
	}
}

// attempt posts one delivery and records a failure; it reports whether
// it was delivered (for the caller to record) and whether the customer's
// later events may follow (delivered or buried).
func (d *Deliverer) attempt(ctx context.Context, w *worker, p Delivery, st *Stats) (delivered, next bool) {
	h := w.hook
	err := d.post(ctx, h, p.Event)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := d.Now()
	if err == nil {
		w.fails, w.paused = 0, time.Time{}
		st.Delivered.Add(1)
		return true, true
	}
	st.Failed.Add(1)
	msg := err.Error()
	st.LastError.Store(&msg)
	w.fails++
	// The webhook as a whole waits too, so a receiver that is down is
	// not asked once per customer; briefly, as each delivery keeps its
	// own schedule.
	w.paused = now.Add(min(Backoff(w.fails), maxPause))
	p.Attempts++
	if p.First.IsZero() {
		p.First = now
	}
	p.LastError = msg
	if now.Sub(p.First) >= MaxAge {
		p.Dead = now
		st.Buried.Add(1)
		if err := d.Outbox.Bury(sctx, h.Name, p); err != nil {
			d.onError("moving a webhook delivery to the dead letters", err)
		}
		return false, true
	}
	p.Next = now.Add(Backoff(p.Attempts))
	if err := d.Outbox.Retry(sctx, h.Name, p); err != nil {
		d.onError("recording a failed webhook delivery", err)
	}
	return false, false
}

// post sends one event, signed; any answer but 2xx is a failure.
func (d *Deliverer) post(ctx context.Context, h *Webhook, e Event) error {
	if h.IncludeEmail && e.Customer != "" && d.Email != nil {
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		email, err := d.Email(ectx, e.Customer)
		cancel()
		if err != nil {
			return fmt.Errorf("looking up the customer's address: %w", err)
		}
		e.Email = email
	}
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Frontdoor-Webhooks/1")
	// The signature's time is the sending time on the wall: receivers
	// check it against their own clocks.
	SetHeaders(req.Header, h.Secret, e.ID, time.Now(), body)
	resp, err := d.Client.Do(req)
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			return errors.New("the receiver did not answer in time")
		}
		return errors.New("the receiver could not be reached")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New("the receiver answered " + strconv.Itoa(resp.StatusCode))
	}
	return nil
}

func (d *Deliverer) onError(msg string, err error) {
	if d.OnError != nil {
		d.OnError(msg, err)
	}
}
