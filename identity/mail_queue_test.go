package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// scriptedMailer fails the first failures sends, then records deliveries.
type scriptedMailer struct {
	mu        sync.Mutex
	failures  int
	err       error
	attempts  int
	delivered []Message
	sent      chan Message
}

func (s *scriptedMailer) Send(_ context.Context, m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.attempts <= s.failures {
		return s.err
	}
	s.delivered = append(s.delivered, m)
	if s.sent != nil {
		s.sent <- m
	}
	return nil
}

func (s *scriptedMailer) counts() (attempts, delivered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts, len(s.delivered)
}

// stuckMailer blocks every send until release is closed or ctx ends.
type stuckMailer struct {
	started chan Message
	release chan struct{}
}

func newStuckMailer() *stuckMailer {
	return &stuckMailer{started: make(chan Message, 100), release: make(chan struct{})}
}

func (s *stuckMailer) Send(ctx context.Context, m Message) error {
	s.started <- m
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newTestQueue(t *testing.T, m Mailer, opts QueueOptions) (*Queue, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	q := NewQueue(m, zap.New(core), opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Close(ctx)
	})
	return q, logs
}

func closeQueue(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestQueueRetriesThenDeliversOnce(t *testing.T) {
	const token = "tok-7f3a9c"
	m := &scriptedMailer{failures: 2, err: errors.New("451 try again later for jane@example.com"), sent: make(chan Message, 1)}
	q, logs := newTestQueue(t, m, QueueOptions{Backoff: time.Millisecond})
	msg := Message{To: "jane@example.com", Subject: "Verify", Text: "https://shop.example.com/v?t=" + token, Kind: "verify"}
	if err := q.Enqueue(msg); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if got := <-m.sent; got != msg {
		t.Errorf("delivered %+v, want %+v", got, msg)
	}
	closeQueue(t, q)
	if a, d := m.counts(); a != 3 || d != 1 {
		t.Errorf("attempts, deliveries = %d, %d; want 3, 1", a, d)
	}
	if q.Pending() != 0 {
		t.Errorf("Pending = %d after Close", q.Pending())
	}
	retries := logs.FilterMessageSnippet("will retry").All()
	if len(retries) != 2 {
		t.Fatalf("retry log entries = %d, want 2", len(retries))
	}
	for _, e := range logs.All() {
		line := e.Message + " " + fmt.Sprint(e.ContextMap())
		for _, secret := range []string{token, "jane@example.com", "shop.example.com/v"} {
			if strings.Contains(line, secret) {
				t.Errorf("log entry leaks %q: %s", secret, line)
			}
		}
	}
	if f := retries[0].ContextMap(); f["to"] != "j***@example.com" || f["kind"] != "verify" || f["attempt"] != int64(1) {
		t.Errorf("retry fields = %v", f)
	}
}

func TestQueueGivesUp(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		wantAttempts int
	}{
		{"transient error exhausts attempts", errors.New("connection refused"), 4},
		{"permanent error is not retried", permanent(errors.New("550 no such user")), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &scriptedMailer{failures: 1 << 30, err: tt.err}
			q, logs := newTestQueue(t, m, QueueOptions{MaxAttempts: 4, Backoff: time.Millisecond})
			if err := q.Enqueue(Message{To: "jane@example.com", Text: "x", Kind: "verify"}); err != nil {
				t.Fatal(err)
			}
			closeQueue(t, q)
			if a, d := m.counts(); a != tt.wantAttempts || d != 0 {
				t.Errorf("attempts, deliveries = %d, %d; want %d, 0", a, d, tt.wantAttempts)
			}
			if logs.FilterMessage("mail not sent").Len() != 1 {
				t.Error("no log entry for the dropped message")
			}
		})
	}
}

func TestQueueEnqueueNeverBlocks(t *testing.T) {
	sm := newStuckMailer()
	q, _ := newTestQueue(t, sm, QueueOptions{Size: 2, Workers: 1})
	msg := Message{To: "jane@example.com", Text: "x"}
	if err := q.Enqueue(msg); err != nil {
		t.Fatal(err)
	}
	<-sm.started // the only worker is now stuck

	errs := make(chan error, 3)
	go func() {
		for range 3 {
			errs <- q.Enqueue(msg)
		}
	}()
	want := []error{nil, nil, ErrQueueFull}
	for i, w := range want {
		select {
		case err := <-errs:
			if !errors.Is(err, w) {
				t.Errorf("Enqueue #%d = %v, want %v", i+2, err, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Enqueue blocked")
		}
	}
	if q.Pending() != 3 {
		t.Errorf("Pending = %d, want 3", q.Pending())
	}
	close(sm.release)
	closeQueue(t, q)
	if q.Pending() != 0 {
		t.Errorf("Pending = %d after Close", q.Pending())
	}
}

func TestQueueCloseDrains(t *testing.T) {
	m := &scriptedMailer{}
	q, _ := newTestQueue(t, m, QueueOptions{Workers: 3})
	const n = 50
	for i := range n {
		if err := q.Enqueue(Message{To: fmt.Sprintf("u%d@example.com", i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	closeQueue(t, q)
	if _, d := m.counts(); d != n {
		t.Errorf("delivered %d, want %d", d, n)
	}
	if err := q.Enqueue(Message{To: "late@example.com", Text: "x"}); !errors.Is(err, ErrQueueClosed) {
		t.Errorf("Enqueue after Close = %v, want ErrQueueClosed", err)
	}
}

func TestQueueCloseStopsAtDeadline(t *testing.T) {
	sm := newStuckMailer()
	q, logs := newTestQueue(t, sm, QueueOptions{Workers: 1})
	for range 3 {
		if err := q.Enqueue(Message{To: "jane@example.com", Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	<-sm.started
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	// The in-flight send sees its context cancelled; the rest are dropped.
	eventually(t, "queue to empty", func() bool { return q.Pending() == 0 })
	if n := logs.FilterMessage("mail not sent").Len(); n != 3 {
		t.Errorf("dropped-message log entries = %d, want 3", n)
	}
}

func TestQueueEnqueueRejectsBadMessage(t *testing.T) {
	q, _ := newTestQueue(t, &scriptedMailer{}, QueueOptions{})
	if err := q.Enqueue(Message{To: "jane@example.com\r\nBcc: x@example.net", Text: "x"}); err == nil {
		t.Error("Enqueue accepted header injection")
	}
	if q.Pending() != 0 {
		t.Errorf("Pending = %d", q.Pending())
	}
}

func TestQueueBackoff(t *testing.T) {
	o := QueueOptions{}.shared()
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 2 * time.Second}, {2, 4 * time.Second}, {3, 8 * time.Second},
		{8, 256 * time.Second}, {9, 5 * time.Minute}, {40, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := o.Wait(tt.attempt); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
	if o.Size != 1024 || o.Workers != 2 || o.MaxAttempts != 6 {
		t.Errorf("defaults = %+v", o)
	}
}
