//go:build linux

package main

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
	"github.com/frontdoorhq/frontdoor/session"
)

// Outcomes of one sign-in.
const (
	signedIn = iota // 303 with a session cookie
	busy            // 503: the hashing queue was full or the wait too long
	failed          // anything else, or no answer
)

// attempt is one sign-in: load the form (a new visitor: no cookies), post
// the right password. Latency is the post's alone.
type attempt struct {
	end     time.Time
	latency time.Duration
	outcome int
	page    benchkit.Page
	err     error
}

func signIn(ctx context.Context, b *benchkit.Browser, c customer) attempt {
	b.ForgetCookies()
	tok, err := b.FormToken(ctx, benchkit.LoginPath)
	if err != nil {
		return attempt{end: time.Now(), outcome: failed, err: err}
	}
	return post(ctx, b, loginForm(c, tok))
}

func loginForm(c customer, csrf string) url.Values {
	return url.Values{"email": {c.email}, "password": {c.password}, "rd": {"/pub/home"}, "csrf_token": {csrf}}
}

func post(ctx context.Context, b *benchkit.Browser, form url.Values) attempt {
	start := time.Now()
	p, err := b.Post(ctx, benchkit.LoginPath, form)
	a := attempt{end: time.Now(), page: p, err: err}
	a.latency = a.end.Sub(start)
	switch {
	case err != nil:
		a.outcome = failed
	case p.Status == http.StatusSeeOther && hasSessionCookie(p):
		a.outcome = signedIn
	case p.Status == http.StatusServiceUnavailable:
		a.outcome = busy
	default:
		a.outcome = failed
	}
	return a
}

func hasSessionCookie(p benchkit.Page) bool {
	for _, c := range p.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, session.CookieName+"=") {
			return true
		}
	}
	return false
}

// detail says what went wrong with a failed attempt.
func (a attempt) detail() string {
	if a.err != nil {
		return a.err.Error()
	}
	return a.page.Summary()
}

// runLevel has each browser sign in in a loop for the warm-up and the
// measured duration; attempts that end in the measured window count.
func runLevel(ctx context.Context, g *benchkit.Gateway, cs []customer, browsers []*benchkit.Browser, o options) (levelReport, error) {
	lr := levelReport{Conc: len(browsers)}
	if err := benchkit.ResetPeakRSS(g.PID()); err != nil {
		return lr, err
	}
	before, err := benchkit.ReadProc(g.PID())
	if err != nil {
		return lr, err
	}
	lr.RSSBeforeMiB = mib(before.RSS)

	var (
		mu  sync.Mutex
		all []attempt
		wg  sync.WaitGroup
	)
	stop := make(chan struct{})
	for i, b := range browsers {
		c := cs[i%len(cs)]
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				a := signIn(ctx, b, c)
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				all = append(all, a)
				mu.Unlock()
				var pause time.Duration
				switch {
				case a.outcome == busy && o.honorRetry:
					pause = benchkit.RetryAfter(a.page, time.Second)
				case a.outcome == failed:
					pause = 100 * time.Millisecond // no spinning on an error
				}
				if pause > 0 {
					select {
					case <-stop:
						return
					case <-ctx.Done():
						return
					case <-time.After(pause):
					}
				}
			}
		})
	}
	if benchkit.Sleep(ctx, o.warmup) != nil {
		close(stop)
		wg.Wait()
		return lr, ctx.Err()
	}
	watch := watchHasher(ctx, g, 100*time.Millisecond)
	h0, err := readHasher(ctx, g)
	if err != nil {
		close(stop)
		wg.Wait()
		return lr, err
	}
	p0, err := benchkit.ReadProc(g.PID())
	if err != nil {
		close(stop)
		wg.Wait()
		return lr, err
	}
	self0, busy0 := benchkit.SelfCPU(), benchkit.MachineBusy()
	from := time.Now()
	_ = benchkit.Sleep(ctx, o.duration) // an interruption ends the measurement early
	to := time.Now()
	p1, err1 := benchkit.ReadProc(g.PID())
	self1, busy1 := benchkit.SelfCPU(), benchkit.MachineBusy()
	h1, err2 := readHasher(ctx, g)
	lr.MaxInFlightSeen, lr.MaxWaitingSeen, _ = watch.end()
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return lr, errors.New("sign-ins still running 30 s after the level ended")
	}
	if err := errors.Join(err1, err2, ctx.Err()); err != nil {
		return lr, err
	}
	after, err := benchkit.ReadProc(g.PID())
	if err != nil {
		return lr, err
	}

	window := to.Sub(from)
	var ok []time.Duration
	for _, a := range all {
		if a.end.Before(from) && a.outcome == busy {
			lr.WarmupBusy++
		}
		if a.end.Before(from) || a.end.After(to) {
			continue
		}
		switch a.outcome {
		case signedIn:
			ok = append(ok, a.latency)
		case busy:
			lr.Busy++
		default:
			lr.Failed++
			if lr.FailSample == "" {
				lr.FailSample = a.detail()
			}
		}
	}
	lr.Seconds = window.Seconds()
	lr.Logins = len(ok)
	lr.PerSec = float64(len(ok)) / window.Seconds()
	lr.P50Ms, lr.P99Ms, lr.MaxMs = percentiles(ok)
	gw := p1.CPU - p0.CPU
	self := self1 - self0
	lr.GatewayCores = gw.Seconds() / window.Seconds()
	lr.LoadgenCores = self.Seconds() / window.Seconds()
	lr.OtherCores = max(0, (busy1-busy0)-gw-self).Seconds() / window.Seconds()
	if len(ok) > 0 {
		lr.GatewayCPUPerLoginUs = float64(gw.Microseconds()) / float64(len(ok))
		lr.HashesPerLogin = (h1.hashes - h0.hashes) / float64(len(ok))
	}
	lr.HWMMiB, lr.RSSAfterMiB = mib(after.PeakRSS), mib(after.RSS)
	return lr, nil
}

