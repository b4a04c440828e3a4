package caddymodule

import (
	"net/url"
	"strings"
)

// safeRedirect returns rd if it is a safe place to send the customer after
// sign-in — a relative path on this site, or an absolute https URL on an
// allow-listed host — and "/" otherwise. Anything odd is refused rather
// than repaired: protocol-relative ("//evil", "/\evil"), scheme-only
// ("https:evil"), control characters, backslashes, and encoded variants of
// these (checked after repeated percent-decoding).
func safeRedirect(rd string, allowHosts map[string]bool) string {
	if rd == "" || len(rd) > 2048 {
		return "/"
	}
	// Look at every decoding layer: a browser or a backend may decode once
	// more than we do.
	probe := rd
	for range 4 {
		if hasUnsafeRedirectChars(probe) {
			return "/"
		}
		dec, err := url.PathUnescape(probe)
		if err != nil {
			return "/"
		}
		if dec == probe {
			break
		}
		probe = dec
	}
	if strings.HasPrefix(rd, "/") {
		if len(rd) > 1 && (rd[1] == '/' || rd[1] == '\\') {
			return "/"
		}
		if strings.HasPrefix(probe, "//") || strings.HasPrefix(probe, "/\\") {
			return "/"
		}
		u, err := url.Parse(rd)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
			return "/"
		}
		return rd
	}
	if len(allowHosts) == 0 {
		return "/"
	}
	u, err := url.Parse(rd)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Opaque != "" || !allowHosts[strings.ToLower(u.Host)] {
		return "/"
	}
	return u.String()
}

func hasUnsafeRedirectChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			return true
		}
	}
	return false
}
