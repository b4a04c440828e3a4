package caddymodule

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// A status page for operators without Grafana, on Caddy's admin endpoint:
//
//	GET /frontdoor/status   HTML: the last hour per minute (sign-ins,
//	                        failures, challenges, refusals, risk
//	                        decisions), top offenders, surge, webhook
//	                        backlog and store health
//
// Read-only, loopback callers only, no script at all: the charts are
// inline SVG drawn on the server, each with its numbers in words, and a
// table of the same numbers beside them. It shows this node: every node
// keeps its own series (statusSeries), as the metrics do.
//
// ?refresh=30 reloads it every 30 seconds (a meta refresh; 10 to 3600).
// Reloading is the operator's choice, with a link to stop it, never the
// default: a page that reloads by itself interrupts someone reading it
// with a screen reader or a magnifier (WCAG 2.2.1, 2.2.4).

//go:embed templates/admin/status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Parse(statusHTML))

// statusCSP allows the page's one style element, by its hash, and nothing
// else: no script, no image, no form, no frame.
var statusCSP = func() string {
	_, rest, _ := strings.Cut(statusHTML, "<style>")
	css, _, _ := strings.Cut(rest, "</style>")
	sum := sha256.Sum256([]byte(css))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}()

// statusOffenders is how many offenders the page lists per store.
const statusOffenders = 10

// minRefresh and maxRefresh bound ?refresh (seconds).
const minRefresh, maxRefresh = 10, 3600

func statusRoutes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/frontdoor/status", Handler: caddy.AdminHandlerFunc(serveStatus)}}
}

func serveStatus(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed("GET")
	}
	host, _ := os.Hostname()
	page := statusView{Node: host, Generated: time.Now().UTC().Format("2006-01-02 15:04:05")}
	if s := r.URL.Query().Get("refresh"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < minRefresh || n > maxRefresh {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("refresh must be %d..%d seconds", minRefresh, maxRefresh)}
		}
		page.Refresh = n
	}
	for i, b := range defenders() {
		page.Backends = append(page.Backends, b.statusView(fmt.Sprintf("store%d", i+1)))
	}
	// Rendered whole first, so a template error is a clean 500.
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, page); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("frontdoor: status page: %w", err)}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", statusCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// Caddy's admin endpoint lets a browser in only with an allowed
	// Origin or Referer: the page's own links and reloads must send it.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	_, err := w.Write(buf.Bytes())
	return err
}

// statusView is what the page shows.
type statusView struct {
	Node      string
	Generated string
	// Refresh is the reload period in seconds (0: none).
	Refresh  int
	Backends []backendView
}

// backendView is one store's part of the page.
type backendView struct {
	// ID prefixes the ids of the section's elements.
	ID, Kind string
	// From and To are the first and last minutes charted (UTC).
	From, To  string
	Store     storeStatus
	Surge     bool
	Charts    []chartView
	Rows      []minuteRow
	Offenders []botdefense.Offender
	Webhooks  []hookStatus
}

// chartView is one series as an SVG bar chart.
type chartView struct {
	ID, Class, Name string
	// Title says the numbers in words; Desc the span and busiest minute.
	Title, Desc string
	Bars        []barView
}

// barView is one minute's bar, in the chart's viewBox (600 × 100; bars
// stand on y = 95).
type barView struct{ X, Y, H float64 }

// minuteRow is one minute of the table (minutes with activity only).
type minuteRow struct {
	Minute string
	Counts []uint64
}

// hookStatus is one webhook's line on the page.
type hookStatus struct {
	Name              string
	Pending, Dead     int64
	Delivered, Failed uint64
	LastError         string
}

// statusSeriesSpec names a series on the page.
type statusSeriesSpec struct {
	id, class, name, noun string
	series                func(*statusSeries) *minuteSeries
}

