package sms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// ErrQueueFull is returned by Enqueue when the queue has no room; the
// caller decides what the customer is told.
var ErrQueueFull = errors.New("sms: queue full")

// ErrQueueClosed is returned by Enqueue after Close.
var ErrQueueClosed = errors.New("sms: queue closed")

// maxBackoff caps the wait between attempts: a code lives ten minutes,
// so a message later than that is useless anyway.
const maxBackoff = 2 * time.Minute

// QueueOptions tunes a Queue. Zero values take the defaults.
type QueueOptions struct {
	// Size is how many messages may wait; default 1024.
	Size int
	// Workers is how many messages are sent at once; default 4.
	Workers int
	// MaxAttempts counts the first try; default 5.
	MaxAttempts int
	// Backoff is the first retry delay, doubling each time up to 2m;
	// default 2s.
	Backoff time.Duration
}

func (o QueueOptions) withDefaults() QueueOptions {
	if o.Size <= 0 {
		o.Size = 1024
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 2 * time.Second
	}
	return o
}

// backoff is the wait after the given failed attempt (1-based).
func (o QueueOptions) backoff(attempt int) time.Duration {
	d := o.Backoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// Queue sends text messages off the request path, retrying transient
// failures. Messages live in memory only: a crash loses what is still
// queued (the customer asks for a new code). It never logs Text or Code.
type Queue struct {
	// sender and logger are swapped whole when the configuration changes
	// (a config reload) while workers are sending.
	sender atomic.Pointer[Sender]
	logger atomic.Pointer[zap.Logger]
	opts   QueueOptions

	mu     sync.Mutex // guards closed and sends on ch
	closed bool
	ch     chan Message

	pending atomic.Int64
	ctx     context.Context // cancelled when Close gives up waiting
	abort   context.CancelFunc
	done    chan struct{} // closed when every worker has returned
}

// NewQueue starts opts.Workers goroutines delivering through s.
func NewQueue(s Sender, logger *zap.Logger, opts QueueOptions) *Queue {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{
		opts:  opts,
		ch:    make(chan Message, opts.Size),
		ctx:   ctx,
		abort: cancel,
		done:  make(chan struct{}),
	}
	q.sender.Store(&s)
	q.SetLogger(logger)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Go(q.work)
	}
	go func() {
		wg.Wait()
		close(q.done)
	}()
	return q
}

// SetSender replaces the sender. A send already under way finishes with
// the sender it started with; every later attempt, retries of messages
// queued before the change included, uses s. A nil s is ignored.
func (q *Queue) SetSender(s Sender) {
	if s != nil {
		q.sender.Store(&s)
	}
}

// SetLogger replaces the logger; nil discards.
func (q *Queue) SetLogger(logger *zap.Logger) {
	if logger == nil {
		logger = zap.NewNop()
	}
	q.logger.Store(logger)
}

func (q *Queue) log() *zap.Logger { return q.logger.Load() }

// Enqueue accepts m for delivery without blocking and returns its id
// (m.ID, or a new one). A malformed message is refused here, so the
// caller hears about it while it still can.
func (q *Queue) Enqueue(m Message) (string, error) {
	if m.ID == "" {
		id, err := NewID()
		if err != nil {
			return "", err
		}
		m.ID = id
	}
	if err := m.Validate(); err != nil {
		return "", err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return "", ErrQueueClosed
	}
	select {
	case q.ch <- m:
		q.pending.Add(1)
		return m.ID, nil
	default:
		q.log().Warn("text-message queue full, message refused", q.fields(m)...)
		return "", ErrQueueFull
	}
}

// Pending counts messages accepted but not yet sent or given up on,
// including those being sent or waiting to retry.
func (q *Queue) Pending() int { return int(q.pending.Load()) }

// Close stops accepting messages and lets the workers finish what is
// pending until ctx is done; then it cancels in-flight sends, drops the
// rest and returns.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
		q.abort()
		return nil
	case <-ctx.Done():
		q.abort()
		return fmt.Errorf("sms: queue close: %d messages not sent: %w", q.Pending(), ctx.Err())
	}
}

func (q *Queue) work() {
	for m := range q.ch {
		if q.ctx.Err() != nil {
			q.giveUp(m, 0, "queue closed")
		} else {
			q.deliver(m)
		}
		q.pending.Add(-1)
	}
}

// fields are what a log line may say of a message: never Text or Code.
func (q *Queue) fields(m Message, more ...zap.Field) []zap.Field {
	return append([]zap.Field{zap.String("kind", m.Kind), zap.String("id", m.ID), zap.String("to", MaskNumber(m.To))}, more...)
}

func (q *Queue) deliver(m Message) {
	for attempt := 1; ; attempt++ {
		err := (*q.sender.Load()).Send(q.ctx, m)
		if err == nil {
			q.log().Debug("text message sent", q.fields(m, zap.Int("attempt", attempt))...)
			return
		}
		// An operator's sender might echo what it was given.
		errText := scrub(err.Error(), m)
		switch {
		case errors.Is(err, ErrPermanent):
			q.giveUp(m, attempt, errText)
			return
		case q.ctx.Err() != nil:
			q.giveUp(m, attempt, "queue closed: "+errText)
			return
		case attempt >= q.opts.MaxAttempts:
			q.giveUp(m, attempt, "attempts exhausted: "+errText)
			return
		}
		wait := q.opts.backoff(attempt)
		q.log().Warn("text message not sent, will retry", q.fields(m,
			zap.Int("attempt", attempt), zap.Duration("retry_in", wait), zap.String("error", errText))...)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-q.ctx.Done():
			t.Stop()
			q.giveUp(m, attempt, "queue closed while waiting to retry")
			return
		}
	}
}

func (q *Queue) giveUp(m Message, attempt int, reason string) {
	q.log().Error("text message not sent", q.fields(m, zap.Int("attempt", attempt), zap.String("error", reason))...)
}
