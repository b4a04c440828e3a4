package caddymodule

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

func init() {
	caddy.RegisterModule(RedisBackend{})
	// go-redis logs pool trouble (one line per failed dial) through the
	// standard logger; the store's health is reported once per change of
	// state instead (see noteStore), so these go to Caddy's log at debug.
	redis.SetLogger(redisLogger{})
}

type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	if c := caddy.Log().Named("frontdoor.redis").Check(zap.DebugLevel, "go-redis"); c != nil {
		c.Write(zap.String("detail", fmt.Sprintf(format, v...)))
	}
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

// Provision expands placeholders and fills defaults.
func (b *RedisBackend) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	b.URL = repl.ReplaceAll(b.URL, "")
	b.Username = repl.ReplaceAll(b.Username, "")
	b.Password = repl.ReplaceAll(b.Password, "")
	for i, a := range b.Addrs {
		b.Addrs[i] = repl.ReplaceAll(a, "")
	}
	if b.Prefix == "" {
		b.Prefix = "fd:"
	}
	if b.URL == "" && len(b.Addrs) == 0 {
		return fmt.Errorf("frontdoor: store redis needs a URL or addrs")
	}
	_, err := b.options()
	return err
}

// StoreKey implements StoreBackend: a digest of the whole configuration
// (credentials included, so they never appear in the key itself).
func (b *RedisBackend) StoreKey() string {
	raw, _ := json.Marshal(b)
	sum := sha256.Sum256(raw)
	return "redis:" + hex.EncodeToString(sum[:12])
}

func (b *RedisBackend) options() (*redis.UniversalOptions, error) {
	o := &redis.UniversalOptions{
		Addrs: b.Addrs, MasterName: b.MasterName, Username: b.Username, Password: b.Password, DB: b.DB,
		PoolSize:              b.PoolSize,
		DialTimeout:           durationOr(b.DialTimeout, 500*time.Millisecond),
		ReadTimeout:           durationOr(b.ReadTimeout, 500*time.Millisecond),
		WriteTimeout:          durationOr(b.WriteTimeout, 500*time.Millisecond),
		ContextTimeoutEnabled: true,
		MaxRetries:            1,
		DialerRetries:         1,
		// A node that is down is retried no more often than this, so a
		// dead Redis costs a request one quick failure, not a pile-up.
		MinRetryBackoff: 8 * time.Millisecond,
		MaxRetryBackoff: 64 * time.Millisecond,
	}
	if b.URL != "" {
		u, err := redis.ParseURL(b.URL)
		if err != nil {
			// The parse error may echo the URL, password included.
			return nil, fmt.Errorf("frontdoor: store redis: the URL does not parse; check its scheme (redis:// or rediss://), host and port")
		}
		if len(o.Addrs) == 0 {
			o.Addrs = []string{u.Addr}
		}
		if o.Username == "" {
			o.Username = u.Username
		}
		if o.Password == "" {
			o.Password = u.Password
		}
		if o.DB == 0 {
			o.DB = u.DB
		}
		if u.TLSConfig != nil {
			o.TLSConfig = u.TLSConfig
		}
	}
	if b.TLS || b.TLSCA != "" || b.TLSServerName != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: b.TLSServerName}
		if b.TLSCA != "" {
			pem, err := os.ReadFile(b.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("frontdoor: store redis: tls_ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("frontdoor: store redis: tls_ca %s holds no PEM certificate", b.TLSCA)
			}
			cfg.RootCAs = pool
		}
		o.TLSConfig = cfg
	}
	if len(o.Addrs) > 1 && o.MasterName == "" && o.DB != 0 {
		return nil, fmt.Errorf("frontdoor: store redis: Redis Cluster has no databases (db %d)", o.DB)
	}
	return o, nil
}

func durationOr(d caddy.Duration, def time.Duration) time.Duration {
	if d > 0 {
		return time.Duration(d)
	}
	return def
}

// OpenStores implements StoreBackend.
func (b *RedisBackend) OpenStores(ctx context.Context) (*Stores, error) {
	o, err := b.options()
	if err != nil {
		return nil, err
	}
	c := redis.NewUniversalClient(o)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("frontdoor: store redis: cannot reach %v: %w", o.Addrs, err)
	}
	counter, err := botdefense.NewRedisCounter(c, b.redisPrefix())
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("frontdoor: store redis: rate counters: %w", err)
	}
	return &Stores{
		Identity: identity.NewRedisStore(c, b.Prefix),
		Sessions: session.NewRedisStore(c, b.Prefix),
		Close:    c.Close,
		Counter:  counter,
		Blocks:   botdefense.NewRedisBlocks(c, b.redisPrefix()),
		Seen:     botdefense.NewRedisSeen(c, b.redisPrefix()),
	}, nil
}

// redisPrefix is the key prefix of the edge-defence records.
func (b *RedisBackend) redisPrefix() string {
	if b.Prefix == "" {
		return identity.DefaultRedisPrefix
	}
	return b.Prefix
}

// UnmarshalCaddyfile parses
//
//	store redis [<url>] [{
//		url <url>
//		addrs <host:port>…
//		master_name <name>
//		username <user>
//		password <password>
//		db <n>
//		tls
//		tls_ca <pem file>
//		tls_server_name <name>
//		pool_size <n>
//		dial_timeout <d>
//		read_timeout <d>
//		write_timeout <d>
//		prefix <prefix>
//	}]
func (b *RedisBackend) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the module name
	if d.NextArg() {
		b.URL = d.Val()
	}
	if d.NextArg() {
		return d.Errf("frontdoor: store redis: one URL at most, got %q", d.Val())
	}
	for d.NextBlock(0) {
		var err error
		switch key := d.Val(); key {
		case "url":
			if !d.AllArgs(&b.URL) {
				err = d.Errf("frontdoor: store redis url needs one URL")
			}
		case "addrs":
			if b.Addrs = d.RemainingArgs(); len(b.Addrs) == 0 {
				err = d.Errf("frontdoor: store redis addrs needs at least one host:port")
			}
		case "master_name", "username", "password", "tls_ca", "tls_server_name", "prefix":
			dst := map[string]*string{"master_name": &b.MasterName, "username": &b.Username, "password": &b.Password,
				"tls_ca": &b.TLSCA, "tls_server_name": &b.TLSServerName, "prefix": &b.Prefix}[key]
			if !d.AllArgs(dst) {
				err = d.Errf("frontdoor: store redis %s needs one value", key)
			}
		case "db":
			err = parseIntArg(d, &b.DB)
		case "pool_size":
			err = parseIntArg(d, &b.PoolSize)
		case "tls":
			if d.NextArg() {
				err = d.Errf("frontdoor: store redis tls takes no value")
			}
			b.TLS = true
		case "dial_timeout":
			err = parseDurationArg(d, &b.DialTimeout)
		case "read_timeout":
			err = parseDurationArg(d, &b.ReadTimeout)
		case "write_timeout":
			err = parseDurationArg(d, &b.WriteTimeout)
		default:
			err = d.Errf("frontdoor: unknown store redis option %q", key)
		}
		if err != nil {
			return err
		}
	}
	if b.URL == "" && len(b.Addrs) == 0 {
		return d.Errf("frontdoor: store redis needs a URL or addrs")
	}
	return nil
}

// Interface guards
var (
	_ StoreBackend          = (*RedisBackend)(nil)
	_ caddy.Provisioner     = (*RedisBackend)(nil)
	_ caddyfile.Unmarshaler = (*RedisBackend)(nil)
)
