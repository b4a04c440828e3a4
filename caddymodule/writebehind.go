package caddymodule

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// writeBehind runs store work that must not be timed by the client off the
// response path. A sign-up creates a customer for a new address, only
// stores a link for an unverified one and only mails a verified one's
// owner; done while the client waits, those differences in store work are
// a clock that tells who has an account (invariant 6). Queued, every
// sign-up answers after the same work: checking the form, hashing the
// password, one enqueue.
//
// The queue is bounded: when it is full the caller answers "busy", which
// says nothing about the address. It belongs to the backend (the store it
// writes to) and drains when the backend is destroyed.
type writeBehind struct {
	jobs    chan func(context.Context)
	timeout time.Duration
	pending atomic.Int64
	workers sync.WaitGroup

	mu     sync.Mutex // guards closed and sending on jobs
	closed bool
}

// Sizes of the queue: enough for the sign-up limits' worst minute.
const (
	writeBehindQueue   = 1024
	writeBehindWorkers = 2
	writeBehindTimeout = 10 * time.Second
)

func newWriteBehind(workers, queue int, timeout time.Duration) *writeBehind {
	q := &writeBehind{jobs: make(chan func(context.Context), queue), timeout: timeout}
	for range workers {
		q.workers.Add(1)
		go q.work()
	}
	return q
}

func (q *writeBehind) work() {
	defer q.workers.Done()
	for job := range q.jobs {
		ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
		job(ctx)
		cancel()
		q.pending.Add(-1)
	}
}

// Do queues job; false when the queue is full or closed.
func (q *writeBehind) Do(job func(context.Context)) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	select {
	case q.jobs <- job:
		q.pending.Add(1)
		return true
	default:
		return false
	}
}

// Pending is how many queued jobs have not finished.
func (q *writeBehind) Pending() int64 { return q.pending.Load() }

// Close refuses new jobs and waits for the queued ones to finish.
func (q *writeBehind) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	q.mu.Unlock()
	q.workers.Wait()
}
