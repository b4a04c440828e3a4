package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/events"
	"gopkg.in/yaml.v3"
)

// The operator's observability example (README, "Observability").
var (
	observabilityDir = filepath.Join("..", "examples", "observability")
	dashboardFile    = filepath.Join(observabilityDir, "frontdoor-dashboard.json")
	rulesFile        = filepath.Join(observabilityDir, "frontdoor-rules.yml")
)

// metricRE finds the gateway's metric names in a PromQL expression (with
// its string literals removed): an identifier starting frontdoor_ or
// caddy_ and not part of a longer one. Prometheus' own series (up) are not
// the gateway's to export.
var metricRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9_:])((?:frontdoor|caddy)_[A-Za-z0-9_:]*)`)

// promStringRE matches PromQL string literals: label values such as
// "frontdoor_…" are not metric names.
var promStringRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")

// metricNames returns the gateway metric names an expression queries.
func metricNames(expr string) []string {
	var out []string
	for _, m := range metricRE.FindAllStringSubmatch(promStringRE.ReplaceAllString(expr, `""`), -1) {
		out = append(out, m[1])
	}
	return out
}

func TestObservabilityMetricNames(t *testing.T) {
	for expr, want := range map[string]string{
		`sum by (method) (rate(frontdoor_signins_total{instance=~"$instance",result="failed"}[$__rate_interval]))`: "frontdoor_signins_total",
		`histogram_quantile(0.99, sum by (le) (rate(frontdoor_store_ping_seconds_bucket[5m]))) > 0.25`:             "frontdoor_store_ping_seconds_bucket",
		`frontdoor_password_hash_waiting >= 0.8 * frontdoor_password_hash_queue_limit`:                             "frontdoor_password_hash_waiting frontdoor_password_hash_queue_limit",
		`label_values(frontdoor_store_up, instance)`:                                                               "frontdoor_store_up",
		`up{job="frontdoor_x"} == 0 and caddy_config_last_reload_successful`:                                       "caddy_config_last_reload_successful",
		`my_frontdoor_thing + x`: "",
	} {
		if got := strings.Join(metricNames(expr), " "); got != want {
			t.Errorf("metricNames(%s) = %q, want %q", expr, got, want)
		}
	}
}

// dashboardExprs returns every query of the dashboard: panel targets'
// expr and the template variables' queries.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "query" || k == "definition") {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(d)
	return exprs
}

// ruleExprs returns the alerting rules' expressions.
func ruleExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert  string            `yaml:"alert"`
				Expr   string            `yaml:"expr"`
				For    string            `yaml:"for"`
				Labels map[string]string `yaml:"labels"`
				Annots map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var exprs []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.For == "" || r.Labels["severity"] == "" || r.Annots["summary"] == "" || r.Annots["description"] == "" {
				t.Errorf("rule %s: wants for, a severity label, a summary and a description", r.Alert)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	return exprs
}

// exportedSamples reads the gateway's /metrics and returns the names of
// its samples (a histogram's _bucket, _sum and _count included).
func exportedSamples(t *testing.T, g *gateway) map[string]bool {
	t.Helper()
	status, body := adminGet(t, g, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	names := map[string]bool{}
	for line := range strings.SplitSeq(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// TestObservabilityQueriesExported: every metric the example dashboard
// and alerting rules query is one a running gateway exports, once it has
// served a sign-up, a sign-in and a failed one, with a webhook configured
// and Caddy's HTTP metrics on (the dashboard's HTTP row says it needs
// them).
func TestObservabilityQueriesExported(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(hook.Close)
	g := startGateway(t, gatewayOpts{
		caddy:  "metrics",
		global: "webhook crm " + hook.URL + "/ {\n\t\t\tsecret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\t\t}",
	})
	c := g.signUp("sre@example.com")
	if r := g.post(g.newClient(), "/.frontdoor/login", loginForm("sre@example.com", "not the password")); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.status)
	}
	g.post(c, "/.frontdoor/logout", url.Values{})
	exported := exportedSamples(t, g)

	queried := map[string][]string{} // metric → where
	for _, e := range dashboardExprs(t) {
		for _, n := range metricNames(e) {
			queried[n] = append(queried[n], "dashboard")
		}
	}
	for _, e := range ruleExprs(t) {
		for _, n := range metricNames(e) {
			queried[n] = append(queried[n], "rules")
		}
	}
	// The extraction itself: the metrics this change added are queried.
	for _, n := range []string{"frontdoor_defense_surge", "frontdoor_store_ping_seconds_bucket", "frontdoor_sessions_created_total",
		"frontdoor_sessions_revoked_total", "frontdoor_webhook_backlog", "frontdoor_signins_total", "caddy_http_request_duration_seconds_count"} {
		if queried[n] == nil {
			t.Errorf("the dashboard and rules do not query %s", n)
		}
	}
	var missing []string
	for n, where := range queried {
		if !exported[n] {
			missing = append(missing, n+" ("+strings.Join(where, ", ")+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("queried but not exported by the gateway:\n  %s", strings.Join(missing, "\n  "))
	}
	t.Logf("%d metrics queried, all exported", len(queried))
}

// TestObservabilityRulesCheck: promtool accepts the alerting rules and the
// Prometheus config (`make deps` installs it: Debian's prometheus), and
// run.sh parses.
func TestObservabilityRulesCheck(t *testing.T) {
	if out, err := exec.Command("bash", "-n", filepath.Join(observabilityDir, "run.sh")).CombinedOutput(); err != nil {
		t.Fatalf("bash -n run.sh: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Skip("promtool not installed (make deps installs the Debian package prometheus): rules not checked")
	}
	for _, args := range [][]string{
		{"check", "rules", rulesFile},
		{"check", "config", filepath.Join(observabilityDir, "prometheus.yml")},
	} {
		if out, err := exec.Command("promtool", args...).CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// sampleValue returns the value of one exposition line's sample, e.g.
// `frontdoor_defense_surge`, or -1 when it is missing.
func sampleValue(t *testing.T, g *gateway, sample string) float64 {
	t.Helper()
	_, body := adminGet(t, g, "/metrics")
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return -1
}

// TestObservabilityNodeMetrics: the metrics added for the dashboard move
// with what they count. The surge gauge is 0, then 1 once failed sign-ins
// site-wide pass the surge limit; sessions started and ended count a
// sign-in and a sign-out; the store's ping is timed.
func TestObservabilityNodeMetrics(t *testing.T) {
	// automation ignore: the test's Go client is a script, which would be
	// challenged before the surge is.
	siem := newHookReceiver(t)
	g := startGateway(t, gatewayOpts{limits: "limits {\n\t\t\tsurge 2/1m\n\t\t\tautomation ignore\n\t\t}", global: webhookGlobal("siem", siem.URL, "events defense.*")})
	if v := sampleValue(t, g, "frontdoor_defense_surge"); v != 0 {
		t.Fatalf("surge before any failure: %v", v)
	}
	if v := sampleValue(t, g, `frontdoor_store_ping_seconds_count{backend="bolt"}`); v < 1 {
		t.Fatalf("store pings timed: %v", v)
	}
	c := g.signUp("node@example.com")
	if v := sampleValue(t, g, "frontdoor_sessions_created_total"); v != 1 {
		t.Fatalf("sessions created after one sign-in: %v", v)
	}
	if r := g.post(c, "/.frontdoor/logout", url.Values{}); r.status >= 400 {
		t.Fatalf("logout: %d", r.status)
	}
	if v := sampleValue(t, g, "frontdoor_sessions_revoked_total"); v != 1 {
		t.Fatalf("sessions revoked after a sign-out: %v", v)
	}
	// Two failures reach the limit; the next attempt finds the surge.
	deadline := time.Now().Add(10 * time.Second)
	for sampleValue(t, g, "frontdoor_defense_surge") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no surge after failed sign-ins over the limit")
		}
		g.post(g.newClient(), "/.frontdoor/login", loginForm("node@example.com", "not the password"))
	}
	// The surge is an event too (the housekeeping tick notices it within
	// 5 s), naming the node.
	started := siem.waitFor("defense.surge_started", ofType(events.SurgeStarted, ""))
	if started.Data["node"] == "" || started.Customer != "" {
		t.Fatalf("surge_started = %+v", started)
	}
	// Past the cool-down the surge ends, and says so.
	useClock(t).advance(11 * time.Minute)
	siem.waitFor("defense.surge_ended", ofType(events.SurgeEnded, ""))
	if v := sampleValue(t, g, "frontdoor_defense_surge"); v != 0 {
		t.Fatalf("surge after its cool-down: %v", v)
	}
}
