package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// noteStore records the outcome of a store call for health reporting.
// Only changes of state are logged, so an outage under load is two log
// lines, not one per request.
func (b *backend) noteStore(err error) {
	if err == nil {
		if !b.healthy.Load() && b.healthy.CompareAndSwap(false, true) {
			b.logger.Warn("store recovered", zap.String("backend", b.kind))
		}
		return
	}
	b.lastFailure.Store(time.Now().UnixNano()) // for the operator's health report: wall time
	b.failures.Add(1)
	if b.healthy.CompareAndSwap(true, false) {
		b.logger.Error("store failing: protected routes answer 503 until it recovers", zap.String("backend", b.kind), zap.Error(err))
	}
}

// storeStatus is one store as the admin API reports it.
type storeStatus struct {
	Backend     string    `json:"backend"`
	Healthy     bool      `json:"healthy"`
	Failures    uint64    `json:"failures"`
	LastFailure time.Time `json:"last_failure,omitzero"`
}

func (b *backend) status() storeStatus {
	s := storeStatus{Backend: b.kind, Healthy: b.healthy.Load(), Failures: b.failures.Load()}
	if n := b.lastFailure.Load(); n != 0 {
		s.LastFailure = time.Unix(0, n).UTC()
	}
	return s
}

// adminAPI serves Frontdoor's routes on Caddy's admin endpoint.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "admin.api.frontdoor", New: func() caddy.Module { return new(adminAPI) }}
}

// Routes implements caddy.AdminRouter.
func (adminAPI) Routes() []caddy.AdminRoute {
	routes := append([]caddy.AdminRoute{{Pattern: "/frontdoor/health", Handler: caddy.AdminHandlerFunc(serveHealth)}}, defenseRoutes()...)
	return append(append(append(append(append(append(routes, customerRoutes()...), clientRoutes()...), riskRoutes()...), agentRoutes()...), webhookRoutes()...), statusRoutes()...)
}

// serveHealth answers 200 when every store in use is healthy, 503
// otherwise, with the detail as JSON.
func serveHealth(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("GET only")}
	}
	var stores []storeStatus
	backends.Range(func(_, v any) bool {
		if b, ok := v.(*backend); ok {
			stores = append(stores, b.status())
		}
		return true
	})
	sort.Slice(stores, func(i, j int) bool { return stores[i].Backend < stores[j].Backend })
	status := http.StatusOK
	for _, s := range stores {
		if !s.Healthy {
			status = http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(map[string]any{"stores": stores})
}

// registerMetrics publishes store health and latency, defence decisions
// and surge state, risk decisions, legacy_auth's results, session counts,
// events and the password hasher's gauges on Caddy's metrics registry.
// Labels are bounded: the backend kind, route, decision, result, event type,
// method and the configured webhooks' names only.
func (a *App) registerMetrics(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	b := a.backend
	up := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "frontdoor", Name: "store_up", Help: "1 when the last store call succeeded.",
		ConstLabels: prometheus.Labels{"backend": b.kind},
	}, func() float64 {
		if b.healthy.Load() {
			return 1
		}
		return 0
	})
	failures := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "frontdoor", Name: "store_failures_total", Help: "Store calls that failed.",
		ConstLabels: prometheus.Labels{"backend": b.kind},
	}, func() float64 { return float64(b.failures.Load()) })
	for _, c := range []prometheus.Collector{up, failures, b.events, &b.decisions, &b.riskDecisions, &b.migrations, &b.legacyCounts, hasherMetrics{a.hasher}, nodeMetrics{b}, b.pingSeconds} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}

// storeKind is the part of a store key before the first colon.
func storeKind(key string) string {
	kind, _, _ := strings.Cut(key, ":")
	return kind
}

// Interface guards
var _ caddy.AdminRouter = (*adminAPI)(nil)
