//go:build linux

// Command flood is a bounded credential-stuffing flood against a real
// frontdoor gateway on loopback, with the default edge-defence limits
// (issue 7).
//
// It builds bin/frontdoor, starts it on a temporary Caddyfile (site
// https://flood.test:<port>, internal CA, bolt store and .eml mailer in a
// temporary directory), registers customers from their own addresses, then
// sends a combo list of sign-in attempts from many loopback source
// addresses (127.20.0.0/14 and up, bound per connection, so the gateway
// counts each attacker by its own address) while the customers sign in as
// browsers do, solving any challenge they are shown. It prints a Markdown
// report and writes it as JSON. Everything stays on loopback; the count and
// the time are bounded; the gateway and the temporary directory are
// removed at the end, on Ctrl-C too. Linux only: it reads /proc and binds
// source addresses across 127.0.0.0/8.
//
//	go run ./bench/flood [-attempts 50000] [-addrs 1000] [-prefixes 100] [-conc 64] [-rate 0] [-duration 3m] [-solve]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		attempts    = flag.Int("attempts", 50000, "sign-in attempts the attack sends")
		addrs       = flag.Int("addrs", 1000, "attacker source addresses")
		prefixes    = flag.Int("prefixes", 100, "/24 networks the attacker addresses are spread over (1 per /24 is the hardest case for prefix limits)")
		conc        = flag.Int("conc", 64, "attack requests in flight at once")
		rate        = flag.Float64("rate", 0, "attack attempts started per second at most (0: as fast as -conc allows)")
		duration    = flag.Duration("duration", 3*time.Minute, "longest the flood runs; it stops earlier when the attempts are sent")
		solve       = flag.Bool("solve", false, "attackers solve proof-of-work challenges (botdefense.SolvePow) and post again")
		solveConc   = flag.Int("solve-conc", 1, "with -solve: challenges solved at once (the attackers' CPUs here are the gateway's)")
		customers   = flag.Int("customers", 20, "legitimate customers")
		legitEvery  = flag.Duration("legit-every", 20*time.Second, "each customer signs in on average this often (uniformly 0.5× to 1.5×)")
		legitShared = flag.Bool("legit-shared", false, "put every customer in 127.0.1.0/24 instead of a /24 of its own")
		realTries   = flag.Int("real-tries", 3, "guesses per real customer in the combo list (wrong passwords)")
		limits      = flag.String("limits", "", "what-if: lines of the site's `limits` block, separated by ';' (e.g. \"login global off\"); default: the default limits")
		seed        = flag.Uint64("seed", 1, "seed of the combo list and the schedule")
		bin         = flag.String("bin", "", "use this frontdoor binary instead of building bin/frontdoor")
		out         = flag.String("out", "bin/bench-flood.json", "where to write the JSON report (\"\" for nowhere)")
		keep        = flag.Bool("keep", false, "keep the temporary directory (Caddyfile, logs, store, mails)")
	)
	flag.Parse()
	switch {
	case *attempts < 0 || *rate < 0 || *addrs < 1 || *prefixes < 1 || *prefixes > *addrs || *conc < 1 || *duration <= 0 || *customers < 0 || *customers > 250:
		fmt.Fprintln(os.Stderr, "flood: want -attempts ≥ 0, -rate ≥ 0, -addrs ≥ 1, 1 ≤ -prefixes ≤ -addrs, -conc ≥ 1, -duration > 0, 0 ≤ -customers ≤ 250")
		return 2
	case (*addrs+*prefixes-1) / *prefixes > 250 || *prefixes > 200*256:
		fmt.Fprintln(os.Stderr, "flood: at most 250 addresses per /24 and 51,200 /24s")
		return 2
	case *legitEvery < time.Second:
		fmt.Fprintln(os.Stderr, "flood: -legit-every must be at least 1s")
		return 2
	}

	ctx, stopSignals := benchkit.InterruptContext()
	defer stopSignals()

	if err := flood(ctx, options{
		attempts: *attempts, addrs: *addrs, prefixes: *prefixes, conc: *conc, rate: *rate, duration: *duration, solve: *solve,
		solveConc: *solveConc, customers: *customers, legitEvery: *legitEvery, legitShared: *legitShared,
		realTries: *realTries, limits: *limits, seed: *seed, bin: *bin, out: *out, keep: *keep,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		return 1
	}
	return 0
}

