// Package urlcheck holds the one rule Frontdoor applies to the URLs an
// operator configures for it to call (OpenID issuers, webhooks): https, or
// plain http only to this machine, for development and tests.
package urlcheck

import (
	"net/netip"
	"net/url"
)

// SecureOrLoopback reports whether u is https, or http to localhost or a
// loopback address.
func SecureOrLoopback(u *url.URL) bool {
	switch u.Scheme {
	case "https":
		return true
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return true
		}
		ip, err := netip.ParseAddr(host)
		return err == nil && ip.Unmap().IsLoopback()
	}
	return false
}
