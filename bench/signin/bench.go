//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
	"github.com/frontdoorhq/frontdoor/identity"
)

// passwordBlock is the `password` block for the options that differ from
// the gateway's defaults, or "".
func passwordBlock(o options) string {
	var lines []string
	if p := o.argon2; p != identity.DefaultArgon2 {
		lines = append(lines, fmt.Sprintf("argon2 %d %d %d", p.MemoryKiB, p.Iterations, p.Parallelism))
	}
	if o.concurrency > 0 {
		lines = append(lines, fmt.Sprintf("concurrency %d", o.concurrency))
	}
	if o.queue > 0 {
		lines = append(lines, fmt.Sprintf("queue %d", o.queue))
	}
	if o.queueWait > 0 {
		lines = append(lines, "queue_wait "+o.queueWait.String())
	}
	if len(lines) == 0 {
		return ""
	}
	return "\n\t\tpassword {\n\t\t\t" + strings.Join(lines, "\n\t\t\t") + "\n\t\t}"
}

func bench(ctx context.Context, o options) error {
	started := time.Now()
	build, err := benchkit.PrepareGateway(ctx, o.bin, logf)
	if err != nil {
		return err
	}
	dir, removeDir, err := benchkit.WorkDir("frontdoor-signin-", o.keep, logf)
	if err != nil {
		return err
	}
	defer func() { _ = removeDir() }()
	// The site protects everything but /pub/* and answers "ok" itself: the
	// upstream is not what is measured. `limits off`: no edge limit, signal
	// or challenge between the workers and the hasher.
	g, err := benchkit.StartGateway(ctx, benchkit.GatewayOptions{
		Bin: build.Bin, Dir: dir, Host: "signin.test", ReadyPath: "/pub/ready", Timeout: time.Minute,
		Caddyfile: benchkit.SiteCaddyfile(passwordBlock(o), "\n\t\tlimits off"),
	})
	if err != nil {
		return err
	}
	defer g.Stop()
	logf("gateway pid %d on %s, admin %s, dir %s", g.PID(), g.Origin(), g.AdminAddr, dir)
	hs, err := readHasher(ctx, g)
	if err != nil {
		return fmt.Errorf("reading the hasher's metrics (frontdoor_password_*): %w", err)
	}
	if want := int64(o.argon2.MemoryKiB) << 10; int64(hs.memory) != want {
		return fmt.Errorf("the gateway hashes with %d bytes of memory, the benchmark asked for %d", int64(hs.memory), want)
	}

	cs := newCustomers(o.customers)
	setup, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = registerAll(setup, g, cs)
	cancel()
	if err != nil {
		return fmt.Errorf("registering customers: %w", err)
	}
	logf("%d customers registered and verified", len(cs))

	logf("timing argon2id in-process (m=%d KiB, t=%d, p=%d)", o.argon2.MemoryKiB, o.argon2.Iterations, o.argon2.Parallelism)
	at := timeArgon2(o.argon2, 20)
	cores := runtime.NumCPU()
	rep := &report{
		Command: benchkit.CommandLine("./bench/signin"), Build: build.Info, Machine: benchkit.DescribeMachine(),
		Argon2: argonReport{MemoryKiB: o.argon2.MemoryKiB, Iterations: o.argon2.Iterations, Parallelism: o.argon2.Parallelism,
			MedianMs: ms(at.median), MinMs: ms(at.min), Runs: at.runs,
			ParallelPerSec: at.parallelPerSec, Cores: cores, IdealPerSec: float64(cores) / at.median.Seconds()},
		Gateway: gatewayReport{PID: g.PID(), Slots: int(hs.slots), Queue: int(hs.queue), QueueWait: queueWaitText(o.queueWait),
			Customers: len(cs), HonorRetryAfter: o.honorRetry},
		Duration: o.duration.String(), Warmup: o.warmup.String(),
	}

	browsers := make([]*benchkit.Browser, 0, 64)
	defer func() {
		for _, b := range browsers {
			b.Close()
		}
	}()
	for _, c := range o.levels {
		for len(browsers) < c {
			browsers = append(browsers, newBrowser(g, len(browsers)))
		}
		logf("concurrency %d: %s warm-up, %s measured", c, o.warmup, o.duration)
		lr, err := runLevel(ctx, g, cs, browsers[:c], o)
		if err != nil {
			return fmt.Errorf("concurrency %d: %w", c, err)
		}
		lr.XIdeal = lr.PerSec / rep.Argon2.IdealPerSec
		if rep.Argon2.ParallelPerSec > 0 {
			lr.XParallel = lr.PerSec / rep.Argon2.ParallelPerSec
		}
		rep.Levels = append(rep.Levels, lr)
		logf("concurrency %d: %.1f logins/s (%.2f× ideal), p99 %.0f ms, %d busy, %d failed",
			c, lr.PerSec, lr.XIdeal, lr.P99Ms, lr.Busy, lr.Failed)
	}
	if o.burst > 0 {
		logf("burst: %d sign-in posts at once", o.burst)
		br, err := runBurst(ctx, g, cs, o.burst)
		if err != nil {
			return fmt.Errorf("burst: %w", err)
		}
		br.UnboundedMiB = float64(o.burst) * float64(o.argon2.MemoryKiB) / 1024
		rep.Burst = br
	}
	if hs, err = readHasher(ctx, g); err == nil {
		rep.Gateway.PeakInFlight, rep.Gateway.PeakWaiting = int(hs.inFlightMax), int(hs.waitingMax)
		rep.Gateway.Hashes, rep.Gateway.BusyTotal = int64(hs.hashes), int64(hs.busy)
	}
	rep.Interrupted = ctx.Err() != nil
	rep.WallSeconds = time.Since(started).Seconds()
	rep.Notes = rep.notes()

	dirOut := o.out
	if dirOut == "" {
		dirOut = filepath.Join(os.TempDir(), "frontdoor-bench", "signin", started.UTC().Format("20060102T150405Z"))
	}
	fmt.Println()
	if err := rep.write(os.Stdout, dirOut); err != nil {
		return err
	}
	logf("wrote %s", dirOut)
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}

func queueWaitText(d time.Duration) string {
	if d <= 0 {
		return "5s (default)"
	}
	return d.String()
}

// customer is a registered customer.
type customer struct {
	email, password string
}

func newCustomers(n int) []customer {
	out := make([]customer, n)
	for i := range out {
		out[i] = customer{email: fmt.Sprintf("signin%03d@example.org", i+1), password: fmt.Sprintf("fd-signin-bench-%03d-passphrase", i+1)}
	}
	return out
}

func newBrowser(g *benchkit.Gateway, i int) *benchkit.Browser {
	return benchkit.NewBrowser(benchkit.BrowserOptions{Port: g.Port, Origin: g.Origin(),
		UA: benchkit.UserAgents[i%len(benchkit.UserAgents)], Lang: benchkit.Languages[i%len(benchkit.Languages)]})
}

// registerAll registers the customers, a few at a time: sign-up hashes
// too, and the benchmark is not about sign-up.
func registerAll(ctx context.Context, g *benchkit.Gateway, cs []customer) error {
	const parallel = 4
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for w := range parallel {
		wg.Go(func() {
			b := newBrowser(g, w)
			defer b.Close()
			for i := range next {
				b.ForgetCookies()
				if err := b.Register(ctx, g.MailDir(), cs[i].email, cs[i].password); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range cs {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}
