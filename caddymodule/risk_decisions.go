package caddymodule

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdoorhq/frontdoor/risk"
)

// Risk decisions over time, for the SRE and the operator: Prometheus
// counters with bounded labels (frontdoor_risk_decisions_total by level,
// action and mode; frontdoor_risk_signals_total by signal), and per site
// hourly counts of the last seven days on the admin API:
//
//	GET /frontdoor/risk/decisions[?site=<origin>][&hours=24]
//
// Both are this node's since it started (with several nodes, ask each —
// or sum the metrics).

// riskHours is how many hourly buckets a site keeps (seven days).
const riskHours = 7 * 24

// riskHour is one hour of a site's decisions.
type riskHour struct {
	Start     time.Time      `json:"start"`
	Decisions int            `json:"decisions"`
	Levels    map[string]int `json:"levels"`
	Actions   map[string]int `json:"actions,omitempty"`
	Signals   map[string]int `json:"signals,omitempty"`
	Audit     int            `json:"audit_only,omitempty"`
}

type riskDecisionKey struct{ level, action, mode string }

// riskDecisionLog counts decisions (a backend's).
type riskDecisionLog struct {
	mu        sync.Mutex
	since     time.Time
	sites     map[string][]*riskHour // newest last, at most riskHours
	decisions map[riskDecisionKey]uint64
	signals   map[risk.Signal]uint64
}

// note counts one decision of site at now.
func (l *riskDecisionLog) note(site string, d risk.Decision, now time.Time) {
	action := string(risk.Allow)
	if len(d.Actions) > 0 {
		action = string(d.Actions[0]) // the strongest
	}
	mode := string(risk.Enforce)
	if !d.Enforced {
		mode = string(risk.Audit)
	}
	start := now.UTC().Truncate(time.Hour)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sites == nil {
		l.sites, l.decisions, l.signals = map[string][]*riskHour{}, map[riskDecisionKey]uint64{}, map[risk.Signal]uint64{}
	}
	l.decisions[riskDecisionKey{string(d.Level), action, mode}]++
	hours := l.sites[site]
	if n := len(hours); n == 0 || hours[n-1].Start.Before(start) {
		hours = append(hours, &riskHour{Start: start, Levels: map[string]int{}, Actions: map[string]int{}, Signals: map[string]int{}})
		cut := start.Add(-riskHours * time.Hour)
		hours = slices.DeleteFunc(hours, func(h *riskHour) bool { return !h.Start.After(cut) })
	}
	h := hours[len(hours)-1]
	l.sites[site] = hours
	h.Decisions++
	h.Levels[string(d.Level)]++
	for _, a := range d.Actions {
		h.Actions[string(a)]++
	}
	for _, f := range d.Findings {
		h.Signals[string(f.Signal)]++
		l.signals[f.Signal]++
	}
	if !d.Enforced {
		h.Audit++
	}
}

// hoursOf returns site's buckets of the last n hours at now, newest
// first (copies).
func (l *riskDecisionLog) hoursOf(site string, n int, now time.Time) []riskHour {
	cut := now.UTC().Truncate(time.Hour).Add(-time.Duration(n) * time.Hour)
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []riskHour{}
	hours := l.sites[site]
	for i := len(hours) - 1; i >= 0 && hours[i].Start.After(cut); i-- {
		h := *hours[i]
		h.Levels, h.Actions, h.Signals = cloneCounts(h.Levels), cloneCounts(h.Actions), cloneCounts(h.Signals)
		out = append(out, h)
	}
	return out
}

func cloneCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var (
	riskDecisionsDesc = prometheus.NewDesc("frontdoor_risk_decisions_total",
		"Adaptive-risk decisions on sign-ins and moved sessions, by risk level, strongest action and mode.", []string{"level", "action", "mode"}, nil)
	riskSignalsDesc = prometheus.NewDesc("frontdoor_risk_signals_total",
		"Adaptive-risk signals found, by signal.", []string{"signal"}, nil)
)

// Describe implements prometheus.Collector.
func (l *riskDecisionLog) Describe(ch chan<- *prometheus.Desc) {
	ch <- riskDecisionsDesc
	ch <- riskSignalsDesc
}

// Collect implements prometheus.Collector: every label combination, zero
// or not, so rates start from a known series.
func (l *riskDecisionLog) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, level := range []risk.Level{risk.Low, risk.Medium, risk.High} {
		for _, a := range []risk.Action{risk.Allow, risk.Notify, risk.StepUp, risk.Deny, risk.Reset} {
			for _, m := range []risk.Mode{risk.Enforce, risk.Audit} {
				n := l.decisions[riskDecisionKey{string(level), string(a), string(m)}]
				ch <- prometheus.MustNewConstMetric(riskDecisionsDesc, prometheus.CounterValue, float64(n), string(level), string(a), string(m))
			}
		}
	}
	for _, s := range risk.Signals {
		ch <- prometheus.MustNewConstMetric(riskSignalsDesc, prometheus.CounterValue, float64(l.signals[s]), string(s))
	}
}

func riskRoutes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/frontdoor/risk/decisions", Handler: caddy.AdminHandlerFunc(serveRiskDecisions)}}
}

// riskSiteView is one site's decisions on the admin API.
type riskSiteView struct {
	Site  string     `json:"site"`
	Hours []riskHour `json:"hours"`
}

func serveRiskDecisions(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed("GET")
	}
	q := r.URL.Query()
	n := 24
	if v := q.Get("hours"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > riskHours {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errBadHours}
		}
	}
	sites := []riskSiteView{}
	var since time.Time
	for _, b := range defenders() {
		now := b.clock.Now()
		b.riskDecisions.mu.Lock()
		names := make([]string, 0, len(b.riskDecisions.sites))
		for s := range b.riskDecisions.sites {
			names = append(names, s)
		}
		if since.IsZero() || b.riskDecisions.since.Before(since) {
			since = b.riskDecisions.since
		}
		b.riskDecisions.mu.Unlock()
		slices.Sort(names)
		for _, s := range names {
			if want := q.Get("site"); want != "" && want != s {
				continue
			}
			sites = append(sites, riskSiteView{Site: s, Hours: b.riskDecisions.hoursOf(s, n, now)})
		}
	}
	return writeAdminJSON(w, map[string]any{"node_since": since.UTC(), "hours": n, "sites": sites})
}

var errBadHours = errors.New("hours: 1 to 168")
