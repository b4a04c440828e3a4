package caddymodule

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdoorhq/frontdoor/identity"
)

// TestHasherMetrics: the hasher's collector passes a pedantic registry
// (descriptions match what is collected) and reports the hasher's state.
func TestHasherMetrics(t *testing.T) {
	h, err := identity.NewHasher(identity.DefaultArgon2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Hash(context.Background(), "a passphrase"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(hasherMetrics{h}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 0 {
				t.Errorf("%s has labels %v, want none", mf.GetName(), m.GetLabel())
			}
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[mf.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	for name, want := range map[string]float64{
		"frontdoor_password_hashes_total":         1,
		"frontdoor_password_hash_busy_total":      0,
		"frontdoor_password_hashes_in_flight":     0,
		"frontdoor_password_hashes_in_flight_max": 1,
		"frontdoor_password_hash_waiting":         0,
		"frontdoor_password_hash_waiting_max":     0,
		"frontdoor_password_hash_slots":           3,
		"frontdoor_password_hash_queue_limit":     3 * 512,
		"frontdoor_password_hash_memory_bytes":    19 << 20,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if len(got) != 9 {
		t.Errorf("%d metrics gathered, want 9: %v", len(got), got)
	}
}