type options struct {
	attempts, addrs, prefixes, conc int
	rate                            float64
	duration                        time.Duration
	solve                           bool
	solveConc, customers            int
	legitEvery                      time.Duration
	legitShared                     bool
	realTries                       int
	seed                            uint64
	limits, bin, out                string
	keep                            bool
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "flood: "+format+"\n", args...)
}

func flood(ctx context.Context, o options) error {
	build, err := benchkit.PrepareGateway(ctx, o.bin, logf)
	if err != nil {
		return err
	}
	dir, removeDir, err := benchkit.WorkDir("frontdoor-flood-", o.keep, logf)
	if err != nil {
		return err
	}
	defer func() { _ = removeDir() }()

	g, err := startGateway(ctx, build.Bin, dir, o.limits, time.Minute)
	if err != nil {
		return err
	}
	defer g.Stop()
	logf("gateway pid %d on %s, admin %s, dir %s", g.PID(), g.Origin(), g.AdminAddr, dir)
	pol, err := g.policy(ctx)
	if err != nil {
		return fmt.Errorf("reading the defences in force: %w", err)
	}

	cs := newCustomers(o.customers, g.Port, g.Origin(), o.legitShared)
	defer func() {
		for _, c := range cs {
			c.b.Close()
		}
	}()
	setup, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = registerAll(setup, cs, g.MailDir())
	cancel()
	if err != nil {
		return fmt.Errorf("registering customers: %w", err)
	}
	logf("%d customers registered and verified", len(cs))

	r := rand.New(rand.NewPCG(o.seed, 7))
	list := makeAttempts(r, o.attempts, cs, o.realTries)
	t := newTally()
	atk := newAttack(list, o.addrs, o.prefixes, g.Port, g.Origin(), o.solve, o.solveConc, r, t)
	defer atk.close()

	decBefore, err := g.loginDecisions(ctx)
	if err != nil {
		return err
	}
	cpuBefore, err := benchkit.ReadProc(g.PID())
	if err != nil {
		return err
	}
	selfBefore := benchkit.SelfCPU()
	busyBefore := benchkit.MachineBusy()
	reqBefore := benchkit.Requests.Load()

	start := time.Now()
	deadline := start.Add(o.duration)
	logf("%d attempts from %d addresses in %d /24s, %d workers, at most %s; %d customers signing in every ~%s",
		o.attempts, o.addrs, o.prefixes, o.conc, o.duration, len(cs), o.legitEvery)

	// The customers.
	stopLegit := make(chan struct{})
	var legitWG sync.WaitGroup
	for _, c := range cs {
		legitWG.Go(func() {
			c.signInLoop(ctx, stopLegit, o.legitEvery, o.seed, start, func(s signIn) { t.legitDone(start, s) })
		})
	}

	// The gateway's view, every 2 s: surge state and login decisions.
	surgeAt := time.Duration(-1)
	stopMon := make(chan struct{})
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		prev := decBefore
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopMon:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			surge, _ := g.surging(ctx)
			if surge && surgeAt < 0 {
				surgeAt = time.Since(start)
			}
			var delta map[string]int64
			if now, err := g.loginDecisions(ctx); err == nil {
				delta = diff(now, prev)
				prev = now
			}
			t.mark(start, surge, delta)
			sent := int64(0)
			t.mu.Lock()
			for _, n := range t.answers {
				sent += n
			}
			ok, all := 0, len(t.legit)
			for _, s := range t.legit {
				if s.Answer == ans303 {
					ok++
				}
			}
			t.mu.Unlock()
			if int(time.Since(start)/time.Second)%10 < 2 {
				logf("%3.0fs: %d attempts answered, customers %d/%d ok, surge %v", time.Since(start).Seconds(), sent, ok, all, surge)
			}
		}
	}()

	if o.attempts > 0 {
		atk.run(ctx, o.conc, o.rate, start, deadline)
	} else {
		// A control run: the customers alone, for the whole duration.
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(deadline)):
		}
	}
	attackEnd := time.Since(start)
	close(stopLegit)
	legitDone := make(chan struct{})
	go func() { legitWG.Wait(); close(legitDone) }()
	select {
	case <-legitDone:
	case <-time.After(time.Minute):
		logf("customers' last sign-ins still running after 1m; reporting without them")
	}
	wall := time.Since(start)
	close(stopMon)
	<-monDone

	cpuAfter, err := benchkit.ReadProc(g.PID())
	if err != nil {
		return err
	}
	selfAfter, busyAfter := benchkit.SelfCPU(), benchkit.MachineBusy()
	decAfter, err := g.loginDecisions(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	requests := benchkit.Requests.Load() - reqBefore
	offenders, err := g.offenders(context.WithoutCancel(ctx), 8)
	if err != nil {
		return err
	}

	rep := &report{
		Command: benchkit.CommandLine("./bench/flood"),
		Build:   build.Info,
		Policy:  pol.describe(),
		Machine: benchkit.DescribeMachine(),
		Config: config{
			Attempts: o.attempts, Rate: o.rate, Addrs: o.addrs, Prefixes: o.prefixes, Conc: o.conc, Duration: o.duration.String(),
			Solve: o.solve, Customers: len(cs), LegitEvery: o.legitEvery.String(), LegitShared: o.legitShared,
			RealTries: o.realTries, Seed: o.seed, PerAddr: float64(o.attempts) / float64(o.addrs),
			AddrsPerPfx: float64(o.addrs) / float64(o.prefixes), Limits: limitsText(o.limits), HasherConcur: runtime.NumCPU(),
		},
		Interrupted:     ctx.Err() != nil,
		WallSeconds:     wall.Seconds(),
		Requests:        requests,
		RequestsPerSec:  float64(requests) / wall.Seconds(),
		GatewayCPU:      (cpuAfter.CPU - cpuBefore.CPU).Seconds(),
		GatewayCores:    (cpuAfter.CPU - cpuBefore.CPU).Seconds() / wall.Seconds(),
		GatewayPeakRSS:  cpuAfter.PeakRSS,
		FloodCPU:        (selfAfter - selfBefore).Seconds(),
		OtherCPU:        max(0, (busyAfter-busyBefore)-(cpuAfter.CPU-cpuBefore.CPU)-(selfAfter-selfBefore)).Seconds(),
		SurgeFirstSeenS: -1,
		Offenders:       offenders,
	}
	if o.solve {
		rep.Config.SolveConc = o.solveConc
	}
	if surgeAt >= 0 {
		rep.SurgeFirstSeenS = surgeAt.Seconds()
	}
	rep.fill(t, atk, diff(decAfter, decBefore))
	if attackEnd > 0 {
		rep.AttemptsPerSec = float64(rep.Attack.Sent) / attackEnd.Seconds()
	}

	fmt.Println()
	rep.markdown(os.Stdout)
	if o.out != "" {
		path := o.out
		if !filepath.IsAbs(path) {
			path = filepath.Join(build.Root, path)
		}
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			return err
		}
		logf("wrote %s", path)
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}

func limitsText(l string) string {
	if l == "" {
		return "defaults"
	}
	return "defaults, with: " + l
}

func diff(now, before map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range now {
		out[k] = v - before[k]
	}
	return out
}
