//go:build linux

// Command signin measures sign-in throughput on a real frontdoor gateway on
// loopback (issue 8, item 2): successful password logins per second and
// their latency at a few concurrencies, with the argon2id parameters in
// force, the gateway's memory high-water mark at each, and a burst of
// simultaneous sign-ins showing that hashing stays within its slots so
// memory stays bounded.
//
// It builds bin/frontdoor, starts it on a temporary Caddyfile (site
// https://signin.test:<port>, internal CA, bolt store and .eml mailer in a
// temporary directory, `limits off` so edge defences do not interfere),
// registers customers through the real flows, measures one argon2id run
// in-process, then has c browsers sign in in a loop for each concurrency.
// Before each level the gateway's peak RSS is reset (/proc/PID/clear_refs).
// It prints a Markdown report and writes it, with JSON, to a results
// directory. Everything stays on loopback; the time is bounded (about
// 1½ minutes with the defaults); the gateway and the temporary directory
// are removed at the end, on Ctrl-C too. Linux only: it reads /proc.
//
//	go run ./bench/signin [-levels 1,4,16,64] [-duration 15s] [-warmup 2s] [-burst 256] [-argon2 19456,2,1]
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
	"github.com/frontdoorhq/frontdoor/identity"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		levels     = flag.String("levels", "1,4,16,64", "concurrencies to measure, comma-separated")
		duration   = flag.Duration("duration", 15*time.Second, "measured time per concurrency")
		warmup     = flag.Duration("warmup", 2*time.Second, "unmeasured time before each concurrency's measurement")
		customers  = flag.Int("customers", 64, "customers registered (workers sign in as customer i mod this)")
		burst      = flag.Int("burst", 256, "sign-in posts fired at once in the burst (0: no burst)")
		argon      = flag.String("argon2", "", "argon2id parameters <memory-KiB>,<iterations>,<parallelism> (default: the gateway's default, 19456,2,1)")
		conc       = flag.Int("concurrency", 0, "the gateway's `password concurrency` (0: its default, GOMAXPROCS)")
		queue      = flag.Int("queue", 0, "the gateway's `password queue` (0: its default, 512 per slot, bounded by the wait)")
		queueWait  = flag.Duration("queue-wait", 0, "the gateway's `password queue_wait` (0: its default, 5s)")
		honorRetry = flag.Bool("honor-retry-after", true, "a worker answered 503 waits the Retry-After before its next sign-in, as a person would; false: at once")
		bin        = flag.String("bin", "", "use this frontdoor binary instead of building bin/frontdoor")
		out        = flag.String("out", "", "results directory (default /tmp/frontdoor-bench/signin/<time>)")
		keep       = flag.Bool("keep", false, "keep the temporary directory (Caddyfile, logs, store, mails)")
	)
	flag.Parse()
	o := options{duration: *duration, warmup: *warmup, customers: *customers, burst: *burst, concurrency: *conc,
		queue: *queue, queueWait: *queueWait, honorRetry: *honorRetry, bin: *bin, out: *out, keep: *keep,
		argon2: identity.DefaultArgon2}
	for s := range strings.SplitSeq(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			fmt.Fprintf(os.Stderr, "signin: -levels: %q is not a concurrency 1…1024\n", s)
			return 2
		}
		o.levels = append(o.levels, n)
	}
	if *argon != "" {
		p, err := parseArgon2(*argon)
		if err != nil {
			fmt.Fprintln(os.Stderr, "signin: -argon2:", err)
			return 2
		}
		o.argon2 = p
	}
	switch {
	case *duration <= 0 || *warmup < 0:
		fmt.Fprintln(os.Stderr, "signin: want -duration > 0, -warmup ≥ 0")
		return 2
	case *customers < 1 || *burst < 0 || *burst > 4096:
		fmt.Fprintln(os.Stderr, "signin: want -customers ≥ 1, 0 ≤ -burst ≤ 4096")
		return 2
	case *conc < 0 || *queue < 0 || *queueWait < 0:
		fmt.Fprintln(os.Stderr, "signin: want -concurrency, -queue, -queue-wait ≥ 0")
		return 2
	}

	ctx, stopSignals := benchkit.InterruptContext()
	defer stopSignals()
	if err := bench(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "signin:", err)
		return 1
	}
	return 0
}

type options struct {
	levels           []int
	duration, warmup time.Duration
	customers, burst int
	argon2           identity.Argon2Params
	concurrency      int
	queue            int
	queueWait        time.Duration
	honorRetry       bool
	bin, out         string
	keep             bool
}

func parseArgon2(s string) (identity.Argon2Params, error) {
	f := strings.Split(s, ",")
	if len(f) != 3 {
		return identity.Argon2Params{}, fmt.Errorf("%q: want <memory-KiB>,<iterations>,<parallelism>", s)
	}
	m, e1 := strconv.ParseUint(f[0], 10, 32)
	t, e2 := strconv.ParseUint(f[1], 10, 32)
	p, e3 := strconv.ParseUint(f[2], 10, 8)
	if e1 != nil || e2 != nil || e3 != nil {
		return identity.Argon2Params{}, fmt.Errorf("%q: numbers expected", s)
	}
	return identity.Argon2Params{MemoryKiB: uint32(m), Iterations: uint32(t), Parallelism: uint8(p)}, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "signin: "+format+"\n", args...)
}
