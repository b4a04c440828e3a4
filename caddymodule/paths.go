package caddymodule

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pathPattern is one entry of public, protect or require: an exact path
// ("/health"), a prefix ("/static/*", which also matches "/static"), or a
// suffix ("*.css"). Matching is case-insensitive, because many backends are.
type pathPattern struct {
	raw    string
	exact  string
	prefix string
	suffix string
}

func compilePattern(p string) (pathPattern, error) {
	if p == "" || (p[0] != '/' && p[0] != '*') {
		return pathPattern{}, fmt.Errorf("path %q must start with / or *", p)
	}
	if strings.Count(p, "*") > 1 || (strings.Contains(p, "*") && !strings.HasPrefix(p, "*") && !strings.HasSuffix(p, "*")) {
		return pathPattern{}, fmt.Errorf("path %q: * may only stand at the start or the end", p)
	}
	lp := strings.ToLower(p)
	switch {
	case p == "*":
		return pathPattern{raw: p, prefix: "/"}, nil
	case strings.HasSuffix(lp, "/*"):
		return pathPattern{raw: p, prefix: lp[:len(lp)-1]}, nil
	case strings.HasSuffix(lp, "*"):
		return pathPattern{raw: p, prefix: lp[:len(lp)-1]}, nil
	case strings.HasPrefix(lp, "*"):
		return pathPattern{raw: p, suffix: lp[1:]}, nil
	}
	return pathPattern{raw: p, exact: lp}, nil
}

// match reports whether the canonical, lower-cased path p matches.
func (pp pathPattern) match(p string) bool {
	switch {
	case pp.exact != "":
		return p == pp.exact
	case pp.suffix != "":
		return strings.HasSuffix(p, pp.suffix)
	}
	// "/static/*" matches "/static" too.
	return strings.HasPrefix(p, pp.prefix) || p+"/" == pp.prefix
}

type patterns []pathPattern

// matchAny reports whether any reading of a path matches.
func (ps patterns) matchAny(views []string) bool {
	for _, v := range views {
		if ps.match(v) {
			return true
		}
	}
	return false
}

func (ps patterns) match(p string) bool {
	for _, pp := range ps {
		if pp.match(p) {
			return true
		}
	}
	return false
}

func compilePatterns(list []string) (patterns, error) {
	out := make(patterns, 0, len(list))
	for _, p := range list {
		pp, err := compilePattern(p)
		if err != nil {
			return nil, err
		}
		out = append(out, pp)
	}
	return out, nil
}

// canonicalPath is the path a lenient backend might serve for p: lower-case,
// backslashes as slashes, matrix parameters (";jsessionid=…", "..;") and
// trailing dots and spaces of each segment dropped, dot segments resolved,
// repeated slashes merged.
func canonicalPath(p string) string {
	if isPlainPath(p) {
		return p
	}
	p = asciiFold(strings.ReplaceAll(p, "\\", "/"))
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		if i := strings.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		if s != "." && s != ".." {
			s = strings.TrimRight(s, ". ")
		}
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	c := "/" + strings.Join(out, "/")
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// isPlainPath reports whether canonicalPath would return p unchanged: only
// lower-case letters, digits and a few safe characters, no empty, dot or
// dot-trailing segments. Most requests take this path without allocating.
func isPlainPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	prev := byte('/')
	for i := 1; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '~':
		case c == '.':
			if prev == '/' {
				return false // dot segment or hidden name: take the slow path
			}
		case c == '/':
			if prev == '/' || prev == '.' {
				return false
			}
		default:
			return false
		}
		prev = c
	}
	return prev != '.'
}

// unmatchable is a view no pattern matches: a path with it is never public.
const unmatchable = "\x00"

// pathViews returns every way the request path may be read: as Caddy
// decoded it; with encoded slashes kept inside their segment (what a
// backend that routes on the raw path sees); and decoded again while
// percent-escapes remain (what a backend that decodes twice sees). A path
// counts as public only if every view is public, so no encoding trick turns
// a protected path into a public one. Control characters (a NUL truncates
// paths in C backends) make a path unmatchable.
func pathViews(r *http.Request) []string {
	p := r.URL.Path
	views := []string{canonicalPath(p)}
	raw := r.URL.EscapedPath()
	if raw == p && strings.IndexByte(p, '%') < 0 && !hasControl(p) {
		return views
	}
	if hasControl(p) {
		return append(views, unmatchable)
	}
	if raw != p {
		// Decode everything except the separators, so "%2f" stays inside
		// its segment.
		kept := strings.NewReplacer("%2f", "%252f", "%2F", "%252F", "%5c", "%255c", "%5C", "%255C").Replace(raw)
		dec, err := url.PathUnescape(kept)
		if err != nil {
			return append(views, unmatchable)
		}
		views = append(views, canonicalPath(dec))
	}
	// Residual escapes ("%252e" arrives as "%2e"): decode until stable.
	for range 3 {
		if strings.IndexByte(p, '%') < 0 {
			break
		}
		dec, err := url.PathUnescape(p)
		if err != nil || dec == p {
			break // a literal "%": nothing more to decode
		}
		if hasControl(dec) {
			return append(views, unmatchable)
		}
		p = dec
		views = append(views, canonicalPath(p))
	}
	return views
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// asciiFold lower-cases, and maps every non-ASCII letter whose case fold
// is an ASCII letter (U+017F ſ → s, U+212A K → k) to that letter, because
// Java's equalsIgnoreCase and .NET's OrdinalIgnoreCase treat them as equal.
func asciiFold(s string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf {
			return unicode.ToLower(r)
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < utf8.RuneSelf {
				return unicode.ToLower(f)
			}
		}
		return unicode.ToLower(r)
	}, s)
}
