package caddymodule

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/cfgargs"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("frontdoor", parseGlobal)
	httpcaddyfile.RegisterHandlerDirective("frontdoor", parseHandler)
	// Before basic_auth, as forward_auth sits: after request rewriting
	// (so the path judged is the path the backend gets) and before any
	// handler that could read identity headers. No `order` line needed.
	httpcaddyfile.RegisterDirectiveOrder("frontdoor", httpcaddyfile.Before, "basic_auth")
}

// parseGlobal parses the global options block:
//
//	frontdoor {
//		store bolt [<path>] | store redis <url> [{ … }]
//		store_timeout <d>
//		mailer log | dir <path> | smtp <host:port> { from … username … password … tls … timeout … }
//		from <address>
//		sms log | dir <path> | http <url> { format twilio|webhook; username …; password …; from …; secret …; timeout … }   (see sms.go)
//		session { idle <d>; absolute <d>; cache <d> }
//		keys { cookie <hash-b64> <block-b64>; assertion_rotate <d> }
//		password { min_length <n>; max_length <n>; argon2 <memory-KiB> <iterations> <parallelism>; concurrency <n>; queue <n>; queue_wait <d> }
//		headers frontdoor|oauth2_proxy|authelia [{ user <name> …; send both|assertion|plain }]
//		oidc <name> { preset …; issuer …; client_id …; client_secret …; … }   (repeatable; see oidc_config.go)
//		consent { purpose <id> { title …; text …; link …; version <n>; required; sale_or_sharing } … }   (see consent_config.go)
//		geoip <place.mmdb> [<asn.mmdb>]   (IP-to-place databases for the risk signals)
//		webhook <name> <url> { secret …; events <type|pattern>…; include_email; timeout <d> }   (repeatable; see webhooks.go)
//	}
func parseGlobal(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	d.Next() // consume option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for d.NextBlock(0) {
		switch opt := d.Val(); opt {
		case "store":
			if app.StoreRaw != nil {
				return nil, d.Errf("frontdoor: store is set twice")
			}
			if !d.NextArg() {
				return nil, d.Errf("frontdoor: store needs a backend, e.g. store bolt /var/lib/frontdoor/frontdoor.db")
			}
			name := d.Val()
			if _, err := caddy.GetModule("frontdoor.stores." + name); err != nil {
				return nil, d.Errf("frontdoor: unknown store %q (this build has: %s)", name, storeNames())
			}
			unm, err := caddyfile.UnmarshalModule(d, "frontdoor.stores."+name)
			if err != nil {
				return nil, err
			}
			app.StoreRaw = caddyconfig.JSONModuleObject(unm, "backend", name, nil)
		case "mailer":
			m, err := parseMailer(d, app.Mailer)
			if err != nil {
				return nil, err
			}
			app.Mailer = m
		case "sms":
			if err := parseSMS(d, app); err != nil {
				return nil, err
			}
		case "from":
			if app.Mailer == nil {
				app.Mailer = &MailerConfig{}
			}
			if !d.AllArgs(&app.Mailer.From) {
				return nil, d.Errf("frontdoor: from needs one address")
			}
		case "session":
			if app.Session == nil {
				app.Session = new(SessionConfig)
			}
			if err := parseSession(d, app.Session); err != nil {
				return nil, err
			}
		case "keys":
			if app.Keys == nil {
				app.Keys = new(KeysConfig)
			}
			if err := parseKeys(d, app.Keys); err != nil {
				return nil, err
			}
		case "password":
			if app.Password == nil {
				app.Password = new(PasswordConfig)
			}
			if err := parsePassword(d, app.Password); err != nil {
				return nil, err
			}
		case "headers":
			hc, err := parseHeaders(d)
			if err != nil {
				return nil, err
			}
			app.Headers = hc
		case "store_timeout":
			if err := cfgargs.Duration(d, &app.StoreTimeout); err != nil {
				return nil, err
			}
		case "profile":
			fields, err := parseProfile(d, app.Profile)
			if err != nil {
				return nil, err
			}
			app.Profile = fields
		case "erasure_grace":
			if err := cfgargs.Duration(d, &app.ErasureGrace); err != nil {
				return nil, err
			}
		case "oidc":
			p, err := parseOIDC(d, app.OIDC)
			if err != nil {
				return nil, err
			}
			app.OIDC = append(app.OIDC, p)
		case "geoip":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return nil, d.Errf("frontdoor: geoip takes the place database and, optionally, the ASN database: geoip <place.mmdb> [<asn.mmdb>]")
			}
			if app.GeoIP != nil {
				return nil, d.Errf("frontdoor: geoip is set twice")
			}
			app.GeoIP = &GeoIPConfig{Place: args[0]}
			if len(args) == 2 {
				app.GeoIP.ASN = args[1]
			}
		case "webhook":
			w, err := parseWebhook(d, app.Webhooks)
			if err != nil {
				return nil, err
			}
			app.Webhooks = append(app.Webhooks, w)
		case "consent":
			cc, err := parseConsent(d, app.Consent)
			if err != nil {
				return nil, err
			}
			app.Consent = cc
		default:
			return nil, d.Errf("frontdoor: unknown global option %q", opt)
		}
	}
	return httpcaddyfile.App{Name: "frontdoor", Value: caddyconfig.JSON(app, nil)}, nil
}

