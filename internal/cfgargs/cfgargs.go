// Package cfgargs reads the one value of a Caddyfile option, with the
// same words in its errors wherever in the frontdoor block the option
// sits (the app's options, a site's, a store module's).
package cfgargs

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Duration reads the option's one value as a non-negative duration.
func Duration(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	name := d.Val()
	var v string
	if !d.AllArgs(&v) {
		return d.Errf("frontdoor: %s needs one duration", name)
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur < 0 {
		return d.Errf("frontdoor: %s: %q is not a duration (e.g. 30m, 12h)", name, v)
	}
	*dst = caddy.Duration(dur)
	return nil
}

// Int reads the option's one value as a non-negative number.
func Int(d *caddyfile.Dispenser, dst *int) error {
	name := d.Val()
	var v string
	if !d.AllArgs(&v) {
		return d.Errf("frontdoor: %s needs one number", name)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return d.Errf("frontdoor: %s: %q is not a number", name, v)
	}
	*dst = n
	return nil
}
