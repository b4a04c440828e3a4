//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// gateway is one frontdoor process serving https://flood.test:<port> on
// loopback, with everything it writes in dir.
type gateway struct {
	bin       string
	dir       string
	port      int
	adminAddr string
	cmd       *exec.Cmd
	exited    chan struct{}
	logFile   *os.File
}

// The site uses the default limits (nothing under `frontdoor` but the
// public path) unless -limits asks for a what-if. No trusted_proxies: the client address the defences count
// by is the connection's peer, which the flood sets per attacker.
const caddyfileTmpl = `{
	admin {admin}
	storage file_system {dir}/caddy
	skip_install_trust
	local_certs
	default_bind 127.0.0.1
	http_port {httpport}
	https_port {port}
	log {
		output file {dir}/caddy.log
		level INFO
	}
	frontdoor {
		store bolt {dir}/fd.db
		mailer dir {dir}/mail
	}
}

https://flood.test:{port} {
	tls internal
	frontdoor {
		public /pub/*{limits}
	}
	respond "ok"
}
`

// freePort returns a TCP port free on 127.0.0.1 at the time of asking.
func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

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

// moduleRoot finds the directory holding go.mod, from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; run from the repository")
		}
		dir = parent
	}
}

// startGateway writes the Caddyfile and starts the gateway; it returns once
// the site answers over TLS.
func startGateway(ctx context.Context, bin, dir, limits string, timeout time.Duration) (*gateway, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	g := &gateway{bin: bin, dir: dir, port: port, adminAddr: fmt.Sprintf("127.0.0.1:%d", adminPort), exited: make(chan struct{})}
	block := ""
	if limits != "" {
		block = "\n\t\tlimits {"
		for l := range strings.SplitSeq(limits, ";") {
			if l = strings.TrimSpace(l); l != "" {
				block += "\n\t\t\t" + l
			}
		}
		block += "\n\t\t}"
	}
	cfg := strings.NewReplacer("{limits}", block, "{admin}", g.adminAddr, "{dir}", dir, "{port}", strconv.Itoa(port),
		"{httpport}", strconv.Itoa(httpPort)).Replace(caddyfileTmpl)
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	for _, d := range []string{"mail", "data", "config"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	g.logFile, err = os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		return nil, err
	}
	g.cmd = exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	// Caddy's own data and autosaved config stay in the temp dir too.
	g.cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	g.cmd.Stdout, g.cmd.Stderr = g.logFile, g.logFile
	g.cmd.SysProcAttr = childAttr()
	if err := g.cmd.Start(); err != nil {
		g.logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		_ = g.cmd.Wait()
		close(g.exited)
	}()
	if err := g.waitReady(ctx, timeout); err != nil {
		g.stop()
		return nil, fmt.Errorf("%w\n%s", err, g.logTail(20))
	}
	return g, nil
}

func (g *gateway) origin() string { return fmt.Sprintf("https://flood.test:%d", g.port) }

func (g *gateway) pid() int { return g.cmd.Process.Pid }

func (g *gateway) waitReady(ctx context.Context, timeout time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // loopback only: the gateway's internal CA
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp4", fmt.Sprintf("127.0.0.1:%d", g.port))
		},
	}}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-g.exited:
			return errors.New("the gateway exited during start-up")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := c.Get(g.origin() + "/pub/ready")
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	return errors.New("the gateway did not answer within " + timeout.String())
}

// stop ends the gateway: SIGTERM, then SIGKILL after 10 s.
func (g *gateway) stop() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	select {
	case <-g.exited:
	default:
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(10 * time.Second):
			_ = g.cmd.Process.Kill()
			<-g.exited
		}
	}
	if g.logFile != nil {
		g.logFile.Close()
	}
}

