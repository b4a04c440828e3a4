package caddymodule

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// TestDecisionLogBounded: a flood of new keys writes at most the cap's
// worth of first lines per interval and sums up the rest in one line; the
// memory held is the cap's.
func TestDecisionLogBounded(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	logger := zap.New(core)
	var l decisionLog
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const keys = decisionLogKeys + 5000
	for i := range keys {
		for range 2 {
			l.note(logger, now, botdefense.RouteLogin, botdefense.Decision{Action: botdefense.Limited, Key: fmt.Sprintf("ip 192.0.%d.%d", i/256, i%256)}, "")
		}
	}
	if n := logs.FilterMessage("edge defence decision").Len(); n != decisionLogKeys {
		t.Fatalf("%d first lines, want %d", n, decisionLogKeys)
	}
	if len(l.counts) != decisionLogKeys {
		t.Fatalf("%d keys held", len(l.counts))
	}
	l.flush(logger, now.Add(decisionLogInterval))
	sums := logs.FilterMessage("edge defence decisions").All()
	if len(sums) != decisionLogKeys+1 {
		t.Fatalf("%d summary lines, want %d", len(sums), decisionLogKeys+1)
	}
	other := logs.FilterMessage("edge defence decisions").FilterField(zap.String("key", "(keys beyond the log's cap)")).All()
	if len(other) != 1 || other[0].ContextMap()["count"] != int64(2*5000) {
		t.Fatalf("beyond the cap: %v", other)
	}
	// A quiet interval writes nothing.
	before := logs.Len()
	l.flush(logger, now.Add(2*decisionLogInterval))
	if logs.Len() != before {
		t.Fatal("an empty interval was logged")
	}
}
