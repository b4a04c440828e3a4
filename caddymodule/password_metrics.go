package caddymodule

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdoorhq/frontdoor/identity"
)

// hasherMetrics exports the argon2id hasher's counters and gauges: how
// much hashing the gateway does, and that a burst of sign-ins queues (then
// is turned away with 503) instead of running more hashes, each holding
// its memory, than there are slots. No labels: one hasher per config.
type hasherMetrics struct{ h *identity.Hasher }

var (
	hashesDesc = prometheus.NewDesc("frontdoor_password_hashes_total",
		"password hash runs started (argon2id and legacy checks) (sign-in, sign-up, password change; unknown addresses included).", nil, nil)
	hashBusyDesc = prometheus.NewDesc("frontdoor_password_hash_busy_total",
		"Password checks turned away because the hashing queue was full or the wait too long (answered 503).", nil, nil)
	hashInFlightDesc = prometheus.NewDesc("frontdoor_password_hashes_in_flight",
		"argon2id runs under way now; never more than frontdoor_password_hash_slots.", nil, nil)
	hashInFlightMaxDesc = prometheus.NewDesc("frontdoor_password_hashes_in_flight_max",
		"Most argon2id runs ever under way at once since the hasher started.", nil, nil)
	hashWaitingDesc = prometheus.NewDesc("frontdoor_password_hash_waiting",
		"Callers waiting for a hashing slot now.", nil, nil)
	hashWaitingMaxDesc = prometheus.NewDesc("frontdoor_password_hash_waiting_max",
		"Most callers ever waiting for a hashing slot at once since the hasher started.", nil, nil)
	hashSlotsDesc = prometheus.NewDesc("frontdoor_password_hash_slots",
		"argon2id runs allowed at once (password concurrency).", nil, nil)
	hashQueueDesc = prometheus.NewDesc("frontdoor_password_hash_queue_limit",
		"Callers allowed to wait for a hashing slot (password queue).", nil, nil)
	hashMemoryDesc = prometheus.NewDesc("frontdoor_password_hash_memory_bytes",
		"Memory one argon2id run holds (password argon2 memory).", nil, nil)
)

// Describe implements prometheus.Collector.
func (m hasherMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{hashesDesc, hashBusyDesc, hashInFlightDesc, hashInFlightMaxDesc,
		hashWaitingDesc, hashWaitingMaxDesc, hashSlotsDesc, hashQueueDesc, hashMemoryDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m hasherMetrics) Collect(ch chan<- prometheus.Metric) {
	h := m.h
	queue, _ := h.QueueLimits()
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(hashesDesc, float64(h.Runs()))
	counter(hashBusyDesc, float64(h.Busy()))
	gauge(hashInFlightDesc, float64(h.InFlight()))
	gauge(hashInFlightMaxDesc, float64(h.PeakInFlight()))
	gauge(hashWaitingDesc, float64(h.Waiting()))
	gauge(hashWaitingMaxDesc, float64(h.PeakWaiting()))
	gauge(hashSlotsDesc, float64(h.Concurrency()))
	gauge(hashQueueDesc, float64(queue))
	gauge(hashMemoryDesc, float64(h.Params().MemoryKiB)*1024)
}

// Interface guards
var _ prometheus.Collector = hasherMetrics{}
