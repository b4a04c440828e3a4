package main

import (
	"math"
	"testing"
)

// TestSetReferences: each setup is compared with the mean of the (a) runs
// either side of it in its own round, never with an (a) of another round.
func TestSetReferences(t *testing.T) {
	rows := []row{
		{round: 1, id: "a", rps: 100, p99: 10, requests: 1, hz: 1},
		{round: 1, id: "b-bolt", rps: 90},
		{round: 1, id: "a", rps: 120, p99: 12, requests: 1, hz: 1},
		{round: 1, id: "d", rps: 40},
		{round: 2, id: "c", rps: 50}, // no (a) before it in round 2
		{round: 2, id: "a", rps: 60, p99: 6, requests: 1, hz: 1},
	}
	setReferences(rows)
	for i, want := range []float64{100, 110, 120, 120, 60, 60} {
		if math.Abs(rows[i].refRPS-want) > 1e-9 {
			t.Errorf("row %d (%s, round %d): reference %v req/s, want %v", i, rows[i].id, rows[i].round, rows[i].refRPS, want)
		}
	}
	if got := rows[1].refP99; math.Abs(got-11) > 1e-9 {
		t.Errorf("b-bolt reference p99 %v, want 11", got)
	}
}
