package caddymodule

import (
	"context"
	"fmt"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

func init() {
	caddy.RegisterModule(BoltBackend{})
}

// StoreBackend is implemented by modules in the frontdoor.stores namespace:
// each opens one storage system and returns the identity and session stores
// over it.
type StoreBackend interface {
	// StoreKey identifies the storage opened, so that configs naming the
	// same storage share one handle across reloads.
	StoreKey() string
	// OpenStores connects. The caller closes the result when the last
	// config using it is gone.
	OpenStores(ctx context.Context) (*Stores, error)
}

// Stores is an opened storage system.
type Stores struct {
	Identity identity.Store
	Sessions session.Store
	// Sweep deletes expired records where the storage does not expire them
	// itself; may be nil.
	Sweep func(ctx context.Context, now time.Time, idle time.Duration) error
	Close func() error
	// Edge-defence state: rate counters, the block list, used challenge
	// solutions. Nil means this process's memory.
	Counter *botdefense.Counter
	Blocks  botdefense.BlockList
	Seen    botdefense.Seen
}

// BoltBackend is the embedded store: one bbolt file.
type BoltBackend struct {
	// Path of the database file. Default: frontdoor.db in Caddy's data
	// directory.
	Path string `json:"path,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (BoltBackend) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "frontdoor.stores.bolt", New: func() caddy.Module { return new(BoltBackend) }}
}

// Provision fills the default path.
func (b *BoltBackend) Provision(caddy.Context) error {
	if b.Path == "" {
		b.Path = filepath.Join(caddy.AppDataDir(), "frontdoor", "frontdoor.db")
	}
	abs, err := filepath.Abs(b.Path)
	if err != nil {
		return fmt.Errorf("frontdoor: store bolt: %w", err)
	}
	b.Path = abs
	return nil
}

// StoreKey implements StoreBackend.
func (b *BoltBackend) StoreKey() string { return "bolt:" + b.Path }

// OpenStores implements StoreBackend.
func (b *BoltBackend) OpenStores(context.Context) (*Stores, error) {
	if err := os.MkdirAll(filepath.Dir(b.Path), 0o700); err != nil {
		return nil, fmt.Errorf("frontdoor: store bolt: %w", err)
	}
	// A second process holding the file is a misconfiguration (two
	// gateways on one bolt file): fail fast instead of hanging.
	db, err := bolt.Open(b.Path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("frontdoor: store bolt: open %s: %w", b.Path, err)
	}
	ids, err := identity.NewBoltStore(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	sess, err := session.NewBoltStore(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Stores{
		Identity: ids,
		Sessions: sess,
		Sweep: func(ctx context.Context, now time.Time, idle time.Duration) error {
			if _, err := ids.SweepExpired(ctx, now); err != nil {
				return err
			}
			_, err := sess.SweepExpired(ctx, now, idle)
			return err
		},
		Close: db.Close,
	}, nil
}

// UnmarshalCaddyfile parses `bolt [<path>]` after `store`.
func (b *BoltBackend) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the module name
	if d.NextArg() {
		b.Path = d.Val()
	}
	if d.NextArg() {
		return d.Errf("frontdoor: store bolt: one path at most, got %q", d.Val())
	}
	if d.NextBlock(0) {
		return d.Errf("frontdoor: store bolt takes no block")
	}
	return nil
}

// Interface guards
var (
	_ StoreBackend          = (*BoltBackend)(nil)
	_ caddy.Provisioner     = (*BoltBackend)(nil)
	_ caddyfile.Unmarshaler = (*BoltBackend)(nil)
)
