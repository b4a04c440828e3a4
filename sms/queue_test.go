package sms_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/sms"
)

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func closeQueue(t *testing.T, q *sms.Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Error(err)
	}
}

// TestQueueRetriesThenSends: a 503 is retried with back-off, and the
// message reaches the receiver on the next attempt, with the same id.
func TestQueueRetriesThenSends(t *testing.T) {
	var (
		hits atomic.Int32
		mu   sync.Mutex
		ids  []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids = append(ids, r.Header.Get("webhook-id"))
		mu.Unlock()
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	logger, buf := bufferLogger()
	q := sms.NewQueue(webhookSender(t, srv.URL), logger, sms.QueueOptions{Backoff: 10 * time.Millisecond})
	m := testMessage()
	m.ID = ""
	id, err := q.Enqueue(m)
	if err != nil || !strings.HasPrefix(id, "sms_") {
		t.Fatalf("enqueue: %q %v", id, err)
	}
	waitFor(t, "the retry", func() bool { return hits.Load() == 2 && q.Pending() == 0 })
	closeQueue(t, q)
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 2 || ids[0] != id || ids[1] != id {
		t.Fatalf("webhook ids %v, want %s twice", ids, id)
	}
	out := buf.String()
	if !strings.Contains(out, "will retry") || !strings.Contains(out, "text message sent") {
		t.Fatalf("log:\n%s", out)
	}
	if strings.Contains(out, testCode) || strings.Contains(out, "Your Shop code") || strings.Contains(out, "7400123456") {
		t.Fatalf("the log holds the text or the number:\n%s", out)
	}
}

// TestQueuePermanentNotRetried: a 400 is tried once.
func TestQueuePermanentNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	logger, buf := bufferLogger()
	q := sms.NewQueue(twilioSender(t, srv.URL, 0), logger, sms.QueueOptions{Backoff: time.Millisecond})
	if _, err := q.Enqueue(testMessage()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the attempt", func() bool { return q.Pending() == 0 })
	closeQueue(t, q)
	if hits.Load() != 1 || !strings.Contains(buf.String(), "text message not sent") {
		t.Fatalf("%d attempts; log:\n%s", hits.Load(), buf)
	}
}

// echoSender fails with an error that repeats everything it was given,
// as a careless operator's module might.
type echoSender struct{ calls atomic.Int32 }

func (e *echoSender) Send(_ context.Context, m sms.Message) error {
	e.calls.Add(1)
	return fmt.Errorf("provider refused %s for %s (%s)", m.Text, m.To, m.To[1:])
}

// TestQueueNeverLogsText: attempts are bounded, and what a sender's error
// repeats is scrubbed from the log.
func TestQueueNeverLogsText(t *testing.T) {
	logger, buf := bufferLogger()
	s := &echoSender{}
	q := sms.NewQueue(s, logger, sms.QueueOptions{Backoff: time.Millisecond, MaxAttempts: 3})
	if _, err := q.Enqueue(testMessage()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the attempts", func() bool { return q.Pending() == 0 })
	closeQueue(t, q)
	out := buf.String()
	if s.calls.Load() != 3 || !strings.Contains(out, "attempts exhausted") {
		t.Fatalf("%d calls; log:\n%s", s.calls.Load(), out)
	}
	if strings.Contains(out, testCode) || strings.Contains(out, "Your Shop code") || strings.Contains(out, "7400123456") {
		t.Fatalf("the log holds the text or the number:\n%s", out)
	}
}

// blockSender holds every send until released or cancelled.
type blockSender struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockSender) Send(ctx context.Context, _ sms.Message) error {
	b.started <- struct{}{}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestQueueBounds: a full queue refuses at once; a bad message is refused
// at Enqueue; Close waits a bounded time, then gives up on what is left;
// a closed queue refuses.
func TestQueueBounds(t *testing.T) {
	b := &blockSender{started: make(chan struct{}, 8), release: make(chan struct{})}
	q := sms.NewQueue(b, nil, sms.QueueOptions{Size: 2, Workers: 1})
	if _, err := q.Enqueue(sms.Message{To: "+447400123456", Text: "hi", Code: "x"}); !errors.Is(err, sms.ErrPermanent) {
		t.Fatalf("bad message: %v", err)
	}
	if _, err := q.Enqueue(testMessage()); err != nil {
		t.Fatal(err)
	}
	<-b.started // the worker holds the first; two more fill the queue
	for range 2 {
		if _, err := q.Enqueue(testMessage()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Enqueue(testMessage()); !errors.Is(err, sms.ErrQueueFull) {
		t.Fatalf("full queue: %v", err)
	}
	if q.Pending() != 3 {
		t.Fatalf("pending %d", q.Pending())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); err == nil || !strings.Contains(err.Error(), "not sent") {
		t.Fatalf("close: %v", err)
	}
	if _, err := q.Enqueue(testMessage()); !errors.Is(err, sms.ErrQueueClosed) {
		t.Fatalf("closed queue: %v", err)
	}
	waitFor(t, "the workers to give up", func() bool { return q.Pending() == 0 })
}

// TestQueueSetSender: a later attempt uses the sender in force.
func TestQueueSetSender(t *testing.T) {
	first := &echoSender{}
	q := sms.NewQueue(first, nil, sms.QueueOptions{Backoff: 20 * time.Millisecond, MaxAttempts: 50})
	if _, err := q.Enqueue(testMessage()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a first attempt", func() bool { return first.calls.Load() >= 1 })
	dir := t.TempDir()
	second, err := sms.NewDirSender(dir)
	if err != nil {
		t.Fatal(err)
	}
	q.SetSender(second)
	q.SetSender(nil) // ignored
	waitFor(t, "delivery by the new sender", func() bool { return q.Pending() == 0 })
	closeQueue(t, q)
	if files, err := os.ReadDir(dir); err != nil || len(files) != 1 {
		t.Fatalf("the new sender wrote %d files (%v)", len(files), err)
	}
}
