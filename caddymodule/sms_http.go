package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/internal/urlcheck"
	"github.com/frontdoorhq/frontdoor/sms"
)

func init() {
	caddy.RegisterModule(SMSHTTP{})
}

// SMSHTTP posts text messages to a provider's HTTP API (`sms http <url>
// { … }`): a Twilio-compatible form with basic auth, or JSON signed as a
// Standard Webhook for a relay of the operator's.
type SMSHTTP struct {
	// URL receives the messages: https, or http to a loopback address;
	// for Twilio https://api.twilio.com/2010-04-01/Accounts/<SID>/Messages.json.
	URL string `json:"url"`
	// Format is twilio or webhook.
	Format string `json:"format"`
	// Username and Password are twilio's basic auth (account SID and
	// auth token).
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// From is twilio's sender (its From field): an E.164 number or an
	// alphanumeric sender id.
	From string `json:"from,omitempty"`
	// Secret signs the webhook format (whsec_ and base64 of 24–64 bytes).
	Secret string `json:"secret,omitempty"`
	// Timeout bounds one attempt (default 10s, at most 1m).
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Every string above may hold placeholders such as {env.TWILIO_TOKEN},
	// expanded at provisioning.

	sender *sms.HTTPSender
}

// CaddyModule returns the Caddy module information.
func (SMSHTTP) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "frontdoor.sms.http", New: func() caddy.Module { return new(SMSHTTP) }}
}

// Provision expands placeholders and builds the sender.
func (s *SMSHTTP) Provision(caddy.Context) error {
	return s.build(caddy.NewReplacer())
}

// Validate checks the configuration as written, placeholders unexpanded.
func (s *SMSHTTP) Validate() error {
	if err := s.check(); err != nil {
		return fmt.Errorf("frontdoor: sms http: %w", err)
	}
	return nil
}

// check is what can be judged before placeholders are expanded; the
// Caddyfile adapter runs it too, so mistakes name their line.
func (s *SMSHTTP) check() error {
	if !strings.Contains(s.URL, "{") {
		if err := checkSMSURL(s.URL); err != nil {
			return err
		}
	}
	switch s.Format {
	case sms.FormatTwilio:
		if s.Username == "" || s.Password == "" || s.From == "" {
			return errors.New("format twilio needs username, password and from")
		}
		if s.Secret != "" {
			return errors.New("format twilio takes no secret (that is for format webhook)")
		}
	case sms.FormatWebhook:
		if s.Secret == "" {
			return errors.New("format webhook needs a secret (make one: echo whsec_$(openssl rand -base64 32))")
		}
		if s.Username != "" || s.Password != "" || s.From != "" {
			return errors.New("format webhook takes a secret, not username, password or from")
		}
	case "":
		return errors.New("needs a format: twilio or webhook")
	default:
		return fmt.Errorf("format %q: want twilio or webhook", s.Format)
	}
	if s.Timeout < 0 || time.Duration(s.Timeout) > sms.MaxTimeout {
		return fmt.Errorf("timeout is at most %s", sms.MaxTimeout)
	}
	return nil
}

// checkSMSURL allows https, and http only to this machine: the message
// carries a sign-in code.
func checkSMSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.User != nil {
		return errors.New("the URL must not hold credentials (use username and password)")
	}
	if !urlcheck.SecureOrLoopback(u) {
		return errors.New("use https (http only to a loopback address)")
	}
	return nil
}

// build expands placeholders and makes the sender. Its errors never
// repeat the password or the secret.
func (s *SMSHTTP) build(repl *caddy.Replacer) error {
	if err := s.Validate(); err != nil {
		return err
	}
	cfg := sms.HTTPConfig{Format: s.Format, Timeout: time.Duration(s.Timeout)}
	for _, f := range []struct {
		name     string
		raw      string
		dst      *string
		optional bool
	}{
		{"url", s.URL, &cfg.URL, false},
		{"username", s.Username, &cfg.Username, s.Format != sms.FormatTwilio},
		{"password", s.Password, &cfg.Password, s.Format != sms.FormatTwilio},
		{"from", s.From, &cfg.From, s.Format != sms.FormatTwilio},
	} {
		*f.dst = repl.ReplaceKnown(f.raw, "")
		if *f.dst == "" && !f.optional {
			return fmt.Errorf("frontdoor: sms http: %s is empty once placeholders are expanded", f.name)
		}
	}
	if err := checkSMSURL(cfg.URL); err != nil {
		return fmt.Errorf("frontdoor: sms http: %w", err)
	}
	if s.Format == sms.FormatWebhook {
		secret, err := events.ParseSecret(repl.ReplaceKnown(s.Secret, ""))
		if err != nil {
			return fmt.Errorf("frontdoor: sms http: secret: %w", err)
		}
		cfg.Secret = secret
	}
	var err error
	if s.sender, err = sms.NewHTTPSender(cfg); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	return nil
}

// Send implements sms.Sender.
func (s *SMSHTTP) Send(ctx context.Context, m sms.Message) error { return s.sender.Send(ctx, m) }

// UnmarshalCaddyfile parses, after `sms`,
//
//	http <url> {
//		format twilio|webhook
//		username <account SID>
//		password <auth token>
//		from <number or sender id>
//		secret <whsec_…>
//		timeout <duration>
//	}
func (s *SMSHTTP) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the module name
	// Checks of the whole block name the sms line.
	line := d.Line()
	if !d.NextArg() {
		return d.Errf("frontdoor: sms http needs a URL: sms http https://api.twilio.com/2010-04-01/Accounts/<SID>/Messages.json { … }")
	}
	s.URL = d.Val()
	if d.NextArg() {
		return d.Errf("frontdoor: sms http: one URL, got also %q", d.Val())
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("frontdoor: sms http: %s is set twice", opt)
		}
		seen[opt] = true
		var dst *string
		switch opt {
		case "format":
			dst = &s.Format
		case "username":
			dst = &s.Username
		case "password":
			dst = &s.Password
		case "from":
			dst = &s.From
		case "secret":
			dst = &s.Secret
		case "timeout":
			var v string
			if !d.AllArgs(&v) {
				return d.Errf("frontdoor: sms http: timeout takes one duration, e.g. timeout 10s")
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < 0 {
				return d.Errf("frontdoor: sms http: timeout %q is not a duration (e.g. 10s)", v)
			}
			s.Timeout = caddy.Duration(dur)
			continue
		default:
			return d.Errf("frontdoor: sms http: unknown option %q (format, username, password, from, secret, timeout)", opt)
		}
		if !d.AllArgs(dst) {
			return d.Errf("frontdoor: sms http: %s takes one value", opt)
		}
		if opt == "format" && s.Format != sms.FormatTwilio && s.Format != sms.FormatWebhook {
			return d.Errf("frontdoor: sms http: format %q: want twilio or webhook", s.Format)
		}
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("frontdoor: sms http: %v, at %s:%d", err, d.File(), line)
	}
	return nil
}

// Interface guards
var (
	_ sms.Sender            = (*SMSHTTP)(nil)
	_ caddy.Provisioner     = (*SMSHTTP)(nil)
	_ caddy.Validator       = (*SMSHTTP)(nil)
	_ caddyfile.Unmarshaler = (*SMSHTTP)(nil)
)