// logTail returns the last n lines of the gateway's logs, for errors.
func (g *gateway) logTail(n int) string {
	var lines []string
	for _, name := range []string{"stderr.log", "caddy.log"} {
		f, err := os.Open(filepath.Join(g.dir, name))
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

// adminGet reads a path of Caddy's admin endpoint.
func (g *gateway) adminGet(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.adminAddr+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("admin %s: %s", path, resp.Status)
	}
	return string(b), nil
}

var decisionRE = regexp.MustCompile(`^frontdoor_defense_decisions_total\{([^}]*)\} ([0-9.e+]+)$`)

// loginDecisions returns frontdoor_defense_decisions_total of the login
// route, by decision.
func (g *gateway) loginDecisions(ctx context.Context) (map[string]int64, error) {
	body, err := g.adminGet(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for line := range strings.Lines(body) {
		m := decisionRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for kv := range strings.SplitSeq(m[1], ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = strings.Trim(v, `"`)
		}
		if labels["route"] != "login" {
			continue
		}
		f, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, err
		}
		out[labels["decision"]] = int64(f)
	}
	if len(out) == 0 {
		return nil, errors.New("no frontdoor_defense_decisions_total{route=\"login\"} on the admin /metrics")
	}
	return out, nil
}

// policyView is what the admin API says of the defences in force.
type policyView struct {
	Sites []struct {
		Origin           string        `json:"origin"`
		Limits           []string      `json:"limits"`
		PowBits          int           `json:"pow_bits"`
		PowStep          int           `json:"pow_step"`
		PowMaxBits       int           `json:"pow_max_bits"`
		Surge            int64         `json:"surge"`
		SurgeWindow      time.Duration `json:"surge_window"`
		SurgeCooldown    time.Duration `json:"surge_cooldown"`
		DistinctAccounts int64         `json:"distinct_accounts"`
	} `json:"sites"`
	Surge bool `json:"surge"`
}

func (g *gateway) policy(ctx context.Context) (policyView, error) {
	var v policyView
	body, err := g.adminGet(ctx, "/frontdoor/defense")
	if err != nil {
		return v, err
	}
	err = json.Unmarshal([]byte(body), &v)
	return v, err
}

// describe sums up the login defences of the policy.
func (v policyView) describe() string {
	if len(v.Sites) == 0 {
		return "unknown"
	}
	s := v.Sites[0]
	var login []string
	for _, l := range s.Limits {
		if rest, ok := strings.CutPrefix(l, "login "); ok {
			login = append(login, rest)
		}
	}
	return fmt.Sprintf("login limits %s; challenges %d bits (+%d per further signal, at most %d); surge at %d failed sign-ins per %s, for %s after; many accounts: more than %d per address (%d per /24) in 10m",
		strings.Join(login, ", "), s.PowBits, s.PowStep, s.PowMaxBits, s.Surge, s.SurgeWindow, s.SurgeCooldown, s.DistinctAccounts, 4*s.DistinctAccounts)
}

// offenders returns the keys the defences refused or challenged most.
func (g *gateway) offenders(ctx context.Context, n int) ([]offender, error) {
	body, err := g.adminGet(ctx, fmt.Sprintf("/frontdoor/defense/offenders?n=%d", n))
	if err != nil {
		return nil, err
	}
	var v struct {
		Offenders map[string][]offender `json:"offenders"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return nil, err
	}
	var out []offender
	for _, o := range v.Offenders {
		out = append(out, o...)
	}
	return out, nil
}

type offender struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// surging asks the admin API whether the defences are in surge mode.
func (g *gateway) surging(ctx context.Context) (bool, error) {
	v, err := g.policy(ctx)
	return v.Surge, err
}

// buildInfo names the commit the gateway was built from and the product
// files changed in the working tree then.
func buildInfo(root string) string {
	head, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	out := strings.TrimSpace(string(head))
	st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	if err != nil {
		return out
	}
	var dirty []string
	for line := range strings.Lines(string(st)) {
		f := strings.TrimSpace(line[min(3, len(line)):])
		if f == "" || f == "Makefile" || strings.HasPrefix(f, "docs/") || strings.HasPrefix(f, "bench/") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		dirty = append(dirty, f)
	}
	if len(dirty) > 0 {
		out += " + uncommitted changes to " + strings.Join(dirty, ", ")
	}
	return out
}

// procUsage is a process's CPU time so far and its peak resident memory.
type procUsage struct {
	CPU     time.Duration
	PeakRSS int64 // bytes
}

// readProc reads /proc/<pid>/stat (utime + stime) and VmHWM.
func readProc(pid int) (procUsage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procUsage{}, err
	}
	// The command name may hold spaces; fields after it are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procUsage{}, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return procUsage{}, errors.New("unexpected /proc stat format")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return procUsage{}, errors.New("unexpected /proc stat format")
	}
	u := procUsage{CPU: time.Duration(ut+st) * time.Second / time.Duration(clockTicks())}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for line := range strings.Lines(string(st)) {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				u.PeakRSS = kb << 10
			}
		}
	}
	return u, nil
}

// machineBusy is the CPU time every process on the machine has used
// (/proc/stat).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 8} { // user, nice, system, steal: not irq time, which no process is charged with
		n, _ := strconv.ParseInt(f[i], 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / time.Duration(clockTicks())
}

var ticks int64

// clockTicks is sysconf(_SC_CLK_TCK), asked of getconf once (100 on Linux
// in practice).
func clockTicks() int64 {
	if ticks == 0 {
		ticks = 100
		if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
				ticks = n
			}
		}
	}
	return ticks
}
