//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
	"github.com/frontdoorhq/frontdoor/caddymodule/stores/storeopen"
	"github.com/frontdoorhq/frontdoor/session"
)

// The gateway as in bench/peers: plain HTTP on loopback, public origin
// https://scale.test (sessions are bound to it), every path protected but
// /pub/*, the default session settings (2 s cache, 30 min idle). Its own
// data and logs stay in the run directory.
const caddyfileTmpl = `{
	admin off
	persist_config off
	auto_https off
	storage file_system {dir}/caddy
	log {
		output file {dir}/caddy.log
		level INFO
	}
	frontdoor {
		store bolt {db}
		mailer dir {dir}/mail
		from "Scale <no-reply@scale.test>"
	}
}

http://127.0.0.1:{port} {
	bind 127.0.0.1
	frontdoor {
		origin ` + site + `
		public /pub/*
		limits off
	}
	respond "ok"
}
`

// startRun is one timed start of the gateway.
type startRun struct {
	label    string
	sessions int
	run      int
	// From exec to the first answer on a protected route without a cookie
	// (401), then to the first 200 with a valid session cookie.
	firstAnswer, firstOK time.Duration
	cpuToOK              float64 // the gateway's CPU seconds until the first 200
	// Requests with random valid cookies during the -after window.
	after                        int
	afterP50, afterP99, afterMax time.Duration
	afterFirstSecMax             time.Duration
	afterCPU                     float64
	rss                          int64
	// stop is SIGTERM to exit; age is how long ago the sessions were last
	// seen when the gateway started.
	stop, age time.Duration
}

