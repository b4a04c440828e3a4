package caddymodule

import (
	"context"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/sms"
)

func init() {
	caddy.RegisterModule(SMSLog{})
}

// SMSLog writes text messages to the log with their codes withheld and
// delivers nothing (`sms log`): the default, for development.
type SMSLog struct {
	sender *sms.LogSender
}

// CaddyModule returns the Caddy module information.
func (SMSLog) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "frontdoor.sms.log", New: func() caddy.Module { return new(SMSLog) }}
}

// Provision makes the sender, which warns that it is for development.
func (s *SMSLog) Provision(ctx caddy.Context) error {
	s.sender = sms.NewLogSender(ctx.Logger())
	return nil
}

// Send implements sms.Sender.
func (s *SMSLog) Send(ctx context.Context, m sms.Message) error { return s.sender.Send(ctx, m) }

// UnmarshalCaddyfile parses `log` after `sms`.
func (s *SMSLog) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the module name
	if d.NextArg() {
		return d.Errf("frontdoor: sms log takes no argument, got %q", d.Val())
	}
	if d.NextBlock(0) {
		return d.Errf("frontdoor: sms log takes no block")
	}
	return nil
}

// Interface guards
var (
	_ sms.Sender            = (*SMSLog)(nil)
	_ caddy.Provisioner     = (*SMSLog)(nil)
	_ caddyfile.Unmarshaler = (*SMSLog)(nil)
)
