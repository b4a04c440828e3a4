package sms

import (
	"context"
	"errors"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/sendqueue"
	"go.uber.org/zap"
)

// ErrQueueFull is returned by Enqueue when the queue has no room; the
// caller decides what the customer is told.
var ErrQueueFull = errors.New("sms: queue full")

// ErrQueueClosed is returned by Enqueue after Close.
var ErrQueueClosed = errors.New("sms: queue closed")

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

// queueDefaults are a Queue's options where QueueOptions leaves them
// unset. The wait between attempts stops growing at 2m: a code lives ten
// minutes, so a message later than that is useless anyway.
var queueDefaults = sendqueue.Options{Size: 1024, Workers: 4, MaxAttempts: 5, Backoff: 2 * time.Second, MaxBackoff: 2 * time.Minute}

// shared is the options as the queue takes them.
func (o QueueOptions) shared() sendqueue.Options {
	return sendqueue.Options{Size: o.Size, Workers: o.Workers, MaxAttempts: o.MaxAttempts, Backoff: o.Backoff}.Or(queueDefaults)
}

// Queue sends text messages off the request path, retrying transient
// failures. Messages live in memory only: a crash loses what is still
// queued (the customer asks for a new code). It never logs Text or Code.
type Queue struct {
	q *sendqueue.Queue[Message]
}

// textWords are the text-message queue's errors and log lines: a message
// is its kind, id and masked number, never Text or Code, and an
// operator's sender that echoes what it was given loses them.
var textWords = sendqueue.Words[Message]{
	ErrFull: ErrQueueFull, ErrClosed: ErrQueueClosed, ErrPermanent: ErrPermanent,
	ClosePrefix: "sms: queue close",
	Full:        "text-message queue full, message refused", Sent: "text message sent",
	Retry: "text message not sent, will retry", GaveUp: "text message not sent",
	Fields: func(m Message) []zap.Field {
		return []zap.Field{zap.String("kind", m.Kind), zap.String("id", m.ID), zap.String("to", MaskNumber(m.To))}
	},
	Scrub: scrub,
}

// NewQueue starts opts.Workers goroutines delivering through s.
func NewQueue(s Sender, logger *zap.Logger, opts QueueOptions) *Queue {
	return &Queue{q: sendqueue.New(s.Send, logger, opts.shared(), textWords)}
}

// SetSender replaces the sender. A send already under way finishes with
// the sender it started with; every later attempt, retries of messages
// queued before the change included, uses s. A nil s is ignored.
func (q *Queue) SetSender(s Sender) {
	if s != nil {
		q.q.SetSend(s.Send)
	}
}

// SetLogger replaces the logger; nil discards.
func (q *Queue) SetLogger(logger *zap.Logger) { q.q.SetLogger(logger) }

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
	if err := q.q.Enqueue(m); err != nil {
		return "", err
	}
	return m.ID, nil
}

// Pending counts messages accepted but not yet sent or given up on,
// including those being sent or waiting to retry.
func (q *Queue) Pending() int { return q.q.Pending() }

// Close stops accepting messages and lets the workers finish what is
// pending until ctx is done; then it cancels in-flight sends, drops the
// rest and returns.
func (q *Queue) Close(ctx context.Context) error { return q.q.Close(ctx) }
