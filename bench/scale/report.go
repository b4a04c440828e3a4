//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
)

// result is one store at one size.
type result struct {
	store string
	n     int

	loadCustomers, loadSessions time.Duration
	// bolt: the file's size; redis: INFO used_memory. Empty, after the
	// customers, after the sessions.
	sizeEmpty, sizeCustomers, sizeSessions int64
	// bolt: the database's size up to its high-water mark.
	hwmEmpty, hwmCustomers, hwmSessions int64
	perSession, perCustomer             float64
	buckets                             []bucketRow // bolt
	freePages                           int         // bolt
	samples                             []keySample // redis
	rss                                 int64       // redis used_memory_rss
	keysInRedis                         int64

	open         time.Duration // bolt: reopening the file; redis: connecting
	sweep        time.Duration // bolt: a sweep of every session, file not in the page cache
	sweepWarm    time.Duration // bolt: the sweep again, file in the page cache
	swept        int
	cold, l1, l8 latency
}

type report struct {
	started, finished time.Time
	machine           []string
	opts              options
	results           []*result
	startups          []startRun
}

func (rep *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Frontdoor scale benchmark (issue 8, item 3)\n\n")
	p("%s, %s in all. Target, reported and not asserted: session lookup p99 under 1 ms at 1M sessions in each store.\n\n",
		rep.started.Format("2006-01-02 15:04 MST"), rep.finished.Sub(rep.started).Round(time.Second))
	p("## Machine\n\n")
	for _, m := range rep.machine {
		p("- %s\n", m)
	}
	p("\n## Method\n\n")
	p("- N customers (`identity.Store.CreateCustomer`, one shared precomputed argon2id hash) and N sessions, one each " +
		"(`session.Store.Create`; email, AMR [pwd], ACR aal1, a real browser User-Agent, an IPv4 address), into a fresh store.\n")
	p("- bbolt: loaded with `NoSync` (%d goroutines; bbolt serialises writes), then synced, closed, evicted from the page cache "+
		"(fadvise DONTNEED on that file only) and reopened by `storeopen.Bolt` (what the `frontdoor.stores.bolt` module calls) — the gateway's code and options. "+
		"Redis: a redis-server started here (`--save '' --appendonly no`), loaded by %d goroutines, measured through `storeopen.Redis` (what `frontdoor.stores.redis` calls: the gateway's client options).\n",
		rep.opts.boltConc, rep.opts.redisConc)
	p("- Lookups: the protected route's `session.Manager.LookupKey` with the in-process cache off (every lookup reaches the store), " +
		"keys drawn uniformly from all N sessions. The manager's clock stands 30 s after the sessions' LastSeen, so no lookup writes a Touch " +
		"(the touches column counts them: a store write per lookup would make this a write benchmark).\n")
	p("- Bytes per session: bbolt, growth of the database's high-water mark (pages used or free, `tx.Size()`) while the sessions were added, " +
		"divided by N; the file itself grows in steps (up to 1 GiB). Redis, growth of INFO `used_memory`, divided by N.\n\n")

	p("## Results\n\n")
	p("| store | N | load customers | load sessions | size after customers | size after sessions | bytes/customer | bytes/session | p50 (1 g) | p99 (1 g) | p99.9 (1 g) | max (1 g) | lookups/s (1 g) | p50 (8 g) | p99 (8 g) | p99.9 (8 g) | max (8 g) | lookups/s (8 g) | touches |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rep.results {
		p("| %s | %s | %s | %s | %s | %s | %.0f | %.0f | %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %.0f | %d |\n",
			r.store, count(r.n), r.loadCustomers.Round(100*time.Millisecond), r.loadSessions.Round(100*time.Millisecond),
			mib(r.sizeCustomers), mib(r.sizeSessions), r.perCustomer, r.perSession,
			us(r.l1.p50), us(r.l1.p99), us(r.l1.p999), us(r.l1.max), r.l1.perSecond,
			us(r.l8.p50), us(r.l8.p99), us(r.l8.p999), us(r.l8.max), r.l8.perSecond, r.l1.touches+r.l8.touches+r.cold.touches)
	}
	p("\nSize: bbolt, the file; Redis, `used_memory`. 1 g / 8 g: lookups from 1 and from 8 goroutines (%s lookups each). "+
		"With GOMAXPROCS %d, 8 goroutines that never block (bbolt reads are memory reads) take turns by preemption, every ~10 ms: the 8-goroutine tail "+
		"is mostly time spent waiting for a CPU, not in the store; for Redis the 8 goroutines also share the 2 CPUs with redis-server.\n\n",
		count(rep.opts.lookups), runtime.GOMAXPROCS(0))

	var p99 []string
	for _, r := range rep.results {
		if r.n >= 1_000_000 {
			verdict := "met"
			if max(r.l1.p99, r.l8.p99) >= time.Millisecond {
				verdict = "missed"
			}
			p99 = append(p99, fmt.Sprintf("%s at %s sessions: p99 %s (1 goroutine), %s (8) — %s", r.store, count(r.n), us(r.l1.p99), us(r.l8.p99), verdict))
		}
	}
	if len(p99) > 0 {
		p("**Target (p99 < 1 ms at 1M sessions):** %s.\n\n", strings.Join(p99, "; "))
	}

	if rows := rep.of("bolt"); len(rows) > 0 {
		p("### bbolt\n\n")
		p("| N | reopen (OpenStores) | cold lookups: p50 / p99 / max | sweep of every session, cold / warm | file | high-water mark | free pages |\n|--:|--:|--|--:|--:|--:|--:|\n")
		for _, r := range rows {
			cold := "—"
			if r.cold.n > 0 {
				cold = fmt.Sprintf("first %s: %s / %s / %s", count(r.cold.n), us(r.cold.p50), us(r.cold.p99), us(r.cold.max))
			}
			p("| %s | %s | %s | %s / %s | %s | %s | %d |\n", count(r.n), r.open.Round(10*time.Microsecond), cold,
				r.sweep.Round(time.Millisecond), r.sweepWarm.Round(time.Millisecond), mib(r.sizeSessions), mib(r.hwmSessions), r.freePages)
		}
		p("\nCold: the first lookups after reopening, with the file evicted from the page cache beforehand (reads from the virtual disk). " +
			"Sweep: `session.BoltStore.SweepExpired` (slices of 5,000 sessions, each in its own read transaction), which the gateway runs 1–2 minutes after start and every 10 minutes after; the cold one follows the cold lookups.\n\n")
		p("| N | bucket | keys | depth | leaf pages | branch pages | overflow pages | leaf bytes allocated | leaf bytes used | fill | allocated per key |\n|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, r := range rows {
			for _, bk := range r.buckets {
				fill := 0.0
				if bk.leafAlloc > 0 {
					fill = 100 * float64(bk.leafInuse) / float64(bk.leafAlloc)
				}
				per := 0.0
				if bk.keys > 0 {
					per = float64(bk.leafAlloc+bk.branchAlloc) / float64(bk.keys)
				}
				p("| %s | %s | %s | %d | %d | %d | %d | %s | %s | %.0f %% | %.0f |\n", count(r.n), bk.name, count(bk.keys), bk.depth,
					bk.leafPages, bk.branchPages, bk.overflow, mib(int64(bk.leafAlloc)), mib(int64(bk.leafInuse)), fill, per)
			}
		}
		p("\n")
	}
	if rows := rep.of("redis"); len(rows) > 0 {
		p("### Redis\n\n")
		p("| N | keys | used_memory | used_memory_rss | connect (OpenStores) |\n|--:|--:|--:|--:|--:|\n")
		for _, r := range rows {
			p("| %s | %s | %s | %s | %s |\n", count(r.n), count(int(r.keysInRedis)), mib(r.sizeSessions), mib(r.rss), r.open.Round(10*time.Microsecond))
		}
		last := rows[len(rows)-1]
		p("\nOne customer's keys at N = %s (`MEMORY USAGE … SAMPLES 0`):\n\n| record | type | encoding | key length | bytes |\n|---|---|---|--:|--:|\n", count(last.n))
		for _, s := range last.samples {
			p("| %s | %s | %s | %d | %d |\n", s.what, s.typ, s.encoding, s.keyLen, s.bytes)
		}
		p("\n")
	}
	if len(rep.startups) > 0 {
		p("### Gateway start-up (bbolt)\n\n")
		p("bin/frontdoor on a Caddyfile whose store is the file (plain HTTP on loopback, default session settings). "+
			"Time from exec to the first answer on a protected route without a cookie (401), then to the first 200 with a valid "+
			"session cookie (minted here with the cookie keys kept in the store). Then requests one at a time, each with the cookie of a "+
			"random one of the first %s sessions, for %s (\"after\"): a session last seen over a minute ago (age column) is touched — "+
			"a bbolt write transaction with fsync — on its first request; the gateway's first sweep comes 1–2 minutes after start, after this window. "+
			"\"empty\": a file holding only those sample sessions (same cookie keys). Stop: SIGTERM to exit.\n\n", count(rep.opts.sampleKeys), rep.opts.after)
		p("| file | start | sessions' age | first 401 | first 200 | CPU s to first 200 | requests after | p50 | p99 | max | max in first second | CPU s after | RSS | stop |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, s := range rep.startups {
			p("| %s | %d | %s | %s | %s | %.2f | %d | %s | %s | %s | %s | %.2f | %s | %s |\n", s.label, s.run, s.age.Round(time.Second),
				s.firstAnswer.Round(time.Millisecond), s.firstOK.Round(time.Millisecond), s.cpuToOK, s.after,
				us(s.afterP50), us(s.afterP99), us(s.afterMax), us(s.afterFirstSecMax), s.afterCPU, mib(s.rss), s.stop.Round(time.Millisecond))
		}
		p("\n")
	}
	return b.String()
}

