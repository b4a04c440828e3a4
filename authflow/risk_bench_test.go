package authflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/risk"
)

// benchFirstFactor runs an ordinary sign-in's decision after its first
// factor — a customer with ten sign-ins from this device and place, no
// second factor — under rs (nil: no risk judgement).
func benchFirstFactor(b *testing.B, rs *authflow.RiskSettings) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	var h risk.History
	for i := range risk.HistoryLen {
		h = h.Add(risk.Sighting{At: now.Add(time.Duration(i-risk.HistoryLen) * time.Hour), Place: riskPlaces["127.10.0.1"], Device: "dev", Browser: risk.DeviceFamily(ua)})
	}
	f := &authflow.Flows{Risk: rs, Clock: func() time.Time { return now }}
	in := authflow.FirstFactorInput{Customer: &identity.Customer{ID: "u_bench", Email: "bench@example.com", EmailVerified: true, Sightings: h},
		AMR: []string{"pwd"}, Client: authflow.Client{IP: "127.10.0.1", UserAgent: ua}, DeviceID: "dev"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out, err := f.FirstFactorDone(ctx, in)
		if due, ok := out.(authflow.SessionDue); err != nil || !ok || rs != nil && (due.Risk == nil || len(due.Risk.Decision.Findings) != 0) {
			b.Fatalf("%T %v", out, err)
		}
	}
}

// BenchmarkFirstFactorDone is the decision without risk judgement.
func BenchmarkFirstFactorDone(b *testing.B) { benchFirstFactor(b, nil) }

// BenchmarkFirstFactorDoneRisk is the same with the default policy: the
// risk check's cost on a sign-in besides the location lookup (Locate is
// a map here; the database lookup is BenchmarkLocate in package risk).
func BenchmarkFirstFactorDoneRisk(b *testing.B) {
	benchFirstFactor(b, &authflow.RiskSettings{Policy: risk.DefaultPolicy(), Locate: func(ip string) risk.Place { return riskPlaces[ip] }})
}
