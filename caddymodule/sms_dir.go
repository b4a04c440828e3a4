package caddymodule

import (
	"context"
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/sms"
)

func init() {
	caddy.RegisterModule(SMSDir{})
}

// SMSDir writes one JSON file per text message, code included, into a
// private directory (`sms dir <path>`): for development and tests.
type SMSDir struct {
	// Dir receives the files; created 0700 if missing. Placeholders such
	// as {env.SMS_DIR} are expanded.
	Dir string `json:"dir"`

	sender *sms.DirSender
}

// CaddyModule returns the Caddy module information.
func (SMSDir) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "frontdoor.sms.dir", New: func() caddy.Module { return new(SMSDir) }}
}

// Provision creates the directory.
func (s *SMSDir) Provision(caddy.Context) error {
	dir := caddy.NewReplacer().ReplaceKnown(s.Dir, "")
	if dir == "" {
		return errors.New("frontdoor: sms dir needs a directory")
	}
	var err error
	if s.sender, err = sms.NewDirSender(dir); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	return nil
}

// Send implements sms.Sender.
func (s *SMSDir) Send(ctx context.Context, m sms.Message) error { return s.sender.Send(ctx, m) }

// UnmarshalCaddyfile parses `dir <path>` after `sms`.
func (s *SMSDir) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the module name
	if !d.NextArg() {
		return d.Errf("frontdoor: sms dir needs a directory, e.g. sms dir /var/spool/frontdoor-sms")
	}
	s.Dir = d.Val()
	if d.NextArg() {
		return d.Errf("frontdoor: sms dir: one directory, got also %q", d.Val())
	}
	if d.NextBlock(0) {
		return d.Errf("frontdoor: sms dir takes no block")
	}
	return nil
}

// Interface guards
var (
	_ sms.Sender            = (*SMSDir)(nil)
	_ caddy.Provisioner     = (*SMSDir)(nil)
	_ caddyfile.Unmarshaler = (*SMSDir)(nil)
)
