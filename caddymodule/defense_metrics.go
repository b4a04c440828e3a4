package caddymodule

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// decisionCounts counts edge-defence decisions by route and decision:
// bounded labels (the routes and decisions botdefense knows), exported as
// frontdoor_defense_decisions_total.
type decisionCounts struct {
	n [botdefense.RouteCount][botdefense.Blocked + 1]atomic.Uint64
	// onNote hears of every decision counted (the status page's series);
	// set before the backend serves.
	onNote func(botdefense.Action)
}

var routeIndex = func() map[string]int {
	m := make(map[string]int, len(botdefense.Routes))
	for i, r := range botdefense.Routes {
		m[r] = i
	}
	return m
}()

func (d *decisionCounts) note(route string, a botdefense.Action) {
	if i, ok := routeIndex[route]; ok && a >= 0 && int(a) < len(d.n[i]) {
		d.n[i][a].Add(1)
		if d.onNote != nil {
			d.onNote(a)
		}
	}
}

// count returns how many decisions a were taken on route.
func (d *decisionCounts) count(route string, a botdefense.Action) uint64 {
	return d.n[routeIndex[route]][a].Load()
}

var decisionsDesc = prometheus.NewDesc("frontdoor_defense_decisions_total",
	"Edge-defence decisions on sign-in, sign-up and other defended routes.", []string{"route", "decision"}, nil)

// Describe implements prometheus.Collector.
func (d *decisionCounts) Describe(ch chan<- *prometheus.Desc) { ch <- decisionsDesc }

// Collect implements prometheus.Collector.
func (d *decisionCounts) Collect(ch chan<- prometheus.Metric) {
	for _, route := range botdefense.Routes {
		for a := botdefense.Allow; a <= botdefense.Blocked; a++ {
			ch <- prometheus.MustNewConstMetric(decisionsDesc, prometheus.CounterValue, float64(d.count(route, a)), route, a.String())
		}
	}
}
