package caddymodule

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// decisionLog writes edge-defence decisions to the log without a line per
// refused request: a flood is thousands of requests a second, and a line
// each would fill the disk and bury everything else. The first decision
// of a key (route, decision and offending key) in each interval is
// written in full; the rest only count, and when the interval is over one
// `edge defence decisions` line per key says how many there were. Memory
// is bounded: past decisionLogKeys keys in an interval, further keys
// only add to one count for all of them.
type decisionLog struct {
	mu     sync.Mutex
	start  time.Time // of the interval being counted
	counts map[decisionLogKey]int64
	other  int64 // decisions of keys beyond the cap
}

type decisionLogKey struct{ route, decision, key string }

const (
	decisionLogInterval = time.Minute
	decisionLogKeys     = 10_000
)

// note logs decision d on route, or counts it. now is the defences' clock
// (tests move it).
func (l *decisionLog) note(logger *zap.Logger, now time.Time, route string, d botdefense.Decision, clientIP string) {
	k := decisionLogKey{route, d.Action.String(), d.Key}
	l.mu.Lock()
	done := l.rollLocked(now)
	n, seen := l.counts[k]
	first := false
	switch {
	case seen:
		l.counts[k] = n + 1
	case len(l.counts) < decisionLogKeys:
		l.counts[k], first = 1, true
	default:
		l.other++
	}
	l.mu.Unlock()
	l.write(logger, done)
	if !first {
		return
	}
	if ce := logger.Check(zap.InfoLevel, "edge defence decision"); ce != nil {
		ce.Write(zap.String("route", route), zap.String("decision", d.Action.String()),
			zap.Strings("signals", d.Reasons), zap.String("key", d.Key), zap.String("client_ip", clientIP))
	}
}

// flush writes the summaries of an interval that is over (the
// housekeeping loop calls it, so a flood that stops is still summed up).
func (l *decisionLog) flush(logger *zap.Logger, now time.Time) {
	l.mu.Lock()
	done := l.rollLocked(now)
	l.mu.Unlock()
	l.write(logger, done)
}

// interval is what a finished interval counted.
type interval struct {
	start  time.Time
	counts map[decisionLogKey]int64
	other  int64
}

// rollLocked starts a new interval when now is past the current one and
// returns the finished one's counts.
func (l *decisionLog) rollLocked(now time.Time) interval {
	start := now.Truncate(decisionLogInterval)
	if l.counts != nil && !start.After(l.start) {
		return interval{}
	}
	done := interval{start: l.start, counts: l.counts, other: l.other}
	l.start, l.counts, l.other = start, make(map[decisionLogKey]int64), 0
	return done
}

// write logs a finished interval: keys seen more than once (the first was
// written in full) and the keys beyond the cap.
func (l *decisionLog) write(logger *zap.Logger, iv interval) {
	for k, n := range iv.counts {
		if n < 2 {
			continue
		}
		logger.Info("edge defence decisions", zap.String("route", k.route), zap.String("decision", k.decision),
			zap.String("key", k.key), zap.Int64("count", n), zap.Time("since", iv.start), zap.Duration("interval", decisionLogInterval))
	}
	if iv.other > 0 {
		logger.Info("edge defence decisions", zap.String("key", "(keys beyond the log's cap)"),
			zap.Int64("count", iv.other), zap.Time("since", iv.start), zap.Duration("interval", decisionLogInterval))
	}
}
