//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
	"github.com/frontdoorhq/frontdoor/caddymodule/stores/storeopen"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/rediskey"
	"github.com/frontdoorhq/frontdoor/session"
)

// prefix is the gateway's default key prefix.
const prefix = rediskey.DefaultPrefix

func findRedis() (string, error) {
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server not found (make deps installs it); or use -stores bolt")
	}
	return p, nil
}

// redisServer is a redis-server this program started: loopback, a free
// port, its directory in the temporary directory, no persistence.
type redisServer struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
}

func startRedis(ctx context.Context, bin, dir string) (*redisServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		s, err := tryStartRedis(ctx, bin, dir)
		if err == nil || attempt == 2 || ctx.Err() != nil {
			return s, err
		}
		// The free port may have been taken before redis bound it.
		logf("redis-server: %v; again on another port", err)
	}
}

func tryStartRedis(ctx context.Context, bin, dir string) (*redisServer, error) {
	port, err := benchkit.FreePort()
	if err != nil {
		return nil, err
	}
	s := &redisServer{addr: fmt.Sprintf("127.0.0.1:%d", port), exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "yes",
		"--dir", dir, "--save", "", "--appendonly", "no", "--logfile", filepath.Join(dir, "redis.log"))
	s.cmd.SysProcAttr = benchkit.ChildAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	c := redis.NewClient(&redis.Options{Addr: s.addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return nil, errors.New("exited at start-up")
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return s, nil
		}
	}
	s.stop()
	return nil, errors.New("did not answer on " + s.addr)
}

// stop ends the server: SIGTERM, then SIGKILL after 10 s.
func (s *redisServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// runRedis fills a fresh redis-server with n customers and sessions
// through the identity and session stores' APIs, then opens the stores as
// the gateway does and measures lookups.
func runRedis(ctx context.Context, o options, dir string, n int, hash string) (*result, error) {
	r := &result{store: "redis", n: n}
	srv, err := startRedis(ctx, o.redisBin, filepath.Join(dir, fmt.Sprintf("redis-%d", n)))
	if err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	defer func() {
		srv.stop()
		if !o.keep {
			os.RemoveAll(filepath.Join(dir, fmt.Sprintf("redis-%d", n)))
		}
	}()
	logf("redis, %d: server on %s; generating the data set", n, srv.addr)
	d := newDataset(n, o.sampleKeys, hash)

	// A loading client with a connection per loader; the stores are the
	// gateway's, under its default prefix.
	c := redis.NewClient(&redis.Options{Addr: srv.addr, PoolSize: o.redisConc + 4})
	defer c.Close()
	ids := identity.NewRedisStore(c, prefix)
	sessions := session.NewRedisStore(c, prefix)
	if r.sizeEmpty, err = usedMemory(ctx, c, "used_memory"); err != nil {
		return nil, err
	}
	r.loadCustomers, err = parallel(ctx, fmt.Sprintf("redis %d customers", n), n, o.redisConc, func(i int) error {
		return ids.CreateCustomer(ctx, d.customer(i))
	})
	if err != nil {
		return nil, err
	}
	if r.sizeCustomers, err = usedMemory(ctx, c, "used_memory"); err != nil {
		return nil, err
	}
	r.loadSessions, err = parallel(ctx, fmt.Sprintf("redis %d sessions", n), n, o.redisConc, func(i int) error {
		return sessions.Create(ctx, d.session(i))
	})
	if err != nil {
		return nil, err
	}
	if r.sizeSessions, err = usedMemory(ctx, c, "used_memory"); err != nil {
		return nil, err
	}
	if r.rss, err = usedMemory(ctx, c, "used_memory_rss"); err != nil {
		return nil, err
	}
	r.perCustomer = float64(r.sizeCustomers-r.sizeEmpty) / float64(n)
	r.perSession = float64(r.sizeSessions-r.sizeCustomers) / float64(n)
	if r.keysInRedis, err = c.DBSize(ctx).Result(); err != nil {
		return nil, err
	}
	uid, h, _ := session.SplitKey(d.keys[0])
	for _, k := range []struct{ what, key string }{
		{"session", prefix + "{u:" + uid + "}:s:" + h},
		{"session index", prefix + "{u:" + uid + "}:sessions"},
		{"customer", prefix + "{u:" + d.ids[0] + "}:customer"},
		{"email index", prefix + "email:" + d.email(0)},
	} {
		ks, err := sampleKey(ctx, c, k.what, k.key)
		if err != nil {
			return nil, err
		}
		r.samples = append(r.samples, ks)
	}
	logf("redis, %d: used_memory %s, %.0f bytes per session, %.0f per customer", n, mib(r.sizeSessions), r.perSession, r.perCustomer)

	// Measure through the stores the gateway opens (its client options:
	// pool size, timeouts, retries).
	stores, open, err := openAsGateway(ctx, func(ctx context.Context) (*storeopen.Stores, error) {
		return storeopen.Redis(ctx, storeopen.RedisConfig{URL: "redis://" + srv.addr + "/0"})
	})
	if err != nil {
		return nil, err
	}
	r.open = open
	closeStores := sync.OnceValue(stores.Close)
	defer closeStores()
	m, cs := lookupManager(stores.Sessions, d)
	if err := measureBoth(ctx, r, m, cs, d.keys, o.lookups, fmt.Sprintf("redis, %d", n)); err != nil {
		return nil, err
	}
	return r, closeStores()
}

// usedMemory reads one field of INFO memory.
func usedMemory(ctx context.Context, c *redis.Client, field string) (int64, error) {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO memory has no %s", field)
}

// keySample is what Redis says of one key.
type keySample struct {
	what, typ, encoding string
	keyLen              int
	bytes               int64
}

func sampleKey(ctx context.Context, c *redis.Client, what, key string) (keySample, error) {
	ks := keySample{what: what, keyLen: len(key)}
	var err error
	if ks.typ, err = c.Type(ctx, key).Result(); err != nil {
		return ks, err
	}
	if ks.typ == "none" {
		return ks, fmt.Errorf("sample %s key %q does not exist", what, key)
	}
	if ks.encoding, err = c.ObjectEncoding(ctx, key).Result(); err != nil {
		return ks, err
	}
	ks.bytes, err = c.MemoryUsage(ctx, key, 0).Result()
	return ks, err
}
