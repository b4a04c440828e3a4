//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
)

// report is what the benchmark prints (Markdown) and writes (Markdown and
// JSON).
type report struct {
	Command     string           `json:"command"`
	Build       string           `json:"build"`
	Machine     benchkit.Machine `json:"machine"`
	Argon2      argonReport      `json:"argon2"`
	Gateway     gatewayReport    `json:"gateway"`
	Duration    string           `json:"duration_per_level"`
	Warmup      string           `json:"warmup_per_level"`
	Levels      []levelReport    `json:"levels"`
	Burst       *burstReport     `json:"burst,omitempty"`
	Notes       []string         `json:"notes,omitempty"`
	Interrupted bool             `json:"interrupted,omitempty"`
	WallSeconds float64          `json:"wall_seconds"`
}

type argonReport struct {
	MemoryKiB      uint32  `json:"memory_kib"`
	Iterations     uint32  `json:"iterations"`
	Parallelism    uint8   `json:"parallelism"`
	MedianMs       float64 `json:"t_median_ms"` // one run, serial, in this process
	MinMs          float64 `json:"t_min_ms"`
	Runs           int     `json:"runs"`
	Cores          int     `json:"cores"`
	IdealPerSec    float64 `json:"ideal_per_second"`    // cores / t
	ParallelPerSec float64 `json:"parallel_per_second"` // one goroutine per core, argon2 alone
}

type gatewayReport struct {
	PID             int    `json:"pid"`
	Slots           int    `json:"hash_slots"`
	Queue           int    `json:"queue_limit"`
	QueueWait       string `json:"queue_wait"`
	Customers       int    `json:"customers"`
	HonorRetryAfter bool   `json:"workers_honor_retry_after"`
	PeakInFlight    int    `json:"peak_hashes_in_flight"` // frontdoor_password_hashes_in_flight_max at the end
	PeakWaiting     int    `json:"peak_waiting"`
	Hashes          int64  `json:"hashes_total"`
	BusyTotal       int64  `json:"busy_total"`
}

type levelReport struct {
	Conc                 int     `json:"concurrency"`
	Seconds              float64 `json:"seconds"`
	Logins               int     `json:"logins"`
	PerSec               float64 `json:"logins_per_second"`
	XIdeal               float64 `json:"x_ideal"`
	XParallel            float64 `json:"x_argon2_alone"`
	P50Ms                float64 `json:"p50_ms"` // of the posts that signed in
	P99Ms                float64 `json:"p99_ms"`
	MaxMs                float64 `json:"max_ms"`
	Busy                 int     `json:"busy_503"`
	WarmupBusy           int     `json:"busy_503_in_warmup"` // not in the measurement: a worker waiting out Retry-After may sit through it
	Failed               int     `json:"failed"`
	FailSample           string  `json:"fail_sample,omitempty"`
	GatewayCPUPerLoginUs float64 `json:"gateway_cpu_us_per_login"`
	GatewayCores         float64 `json:"gateway_cores"`
	LoadgenCores         float64 `json:"loadgen_cores"`
	OtherCores           float64 `json:"other_cores"`
	HashesPerLogin       float64 `json:"hashes_per_login"`
	MaxInFlightSeen      float64 `json:"max_in_flight_seen"` // polled every 100 ms
	MaxWaitingSeen       float64 `json:"max_waiting_seen"`
	RSSBeforeMiB         float64 `json:"rss_before_mib"`
	HWMMiB               float64 `json:"vmhwm_mib"`
	RSSAfterMiB          float64 `json:"rss_after_mib"`
}

type burstReport struct {
	N                int     `json:"posts"`
	OK               int     `json:"signed_in"`
	Busy             int     `json:"busy_503"`
	Failed           int     `json:"failed"`
	FailSample       string  `json:"fail_sample,omitempty"`
	WallMs           float64 `json:"wall_ms"`
	P50Ms            float64 `json:"p50_ms"`
	P99Ms            float64 `json:"p99_ms"`
	MaxMs            float64 `json:"max_ms"`
	BusyP50Ms        float64 `json:"busy_p50_ms"`
	BusyMaxMs        float64 `json:"busy_max_ms"`
	Hashes           int64   `json:"hashes"`
	BusyMetric       int64   `json:"busy_by_metric"`
	Slots            int     `json:"hash_slots"`
	Queue            int     `json:"queue_limit"`
	MaxInFlightSeen  float64 `json:"max_in_flight_seen"` // polled every 10 ms
	MaxWaitingSeen   float64 `json:"max_waiting_seen"`
	Polls            int     `json:"polls"`
	PeakInFlightEver int     `json:"peak_in_flight_ever"`
	PeakWaitingEver  int     `json:"peak_waiting_ever"`
	RSSBeforeMiB     float64 `json:"rss_before_mib"`
	HWMMiB           float64 `json:"vmhwm_mib"`
	RSSAfterMiB      float64 `json:"rss_after_mib"`
	UnboundedMiB     float64 `json:"unbounded_mib"` // posts × argon2 memory: what hashing all at once would hold
}

