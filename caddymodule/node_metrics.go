package caddymodule

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// nodeMetrics exports this node's surge state and session counts: what an
// operator's dashboard needs beside the decision and event counters. Every
// value is an atomic load already kept for other reasons, so a scrape
// reads no store (counting the store's sessions would read every one).
type nodeMetrics struct{ b *backend }

var (
	surgeDesc = prometheus.NewDesc("frontdoor_defense_surge",
		"1 while this node's edge defence is in a surge (failed sign-ins site-wide over the surge limit: everyone new is challenged), else 0.", nil, nil)
	sessionsCreatedDesc = prometheus.NewDesc("frontdoor_sessions_created_total",
		"Sessions this node started (every sign-in, single sign-on and agent session).", nil, nil)
	sessionsRevokedDesc = prometheus.NewDesc("frontdoor_sessions_revoked_total",
		"Sessions this node ended on purpose: sign-outs, revocations, eviction beyond 50 per customer (expiry is not counted).", nil, nil)
)

// Describe implements prometheus.Collector.
func (m nodeMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- surgeDesc
	ch <- sessionsCreatedDesc
	ch <- sessionsRevokedDesc
}

// Collect implements prometheus.Collector.
func (m nodeMetrics) Collect(ch chan<- prometheus.Metric) {
	surge := 0.0
	if m.b.defense.Surge() {
		surge = 1
	}
	ch <- prometheus.MustNewConstMetric(surgeDesc, prometheus.GaugeValue, surge)
	created, revoked := m.b.sessions.Counts()
	ch <- prometheus.MustNewConstMetric(sessionsCreatedDesc, prometheus.CounterValue, float64(created))
	ch <- prometheus.MustNewConstMetric(sessionsRevokedDesc, prometheus.CounterValue, float64(revoked))
}

// pingBuckets span a loopback Redis (well under a millisecond) to the
// housekeeping ping's own 30 s bound.
var pingBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// newPingHistogram measures the housekeeping loop's store ping, every 5 s:
// the store's latency as this node sees it, at no cost to requests.
func newPingHistogram(kind string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "frontdoor", Name: "store_ping_seconds",
		Help:        "Time the store took to answer the health ping (every 5 s; failed pings included, up to their 30 s bound).",
		ConstLabels: prometheus.Labels{"backend": kind},
		Buckets:     pingBuckets,
	})
}

// pingStore pings the store, times the answer (wall time: latency, not
// the backend's movable clock) and notes the store's health.
func (b *backend) pingStore(ctx context.Context) {
	start := time.Now()
	err := b.stores.Sessions.Ping(ctx)
	b.pingSeconds.Observe(time.Since(start).Seconds())
	b.noteStore(err)
}

// Interface guards
var _ prometheus.Collector = nodeMetrics{}
