// Package sendqueue is the one retrying, in-memory delivery queue behind
// the mail queue (identity.Queue) and the text-message queue (sms.Queue):
// bounded, a fixed set of workers, exponential back-off, permanent
// failures not retried, a sender and logger swapped whole on a config
// reload, and log lines that say only what the owner allows of a message.
package sendqueue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Options tunes a Queue; the owner fills every field (Or: its defaults).
type Options struct {
	// Size is how many messages may wait; Workers how many are sent at
	// once; MaxAttempts counts the first try.
	Size, Workers, MaxAttempts int
	// Backoff is the first retry delay, doubling each time up to
	// MaxBackoff.
	Backoff, MaxBackoff time.Duration
}

// Or is o with each unset (zero or negative) field taken from def: an
// owner's options over its defaults.
func (o Options) Or(def Options) Options {
	if o.Size <= 0 {
		o.Size = def.Size
	}
	if o.Workers <= 0 {
		o.Workers = def.Workers
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = def.MaxAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = def.Backoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = def.MaxBackoff
	}
	return o
}

// Wait is the back-off after the given failed attempt (1-based).
func (o Options) Wait(attempt int) time.Duration {
	d := o.Backoff
	for i := 1; i < attempt && d < o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.MaxBackoff)
}

// Words are what a Queue's owner says in its errors and log lines.
type Words[M any] struct {
	// ErrFull, ErrClosed and ErrPermanent are the owner's errors: Enqueue
	// returns the first two; a send failing with the third is not retried.
	ErrFull, ErrClosed, ErrPermanent error
	// ClosePrefix begins Close's error ("identity: mail queue close").
	ClosePrefix string
	// Log messages: refused when full, sent, failed and retried, given up.
	Full, Sent, Retry, GaveUp string
	// Fields are what a log line may say of a message.
	Fields func(m M) []zap.Field
	// Scrub takes out of a sender's error what no log may hold of m.
	Scrub func(errText string, m M) string
}

// Queue sends messages off the request path, retrying transient
// failures. Messages live in memory only: a crash loses what is queued.
type Queue[M any] struct {
	// send and logger are swapped whole when the configuration changes
	// (a config reload) while workers are sending.
	send   atomic.Pointer[func(context.Context, M) error]
	logger atomic.Pointer[zap.Logger]
	opts   Options
	words  Words[M]

	mu     sync.Mutex // guards closed and sends on ch
	closed bool
	ch     chan M

	pending atomic.Int64
	ctx     context.Context // cancelled when Close gives up waiting
	abort   context.CancelFunc
	done    chan struct{} // closed when every worker has returned
}

// New starts opts.Workers goroutines delivering through send.
func New[M any](send func(context.Context, M) error, logger *zap.Logger, opts Options, words Words[M]) *Queue[M] {
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue[M]{opts: opts, words: words, ch: make(chan M, opts.Size), ctx: ctx, abort: cancel, done: make(chan struct{})}
	q.send.Store(&send)
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

// SetSend replaces the sender. A send already under way finishes with the
// sender it started with; every later attempt, retries of messages queued
// before the change included, uses send.
func (q *Queue[M]) SetSend(send func(context.Context, M) error) { q.send.Store(&send) }

// SetLogger replaces the logger; nil discards.
func (q *Queue[M]) SetLogger(logger *zap.Logger) {
	if logger == nil {
		logger = zap.NewNop()
	}
	q.logger.Store(logger)
}

func (q *Queue[M]) log() *zap.Logger { return q.logger.Load() }

// Enqueue accepts m for delivery without blocking; the owner has checked
// it.
func (q *Queue[M]) Enqueue(m M) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return q.words.ErrClosed
	}
	select {
	case q.ch <- m:
		q.pending.Add(1)
		return nil
	default:
		q.log().Warn(q.words.Full, q.words.Fields(m)...)
		return q.words.ErrFull
	}
}

// Pending counts messages accepted but not yet sent or given up on,
// including those being sent or waiting to retry.
func (q *Queue[M]) Pending() int { return int(q.pending.Load()) }

// Close stops accepting messages and lets the workers finish what is
// pending until ctx is done; then it cancels in-flight sends, drops the
// rest and returns.
func (q *Queue[M]) Close(ctx context.Context) error {
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
		return fmt.Errorf("%s: %d messages not sent: %w", q.words.ClosePrefix, q.Pending(), ctx.Err())
	}
}

func (q *Queue[M]) work() {
	for m := range q.ch {
		if q.ctx.Err() != nil {
			q.giveUp(m, 0, "queue closed")
		} else {
			q.deliver(m)
		}
		q.pending.Add(-1)
	}
}

func (q *Queue[M]) with(m M, more ...zap.Field) []zap.Field {
	return append(q.words.Fields(m), more...)
}

func (q *Queue[M]) deliver(m M) {
	for attempt := 1; ; attempt++ {
		err := (*q.send.Load())(q.ctx, m)
		if err == nil {
			q.log().Debug(q.words.Sent, q.with(m, zap.Int("attempt", attempt))...)
			return
		}
		errText := q.words.Scrub(err.Error(), m)
		switch {
		case errors.Is(err, q.words.ErrPermanent):
			q.giveUp(m, attempt, errText)
			return
		case q.ctx.Err() != nil:
			q.giveUp(m, attempt, "queue closed: "+errText)
			return
		case attempt >= q.opts.MaxAttempts:
			q.giveUp(m, attempt, "attempts exhausted: "+errText)
			return
		}
		wait := q.opts.Wait(attempt)
		q.log().Warn(q.words.Retry, q.with(m,
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

func (q *Queue[M]) giveUp(m M, attempt int, reason string) {
	q.log().Error(q.words.GaveUp, q.with(m, zap.Int("attempt", attempt), zap.String("error", reason))...)
}
