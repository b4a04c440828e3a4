//go:build linux

// Command scale measures how Frontdoor's stores grow with the number of
// customers and sessions (issue 8, item 3): for each store (bbolt, Redis)
// and each size N it fills a fresh store with N customers and N sessions,
// then reports the load time, the bytes one session costs on disk or in
// Redis, and the latency of the protected route's session lookup
// (session.Manager.LookupKey with the in-process cache off, so every
// lookup reaches the store) from 1 and from 8 goroutines. With the largest
// bbolt file it starts the real gateway (bin/frontdoor) and times its
// start-up against an empty store.
//
// The target — session lookup p99 under 1 ms at 1M sessions in each store —
// is reported, never asserted. Everything stays on loopback: the Redis
// server is one this program starts on a free port in its temporary
// directory, and the gateway listens on 127.0.0.1. Time is bounded by
// -timeout; the temporary directory (stores, Redis, gateway logs) is
// removed at the end unless -keep. Linux only: it reads /proc and evicts
// the bbolt file from the page cache with fadvise.
//
//	go run ./bench/scale [-sizes 10000,100000,1000000] [-stores bolt,redis] [-lookups 100000] [-keep]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
)

func main() {
	os.Exit(run())
}

type options struct {
	sizes      []int
	stores     []string
	lookups    int
	cold       int
	boltConc   int
	redisConc  int
	startups   int
	after      time.Duration
	noStartup  bool
	bin        string
	out        string
	keep       bool
	timeout    time.Duration
	redisBin   string
	sampleKeys int
}

func run() int {
	var (
		sizes     = flag.String("sizes", "10000,100000,1000000", "numbers of customers (and of sessions, one each), comma-separated")
		stores    = flag.String("stores", "bolt,redis", "stores to measure: bolt, redis")
		lookups   = flag.Int("lookups", 100000, "session lookups per measurement (1 goroutine, then 8)")
		cold      = flag.Int("cold", 10000, "bolt: lookups measured first after reopening the file evicted from the page cache (0: none)")
		boltConc  = flag.Int("bolt-conc", 4, "goroutines loading bbolt (its writes are serialised; more only overlaps encoding)")
		redisConc = flag.Int("redis-conc", 32, "goroutines loading Redis")
		startups  = flag.Int("startups", 3, "gateway starts timed per store file (empty, largest bolt)")
		after     = flag.Duration("after", 5*time.Second, "after each start, send requests with valid cookies for this long")
		noStart   = flag.Bool("no-startup", false, "skip the gateway start-up measurement")
		bin       = flag.String("bin", "", "use this frontdoor binary instead of building bin/frontdoor")
		out       = flag.String("out", "/tmp/frontdoor-bench/scale", "results go to <out>/<stamp>/results.md")
		keep      = flag.Bool("keep", false, "keep the temporary directory (bbolt files, Redis dir, gateway logs)")
		timeout   = flag.Duration("timeout", 30*time.Minute, "give up after this long")
	)
	flag.Parse()
	o := options{lookups: *lookups, cold: *cold, boltConc: *boltConc, redisConc: *redisConc, startups: *startups,
		after: *after, noStartup: *noStart, bin: *bin, out: *out, keep: *keep, timeout: *timeout, sampleKeys: 1000}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "scale: unexpected arguments %q\n", flag.Args())
		return 2
	}
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 10_000_000 {
			fmt.Fprintf(os.Stderr, "scale: -sizes: %q is not a number from 1 to 10,000,000\n", s)
			return 2
		}
		o.sizes = append(o.sizes, n)
	}
	slices.Sort(o.sizes)
	o.sizes = slices.Compact(o.sizes)
	for s := range strings.SplitSeq(*stores, ",") {
		s = strings.TrimSpace(s)
		if s != "bolt" && s != "redis" {
			fmt.Fprintf(os.Stderr, "scale: -stores: %q is neither bolt nor redis\n", s)
			return 2
		}
		if !slices.Contains(o.stores, s) {
			o.stores = append(o.stores, s)
		}
	}
	if o.lookups < 8 || o.cold < 0 || o.boltConc < 1 || o.redisConc < 1 || o.startups < 0 || o.after < 0 {
		fmt.Fprintln(os.Stderr, "scale: want -lookups ≥ 8, -cold ≥ 0, -bolt-conc ≥ 1, -redis-conc ≥ 1, -startups ≥ 0, -after ≥ 0")
		return 2
	}
	if slices.Contains(o.stores, "redis") {
		p, err := findRedis()
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			return 1
		}
		o.redisBin = p
	}

	ctx, stopSignals := benchkit.InterruptContext()
	defer stopSignals()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	if err := scale(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		return 1
	}
	return 0
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scale: %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func scale(ctx context.Context, o options) (err error) {
	root, err := benchkit.ModuleRoot()
	if err != nil {
		return err
	}
	rep := &report{started: time.Now(), machine: machineInfo(root, o.redisBin), opts: o}
	dir, removeDir, err := benchkit.WorkDir("frontdoor-scale-", o.keep, logf)
	if err != nil {
		return err
	}
	defer func() {
		if rmErr := removeDir(); rmErr != nil && err == nil {
			err = rmErr
		}
	}()

	bin := ""
	if slices.Contains(o.stores, "bolt") && !o.noStartup && o.startups > 0 {
		// Built first, so a broken build shows before minutes of loading,
		// and the compiler does not compete with the measurements.
		if bin = o.bin; bin == "" {
			logf("building bin/frontdoor")
			if bin, err = benchkit.BuildGateway(ctx, root); err != nil {
				return err
			}
		}
	}

	hash, err := passwordHash(ctx)
	if err != nil {
		return err
	}
	largest := o.sizes[len(o.sizes)-1]
	for _, store := range o.stores {
		for _, n := range o.sizes {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r *result
			switch store {
			case "bolt":
				var start *startInput
				if n == largest && bin != "" {
					start = &startInput{}
				}
				r, err = runBolt(ctx, o, dir, n, hash, start)
				if err == nil && start != nil {
					// While the sessions are fresh: the gateway's start-up
					// sweep deletes sessions idle for 30 minutes.
					rep.startups, err = measureStartups(ctx, o, bin, dir, start)
				}
			case "redis":
				r, err = runRedis(ctx, o, dir, n, hash)
			}
			if err != nil {
				return fmt.Errorf("%s, %d: %w", store, n, err)
			}
			rep.results = append(rep.results, r)
		}
	}
	rep.finished = time.Now()

	md := rep.markdown()
	fmt.Println(md)
	outDir := filepath.Join(o.out, rep.started.Format("20060102-150405"))
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(outDir, "results.md")
	if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
		return err
	}
	logf("results in %s", path)
	return nil
}
