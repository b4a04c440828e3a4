package identity

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/sendqueue"
	"go.uber.org/zap"
)

// ErrQueueFull is returned by Enqueue when the queue has no room; the caller
// decides whether that is worth telling the customer.
var ErrQueueFull = errors.New("identity: mail queue full")

// ErrQueueClosed is returned by Enqueue after Close.
var ErrQueueClosed = errors.New("identity: mail queue closed")

// QueueOptions tunes a Queue. Zero values take the defaults.
type QueueOptions struct {
	// Size is how many messages may wait; default 1024.
	Size int
	// Workers is how many messages are sent at once; default 2.
	Workers int
	// MaxAttempts counts the first try; default 6.
	MaxAttempts int
	// Backoff is the first retry delay, doubling each time up to 5m; default 2s.
	Backoff time.Duration
}

// queueDefaults are a Queue's options where QueueOptions leaves them
// unset; the wait between attempts stops growing at 5m.
var queueDefaults = sendqueue.Options{Size: 1024, Workers: 2, MaxAttempts: 6, Backoff: 2 * time.Second, MaxBackoff: 5 * time.Minute}

// shared is the options as the queue takes them.
func (o QueueOptions) shared() sendqueue.Options {
	return sendqueue.Options{Size: o.Size, Workers: o.Workers, MaxAttempts: o.MaxAttempts, Backoff: o.Backoff}.Or(queueDefaults)
}

// Queue sends mail off the request path, retrying transient failures.
// Messages live in memory only: a crash loses what is still queued.
type Queue struct {
	q *sendqueue.Queue[Message]
}

// mailWords are the mail queue's errors and log lines: a message is its
// kind and its redacted recipient, and server replies (which often echo
// the recipient) lose the address.
var mailWords = sendqueue.Words[Message]{
	ErrFull: ErrQueueFull, ErrClosed: ErrQueueClosed, ErrPermanent: ErrPermanent,
	ClosePrefix: "identity: mail queue close",
	Full:        "mail queue full, message refused", Sent: "mail sent", Retry: "mail send failed, will retry", GaveUp: "mail not sent",
	Fields: func(m Message) []zap.Field {
		return []zap.Field{zap.String("kind", m.Kind), zap.String("to", redactAddress(m.To))}
	},
	Scrub: func(errText string, m Message) string { return scrub(errText, m.To, redactAddress(m.To)) },
}

// NewQueue starts opts.Workers goroutines delivering through m.
func NewQueue(m Mailer, logger *zap.Logger, opts QueueOptions) *Queue {
	return &Queue{q: sendqueue.New(m.Send, logger, opts.shared(), mailWords)}
}

// SetMailer replaces the mailer. A send already under way finishes with
// the mailer it started with; every later attempt, retries of messages
// queued before the change included, uses m. A nil m is ignored.
func (q *Queue) SetMailer(m Mailer) {
	if m != nil {
		q.q.SetSend(m.Send)
	}
}

// SetLogger replaces the logger; nil discards.
func (q *Queue) SetLogger(logger *zap.Logger) { q.q.SetLogger(logger) }

// Enqueue accepts m for delivery without blocking. A malformed message is
// refused here, so the caller hears about it while it still can.
func (q *Queue) Enqueue(m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	return q.q.Enqueue(m)
}

// Pending counts messages accepted but not yet sent or given up on,
// including those being sent or waiting to retry.
func (q *Queue) Pending() int { return q.q.Pending() }

// Close stops accepting messages and lets the workers finish what is pending
// until ctx is done; then it cancels in-flight sends, drops the rest and returns.
func (q *Queue) Close(ctx context.Context) error { return q.q.Close(ctx) }

// scrub replaces the recipient's address, and its bare addr-spec, with the redacted form.
func scrub(s, rcpt, redacted string) string {
	if a, err := parseAddress(rcpt); err == nil && a.Address != "" {
		s = strings.ReplaceAll(s, a.Address, redacted)
	}
	if rcpt != "" {
		s = strings.ReplaceAll(s, rcpt, redacted)
	}
	return s
}