// runBurst loads the form in n new browsers, then has all of them post at
// once, watching the hasher's gauges and the gateway's peak memory.
func runBurst(ctx context.Context, g *benchkit.Gateway, cs []customer, n int) (*burstReport, error) {
	br := &burstReport{N: n}
	browsers := make([]*benchkit.Browser, n)
	forms := make([]url.Values, n)
	defer func() {
		for _, b := range browsers {
			if b != nil {
				b.Close()
			}
		}
	}()
	// The forms, 8 at a time: the connections and TLS handshakes are not
	// part of the burst.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				b := newBrowser(g, i)
				browsers[i] = b
				tok, err := b.FormToken(ctx, benchkit.LoginPath)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				forms[i] = loginForm(cs[i%len(cs)], tok)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return br, err
	}

	if err := benchkit.ResetPeakRSS(g.PID()); err != nil {
		return br, err
	}
	before, err := benchkit.ReadProc(g.PID())
	if err != nil {
		return br, err
	}
	h0, err := readHasher(ctx, g)
	if err != nil {
		return br, err
	}
	br.RSSBeforeMiB = mib(before.RSS)
	watch := watchHasher(ctx, g, 10*time.Millisecond)
	results := make([]attempt, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = post(ctx, browsers[i], forms[i])
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	br.WallMs = ms(time.Since(t0))
	var polls int
	br.MaxInFlightSeen, br.MaxWaitingSeen, polls = watch.end()
	br.Polls = polls
	after, err := benchkit.ReadProc(g.PID())
	if err != nil {
		return br, err
	}
	h1, err := readHasher(ctx, g)
	if err != nil {
		return br, err
	}
	var ok, busyLat []time.Duration
	for _, a := range results {
		switch a.outcome {
		case signedIn:
			ok = append(ok, a.latency)
		case busy:
			busyLat = append(busyLat, a.latency)
		default:
			br.Failed++
			if br.FailSample == "" {
				br.FailSample = a.detail()
			}
		}
	}
	br.OK, br.Busy = len(ok), len(busyLat)
	br.P50Ms, br.P99Ms, br.MaxMs = percentiles(ok)
	br.BusyP50Ms, _, br.BusyMaxMs = percentiles(busyLat)
	br.HWMMiB, br.RSSAfterMiB = mib(after.PeakRSS), mib(after.RSS)
	br.Hashes = int64(h1.hashes - h0.hashes)
	br.BusyMetric = int64(h1.busy - h0.busy)
	br.PeakInFlightEver, br.PeakWaitingEver = int(h1.inFlightMax), int(h1.waitingMax)
	br.Slots, br.Queue = int(h1.slots), int(h1.queue)
	return br, nil
}

// percentiles returns p50, p99 and the maximum in milliseconds.
func percentiles(ds []time.Duration) (p50, p99, maxMs float64) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1 // nearest rank
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	return at(0.50), at(0.99), ms(s[len(s)-1])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }
