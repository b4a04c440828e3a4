package storeopen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/rediskey"
	"github.com/frontdoorhq/frontdoor/session"
)

// RedisConfig says how to reach Redis: one server, Sentinel or Redis
// Cluster through go-redis's universal client. Zero values take the
// gateway's defaults.
type RedisConfig struct {
	// URL is a redis:// or rediss:// URL (user, password, host, port, db).
	URL string
	// Addrs lists servers: several for Redis Cluster, or the Sentinels
	// when MasterName is set. Overrides the URL's host.
	Addrs []string
	// MasterName selects Sentinel mode.
	MasterName string
	Username   string
	Password   string
	// DB is the database number (single server and Sentinel only).
	DB int
	// TLS turns TLS on; TLSCA is a PEM file of CAs to trust instead of the
	// system pool; TLSServerName overrides the name checked.
	TLS           bool
	TLSCA         string
	TLSServerName string
	// PoolSize is connections per node (default: go-redis's, 10 per CPU).
	PoolSize int
	// Timeouts (default 500 ms each), so a request against an unreachable
	// Redis stays under two seconds.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// Prefix of every key (default rediskey.DefaultPrefix), so deployments
	// can share Redis.
	Prefix string
}

// Options returns the go-redis client options for c. Its errors never
// repeat the URL, which may hold a password.
func (c *RedisConfig) Options() (*redis.UniversalOptions, error) {
	if c.URL == "" && len(c.Addrs) == 0 {
		return nil, fmt.Errorf("frontdoor: store redis needs a URL or addrs")
	}
	o := &redis.UniversalOptions{
		Addrs: c.Addrs, MasterName: c.MasterName, Username: c.Username, Password: c.Password, DB: c.DB,
		PoolSize:              c.PoolSize,
		DialTimeout:           durationOr(c.DialTimeout, 500*time.Millisecond),
		ReadTimeout:           durationOr(c.ReadTimeout, 500*time.Millisecond),
		WriteTimeout:          durationOr(c.WriteTimeout, 500*time.Millisecond),
		ContextTimeoutEnabled: true,
		MaxRetries:            1,
		DialerRetries:         1,
		// A node that is down is retried no more often than this, so a
		// dead Redis costs a request one quick failure, not a pile-up.
		MinRetryBackoff: 8 * time.Millisecond,
		MaxRetryBackoff: 64 * time.Millisecond,
	}
	if c.URL != "" {
		u, err := redis.ParseURL(c.URL)
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
	if c.TLS || c.TLSCA != "" || c.TLSServerName != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
		if c.TLSCA != "" {
			pem, err := os.ReadFile(c.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("frontdoor: store redis: tls_ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("frontdoor: store redis: tls_ca %s holds no PEM certificate", c.TLSCA)
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

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Redis connects, checks that Redis answers, and returns the stores over
// one client shared by all of them; Close closes the client.
func Redis(ctx context.Context, cfg RedisConfig) (*Stores, error) {
	o, err := cfg.Options()
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
	prefix := rediskey.Prefix(cfg.Prefix)
	counter, err := botdefense.NewRedisCounter(c, prefix)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("frontdoor: store redis: rate counters: %w", err)
	}
	return &Stores{
		Identity: identity.NewRedisStore(c, prefix),
		Sessions: session.NewRedisStore(c, prefix),
		Consent:  consent.NewRedisStore(c, prefix),
		Outbox:   events.NewRedisOutbox(c, prefix),
		Close:    c.Close,
		Counter:  counter,
		Blocks:   botdefense.NewRedisBlocks(c, prefix),
		Seen:     botdefense.NewRedisSeen(c, prefix),
	}, nil
}
