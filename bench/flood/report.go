//go:build linux

package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
)

// report is what the flood prints (Markdown) and writes (JSON).
type report struct {
	Command     string           `json:"command"`
	Build       string           `json:"build"`  // commit the gateway was built from
	Policy      string           `json:"policy"` // the login defences in force, from the admin API
	Machine     benchkit.Machine `json:"machine"`
	Config      config           `json:"config"`
	Interrupted bool             `json:"interrupted,omitempty"`

	WallSeconds     float64 `json:"wall_seconds"`
	Requests        int64   `json:"requests"` // every HTTP request, attack and customers
	RequestsPerSec  float64 `json:"requests_per_second"`
	AttemptsPerSec  float64 `json:"attack_attempts_per_second"`
	GatewayCPU      float64 `json:"gateway_cpu_seconds"`
	GatewayCores    float64 `json:"gateway_cpu_cores"` // CPU seconds per wall second
	GatewayPeakRSS  int64   `json:"gateway_peak_rss_bytes"`
	FloodCPU        float64 `json:"flood_tool_cpu_seconds"`   // this program: clients, TLS, solving
	OtherCPU        float64 `json:"other_cpu_seconds"`        // everything else on the machine meanwhile (quiet machine: ~0)
	SurgeFirstSeenS float64 `json:"surge_first_seen_seconds"` // -1: never

	Offenders []offender       `json:"top_offenders"` // keys refused or challenged most (admin API, this hour)
	Attack    attackReport     `json:"attack"`
	Legit     legitReport      `json:"legit"`
	Decisions map[string]int64 `json:"login_decisions"` // frontdoor_defense_decisions_total{route="login"} during the flood
	Targets   []target         `json:"targets"`
	Timeline  []timeRowOut     `json:"timeline"`
}

type config struct {
	Attempts     int     `json:"attempts"`
	Rate         float64 `json:"rate,omitempty"`
	Addrs        int     `json:"addrs"`
	Prefixes     int     `json:"prefixes"`
	Conc         int     `json:"conc"`
	Duration     string  `json:"duration"`
	Solve        bool    `json:"solve"`
	SolveConc    int     `json:"solve_conc,omitempty"`
	Customers    int     `json:"customers"`
	LegitEvery   string  `json:"legit_every"`
	LegitShared  bool    `json:"legit_shared_prefix"`
	RealTries    int     `json:"real_tries"`
	Seed         uint64  `json:"seed"`
	PerAddr      float64 `json:"attempts_per_addr"`
	AddrsPerPfx  float64 `json:"addrs_per_prefix"`
	Limits       string  `json:"limits"`
	HasherConcur int     `json:"hasher_concurrency"`
}

type attackReport struct {
	Sent         int64             `json:"attempts_sent"`
	Answers      map[string]int64  `json:"answers"`
	RealAnswers  map[string]int64  `json:"answers_on_real_accounts"`
	HasherClient int64             `json:"reached_hasher"` // answers 401 or 303
	HasherPct    float64           `json:"reached_hasher_percent"`
	HasherMetric int64             `json:"reached_hasher_by_metric"` // allowed+solved minus the customers' own
	Solved       int64             `json:"challenges_solved,omitempty"`
	SolveCPU     float64           `json:"solve_seconds,omitempty"` // wall time in SolvePow (one solver at a time: about its CPU time)
	PostP50Ms    float64           `json:"post_p50_ms"`
	PostP99Ms    float64           `json:"post_p99_ms"`
	Samples      map[string]string `json:"samples,omitempty"`
}

type legitReport struct {
	SignIns    int              `json:"sign_ins"`
	OK         int              `json:"ok"`
	SuccessPct float64          `json:"success_percent"`
	Answers    map[string]int64 `json:"answers"`
	Challenged int              `json:"challenged"`
	Bits       map[string]int   `json:"challenge_bits"`
	Posts      int              `json:"posts"`
	TotalP50Ms float64          `json:"latency_p50_ms"` // first post to 303, solving included (successful sign-ins)
	TotalP99Ms float64          `json:"latency_p99_ms"`
	TotalMaxMs float64          `json:"latency_max_ms"`
	// P99AllMs is the p99 time to get in over every sign-in, a failed one
	// counting as never (-1 then: more than 1 % never got in).
	P99AllMs     float64        `json:"latency_p99_all_ms"`
	ServerP50Ms  float64        `json:"server_p50_ms"` // the same without solving
	ServerP99Ms  float64        `json:"server_p99_ms"`
	SolveP50Ms   float64        `json:"solve_p50_ms"` // per challenged sign-in
	SolveP99Ms   float64        `json:"solve_p99_ms"`
	Failures     []signIn       `json:"failures,omitempty"` // the first few
	FailureCount map[string]int `json:"failures_by_customer,omitempty"`
}

