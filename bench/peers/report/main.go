// Command report turns the rows.tsv of a bench/peers run into results.md
// (every round, every process) and summary.md (the compact table kept in
// docs/BENCHMARKS.md), and prints results.md.
//
// Usage: report -dir RESULTS_DIR
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// rowInfo describes one setup of the run.
var rowInfo = map[string]string{
	"a":        "Caddy reverse_proxy (the floor)",
	"a-hdrs":   "(a) + client sends the identity headers (diagnostic)",
	"b-bolt":   "Frontdoor protected, bbolt + session cache",
	"b-redis":  "Frontdoor protected, Redis + session cache",
	"b-assert": "(b-bolt) with `send assertion` (the JWT only)",
	"c":        "Frontdoor public route (strip only)",
	"d":        "Caddy forward_auth → oauth2-proxy",
	"e":        "oauth2-proxy alone",
}

var rowOrder = []string{"a", "a-hdrs", "b-bolt", "b-redis", "b-assert", "c", "d", "e"}

// Processes that are not the proxy layer being compared.
func isGateway(proc string) bool { return proc != "upstream" && proc != "wrk" }

type proc struct {
	name  string
	ticks float64
}

type row struct {
	round                    int
	id                       string
	threads, conns           string
	duration                 string
	rps, p50, p99, p999, max float64
	requests, non2xx         int64
	errors                   string
	newConns, upReqs         int64
	busy, other              float64
	procs                    []proc
	hz                       float64
	// The (a) it is compared with: the mean of the (a) runs measured just
	// before and just after it in its round (itself for an (a) row).
	refRPS, refP99, refCPU float64
}

// µs of CPU per completed request for ticks.
func (r row) perReq(ticks float64) float64 {
	if r.requests == 0 {
		return math.NaN()
	}
	return ticks / r.hz * 1e6 / float64(r.requests)
}

func (r row) gateway() float64 {
	var t float64
	for _, p := range r.procs {
		if isGateway(p.name) {
			t += p.ticks
		}
	}
	return r.perReq(t)
}

func (r row) of(name string) float64 {
	for _, p := range r.procs {
		if p.name == name {
			return r.perReq(p.ticks)
		}
	}
	return math.NaN()
}

func (r row) valid() bool { return r.non2xx == 0 && r.errors == "none" && r.requests > 0 }

func main() {
	dir := flag.String("dir", "", "results directory holding rows.tsv (and env.md)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "report: -dir is required")
		os.Exit(2)
	}
	rows, err := readRows(filepath.Join(*dir, "rows.tsv"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	env, _ := os.ReadFile(filepath.Join(*dir, "env.md"))

	var rounds []int
	for _, r := range rows {
		if !slices.Contains(rounds, r.round) {
			rounds = append(rounds, r.round)
		}
	}
	sort.Ints(rounds)
	setReferences(rows)
	// get returns the setup's run in the round — the median one by req/s
	// when (a) ran several times — with its adjacent (a) as reference.
	get := func(round int, id string) (row, bool) {
		var runs []row
		for _, r := range rows {
			if r.round == round && r.id == id {
				runs = append(runs, r)
			}
		}
		if len(runs) == 0 {
			return row{}, false
		}
		slices.SortFunc(runs, func(x, y row) int { return cmpFloat(x.rps, y.rps) })
		return runs[(len(runs)-1)/2], true
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# Frontdoor side by side with Caddy and oauth2-proxy — %s\n\n", filepath.Base(*dir))
	b.Write(env)
	b.WriteString("- CPU: utime+stime of each process during the measured run (/proc/PID/stat), per completed request; " +
		"\"gateway\" = every process but the upstream and wrk (Caddy, Frontdoor, oauth2-proxy, redis-server); " +
		"wrk = the script's reaped-child time. \"other procs\" = CPU of processes outside the benchmark during the run, " +
		"as % of the machine (should be ~0 on a quiet machine). " +
		"× (a) = req/s over the mean of the (a) runs measured just before and just after the setup in its round; " +
		"comparisons between two setups (× (d), CPU vs (d)) divide their ratios to their own adjacent (a), so the machine's " +
		"drift between runs cancels out; where (a) ran several times in a round, the tables show its median run.\n\n")

	for _, rd := range rounds {
		fmt.Fprintf(&b, "## Round %d\n\n", rd)
		b.WriteString("| setup | req/s | × (a) | p50 ms | p99 ms | p99.9 ms | max ms | non-2xx / socket errors | gateway CPU µs/req | per process CPU µs/req | new upstream conns | machine busy % | other procs % |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|\n")
		for _, r := range rows {
			if r.round != rd {
				continue
			}
			var per []string
			for _, p := range r.procs {
				per = append(per, fmt.Sprintf("%s=%.0f", p.name, r.perReq(p.ticks)))
			}
			fmt.Fprintf(&b, "| (%s) %s | %.0f | %s | %.2f | %.2f | %.2f | %.1f | %d / %s | %.0f | %s | %d | %.0f | %.0f |\n",
				r.id, rowInfo[r.id], r.rps, ratio(r.rps, r.refRPS), r.p50, r.p99, r.p999, r.max, r.non2xx, r.errors,
				r.gateway(), strings.Join(per, " "), r.newConns, r.busy, r.other)
		}
		b.WriteString("\n")
	}

	// Medians over the rounds: the steadier figures when rounds disagree.
	fmt.Fprintf(&b, "## Medians over %d round(s)\n\n", len(rounds))
	b.WriteString("| setup | req/s | × (a), median of the rounds' ratios | p99 ms | gateway CPU µs/req | upstream CPU µs/req | wrk CPU µs/req | all processes µs/req |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, id := range rowOrder {
		var rps, rat, p99, gw, up, wrk, all []float64
		for _, rd := range rounds {
			r, ok := get(rd, id)
			if !ok {
				continue
			}
			rps = append(rps, r.rps)
			if r.refRPS > 0 {
				rat = append(rat, r.rps/r.refRPS)
			}
			p99 = append(p99, r.p99)
			gw = append(gw, r.gateway())
			up = append(up, r.of("upstream"))
			wrk = append(wrk, r.of("wrk"))
			var t float64
			for _, p := range r.procs {
				t += p.ticks
			}
			all = append(all, r.perReq(t))
		}
		if len(rps) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| (%s) %s | %.0f | %.3f | %.2f | %.0f | %.0f | %.0f | %.0f |\n", id, rowInfo[id],
			median(rps), median(rat), median(p99), median(gw), median(up), median(wrk), median(all))
	}
	b.WriteString("\n")

	// Targets: reported, never asserted.
	b.WriteString("## Targets (issue 8; reported, not asserted)\n\n")
	b.WriteString("| target | " + roundHeads(rounds) + " | met |\n|---|" + strings.Repeat("---:|", len(rounds)) + "---|\n")
	type target struct {
		name string
		eval func(rd int) (string, bool, bool) // value, met, known
	}
	// Every comparison goes through the (a) measured next to each side,
	// so a drift of the machine between two runs cancels out.
	rpsRatio := func(x, y string, min float64) func(int) (string, bool, bool) {
		return func(rd int) (string, bool, bool) {
			rx, ok1 := get(rd, x)
			ry, ok2 := get(rd, y)
			if !ok1 || !ok2 || ry.rps == 0 || rx.refRPS == 0 || ry.refRPS == 0 {
				return "n/a", false, false
			}
			v := (rx.rps / rx.refRPS) / (ry.rps / ry.refRPS)
			return fmt.Sprintf("%.3f×", v), v >= min, true
		}
	}
	p99Delta := func(x string) func(int) (string, bool, bool) {
		return func(rd int) (string, bool, bool) {
			rx, ok := get(rd, x)
			if !ok || rx.refP99 == 0 {
				return "n/a", false, false
			}
			d := rx.p99 - rx.refP99
			return fmt.Sprintf("%+.2f ms", d), d <= 1, true
		}
	}
	cpuHalf := func(x string) func(int) (string, bool, bool) {
		return func(rd int) (string, bool, bool) {
			rx, ok1 := get(rd, x)
			rdd, ok2 := get(rd, "d")
			if !ok1 || !ok2 || rx.refCPU == 0 || rdd.refCPU == 0 {
				return "n/a", false, false
			}
			v := (rx.gateway() / rx.refCPU) / (rdd.gateway() / rdd.refCPU)
			return fmt.Sprintf("%.0f vs %.0f µs (%.2f×)", rx.gateway(), rdd.gateway(), v), v < 0.5, true
		}
	}
	targets := []target{
		{"(b-bolt) req/s ≥ 0.95 × (a)", rpsRatio("b-bolt", "a", 0.95)},
		{"(b-redis) req/s ≥ 0.90 × (a)", rpsRatio("b-redis", "a", 0.90)},
		{"(b-bolt) p99 within 1 ms of (a)", p99Delta("b-bolt")},
		{"(b-redis) p99 within 1 ms of (a)", p99Delta("b-redis")},
		{"(b-bolt) req/s ≥ 2.5 × (d)", rpsRatio("b-bolt", "d", 2.5)},
		{"(b-redis) req/s ≥ 2.5 × (d)", rpsRatio("b-redis", "d", 2.5)},
		{"(b-bolt) gateway CPU/req < 0.5 × (d)", cpuHalf("b-bolt")},
		{"(b-redis) gateway CPU/req < 0.5 × (d)", cpuHalf("b-redis")},
	}
	for _, t := range targets {
		var cells []string
		met, all := 0, 0
		for _, rd := range rounds {
			v, ok, known := t.eval(rd)
			if known {
				all++
				if ok {
					met++
				}
			}
			cells = append(cells, v)
		}
		verdict := "n/a"
		switch {
		case all == 0:
		case met == all:
			verdict = "met"
		case met == 0:
			verdict = "**missed**"
		default:
			verdict = fmt.Sprintf("met in %d of %d rounds", met, all)
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.name, strings.Join(cells, " | "), verdict)
	}
	b.WriteString("\n")
	for _, r := range rows {
		if !r.valid() {
			fmt.Fprintf(&b, "**Round %d (%s) had %d non-2xx responses / socket errors %q: its figures are not valid.**\n\n", r.round, r.id, r.non2xx, r.errors)
		}
	}
	fmt.Fprintf(&b, "Raw wrk output: %s/wrk/ ; server logs: %s/logs/\n", *dir, *dir)

	// summary.md: one line per setup, rounds side by side.
	var s strings.Builder
	s.WriteString("| setup | req/s | × (a) | p50 ms | p99 ms | p99.9 ms | gateway CPU µs/req | upstream CPU µs/req |\n")
	s.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, id := range rowOrder {
		var rps, rat, p50, p99, p999, gw, up []string
		for _, rd := range rounds {
			r, ok := get(rd, id)
			if !ok {
				continue
			}
			rps = append(rps, fmt.Sprintf("%.0f", r.rps))
			rat = append(rat, ratio(r.rps, r.refRPS))
			p50 = append(p50, fmt.Sprintf("%.2f", r.p50))
			p99 = append(p99, fmt.Sprintf("%.2f", r.p99))
			p999 = append(p999, fmt.Sprintf("%.2f", r.p999))
			gw = append(gw, fmt.Sprintf("%.0f", r.gateway()))
			up = append(up, fmt.Sprintf("%.0f", r.of("upstream")))
		}
		if len(rps) == 0 {
			continue
		}
		j := func(v []string) string { return strings.Join(v, " / ") }
		fmt.Fprintf(&s, "| (%s) %s | %s | %s | %s | %s | %s | %s | %s |\n", id, rowInfo[id], j(rps), j(rat), j(p50), j(p99), j(p999), j(gw), j(up))
	}

	if err := os.WriteFile(filepath.Join(*dir, "results.md"), []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join(*dir, "summary.md"), []byte(s.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	fmt.Print(b.String())
	fmt.Printf("\nSummary (rounds separated by /):\n\n%s", s.String())
}

// setReferences gives every row the mean of the (a) runs just before and
// just after it in its round (one of them at a round's ends); an (a) row is
// its own reference.
func setReferences(rows []row) {
	for i := range rows {
		r := &rows[i]
		if r.id == "a" {
			r.refRPS, r.refP99, r.refCPU = r.rps, r.p99, r.gateway()
			continue
		}
		var near []row
		for j := i - 1; j >= 0 && rows[j].round == r.round; j-- {
			if rows[j].id == "a" {
				near = append(near, rows[j])
				break
			}
		}
		for j := i + 1; j < len(rows) && rows[j].round == r.round; j++ {
			if rows[j].id == "a" {
				near = append(near, rows[j])
				break
			}
		}
		for _, a := range near {
			n := float64(len(near))
			r.refRPS += a.rps / n
			r.refP99 += a.p99 / n
			r.refCPU += a.gateway() / n
		}
	}
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	w := slices.Clone(v)
	sort.Float64s(w)
	if n := len(w); n%2 == 1 {
		return w[n/2]
	} else {
		return (w[n/2-1] + w[n/2]) / 2
	}
}

func roundHeads(rounds []int) string {
	var h []string
	for _, r := range rounds {
		h = append(h, fmt.Sprintf("round %d", r))
	}
	return strings.Join(h, " | ")
}

func ratio(x, base float64) string {
	if base <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", x/base)
}

// readRows parses rows.tsv; lines starting with # are comments.
func readRows(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 19 {
			return nil, fmt.Errorf("%s:%d: want 19 columns, got %d", path, n, len(c))
		}
		var r row
		var perr error
		num := func(s string) float64 {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil && perr == nil {
				perr = fmt.Errorf("%s:%d: %q: %v", path, n, s, err)
			}
			return v
		}
		r.round = int(num(c[0]))
		r.id, r.threads, r.conns, r.duration = c[1], c[2], c[3], c[4]
		r.rps, r.p50, r.p99, r.p999, r.max = num(c[5]), num(c[6]), num(c[7]), num(c[8]), num(c[9])
		r.requests, r.non2xx = int64(num(c[10])), int64(num(c[11]))
		r.errors = c[12]
		r.newConns, r.upReqs = int64(num(c[13])), int64(num(c[14]))
		r.busy, r.other = num(c[15]), num(c[16])
		for _, kv := range strings.Fields(c[17]) {
			k, v, _ := strings.Cut(kv, "=")
			r.procs = append(r.procs, proc{k, num(v)})
		}
		r.hz = num(c[18])
		if perr != nil {
			return nil, perr
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}
