package caddymodule

import (
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdoorhq/frontdoor/session"
)

// HeaderConfig names the identity headers sent to backends: a preset, with
// any name overridden.
type HeaderConfig struct {
	// Preset is frontdoor (default), oauth2_proxy (X-Forwarded-User style)
	// or authelia (Remote-User style).
	Preset string `json:"preset,omitempty"`
	// Overrides of single names; an empty value keeps the preset's.
	User          string `json:"user,omitempty"`
	Email         string `json:"email,omitempty"`
	EmailVerified string `json:"email_verified,omitempty"`
	AuthTime      string `json:"auth_time,omitempty"`
	AMR           string `json:"amr,omitempty"`
	Assertion     string `json:"assertion,omitempty"`
	// Send is what backends receive: both (default) the plain headers and
	// the signed assertion, only the assertion, or only the plain headers.
	// The other names are still stripped from every request.
	Send string `json:"send,omitempty"`
}

// What a site sends backends (HeaderConfig.Send).
const (
	sendBoth      = "both"
	sendAssertion = "assertion"
	sendPlain     = "plain"
)

type headerNames struct {
	User, Email, EmailVerified, AuthTime, AMR, Assertion string
	// plain and assertion say which of the two kinds are sent.
	plain, assertion bool
}

func (h headerNames) all() []string {
	return []string{h.User, h.Email, h.EmailVerified, h.AuthTime, h.AMR, h.Assertion}
}

var presetHeaders = map[string]headerNames{
	"frontdoor": {
		User: "X-Frontdoor-User", Email: "X-Frontdoor-Email", EmailVerified: "X-Frontdoor-Email-Verified",
		AuthTime: "X-Frontdoor-Auth-Time", AMR: "X-Frontdoor-AMR", Assertion: "X-Frontdoor-Assertion",
	},
	"oauth2_proxy": {
		User: "X-Forwarded-User", Email: "X-Forwarded-Email", EmailVerified: "X-Frontdoor-Email-Verified",
		AuthTime: "X-Frontdoor-Auth-Time", AMR: "X-Frontdoor-AMR", Assertion: "X-Frontdoor-Assertion",
	},
	"authelia": {
		User: "Remote-User", Email: "Remote-Email", EmailVerified: "X-Frontdoor-Email-Verified",
		AuthTime: "X-Frontdoor-Auth-Time", AMR: "X-Frontdoor-AMR", Assertion: "X-Frontdoor-Assertion",
	},
}

// alwaysStripped are identity headers of the well-known proxies. They are
// removed from every request whatever preset is in use, so a backend that
// also trusts one of them cannot be fooled by a client sending it.
var alwaysStripped = []string{
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Groups",
	"X-Forwarded-Access-Token", "X-Auth-Request-User", "X-Auth-Request-Email",
	"X-Auth-Request-Preferred-Username", "X-Auth-Request-Groups", "X-Auth-Request-Access-Token",
	"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups",
}

// names resolves the config over the given defaults.
func (c *HeaderConfig) names(def headerNames) (headerNames, error) {
	n := def
	if c == nil {
		c = &HeaderConfig{}
	}
	if c.Preset != "" {
		p, ok := presetHeaders[c.Preset]
		if !ok {
			return n, fmt.Errorf("frontdoor: headers: unknown preset %q (want frontdoor, oauth2_proxy or authelia)", c.Preset)
		}
		n = p
	}
	switch c.Send {
	case "":
		if def.plain || def.assertion {
			n.plain, n.assertion = def.plain, def.assertion
		} else {
			n.plain, n.assertion = true, true
		}
	case sendBoth:
		n.plain, n.assertion = true, true
	case sendAssertion:
		n.plain, n.assertion = false, true
	case sendPlain:
		n.plain, n.assertion = true, false
	default:
		return n, fmt.Errorf("frontdoor: headers: send %q: want both, assertion or plain", c.Send)
	}
	for _, o := range []struct {
		dst *string
		v   string
	}{{&n.User, c.User}, {&n.Email, c.Email}, {&n.EmailVerified, c.EmailVerified}, {&n.AuthTime, c.AuthTime}, {&n.AMR, c.AMR}, {&n.Assertion, c.Assertion}} {
		if o.v == "" {
			continue
		}
		if !validHeaderName(o.v) {
			return n, fmt.Errorf("frontdoor: headers: %q is not a valid header name", o.v)
		}
		*o.dst = o.v
	}
	for _, p := range []*string{&n.User, &n.Email, &n.EmailVerified, &n.AuthTime, &n.AMR, &n.Assertion} {
		*p = http.CanonicalHeaderKey(*p)
	}
	return n, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}

