package stores

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/internal/cfgargs"
)

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
			err = cfgargs.Int(d, &b.DB)
		case "pool_size":
			err = cfgargs.Int(d, &b.PoolSize)
		case "tls":
			if d.NextArg() {
				err = d.Errf("frontdoor: store redis tls takes no value")
			}
			b.TLS = true
		case "dial_timeout":
			err = cfgargs.Duration(d, &b.DialTimeout)
		case "read_timeout":
			err = cfgargs.Duration(d, &b.ReadTimeout)
		case "write_timeout":
			err = cfgargs.Duration(d, &b.WriteTimeout)
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
