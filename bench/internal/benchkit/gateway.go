//go:build linux

package benchkit

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Gateway is one frontdoor process serving https://<host>:<Port> on
// loopback, with everything it writes in Dir.
type Gateway struct {
	Dir       string
	Host      string
	Port      int
	AdminAddr string
	// Started is when the process was started (just before exec).
	Started time.Time

	cmd       *exec.Cmd
	exited    chan struct{}
	logFile   *os.File
	stopGrace time.Duration
}

// GatewayOptions says how to start a gateway.
type GatewayOptions struct {
	// Bin is the frontdoor binary (see BuildGateway).
	Bin string
	// Dir is the directory for the Caddyfile, logs, Caddy's data and
	// whatever the Caddyfile puts there; it is created if need be.
	Dir string
	// Caddyfile is the configuration (see SiteCaddyfile), with
	// placeholders replaced before it is written: {admin} (the admin
	// address), {dir} (Dir), {host} (Host), {port} (the site's port) and
	// {httpport} (a free port for Caddy's HTTP listener). Sub-directories
	// "mail", "data" and "config" of Dir exist when it is read. A caller
	// with placeholders of its own replaces them before.
	Caddyfile string
	// Host is the site's host name; clients reach 127.0.0.1 whatever it is.
	Host string
	// ReadyPath is a path of the site that answers 200 once it serves
	// (StartGateway only).
	ReadyPath string
	// Timeout bounds the start-up (StartGateway only).
	Timeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before it kills the
	// gateway (0: 10 s).
	StopGrace time.Duration
}

// siteTmpl is SiteCaddyfile's template.
const siteTmpl = `{
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
		mailer dir {dir}/mail{global}
	}
}

https://{host}:{port} {
	tls internal
	frontdoor {
		public /pub/*{site}
	}
	respond "ok"
}
`

// SiteCaddyfile is a Caddyfile for GatewayOptions: the site
// https://{host}:{port} on loopback with Caddy's internal CA, a bolt store
// and a `mailer dir` in {dir}, Frontdoor in front of everything but
// /pub/*, and "ok" answered by Caddy itself (the upstream is not what is
// measured). global is added to the global `frontdoor` block and site to
// the site's, each line of them starting "\n\t\t"; "" adds nothing.
func SiteCaddyfile(global, site string) string {
	return strings.NewReplacer("{global}", global, "{site}", site).Replace(siteTmpl)
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of asking.
func FreePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ModuleRoot finds the directory holding go.mod, from the working
// directory up.
func ModuleRoot() (string, error) {
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
			return "", errors.New("benchkit: no go.mod above the working directory; run from the repository")
		}
		dir = parent
	}
}

// BuildGateway builds bin/frontdoor under root, as `make build` does.
func BuildGateway(ctx context.Context, root string) (string, error) {
	bin := filepath.Join(root, "bin", "frontdoor")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/frontdoor")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("benchkit: go build ./cmd/frontdoor: %w", err)
	}
	return bin, nil
}

