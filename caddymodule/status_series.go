package caddymodule

import (
	"sync"
	"time"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/events"
)

// statusMinutes is how many one-minute buckets a series keeps: the status
// page shows the last hour.
const statusMinutes = 60

// minuteSeries counts things per minute over the last hour in a ring of
// statusMinutes buckets: fixed memory, whatever the traffic. Each bucket
// remembers which minute it counts, so a bucket left from an earlier pass
// round the ring (or from a clock that jumped) reads as zero and is
// cleared by the next count that lands in it.
type minuteSeries struct {
	mu     sync.Mutex
	counts [statusMinutes]uint64
	// minutes are the Unix minutes the buckets count.
	minutes [statusMinutes]int64
}

// unixMinute is the minute t falls in, counted from the Unix epoch.
func unixMinute(t time.Time) int64 {
	m := t.Unix() / 60
	if t.Unix() < 0 && t.Unix()%60 != 0 {
		m-- // floor, not truncation, before 1970
	}
	return m
}

// bucket is the ring index of Unix minute m.
func bucket(m int64) int {
	i := m % statusMinutes
	if i < 0 {
		i += statusMinutes
	}
	return int(i)
}

// add counts one at now.
func (s *minuteSeries) add(now time.Time) {
	m := unixMinute(now)
	i := bucket(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.minutes[i] != m {
		s.minutes[i], s.counts[i] = m, 0
	}
	s.counts[i]++
}

// last returns the counts of the hour ending with now's minute, oldest
// first. Buckets of other minutes — older than an hour, or ahead of a
// clock moved back — count nothing.
func (s *minuteSeries) last(now time.Time) [statusMinutes]uint64 {
	var out [statusMinutes]uint64
	first := unixMinute(now) - statusMinutes + 1
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range out {
		m := first + int64(k)
		if i := bucket(m); s.minutes[i] == m {
			out[k] = s.counts[i]
		}
	}
	return out
}

// statusSeries is what the status page charts, counted on this node by
// the backend's clock (a test that moves it moves the hour).
type statusSeries struct {
	now func() time.Time
	// signIns and failures count signin.succeeded and signin.failed.
	signIns, failures minuteSeries
	// challenges count proofs of work asked at the edge; refusals the
	// attempts limited, refused or blocked there.
	challenges, refusals minuteSeries
	// risk counts risk.decision events (sign-ins with risk findings),
	// riskRefused those the policy refused.
	risk, riskRefused minuteSeries
}

// noteEvent counts an event published on this node (eventBus.onEvent).
func (s *statusSeries) noteEvent(e events.Event) {
	switch e.Type {
	case events.SignInSucceeded:
		s.signIns.add(s.now())
	case events.SignInFailed:
		s.failures.add(s.now())
	case events.RiskDecision:
		// A refusal is published twice: the decision, then the refusal.
		if e.Data["refused"] == "true" {
			s.riskRefused.add(s.now())
		} else {
			s.risk.add(s.now())
		}
	}
}

// noteDecision counts an edge-defence decision (decisionCounts.onNote).
// A solved challenge is not counted again: its challenge was.
func (s *statusSeries) noteDecision(a botdefense.Action) {
	switch a {
	case botdefense.Challenge:
		s.challenges.add(s.now())
	case botdefense.Limited, botdefense.Refused, botdefense.Blocked:
		s.refusals.add(s.now())
	}
}
