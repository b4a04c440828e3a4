package stores

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/caddymodule/stores/storeopen"
	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

func init() {
	caddy.RegisterModule(RedisBackend{})
}

// RedisBackend stores customers, sessions and keys in Redis — one server,
// Sentinel or Redis Cluster through go-redis's universal client — so several
// gateway nodes share them. One client serves every site and survives
// config reloads (the backend pool is keyed by this configuration).
type RedisBackend struct {
	// URL is a redis:// or rediss:// URL (user, password, host, port, db).
	URL string `json:"url,omitempty"`
	// Addrs lists servers: several for Redis Cluster, or the Sentinels
	// when MasterName is set. Overrides the URL's host.
	Addrs []string `json:"addrs,omitempty"`
	// MasterName selects Sentinel mode.
	MasterName string `json:"master_name,omitempty"`
	// Username and Password authenticate; placeholders such as
	// {env.REDIS_PASSWORD} are expanded at start-up.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// DB is the database number (single server and Sentinel only).
	DB int `json:"db,omitempty"`
	// TLS turns TLS on; TLSCA is a PEM file of CAs to trust instead of the
	// system pool; TLSServerName overrides the name checked.
	TLS           bool   `json:"tls,omitempty"`
	TLSCA         string `json:"tls_ca,omitempty"`
	TLSServerName string `json:"tls_server_name,omitempty"`
	// PoolSize is connections per node (default: 10 per CPU).
	PoolSize int `json:"pool_size,omitempty"`
	// Timeouts; the defaults keep a request against an unreachable Redis
	// under two seconds.
	DialTimeout  caddy.Duration `json:"dial_timeout,omitempty"`
	ReadTimeout  caddy.Duration `json:"read_timeout,omitempty"`
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`
	// Prefix of every key (default "fd:"), so deployments can share Redis.
	Prefix string `json:"prefix,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (RedisBackend) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "frontdoor.stores.redis", New: func() caddy.Module { return new(RedisBackend) }}
}

// Provision expands placeholders and fills defaults; a configuration that
// cannot make client options fails here, before anything connects.
func (b *RedisBackend) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	b.URL = repl.ReplaceAll(b.URL, "")
	b.Username = repl.ReplaceAll(b.Username, "")
	b.Password = repl.ReplaceAll(b.Password, "")
	for i, a := range b.Addrs {
		b.Addrs[i] = repl.ReplaceAll(a, "")
	}
	b.Prefix = rediskey.Prefix(b.Prefix)
	cfg := b.config()
	_, err := cfg.Options()
	return err
}

// StoreKey implements Backend: a digest of the whole configuration
// (credentials included, so they never appear in the key itself).
func (b *RedisBackend) StoreKey() string {
	raw, _ := json.Marshal(b)
	sum := sha256.Sum256(raw)
	return "redis:" + hex.EncodeToString(sum[:12])
}

func (b *RedisBackend) config() storeopen.RedisConfig {
	return storeopen.RedisConfig{
		URL: b.URL, Addrs: b.Addrs, MasterName: b.MasterName, Username: b.Username, Password: b.Password,
		DB: b.DB, TLS: b.TLS, TLSCA: b.TLSCA, TLSServerName: b.TLSServerName, PoolSize: b.PoolSize,
		DialTimeout: time.Duration(b.DialTimeout), ReadTimeout: time.Duration(b.ReadTimeout),
		WriteTimeout: time.Duration(b.WriteTimeout), Prefix: b.Prefix,
	}
}

// OpenStores implements Backend.
func (b *RedisBackend) OpenStores(ctx context.Context) (*storeopen.Stores, error) {
	routeRedisLog.Do(func() { redis.SetLogger(redisLogger{}) })
	return storeopen.Redis(ctx, b.config())
}

// routeRedisLog sends go-redis's own log lines to Caddy's log, once, when
// the first Redis store opens. go-redis (v9.23) logs pool trouble — one line
// per failed dial — through one process-wide logger and offers no
// per-client one; the store's health is reported once per change of state
// instead (caddymodule's noteStore), so these lines go at debug level. A
// process that never opens a Redis store keeps go-redis's default.
var routeRedisLog sync.Once

type redisLogger struct{}

// Printf asks for caddy.Log() on every line, so a reload that changes the
// log output takes effect here too.
func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	if c := caddy.Log().Named("frontdoor.redis").Check(zap.DebugLevel, "go-redis"); c != nil {
		c.Write(zap.String("detail", fmt.Sprintf(format, v...)))
	}
}

// Interface guards
var (
	_ Backend               = (*RedisBackend)(nil)
	_ caddy.Provisioner     = (*RedisBackend)(nil)
	_ caddyfile.Unmarshaler = (*RedisBackend)(nil)
)
