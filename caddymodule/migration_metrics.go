package caddymodule

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// migrationCounts counts legacy password hashes (a backend's, this node's
// since it started): kept by an import, and replaced by argon2id at a
// sign-in. Imported minus replaced is what remains to migrate;
// frontdoor_legacy_auth_total{result="migrated"} counts the customers
// lazy migration brought in.
type migrationCounts struct{ imported, replaced atomic.Uint64 }

func (m *migrationCounts) note(event string) {
	switch event {
	case "imported":
		m.imported.Add(1)
	case "replaced":
		m.replaced.Add(1)
	}
}

var migrationDesc = prometheus.NewDesc("frontdoor_legacy_hashes_total",
	"Legacy password hashes: imported (kept by `frontdoor import customers`) and replaced (by argon2id at the customer's sign-in); imported minus replaced remain.",
	[]string{"event"}, nil)

// Describe implements prometheus.Collector.
func (m *migrationCounts) Describe(ch chan<- *prometheus.Desc) { ch <- migrationDesc }

// Collect implements prometheus.Collector.
func (m *migrationCounts) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(migrationDesc, prometheus.CounterValue, float64(m.imported.Load()), "imported")
	ch <- prometheus.MustNewConstMetric(migrationDesc, prometheus.CounterValue, float64(m.replaced.Load()), "replaced")
}