func (rep *report) of(store string) []*result {
	var out []*result
	for _, r := range rep.results {
		if r.store == store {
			out = append(out, r)
		}
	}
	return out
}

// count writes n with thousands separators.
func count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// machineInfo describes where the numbers come from.
func machineInfo(root, redisBin string) []string {
	var out []string
	m := benchkit.DescribeMachine()
	cpu := m.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	out = append(out, fmt.Sprintf("%s, %d CPUs (shared with other work: timings are noisy)", cpu, m.NProc))
	if m.Memory != "" {
		out = append(out, "memory "+m.Memory)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		out = append(out, "load average at start "+strings.Join(strings.Fields(string(b))[:3], " "))
	}
	if m.Kernel != "" {
		out = append(out, "Linux "+m.Kernel)
	}
	if o, err := exec.Command("df", "-hT", os.TempDir()).Output(); err == nil {
		if lines := strings.Split(strings.TrimSpace(string(o)), "\n"); len(lines) == 2 {
			out = append(out, "temporary directory on: "+strings.Join(strings.Fields(lines[1]), " "))
		}
	}
	out = append(out, runtime.Version())
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "go.etcd.io/bbolt" || d.Path == "github.com/redis/go-redis/v9" {
				out = append(out, d.Path+" "+d.Version)
			}
		}
	}
	if redisBin != "" {
		if o, err := exec.Command(redisBin, "--version").Output(); err == nil {
			out = append(out, strings.TrimSpace(string(o)))
		}
	}
	out = append(out, "commit "+benchkit.BuildInfo(root))
	return out
}
