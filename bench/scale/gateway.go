//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdoorhq/frontdoor/caddymodule"
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

// buildGateway builds bin/frontdoor from the module root, as `make build` does.
func buildGateway(ctx context.Context, root string) (string, error) {
	bin := filepath.Join(root, "bin", "frontdoor")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/frontdoor")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/frontdoor: %w", err)
	}
	return bin, nil
}

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
	backend := &caddymodule.BoltBackend{Path: path}
	if err := backend.Provision(caddy.Context{}); err != nil {
		return err
	}
	stores, err := backend.OpenStores(ctx)
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
	for _, d := range []string{"mail", "data", "config"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return r, err
		}
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := strings.NewReplacer("{dir}", dir, "{db}", db, "{port}", strconv.Itoa(port)).Replace(caddyfileTmpl)
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return r, err
	}
	logFile, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		return r, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childAttr()
	exited := make(chan struct{})
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	// stop ends the gateway: SIGTERM, then SIGKILL after a minute.
	stop := func() time.Duration {
		t := time.Now()
		select {
		case <-exited:
			return 0
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
		}
		return time.Since(t)
	}
	defer stop()
	fail := func(err error) (startRun, error) { return r, fmt.Errorf("%w\n%s", err, logTail(dir, 20)) }

	url := fmt.Sprintf("http://127.0.0.1:%d/app", port)
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
		case <-exited:
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
	pid := cmd.Process.Pid
	cpu0, err := cpuTime(pid)
	if err != nil {
		return fail(err)
	}
	r.cpuToOK = cpu0

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
		cpu1, err := cpuTime(pid)
		if err != nil {
			return fail(err)
		}
		r.afterCPU = cpu1 - cpu0
		slices.Sort(durs)
		r.after, r.afterP50, r.afterP99, r.afterMax = len(durs), pct(durs, 0.5), pct(durs, 0.99), durs[len(durs)-1]
	}
	r.rss = rss(pid)
	r.stop = stop()
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

// logTail returns the last n lines of the gateway's logs, for errors.
func logTail(dir string, n int) string {
	var lines []string
	for _, name := range []string{"stderr.log", "caddy.log"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if len(lines) > n {
				lines = lines[1:]
			}
		}
		f.Close()
	}
	return strings.Join(lines, "\n")
}