// BuildInfo names the commit under root and the product files changed in
// the working tree (benchmarks, docs, tests and the Makefile left out).
func BuildInfo(root string) string {
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

// StartGateway writes the Caddyfile and starts the gateway; it returns
// once the site answers 200 on ReadyPath over TLS. Stop ends it.
func StartGateway(ctx context.Context, o GatewayOptions) (*Gateway, error) {
	g, err := LaunchGateway(o)
	if err != nil {
		return nil, err
	}
	if err := g.waitReady(ctx, o.ReadyPath, o.Timeout); err != nil {
		g.Stop()
		return nil, fmt.Errorf("%w\n%s", err, g.LogTail(20))
	}
	return g, nil
}

// LaunchGateway writes the Caddyfile and starts the gateway without
// waiting for it to serve, for a caller that times the start-up itself
// (Started, Exited). Stop ends it.
func LaunchGateway(o GatewayOptions) (*Gateway, error) {
	var ports [3]int
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	g := &Gateway{Dir: o.Dir, Host: o.Host, Port: ports[0], AdminAddr: fmt.Sprintf("127.0.0.1:%d", ports[1]),
		exited: make(chan struct{}), stopGrace: o.StopGrace}
	if g.stopGrace <= 0 {
		g.stopGrace = 10 * time.Second
	}
	for _, d := range []string{"mail", "data", "config"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	cfg := strings.NewReplacer("{admin}", g.AdminAddr, "{dir}", o.Dir, "{host}", o.Host, "{port}", strconv.Itoa(g.Port),
		"{httpport}", strconv.Itoa(ports[2])).Replace(o.Caddyfile)
	cfgPath := filepath.Join(o.Dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	var err error
	if g.logFile, err = os.Create(filepath.Join(o.Dir, "stderr.log")); err != nil {
		return nil, err
	}
	g.cmd = exec.Command(o.Bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	// Caddy's own data and autosaved config stay in the directory too.
	g.cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(o.Dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(o.Dir, "config"))
	g.cmd.Stdout, g.cmd.Stderr = g.logFile, g.logFile
	g.cmd.SysProcAttr = ChildAttr()
	g.Started = time.Now()
	if err := g.cmd.Start(); err != nil {
		g.logFile.Close()
		return nil, fmt.Errorf("benchkit: starting %s: %w", o.Bin, err)
	}
	go func() {
		_ = g.cmd.Wait()
		close(g.exited)
	}()
	return g, nil
}

// Origin is the site's origin, https://host:port.
func (g *Gateway) Origin() string { return fmt.Sprintf("https://%s:%d", g.Host, g.Port) }

// PID is the gateway's process id.
func (g *Gateway) PID() int { return g.cmd.Process.Pid }

// MailDir is where the `mailer dir {dir}/mail` of a Caddyfile writes.
func (g *Gateway) MailDir() string { return filepath.Join(g.Dir, "mail") }

// Exited is closed once the gateway's process has ended.
func (g *Gateway) Exited() <-chan struct{} { return g.exited }

func (g *Gateway) waitReady(ctx context.Context, path string, timeout time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // loopback only: the gateway's internal CA
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp4", fmt.Sprintf("127.0.0.1:%d", g.Port))
		},
	}}
	defer c.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-g.exited:
			return errors.New("benchkit: the gateway exited during start-up")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := c.Get(g.Origin() + path)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	return errors.New("benchkit: the gateway did not answer within " + timeout.String())
}

// Stop ends the gateway: SIGTERM, then SIGKILL after StopGrace. It
// returns how long the gateway took to exit (0 if it had already), and may
// be called again.
func (g *Gateway) Stop() time.Duration {
	if g.cmd == nil || g.cmd.Process == nil {
		return 0
	}
	var took time.Duration
	select {
	case <-g.exited:
	default:
		t := time.Now()
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(g.stopGrace):
			_ = g.cmd.Process.Kill()
			<-g.exited
		}
		took = time.Since(t)
	}
	if g.logFile != nil {
		g.logFile.Close()
		g.logFile = nil
	}
	return took
}

// LogTail returns the last n lines of the gateway's logs, for errors.
func (g *Gateway) LogTail(n int) string {
	var lines []string
	for _, name := range []string{"stderr.log", "caddy.log"} {
		f, err := os.Open(filepath.Join(g.Dir, name))
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

// AdminGet reads a path of Caddy's admin endpoint.
func (g *Gateway) AdminGet(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.AdminAddr+path, nil)
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
		return "", fmt.Errorf("benchkit: admin %s: %s", path, resp.Status)
	}
	return string(b), nil
}

// Metrics reads the admin endpoint's /metrics: each series, keyed as the
// text format writes it (`name` or `name{label="v",…}`), with its value.
func (g *Gateway) Metrics(ctx context.Context) (map[string]float64, error) {
	body, err := g.AdminGet(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	return ParseMetrics(body), nil
}

// ParseMetrics reads the Prometheus text format: comments are skipped, a
// line's last field is its value (no timestamps in Caddy's output).
func ParseMetrics(body string) map[string]float64 {
	out := map[string]float64{}
	for line := range strings.Lines(body) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}