// measureStartups times gateway starts on the loaded file and on a file
// holding only the sample sessions (the same customers, sessions and cookie
// keys, so the same cookies work on both), alternately.
func measureStartups(ctx context.Context, o options, bin, dir string, in *startInput) ([]startRun, error) {
	hashKey, blockKey, err := session.SplitCookieKeys(in.cookieKeys)
	if err != nil {
		return nil, err
	}
	codec, err := session.NewCodec(hashKey, blockKey, session.DefaultAbsolute)
	if err != nil {
		return nil, err
	}
	var cookies []string
	for _, t := range in.data.tokens {
		v, err := codec.Encode(site, t)
		if err != nil {
			return nil, err
		}
		cookies = append(cookies, session.CookieName+"="+v)
	}
	small := filepath.Join(dir, "startup-empty", "frontdoor.db")
	if err := fillSample(ctx, small, in); err != nil {
		return nil, err
	}
	files := []struct {
		label    string
		path     string
		sessions int
	}{
		{"empty", small, in.sample},
		{fmt.Sprintf("%d sessions", in.data.n), in.path, in.data.n},
	}
	var runs []startRun
	for i := range o.startups {
		for _, f := range files {
			if age := time.Since(in.data.stamp); age > session.DefaultIdle-2*time.Minute {
				return runs, fmt.Errorf("the sessions are %s old: the gateway would sweep them as idle", age.Round(time.Second))
			}
			runDir := filepath.Join(dir, fmt.Sprintf("gateway-%s-%d", strings.ReplaceAll(f.label, " ", "-"), i+1))
			age := time.Since(in.data.stamp)
			r, err := startOnce(ctx, o, bin, runDir, f.path, cookies)
			if err != nil {
				return runs, fmt.Errorf("gateway on %s, start %d: %w", f.label, i+1, err)
			}
			r.label, r.sessions, r.run, r.age = f.label, f.sessions, i+1, age
			logf("start %d on %s: first 401 after %s, first 200 after %s (%.2f CPU s); then %d requests: p50 %s p99 %s max %s (max %s in the first second), %.2f CPU s, RSS %s; stopped in %s",
				r.run, f.label, r.firstAnswer.Round(time.Millisecond), r.firstOK.Round(time.Millisecond), r.cpuToOK,
				r.after, us(r.afterP50), us(r.afterP99), us(r.afterMax), us(r.afterFirstSecMax), r.afterCPU, mib(r.rss),
				r.stop.Round(time.Millisecond))
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// fillSample writes the sample customers and sessions and the cookie keys
// into a fresh file, opened as the gateway opens it.
func fillSample(ctx context.Context, path string, in *startInput) error {
	stores, err := storeopen.Bolt(ctx, path)
	if err != nil {
		return err
	}
	defer stores.Close()
	keys, err := stores.Sessions.Secret(ctx, "cookie-keys", func() ([]byte, error) { return in.cookieKeys, nil })
	if err != nil {
		return err
	}
	if !slices.Equal(keys, in.cookieKeys) {
		return errors.New("the empty store already had cookie keys")
	}
	for i := range in.sample {
		if err := stores.Identity.CreateCustomer(ctx, in.data.customer(i)); err != nil {
			return err
		}
		if err := stores.Sessions.Create(ctx, in.data.session(i)); err != nil {
			return err
		}
	}
	return stores.Close()
}

// startOnce starts the gateway on db, times its first answers, sends
// requests with valid cookies for o.after, and stops it.
func startOnce(ctx context.Context, o options, bin, dir, db string, cookies []string) (startRun, error) {
	var r startRun
	g, err := benchkit.LaunchGateway(benchkit.GatewayOptions{Bin: bin, Dir: dir, StopGrace: time.Minute,
		Caddyfile: strings.ReplaceAll(caddyfileTmpl, "{db}", db)})
	if err != nil {
		return r, err
	}
	defer g.Stop()
	t0 := g.Started
	fail := func(err error) (startRun, error) { return r, fmt.Errorf("%w\n%s", err, g.LogTail(20)) }

	url := fmt.Sprintf("http://127.0.0.1:%d/app", g.Port)
	// A new connection per poll: the first answer is the first accepted one.
	poll := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := t0.Add(2 * time.Minute)
	for {
		status, err := get(ctx, poll, url, "")
		if err == nil {
			if status != http.StatusUnauthorized {
				return fail(fmt.Errorf("a protected route without a cookie answered %d, want 401", status))
			}
			r.firstAnswer = time.Since(t0)
			break
		}
		select {
		case <-g.Exited():
			return fail(errors.New("the gateway exited during start-up"))
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail(errors.New("the gateway did not answer within 2 minutes"))
		}
	}
	status, err := get(ctx, poll, url, cookies[0])
	if err != nil {
		return fail(err)
	}
	if status != http.StatusOK {
		return fail(fmt.Errorf("a protected route with a valid cookie answered %d, want 200", status))
	}
	r.firstOK = time.Since(t0)
	pid := g.PID()
	u0, err := benchkit.ReadProc(pid)
	if err != nil {
		return fail(err)
	}
	r.cpuToOK = u0.CPU.Seconds()

	// Keep-alive, one request at a time, a random sample session each.
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	var durs []time.Duration
	start := time.Now()
	for time.Since(start) < o.after {
		t := time.Now()
		status, err := get(ctx, hc, url, cookies[rand.IntN(len(cookies))])
		el := time.Since(t)
		if err != nil {
			return fail(err)
		}
		if status != http.StatusOK {
			return fail(fmt.Errorf("a protected route with a valid cookie answered %d after start-up", status))
		}
		if t.Sub(start) < time.Second {
			r.afterFirstSecMax = max(r.afterFirstSecMax, el)
		}
		durs = append(durs, el)
	}
	if len(durs) > 0 {
		u1, err := benchkit.ReadProc(pid)
		if err != nil {
			return fail(err)
		}
		r.afterCPU = (u1.CPU - u0.CPU).Seconds()
		slices.Sort(durs)
		r.after, r.afterP50, r.afterP99, r.afterMax = len(durs), pct(durs, 0.5), pct(durs, 0.99), durs[len(durs)-1]
	}
	if u, err := benchkit.ReadProc(pid); err == nil {
		r.rss = u.RSS
	}
	r.stop = g.Stop()
	return r, nil
}

func get(ctx context.Context, c *http.Client, url, cookie string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json") // an API call: 401, not a redirect to the login page
	if cookie != "" {
		// By hand: __Host- cookies are Secure, and this is plain HTTP.
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