// notes are the findings an operator would want pointed out.
func (r *report) notes() []string {
	var out []string
	g := r.Gateway
	for _, l := range r.Levels {
		if l.Busy+l.WarmupBusy > 0 {
			out = append(out, fmt.Sprintf("Concurrency %d: %d sign-ins answered 503 busy in the measurement (%.0f%% of its answers) and %d in the warm-up, with %d hash slots and a queue of %d waiters for %d concurrent customers.",
				l.Conc, l.Busy, 100*float64(l.Busy)/float64(max(1, l.Busy+l.Logins+l.Failed)), l.WarmupBusy, g.Slots, g.Queue, l.Conc))
		}
		if l.Failed > 0 {
			out = append(out, fmt.Sprintf("Concurrency %d: %d sign-ins failed, e.g. %s.", l.Conc, l.Failed, l.FailSample))
		}
		if l.Logins > 0 && (l.HashesPerLogin < 0.95 || l.HashesPerLogin > 1.05) {
			out = append(out, fmt.Sprintf("Concurrency %d: %.2f argon2 runs per sign-in, not 1.", l.Conc, l.HashesPerLogin))
		}
	}
	if b := r.Burst; b != nil {
		bound := "held"
		if b.PeakInFlightEver > b.Slots || b.MaxInFlightSeen > float64(b.Slots) {
			bound = "BROKEN"
		}
		out = append(out, fmt.Sprintf("Burst of %d: %d signed in, %d answered 503 busy; argon2 runs in flight peaked at %d with %d slots (bound %s), the gateway's peak RSS was %.0f MiB against %.0f MiB if every post hashed at once.",
			b.N, b.OK, b.Busy, b.PeakInFlightEver, b.Slots, bound, b.HWMMiB, b.UnboundedMiB))
		if b.Busy > 0 && b.Slots > 0 {
			queued := float64(b.Queue) * r.Argon2.MedianMs / float64(b.Slots)
			all := float64(b.N) * r.Argon2.MedianMs / float64(b.Slots)
			out = append(out, fmt.Sprintf("The queue of %d waiters holds about %.0f ms of hashing (queue × t / slots) against a queue wait of %s: the count, not the wait, turned the burst away (the %d 503s came after %.0f ms at most), though hashing all %d posts would take about %.0f ms.",
				b.Queue, queued, g.QueueWait, b.Busy, b.BusyMaxMs, b.N, all))
		}
	}
	return out
}

func (r *report) markdown(w io.Writer) {
	a, g := r.Argon2, r.Gateway
	fmt.Fprintf(w, "# Sign-in throughput\n\n")
	fmt.Fprintf(w, "`%s` — build %s\n\n", r.Command, r.Build)
	m := r.Machine
	fmt.Fprintf(w, "Machine: %d cores (%s), %s, kernel %s, %s. The load generator shares these cores with the gateway.\n\n", m.NProc, m.CPU, m.Memory, m.Kernel, m.Go)
	fmt.Fprintf(w, "argon2id m=%d KiB, t=%d, p=%d: one run %.1f ms (median of %d serial runs in-process; fastest %.1f ms). "+
		"Ideal = cores / t = %d / %.1f ms = **%.1f logins/s**; argon2 alone on every core at once: %.1f runs/s.\n\n",
		a.MemoryKiB, a.Iterations, a.Parallelism, a.MedianMs, a.Runs, a.MinMs, a.Cores, a.MedianMs, a.IdealPerSec, a.ParallelPerSec)
	retry := "wait the Retry-After after a 503"
	if !g.HonorRetryAfter {
		retry = "retry at once after a 503"
	}
	fmt.Fprintf(w, "Gateway: %d hash slots, queue of %d waiters, queue wait %s; bolt store; `limits off`. %d customers; each worker loads the form as a new visitor and posts the right password (workers %s). %s measured per level after %s warm-up; latency is the post's, of posts that signed in.\n\n",
		g.Slots, g.Queue, g.QueueWait, g.Customers, retry, r.Duration, r.Warmup)

	fmt.Fprintln(w, "| c | logins/s | × ideal | × argon2 alone | p50 ms | p99 ms | max ms | 503s (warm-up) | failures | gateway CPU µs/login | gateway cores | load-gen cores | other cores | in flight (max seen) | waiting (max seen) | RSS before MiB | VmHWM MiB |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, l := range r.Levels {
		fmt.Fprintf(w, "| %d | %.1f | %.2f | %.2f | %.0f | %.0f | %.0f | %d (%d) | %d | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %.0f |\n",
			l.Conc, l.PerSec, l.XIdeal, l.XParallel, l.P50Ms, l.P99Ms, l.MaxMs, l.Busy, l.WarmupBusy, l.Failed, l.GatewayCPUPerLoginUs,
			l.GatewayCores, l.LoadgenCores, l.OtherCores, l.MaxInFlightSeen, l.MaxWaitingSeen, l.RSSBeforeMiB, l.HWMMiB)
	}
	fmt.Fprintf(w, "\n× ideal: logins/s ÷ (cores / t). × argon2 alone: ÷ what argon2 alone reached on every core at once in this process (memory bandwidth and the machine's other load included). One worker hashes on one core at a time, so c = 1 tops out near 1/%d of the ideal. Other cores: CPU used by every other process on the machine during the measurement (a quiet machine: ~0).\n\n", a.Cores)
	if b := r.Burst; b != nil {
		fmt.Fprintf(w, "## Burst: %d sign-in posts at once\n\n", b.N)
		fmt.Fprintln(w, "| posts | signed in | 503 busy | failures | wall ms | p50 / p99 / max ms (signed in) | 503 p50 / max ms | argon2 runs | peak in flight (ever / seen) | slots | peak waiting (ever / seen) | queue | RSS before MiB | VmHWM MiB | if unbounded MiB |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---|---|---:|---|---:|---|---:|---:|---:|---:|")
		fmt.Fprintf(w, "| %d | %d | %d | %d | %.0f | %.0f / %.0f / %.0f | %.0f / %.0f | %d | %d / %.0f | %d | %d / %.0f | %d | %.0f | %.0f | %.0f |\n\n",
			b.N, b.OK, b.Busy, b.Failed, b.WallMs, b.P50Ms, b.P99Ms, b.MaxMs, b.BusyP50Ms, b.BusyMaxMs, b.Hashes,
			b.PeakInFlightEver, b.MaxInFlightSeen, b.Slots, b.PeakWaitingEver, b.MaxWaitingSeen, b.Queue, b.RSSBeforeMiB, b.HWMMiB, b.UnboundedMiB)
		fmt.Fprintf(w, "\"Ever\" is the gateway's frontdoor_password_*_max gauge since it started (every level and the burst); \"seen\" is the most a poll of /metrics every 10 ms saw during the burst (%d polls).\n\n", b.Polls)
	}
	r.targets(w)
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "## Notes")
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintln(w, "- "+n)
		}
		fmt.Fprintln(w)
	}
	if r.Interrupted {
		fmt.Fprintln(w, "**Interrupted**: the results are partial.")
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Wall time %.0f s.\n", r.WallSeconds)
}

// targets reports the targets, which are never asserted: throughput
// within 10 % of the ideal, memory bounded at any concurrency.
func (r *report) targets(w io.Writer) {
	if len(r.Levels) == 0 {
		return
	}
	best := r.Levels[0]
	hwm := 0.0
	for _, l := range r.Levels {
		if l.PerSec > best.PerSec {
			best = l
		}
		hwm = max(hwm, l.HWMMiB)
	}
	verdict := "met"
	if best.XIdeal < 0.9 {
		verdict = "missed"
	}
	fmt.Fprintln(w, "## Targets (reported, not asserted)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- Throughput within 10%% of cores / t = %.1f logins/s: best %.1f logins/s at c = %d, %.2f× the ideal — %s.\n", r.Argon2.IdealPerSec, best.PerSec, best.Conc, best.XIdeal, verdict)
	argonMiB := float64(r.Gateway.Slots) * float64(r.Argon2.MemoryKiB) / 1024
	mem := fmt.Sprintf("- Memory bounded: the gateway's peak RSS was at most %.0f MiB over the levels", hwm)
	if b := r.Burst; b != nil {
		mem += fmt.Sprintf(" and %.0f MiB in the burst of %d (%.0f MiB if every post hashed at once)", b.HWMMiB, b.N, b.UnboundedMiB)
	}
	bounded := "held"
	if r.Gateway.PeakInFlight > r.Gateway.Slots {
		bounded = "BROKEN"
	}
	fmt.Fprintf(w, "%s; argon2 runs in flight never exceeded %d (slots %d: %s), i.e. at most %.0f MiB of argon2 memory at once.\n\n",
		mem, r.Gateway.PeakInFlight, r.Gateway.Slots, bounded, argonMiB)
}

// write prints the Markdown to w and writes report.md and report.json
// into dir.
func (r *report) write(w io.Writer, dir string) error {
	var md strings.Builder
	r.markdown(&md)
	if _, err := io.WriteString(w, md.String()); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644)
}