var statusSpecs = []statusSeriesSpec{
	{"signins", "signins", "Sign-ins", "Sign-ins", func(s *statusSeries) *minuteSeries { return &s.signIns }},
	{"failures", "failures", "Failed sign-ins", "Failed sign-ins", func(s *statusSeries) *minuteSeries { return &s.failures }},
	{"challenges", "challenges", "Challenges at the edge", "Proof-of-work challenges", func(s *statusSeries) *minuteSeries { return &s.challenges }},
	{"refusals", "refusals", "Refusals at the edge", "Attempts limited, refused or blocked", func(s *statusSeries) *minuteSeries { return &s.refusals }},
	{"risk", "risk", "Risk decisions", "Risk decisions with findings", func(s *statusSeries) *minuteSeries { return &s.risk }},
}

// statusView gathers the backend's part of the page; id prefixes its
// elements' ids (two stores may be of one kind).
func (b *backend) statusView(id string) backendView {
	now := b.clock.Now().UTC()
	first := now.Truncate(time.Minute).Add(-(statusMinutes - 1) * time.Minute)
	v := backendView{
		ID: id, Kind: b.kind, Store: b.status(), Surge: b.defense.Surge(),
		From: first.Format("15:04"), To: now.Format("15:04"),
		Offenders: b.defense.Offenders(statusOffenders),
	}
	counts := make([][statusMinutes]uint64, len(statusSpecs))
	for i, spec := range statusSpecs {
		counts[i] = spec.series(&b.recent).last(now)
		c := chart(spec, id, counts[i], first)
		if spec.id == "risk" {
			if n := sum(b.recent.riskRefused.last(now)); n > 0 {
				c.Title += fmt.Sprintf(" (%d refused)", n)
			}
		}
		v.Charts = append(v.Charts, c)
	}
	for m := range statusMinutes {
		row := minuteRow{Minute: first.Add(time.Duration(m) * time.Minute).Format("15:04")}
		busy := false
		for i := range statusSpecs {
			row.Counts = append(row.Counts, counts[i][m])
			busy = busy || counts[i][m] > 0
		}
		if busy {
			v.Rows = append(v.Rows, row)
		}
	}
	for _, h := range b.events.deliverer.Webhooks() {
		st := b.events.deliverer.StatsOf(h.Name)
		wv := hookStatus{Name: h.Name, Pending: st.Pending.Load(), Dead: st.Dead.Load(), Delivered: st.Delivered.Load(), Failed: st.Failed.Load()}
		if e := st.LastError.Load(); e != nil {
			wv.LastError = *e
		}
		v.Webhooks = append(v.Webhooks, wv)
	}
	return v
}

func sum(counts [statusMinutes]uint64) uint64 {
	var n uint64
	for _, c := range counts {
		n += c
	}
	return n
}

// chart draws one series: a bar per minute, scaled to its busiest, and
// the same numbers in words for those who cannot see the bars.
func chart(spec statusSeriesSpec, id string, counts [statusMinutes]uint64, first time.Time) chartView {
	var total, most uint64
	busiest := 0
	for i, c := range counts {
		total += c
		if c > most {
			most, busiest = c, i
		}
	}
	c := chartView{
		ID: id + "-" + spec.id, Class: spec.class, Name: spec.name,
		Title: fmt.Sprintf("%s per minute over the last hour: %d in total, at most %d a minute", spec.noun, total, most),
	}
	last := first.Add((statusMinutes - 1) * time.Minute)
	c.Desc = fmt.Sprintf("From %s to %s UTC. ", first.Format("15:04"), last.Format("15:04"))
	if total == 0 {
		c.Desc += "None in that hour."
		return c
	}
	c.Desc += fmt.Sprintf("Busiest minute: %s UTC, with %d. In the last minute: %d.",
		first.Add(time.Duration(busiest)*time.Minute).Format("15:04"), most, counts[statusMinutes-1])
	for i, n := range counts {
		if n == 0 {
			continue
		}
		h := max(math.Round(900*float64(n)/float64(most))/10, 2) // a lone one stays visible
		c.Bars = append(c.Bars, barView{X: float64(i*10 + 1), Y: 95 - h, H: h})
	}
	return c
}