func parseMailer(d *caddyfile.Dispenser, prev *MailerConfig) (*MailerConfig, error) {
	m := &MailerConfig{}
	if prev != nil {
		m.From = prev.From
	}
	if !d.NextArg() {
		return nil, d.Errf("frontdoor: mailer needs a type: log, dir <path> or smtp <host:port>")
	}
	m.Type = d.Val()
	switch m.Type {
	case "log":
	case "dir":
		if !d.NextArg() {
			return nil, d.Errf("frontdoor: mailer dir needs a directory")
		}
		m.Dir = d.Val()
	case "smtp":
		if !d.NextArg() {
			return nil, d.Errf("frontdoor: mailer smtp needs host:port")
		}
		m.Addr = d.Val()
	default:
		return nil, d.Errf("frontdoor: unknown mailer %q (want log, dir or smtp)", m.Type)
	}
	if d.NextArg() {
		return nil, d.Errf("frontdoor: mailer %s: unexpected argument %q", m.Type, d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		var dst *string
		switch key {
		case "from":
			dst = &m.From
		case "username":
			dst = &m.Username
		case "password":
			dst = &m.Password
		case "tls":
			dst = &m.TLS
		case "timeout":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return nil, d.Errf("frontdoor: mailer timeout: %v", err)
			}
			m.Timeout = caddy.Duration(dur)
			continue
		default:
			return nil, d.Errf("frontdoor: unknown mailer option %q", key)
		}
		if !d.AllArgs(dst) {
			return nil, d.Errf("frontdoor: mailer %s needs one value", key)
		}
	}
	if m.Type != "smtp" && (m.Username != "" || m.Password != "" || m.TLS != "" || m.Timeout != 0) {
		return nil, d.Errf("frontdoor: mailer %s takes only from", m.Type)
	}
	return m, nil
}

func parseSession(d *caddyfile.Dispenser, s *SessionConfig) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "idle":
			err = cfgargs.Duration(d, &s.Idle)
		case "absolute":
			err = cfgargs.Duration(d, &s.Absolute)
		case "cache":
			if d.NextArg() {
				if d.Val() == "off" {
					if d.NextArg() {
						return d.Errf("frontdoor: session cache off takes no value")
					}
					s.Cache = -1
					continue
				}
				d.Prev() // back to "cache", which parseDurationArg names
			}
			err = cfgargs.Duration(d, &s.Cache)
		default:
			err = d.Errf("frontdoor: unknown session option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func parseKeys(d *caddyfile.Dispenser, k *KeysConfig) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "cookie":
			if !d.AllArgs(&k.CookieHashKey, &k.CookieBlockKey) {
				return d.Errf("frontdoor: keys cookie needs <hash-key-base64> <block-key-base64>")
			}
		case "assertion_rotate":
			if err := cfgargs.Duration(d, &k.AssertionRotate); err != nil {
				return err
			}
		default:
			return d.Errf("frontdoor: unknown keys option %q", d.Val())
		}
	}
	return nil
}

func parsePassword(d *caddyfile.Dispenser, p *PasswordConfig) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "min_length":
			err = cfgargs.Int(d, &p.MinLength)
		case "max_length":
			err = cfgargs.Int(d, &p.MaxLength)
		case "concurrency":
			err = cfgargs.Int(d, &p.Concurrency)
		case "queue":
			err = cfgargs.Int(d, &p.Queue)
		case "queue_wait":
			err = cfgargs.Duration(d, &p.QueueWait)
		case "argon2":
			var m, t, par string
			if !d.AllArgs(&m, &t, &par) {
				return d.Errf("frontdoor: password argon2 needs <memory-KiB> <iterations> <parallelism>")
			}
			mi, e1 := strconv.ParseUint(m, 10, 32)
			ti, e2 := strconv.ParseUint(t, 10, 32)
			pi, e3 := strconv.ParseUint(par, 10, 8)
			if e1 != nil || e2 != nil || e3 != nil {
				return d.Errf("frontdoor: password argon2: numbers expected")
			}
			p.Argon2 = &identity.Argon2Params{MemoryKiB: uint32(mi), Iterations: uint32(ti), Parallelism: uint8(pi)}
		default:
			err = d.Errf("frontdoor: unknown password option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func parseHeaders(d *caddyfile.Dispenser) (*HeaderConfig, error) {
	hc := &HeaderConfig{}
	if d.NextArg() {
		hc.Preset = d.Val()
		if _, ok := presetHeaders[hc.Preset]; !ok {
			return nil, d.Errf("frontdoor: headers: unknown preset %q (want frontdoor, oauth2_proxy or authelia)", hc.Preset)
		}
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var dst *string
		switch d.Val() {
		case "send":
			if !d.AllArgs(&hc.Send) || (hc.Send != sendBoth && hc.Send != sendAssertion && hc.Send != sendPlain) {
				return nil, d.Errf("frontdoor: headers send needs both, assertion or plain")
			}
			continue
		case "user":
			dst = &hc.User
		case "email":
			dst = &hc.Email
		case "email_verified":
			dst = &hc.EmailVerified
		case "auth_time":
			dst = &hc.AuthTime
		case "amr":
			dst = &hc.AMR
		case "assertion":
			dst = &hc.Assertion
		default:
			return nil, d.Errf("frontdoor: headers: unknown header %q (want user, email, email_verified, auth_time, amr, assertion or send)", d.Val())
		}
		key := d.Val()
		if !d.AllArgs(dst) || !validHeaderName(*dst) {
			return nil, d.Errf("frontdoor: headers %s needs one valid header name", key)
		}
	}
	return hc, nil
}

// storeNames lists the registered store backends.
func storeNames() string { return moduleNames("frontdoor.stores") }

// moduleNames lists the names of the modules this build has in namespace.
func moduleNames(namespace string) string {
	var names []string
	for _, m := range caddy.GetModules(namespace) {
		names = append(names, m.ID.Name())
	}
	return strings.Join(names, ", ")
}