// stripper removes forged identity headers.
type stripper struct {
	exact map[string]struct{}
}

func newStripper(n headerNames) stripper {
	s := stripper{exact: make(map[string]struct{})}
	for _, h := range append(n.all(), alwaysStripped...) {
		s.exact[http.CanonicalHeaderKey(h)] = struct{}{}
	}
	return s
}

// strip deletes every configured identity header and every X-Frontdoor-*
// header. Go canonicalises incoming header names, but the map is walked so
// that no spelling slips through — including "_" or "." for "-", which some
// backends (CGI, FastCGI, PHP) read as the same header.
func (s stripper) strip(h http.Header) {
	for k := range h {
		if s.isIdentity(k) {
			delete(h, k)
		}
	}
	s.stripConnection(h)
}

func (s stripper) isIdentity(name string) bool {
	if _, ok := s.exact[name]; ok || hasPrefixFold(name, "X-Frontdoor-") {
		return true
	}
	n := name
	if strings.ContainsAny(name, "_.") {
		n = strings.Map(func(r rune) rune {
			if r == '_' || r == '.' {
				return '-'
			}
			return r
		}, name)
	}
	c := http.CanonicalHeaderKey(n)
	if c == name {
		return false // a canonical name without '_' or '.': looked at above
	}
	_, ok := s.exact[c]
	return ok || hasPrefixFold(n, "X-Frontdoor-")
}

// stripConnection keeps a client from nominating identity headers as
// hop-by-hop ("Connection: X-Frontdoor-User"), which would make
// reverse_proxy drop the ones Frontdoor sets.
func (s stripper) stripConnection(h http.Header) {
	vals, ok := h["Connection"]
	if !ok {
		return
	}
	var kept []string
	for _, v := range vals {
		var toks []string
		for t := range strings.SplitSeq(v, ",") {
			if t = textproto.TrimString(t); t != "" && !s.isIdentity(t) {
				toks = append(toks, t)
			}
		}
		if len(toks) > 0 {
			kept = append(kept, strings.Join(toks, ", "))
		}
	}
	if len(kept) == 0 {
		delete(h, "Connection")
	} else {
		h["Connection"] = kept
	}
}

// trailerStripper strips identity names from request trailers, which
// net/http fills in when the body reaches EOF and reverse_proxy forwards.
type trailerStripper struct {
	io.ReadCloser
	r     *http.Request
	strip stripper
}

func (t *trailerStripper) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err == io.EOF {
		t.strip.strip(t.r.Trailer)
	}
	return n, err
}