type target struct {
	What     string `json:"what"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      string `json:"met"` // yes, no, n/a
}

type timeRowOut struct {
	From int `json:"from_s"`
	timeRow
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *report) fill(t *tally, atk *attack, decisions map[string]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := &r.Attack
	a.Answers, a.RealAnswers, a.Samples = t.answers, t.realAnswers, t.samples
	for _, n := range t.answers {
		a.Sent += n
	}
	a.HasherClient = t.answers[ans401] + t.answers[ans303]
	if a.Sent > 0 {
		a.HasherPct = 100 * float64(a.HasherClient) / float64(a.Sent)
	}
	a.PostP50Ms, a.PostP99Ms = ms(quantile(t.postLat, .5)), ms(quantile(t.postLat, .99))
	if atk != nil {
		a.Solved, a.SolveCPU = atk.solved.Load(), time.Duration(atk.solveCPU.Load()).Seconds()
	}

	l := &r.Legit
	l.Answers, l.Bits, l.FailureCount = map[string]int64{}, map[string]int{}, map[string]int{}
	var total, server, solve []time.Duration
	passed := int64(0) // customers' posts the defences let through
	for _, s := range t.legit {
		l.SignIns++
		l.Posts += s.Posts
		l.Answers[s.Answer]++
		if len(s.Bits) > 0 {
			l.Challenged++
			solve = append(solve, s.Solve)
			for _, b := range s.Bits {
				l.Bits[strconv.Itoa(b)]++
			}
		}
		switch s.Answer {
		case ans303, ans401, ans5xx:
			passed++
		}
		if s.Answer == ans303 {
			l.OK++
			total = append(total, s.Total)
			server = append(server, s.Total-s.Solve)
			continue
		}
		l.FailureCount[fmt.Sprintf("customer %02d", s.Customer)]++
		if len(l.Failures) < 10 {
			l.Failures = append(l.Failures, s)
		}
	}
	if l.SignIns > 0 {
		l.SuccessPct = 100 * float64(l.OK) / float64(l.SignIns)
	}
	l.TotalP50Ms, l.TotalP99Ms, l.TotalMaxMs = ms(quantile(total, .5)), ms(quantile(total, .99)), ms(quantile(total, 1))
	l.ServerP50Ms, l.ServerP99Ms = ms(quantile(server, .5)), ms(quantile(server, .99))
	l.P99AllMs = -1
	if l.SignIns > 0 && float64(l.SignIns-l.OK) <= 0.01*float64(l.SignIns) {
		// Failures sort last: the p99 rank among all is within the successes.
		all := slices.Clone(total)
		for range l.SignIns - l.OK {
			all = append(all, time.Duration(1<<62))
		}
		l.P99AllMs = ms(quantile(all, .99))
	}
	l.SolveP50Ms, l.SolveP99Ms = ms(quantile(solve, .5)), ms(quantile(solve, .99))

	r.Decisions = decisions
	if decisions != nil {
		a.HasherMetric = decisions["allowed"] + decisions["solved"] - passed
	}

	keys := make([]int, 0, len(t.timeline))
	for k := range t.timeline {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r.Timeline = append(r.Timeline, timeRowOut{From: k * int(bucket/time.Second), timeRow: *t.timeline[k]})
	}

	met := func(applies, ok bool) string {
		switch {
		case !applies:
			return "n/a"
		case ok:
			return "yes"
		}
		return "no"
	}
	r.Targets = []target{
		{"customers' sign-ins that succeed", "≥ 99 %", fmt.Sprintf("%.1f %% (%d of %d)", l.SuccessPct, l.OK, l.SignIns), met(l.SignIns > 0, l.SuccessPct >= 99)},
		{"customers' p99 time to get in (post → 303, solving included; a failed sign-in counts as never)", "< 1 s", p99All(l), met(l.SignIns > 0, l.P99AllMs >= 0 && l.P99AllMs < 1000)},
		{"attack attempts reaching the password hasher", "< 1 %", fmt.Sprintf("%.2f %% (%d of %d)", a.HasherPct, a.HasherClient, a.Sent), met(a.Sent > 0, a.HasherPct < 1)},
	}
}

func p99All(l *legitReport) string {
	if l.P99AllMs < 0 {
		return fmt.Sprintf("never (%d of %d sign-ins failed; p99 of the successful ones %.0f ms)", l.SignIns-l.OK, l.SignIns, l.TotalP99Ms)
	}
	return fmt.Sprintf("%.0f ms (%d sign-ins)", l.P99AllMs, l.SignIns)
}

func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func pct(n, of int64) string {
	if of == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f %%", 100*float64(n)/float64(of))
}

// markdown writes the report as Markdown tables.
func (r *report) markdown(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	a, l, c := &r.Attack, &r.Legit, &r.Config
	p("#### Run\n\n")
	p("`%s`  \n", r.Command)
	rate := "as fast as the workers go"
	if c.Rate > 0 {
		rate = fmt.Sprintf("at most %g/s", c.Rate)
	}
	p("%d attempts asked (%s), %d addresses in %d /24s (%.0f per /24, %.0f attempts each), %d workers, at most %s; solve challenges: %v; %d customers signing in every ~%s (%s); %d guesses per customer in the combo list; limits: %s.",
		c.Attempts, rate, c.Addrs, c.Prefixes, c.AddrsPerPfx, c.PerAddr, c.Conc, c.Duration, c.Solve, c.Customers, c.LegitEvery,
		map[bool]string{true: "all in 127.0.1.0/24", false: "each in its own /24"}[c.LegitShared], c.RealTries, c.Limits)
	if r.Interrupted {
		p(" **Interrupted.**")
	}
	p("\n\nGateway built from %s. In force: %s.", r.Build, r.Policy)
	p("\n\n| | |\n|---|---:|\n")
	p("| attack attempts sent | %s |\n", num(a.Sent))
	for _, k := range answerOrder {
		if n := a.Answers[k]; n > 0 || k != ansOther {
			p("| — answered %s | %s (%s) |\n", k, num(n), pct(n, a.Sent))
		}
	}
	p("| attempts reaching the hasher (401 or 303) | %s (%s) |\n", num(a.HasherClient), pct(a.HasherClient, a.Sent))
	p("| — by the gateway's metric (allowed + solved − customers') | %s |\n", num(a.HasherMetric))
	if a.Solved > 0 {
		per := "–"
		if a.HasherClient > 0 {
			per = fmt.Sprintf("%.2f s", a.SolveCPU/float64(a.HasherClient))
		}
		p("| challenges the attackers solved (time solving; per guess that reached the hasher) | %s (%.1f s; %s) |\n", num(a.Solved), a.SolveCPU, per)
	}
	p("| attack post latency p50 / p99 | %.1f ms / %.0f ms |\n", a.PostP50Ms, a.PostP99Ms)
	p("| customers' sign-ins (posts) | %d (%d) |\n", l.SignIns, l.Posts)
	p("| — succeeded (303) | %d (%.1f %%) |\n", l.OK, l.SuccessPct)
	for _, k := range answerOrder {
		if k != ans303 && l.Answers[k] > 0 {
			p("| — ended %s | %d |\n", k, l.Answers[k])
		}
	}
	p("| — challenged (bits: count) | %d (%s) |\n", l.Challenged, bitsText(l.Bits))
	p("| customers' latency p50 / p99 / max (post → 303, solving included) | %.0f / %.0f / %.0f ms |\n", l.TotalP50Ms, l.TotalP99Ms, l.TotalMaxMs)
	p("| — without solving p50 / p99 | %.0f / %.0f ms |\n", l.ServerP50Ms, l.ServerP99Ms)
	p("| — solving (challenged sign-ins) p50 / p99 | %.0f / %.0f ms |\n", l.SolveP50Ms, l.SolveP99Ms)
	p("| login decisions (allowed / solved / challenged / limited / blocked) | %s / %s / %s / %s / %s |\n",
		num(r.Decisions["allowed"]), num(r.Decisions["solved"]), num(r.Decisions["challenged"]), num(r.Decisions["limited"]), num(r.Decisions["blocked"]))
	surge := "never"
	if r.SurgeFirstSeenS >= 0 {
		surge = fmt.Sprintf("from %.0f s", r.SurgeFirstSeenS)
	}
	p("| surge mode | %s |\n", surge)
	var offs []string
	for _, o := range r.Offenders {
		offs = append(offs, fmt.Sprintf("%s: %s", o.Key, num(o.Count)))
	}
	if len(offs) > 0 {
		p("| keys refused or challenged most (admin API) | %s |\n", strings.Join(offs, "; "))
	}
	p("| wall time | %.1f s |\n", r.WallSeconds)
	p("| gateway CPU | %.1f s (%.2f cores) |\n", r.GatewayCPU, r.GatewayCores)
	p("| gateway peak RSS | %d MiB |\n", r.GatewayPeakRSS>>20)
	p("| flood tool CPU (clients, TLS, solving) | %.1f s |\n", r.FloodCPU)
	p("| CPU used by everything else on the machine | %.1f s |\n", r.OtherCPU)
	p("| requests (every GET and POST) | %s, %.0f/s |\n", num(r.Requests), r.RequestsPerSec)
	p("| attack attempts/s | %.0f |\n", r.AttemptsPerSec)

	p("\n| target | goal | measured | met |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		m := t.Met
		if m == "no" {
			m = "**no**"
		}
		p("| %s | %s | %s | %s |\n", t.What, t.Goal, t.Measured, m)
	}

	p("\n| from | attack 303 / 401 / 429 / challenge / other | customers ok / failed | login decisions allowed / challenged / limited | surge |\n|---:|---|---|---|---|\n")
	for _, row := range r.Timeline {
		at := row.Attack
		other := int64(0)
		for k, v := range at {
			if k != ans303 && k != ans401 && k != ans429 && k != ansChallenge {
				other += v
			}
		}
		d := row.Decisions
		p("| %d s | %d / %d / %d / %d / %d | %d / %d | %d / %d / %d | %s |\n", row.From, at[ans303], at[ans401], at[ans429], at[ansChallenge], other,
			row.LegitOK, row.LegitFail, d["allowed"]+d["solved"], d["challenged"], d["limited"], map[bool]string{true: "yes", false: ""}[row.Surge])
	}
}

func bitsText(b map[string]int) string {
	if len(b) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y string) int {
		a, _ := strconv.Atoi(x)
		c, _ := strconv.Atoi(y)
		return a - c
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, b[k]))
	}
	return strings.Join(parts, ", ")
}
