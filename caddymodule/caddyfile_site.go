package caddymodule

import (
	"net"
	"reflect"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// parseHandler parses the site directive:
//
//	frontdoor {
//		origin https://shop.example.com
//		prefix /.frontdoor
//		public <paths…>
//		protect <paths…>
//		require <paths…> { aal aal2; max_age 10m; methods passkey totp }
//		headers <preset> [{ … }]
//		allow_redirect_hosts <hosts…>
//		theme <dir>
//	}
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	fd := new(Handler)
	h.Next() // consume directive name
	if h.NextArg() {
		return nil, h.Errf("frontdoor: the directive takes a block, not arguments")
	}
	for h.NextBlock(0) {
		switch key := h.Val(); key {
		case "origin":
			if !h.AllArgs(&fd.Origin) {
				return nil, h.Errf("frontdoor: origin needs one https origin")
			}
			if err := fd.validateOrigin(); err != nil {
				return nil, h.WrapErr(err)
			}
		case "prefix":
			if !h.AllArgs(&fd.Prefix) {
				return nil, h.Errf("frontdoor: prefix needs one path")
			}
			if err := validPrefix(fd.Prefix); err != nil {
				return nil, h.WrapErr(err)
			}
		case "public", "protect":
			args := h.RemainingArgs()
			if len(args) == 0 {
				return nil, h.Errf("frontdoor: %s needs at least one path", key)
			}
			for _, a := range args {
				if _, err := compilePattern(a); err != nil {
					return nil, h.Errf("frontdoor: %s: %v", key, err)
				}
			}
			if key == "public" {
				fd.Public = append(fd.Public, args...)
			} else {
				fd.Protect = append(fd.Protect, args...)
			}
		case "require":
			r, err := parseRule(h)
			if err != nil {
				return nil, err
			}
			fd.Rules = append(fd.Rules, r)
		case "headers":
			hc, err := parseHeaders(h.Dispenser)
			if err != nil {
				return nil, err
			}
			fd.Headers = hc
		case "allow_redirect_hosts":
			fd.AllowRedirectHosts = h.RemainingArgs()
			if len(fd.AllowRedirectHosts) == 0 {
				return nil, h.Errf("frontdoor: allow_redirect_hosts needs at least one host")
			}
		case "theme":
			if !h.AllArgs(&fd.Theme) {
				return nil, h.Errf("frontdoor: theme needs one directory")
			}
		default:
			return nil, h.Errf("frontdoor: unknown option %q", key)
		}
	}
	if fd.Origin == "" {
		// Report at the directive's line: after a block the cursor sits
		// on its closing brace.
		h.Reset()
		h.Next()
		origin, err := originFromSite(siteKeys(h))
		if err != nil {
			return nil, h.Errf("frontdoor: %v; set `origin https://…` in the frontdoor block", err)
		}
		fd.Origin = origin
		if err := fd.validateOrigin(); err != nil {
			return nil, h.WrapErr(err)
		}
	}
	return fd, nil
}

func parseRule(h httpcaddyfile.Helper) (Rule, error) {
	var r Rule
	r.Paths = h.RemainingArgs()
	if len(r.Paths) == 0 {
		return r, h.Errf("frontdoor: require needs at least one path")
	}
	for _, p := range r.Paths {
		if _, err := compilePattern(p); err != nil {
			return r, h.Errf("frontdoor: require: %v", err)
		}
	}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		switch key := h.Val(); key {
		case "aal":
			if !h.AllArgs(&r.AAL) || (r.AAL != "aal1" && r.AAL != "aal2") {
				return r, h.Errf("frontdoor: require aal must be aal1 or aal2")
			}
		case "max_age":
			if err := parseDurationArg(h.Dispenser, &r.MaxAge); err != nil {
				return r, err
			}
		case "methods":
			r.Methods = h.RemainingArgs()
			if len(r.Methods) == 0 {
				return r, h.Errf("frontdoor: require methods needs at least one method")
			}
			for _, m := range r.Methods {
				if !knownMethods[m] {
					return r, h.Errf("frontdoor: require methods: unknown method %q (want %s)", m, strings.Join(methodNames(), ", "))
				}
			}
		default:
			return r, h.Errf("frontdoor: unknown require option %q", key)
		}
	}
	if r.AAL == "" && r.MaxAge == 0 && len(r.Methods) == 0 {
		return r, h.Errf("frontdoor: require needs aal, max_age or methods")
	}
	return r, nil
}

// siteKeys returns the addresses of the site block being parsed. Caddy's
// Helper keeps its parent block unexported, so it is read by reflection;
// reading (never writing) a string field is allowed, and if a Caddy upgrade
// renames the field the result is empty and the operator is asked to set
// origin — the golden adapt tests catch that on upgrade.
func siteKeys(h httpcaddyfile.Helper) []string {
	keys := reflect.ValueOf(h).FieldByName("parentBlock").FieldByName("Keys")
	if !keys.IsValid() || keys.Kind() != reflect.Slice {
		return nil
	}
	out := make([]string, 0, keys.Len())
	for i := range keys.Len() {
		if t := keys.Index(i).FieldByName("Text"); t.IsValid() && t.Kind() == reflect.String {
			out = append(out, t.String())
		}
	}
	return out
}

// originFromSite derives the public origin from the site's first address.
func originFromSite(keys []string) (string, error) {
	if len(keys) == 0 {
		return "", errNoFixedHost
	}
	addr, err := httpcaddyfile.ParseAddress(keys[0])
	if err != nil {
		return "", err
	}
	if addr.Host == "" || strings.ContainsAny(addr.Host, "*{}") {
		return "", errNoFixedHost
	}
	if addr.Scheme == "http" || addr.Port == "80" {
		return "", errPlainHTTP
	}
	host := strings.ToLower(addr.Host)
	if addr.Port != "" && addr.Port != "443" {
		return "https://" + net.JoinHostPort(host, addr.Port), nil
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	return "https://" + host, nil
}

type adaptError string

func (e adaptError) Error() string { return string(e) }

const (
	errNoFixedHost = adaptError("the site has no fixed host, so the public origin is unknown")
	errPlainHTTP   = adaptError("the site is plain http; frontdoor's cookies need https")
)