// dropOwnCookies keeps Frontdoor's bearer cookie and CSRF secret away from
// backends: they get the short-lived assertion instead, so a backend that
// logs or leaks headers leaks nothing that signs anyone in.
func dropOwnCookies(h http.Header) {
	lines, ok := h["Cookie"]
	if !ok {
		return
	}
	found := false
	for _, line := range lines {
		if strings.Contains(line, session.CookieName) {
			found = true
			break
		}
	}
	if !found {
		return
	}
	var keep []string
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			p := textproto.TrimString(part)
			name, _, _ := strings.Cut(p, "=")
			// Every cookie of Frontdoor's (session, CSRF, the binding
			// nonces, the trusted device) stays at the edge.
			if p != "" && name != session.CookieName && !strings.HasPrefix(name, session.CookieName+"-") {
				keep = append(keep, p)
			}
		}
	}
	if len(keep) == 0 {
		delete(h, "Cookie")
	} else {
		h["Cookie"] = []string{strings.Join(keep, "; ")}
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// inject sets the identity headers and placeholders for a valid session.
// Everything but the header slices comes precomputed with the session's
// cached assertion (session.Stamp), so a request of a signed-in customer
// costs one small allocation here.
func (h *Handler) inject(r *http.Request, repl *caddy.Replacer, s *session.Session, x session.Extra) error {
	n := h.names
	st, err := h.app.backend.assertions.StampExtra(s, h.origin, h.assertionAud, x)
	if err != nil {
		return err
	}
	// One backing array for the one-value slices, sized to hold them all;
	// each is capped at one, so a later Add by another handler copies
	// instead of writing into its neighbour.
	var vals []string
	if n.plain {
		size := 6 // five plain headers and the assertion
		for _, v := range [...]string{st.Consent, st.Roles, st.Actor, st.Client, st.Risk, st.Phone} {
			if v != "" {
				size++
			}
		}
		vals = make([]string, 0, size)
		vals = append(vals, st.UserID, st.Email, st.EmailVerified, st.AuthTime, st.AMR)
		r.Header[n.User] = vals[0:1:1]
		r.Header[n.Email] = vals[1:2:2]
		r.Header[n.EmailVerified] = vals[2:3:3]
		r.Header[n.AuthTime] = vals[3:4:4]
		r.Header[n.AMR] = vals[4:5:5]
		if st.Consent != "" {
			vals = append(vals, st.Consent)
			r.Header[consentHeader] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
		if st.Roles != "" {
			vals = append(vals, st.Roles)
			r.Header[rolesHeader] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
		if st.Actor != "" {
			vals = append(vals, st.Actor)
			r.Header[actorHeader] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
		if st.Client != "" {
			vals = append(vals, st.Client)
			r.Header[clientHeader] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
		if st.Risk != "" {
			vals = append(vals, st.Risk)
			r.Header[riskHeader] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
		if st.Phone != "" {
			vals = append(vals, st.Phone)
			r.Header[phoneHeader] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	if n.assertion {
		if vals == nil {
			vals = make([]string, 0, 1)
		}
		vals = append(vals, st.Assertion)
		r.Header[n.Assertion] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	// Set, not a lazy Replacer.Map provider: static values are consulted
	// first, so a provider would let a value an earlier handler (vars,
	// basic_auth) stored under these names win over the verified identity.
	// The values are boxed once per stamp, not per request.
	v := st.Memo(boxPlaceholders).(*placeholderValues)
	repl.Set("http.auth.user.id", v.user)
	repl.Set("http.frontdoor.user", v.user)
	repl.Set("http.frontdoor.email", v.email)
	repl.Set("http.frontdoor.email_verified", v.verified)
	repl.Set("http.frontdoor.auth_time", v.authTime)
	repl.Set("http.frontdoor.amr", v.amr)
	repl.Set("http.frontdoor.acr", v.acr)
	repl.Set("http.frontdoor.sid", v.sid)
	repl.Set("http.frontdoor.roles", v.roles)
	repl.Set("http.frontdoor.phone", v.phone)
	return nil
}

// rolesHeader carries the customer's roles, comma-separated;
// actorHeader who acts for the customer (an API key's id); clientHeader
// the app whose access token the request came with.
const (
	rolesHeader = "X-Frontdoor-Roles"
	// phoneHeader carries the customer's verified phone number (E.164);
	// X-Frontdoor-Phone is a profile field's (profile phone).
	phoneHeader  = "X-Frontdoor-Phone-Number"
	actorHeader  = "X-Frontdoor-Actor"
	clientHeader = "X-Frontdoor-Client"
)

// attrHeader is the header an attribute reaches the backend in.
func attrHeader(name string) string { return profileHeader("attr_" + name) }

// injectCustomer hands the backend the attributes the site lists (headers
// and placeholders; the roles went with the assertion's values) and the
// profile fields it names.
func (h *Handler) injectCustomer(r *http.Request, repl *caddy.Replacer, x session.Extra) {
	for i, name := range h.Attributes {
		v := ""
		for _, f := range x.Attrs {
			if f.Name == name {
				v = f.Value
				break
			}
		}
		repl.Set(h.attrPlaceholders[i], v)
		if v != "" && h.names.plain {
			r.Header[h.attrHeaders[i]] = []string{v}
		}
	}
	if h.names.plain {
		for _, f := range x.Profile {
			r.Header.Set(profileHeader(f.Name), f.Value)
		}
	}
}

// attributeClaims returns the attributes the site lists that the customer
// has.
func (h *Handler) attributeClaims(c *hotCustomer) []session.Field {
	var out []session.Field
	for _, name := range h.Attributes {
		if v := c.Attributes[name]; v != "" {
			out = append(out, session.Field{Name: name, Value: v})
		}
	}
	return out
}

// placeholderValues are a stamp's placeholder values as interface values,
// so setting them allocates nothing.
type placeholderValues struct{ user, email, verified, authTime, amr, acr, sid, roles, phone any }

func boxPlaceholders(st *session.Stamp) any {
	return &placeholderValues{st.UserID, st.Email, st.EmailVerified, st.AuthTimeRFC3339, st.AMR, st.ACR, st.SID, st.Roles, st.Phone}
}
