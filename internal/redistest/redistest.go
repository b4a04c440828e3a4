// Package redistest starts real redis-server processes for tests: a single
// server on a free loopback port, or a three-master Redis Cluster. Servers
// live in the test's temporary directory and stop when the test ends.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one redis-server process.
type Server struct {
	Addr   string
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan error
	t      testing.TB
	args   []string
}

// bin finds redis-server; make test installs it and sets
// FRONTDOOR_REQUIRE_REDIS so a missing server fails instead of skipping.
// Every server this package starts goes through here, so here is where
// -short skips them: `go test -short` is the quick run without servers,
// and skips even where FRONTDOOR_REQUIRE_REDIS is set.
func bin(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: starts %s", name)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("FRONTDOOR_REQUIRE_REDIS") != "" {
			t.Fatalf("%s not found (make deps installs it)", name)
		}
		t.Skipf("%s not installed; run make deps", name)
	}
	return p
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs a standalone redis-server with append-only persistence, so a
// Restart finds the same data. A free port can be taken by another process
// between choosing it and redis binding it, so a server that dies at
// start-up is retried on a new port.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	dir := t.TempDir()
	cluster := slices.Contains(extra, "--cluster-enabled")
	var s *Server
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		// Cluster nodes also listen on port+10000 (the cluster bus).
		if cluster && !portFree(port+10000) {
			continue
		}
		s = &Server{dir: dir, port: port, t: t, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
		s.args = append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes",
			"--appendfsync", "always", "--protected-mode", "yes", "--logfile", filepath.Join(dir, "redis.log"),
		}, extra...)
		if err := s.tryStart(); err == nil {
			break
		} else if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server: %v\n%s", err, log)
		}
	}
	t.Cleanup(s.Kill)
	return s
}

func portFree(port int) bool {
	if port > 65535 {
		return false
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func (s *Server) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
}

// tryStart starts the process and waits until it answers, or reports that
// it exited or never answered.
func (s *Server) tryStart() error {
	cmd := exec.Command(bin(s.t, "redis-server"), s.args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited at start-up: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			s.cmd, s.exited = cmd, exited
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	return fmt.Errorf("did not answer on %s", s.Addr)
}

// Kill stops the server abruptly (SIGKILL), as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on the same port and data directory.
func (s *Server) Restart() { s.start() }

// URL is a redis:// URL for the server.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Cluster is a three-master Redis Cluster on loopback.
type Cluster struct {
	Addrs []string
}

// StartCluster runs three cluster-enabled servers and joins them with
// `redis-cli --cluster create`.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	cli := bin(t, "redis-cli")
	c := &Cluster{}
	for range 3 {
		s := Start(t, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
			"--cluster-config-file", "nodes.conf")
		c.Addrs = append(c.Addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node agrees the cluster is up.
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range c.Addrs {
		for {
			out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", a[strings.LastIndexByte(a, ':')+1:], "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster did not come up: %s", out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// Client returns a go-redis client for the cluster, closed at cleanup.
func (c *Cluster) Client(t testing.TB) redis.UniversalClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { cl.Close() })
	return cl
}

// Client returns a go-redis client for the server, closed at cleanup.
func (s *Server) Client(t testing.TB) redis.UniversalClient {
	cl := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { cl.Close() })
	return cl
}

// Flush empties every node, for suites that want a fresh store per case.
func Flush(t testing.TB, c redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return n.FlushAll(ctx).Err() })
	} else {
		err = c.FlushAll(ctx).Err()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// StartSentinel runs one Sentinel (redis-server --sentinel) watching
// master under the name "mymaster", and returns its address.
func StartSentinel(t testing.TB, master *Server) string {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 1\nsentinel down-after-milliseconds mymaster 5000\n",
		port, dir, master.port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin(t, "redis-server"), conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis sentinel: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
	defer sc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		got, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
		cancel()
		if err == nil && len(got) == 2 {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel at %s does not know the master: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
