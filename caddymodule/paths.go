package caddymodule

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
	return canonicalize(p, false)
}

// lenientPath is p as a backend that normalises more than URLs allow may
// read it: compatibility characters folded (NFKC, as .NET and Python
// routers can: "．" is ".", "／" is "/", U+3000 is a space), bytes that
// are no UTF-8 dropped, whitespace trimmed from both ends of a segment
// (String.trim), and a segment of two dots or more with spaces around
// ("...", ".. ") read as "..", as old Windows and DOS servers did. Leading
// dots stay: no server we know drops them, and ".well-known" or ".env" are
// real names. It is an extra view, so it can only make matching stricter.
func lenientPath(p string) string { return canonicalize(foldCompat(p), true) }

// foldCompat is p with bytes that are no UTF-8 dropped and compatibility
// characters folded (NFKC); ASCII is returned as it is, without allocating.
func foldCompat(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] >= utf8.RuneSelf {
			return norm.NFKC.String(strings.ToValidUTF8(p, ""))
		}
	}
	return p
}

func canonicalize(p string, lenient bool) string {
	p = asciiFold(strings.ReplaceAll(p, "\\", "/"))
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		if i := strings.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		if lenient {
			s = strings.TrimLeftFunc(s, unicode.IsSpace)
			if t := strings.TrimRightFunc(s, unicode.IsSpace); t != "" && strings.Trim(t, ".") == "" {
				s = t[:min(len(t), 2)] // "." or ".."
			}
		}
		if s != "." && s != ".." {
			if lenient {
				s = strings.TrimRightFunc(s, isDotOrSpace)
			} else {
				s = strings.TrimRight(s, ". ")
			}
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

func isDotOrSpace(r rune) bool { return r == '.' || unicode.IsSpace(r) }

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

// maxPathDecodes bounds how often a path is decoded again to see what a
// backend that decodes more than once reads. A path still changing after
// that is refused: no real address is encoded eight times over, and the
// bound keeps the work linear in the path's length ("%252525…" would
// otherwise take one pass per "25").
const maxPathDecodes = 8

// refusedPath reports whether a path must be refused before any rule is
// judged: a control character at any decoding depth (a NUL ends the path
// in a C backend, and a backend that trims segments reads "pay\t" as
// "pay"), an overlong UTF-8 sequence ("%c0%ae" is "." to a lax decoder),
// or escapes nested deeper than maxPathDecodes. No legitimate URL holds
// any of them, so refusing is safer than guessing how a backend reads it.
func refusedPath(p string) bool {
	plain := true
	for i := 0; i < len(p) && plain; i++ {
		plain = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '%'
	}
	if plain {
		return false // the common case: nothing to decode, nothing to refuse
	}
	return refusedReading(p, false) || refusedReading(p, true)
}

// refusedReading decodes p again and again as refusedPath describes,
// folding it (foldCompat) before each decoding if fold is set: "％０９"
// is "%09" to a backend that folds and then decodes.
func refusedReading(p string, fold bool) bool {
	for range maxPathDecodes {
		if hasControl(p) || hasOverlongUTF8(p) {
			return true
		}
		if fold {
			p = foldCompat(p)
		}
		dec, ok := unescapeLenient(p)
		if !ok {
			return false
		}
		p = dec
	}
	return true
}

// pathViews returns every way the request path may be read: as Caddy
// decoded it; with encoded slashes kept inside their segment (what a
// backend that routes on the raw path sees); and decoded again while
// percent-escapes remain (what a backend that decodes twice sees); each
// both canonical and lenient (lenientPath). A path counts as public only if
// every view is public, and a rule applies if any view matches, so no
// encoding trick turns a protected path into a public one or slips past a
// rule. Control characters (a NUL truncates paths in C backends) make a
// path unmatchable; ServeHTTP refuses such paths before they get here.
func pathViews(r *http.Request) []string {
	p := r.URL.Path
	raw := r.URL.EscapedPath()
	if raw == p && isPlainPath(p) {
		return []string{p}
	}
	views := addViews(make([]string, 0, 4), p)
	if raw == p && strings.IndexByte(p, '%') < 0 && !hasControl(p) {
		return views
	}
	if hasControl(p) || hasOverlongUTF8(p) {
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
		views = addViews(views, dec)
	}
	// Residual escapes ("%252e" arrives as "%2e"): decode until stable,
	// leaving a literal "%" as it is, as lenient decoders do; and once more
	// folding before each decoding, for "％２ｅ" (see refusedReading).
	for _, fold := range []bool{false, true} {
		q := p
		for range maxPathDecodes {
			if fold {
				q = foldCompat(q)
			}
			dec, ok := unescapeLenient(q)
			if !ok {
				break
			}
			if hasControl(dec) || hasOverlongUTF8(dec) {
				return append(views, unmatchable)
			}
			q = dec
			views = addViews(views, q)
		}
	}
	return views
}

// addViews appends the canonical and lenient readings of the decoded path
// p that views does not hold yet.
func addViews(views []string, p string) []string {
	views = appendNew(views, canonicalPath(p))
	if !isPlainPath(p) {
		views = appendNew(views, lenientPath(p))
	}
	return views
}

func appendNew(views []string, v string) []string {
	if slices.Contains(views, v) {
		return views
	}
	return append(views, v)
}

// unescapeLenient decodes every valid percent-escape of s and keeps any
// other "%" as it is; ok is false when there was nothing to decode.
func unescapeLenient(s string) (string, bool) {
	i := strings.IndexByte(s, '%')
	for i >= 0 && !(i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])) {
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			return s, false
		}
		i += 1 + j
	}
	if i < 0 {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// hasOverlongUTF8 reports whether s holds a byte sequence that lax UTF-8
// decoders read as a shorter character than the standard allows
// (C0 AE is "."): the lead bytes C0 and C1, E0 before 80–9F, F0 before
// 80–8F, and the obsolete five- and six-byte leads F8–FD. Other invalid
// bytes (a Latin-1 "é") are left to lenientPath, which drops them.
func hasOverlongUTF8(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		b, next := s[i], s[i+1]
		if next < 0x80 || next > 0xbf {
			continue
		}
		switch {
		case b == 0xc0, b == 0xc1, b >= 0xf8 && b <= 0xfd,
			b == 0xe0 && next <= 0x9f, b == 0xf0 && next <= 0x8f:
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
