package stores

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/caddymodule/stores/storeopen"
)

func init() {
	caddy.RegisterModule(BoltBackend{})
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

// Provision fills the default path and makes it absolute, so two configs
// naming one file by different paths share one handle (StoreKey).
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

// StoreKey implements Backend.
func (b *BoltBackend) StoreKey() string { return "bolt:" + b.Path }

// OpenStores implements Backend.
func (b *BoltBackend) OpenStores(ctx context.Context) (*storeopen.Stores, error) {
	return storeopen.Bolt(ctx, b.Path)
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
	_ Backend               = (*BoltBackend)(nil)
	_ caddy.Provisioner     = (*BoltBackend)(nil)
	_ caddyfile.Unmarshaler = (*BoltBackend)(nil)
)
