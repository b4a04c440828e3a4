package authn

import (
	"context"
	"errors"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/session"
)

func init() {
	caddy.RegisterModule(SessionCookie{})
}

// SessionCookie authenticates a customer by the __Host-frontdoor cookie:
// the server-side session it names, if that session is live and belongs
// to this site. It is the handler's authenticator when none is configured.
// It has no options: lifetimes, cache and keys are the frontdoor app's.
type SessionCookie struct {
	site Site
}

// CaddyModule returns the Caddy module information.
func (SessionCookie) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".session", New: func() caddy.Module { return new(SessionCookie) }}
}

// BindSite implements Binder.
func (a *SessionCookie) BindSite(s Site) error {
	if s.Origin == "" || s.Codec == nil || s.Sessions == nil || s.NoteStore == nil {
		return errors.New("authn: session: the site has no origin, codec or sessions")
	}
	a.site = s
	return nil
}

// Authenticate implements Authenticator.
func (a *SessionCookie) Authenticate(_ http.ResponseWriter, r *http.Request) (Identity, bool, error) {
	s, err := a.Lookup(r)
	return Identity{Session: s}, s != nil, err
}

// Lookup returns the request's valid session, nil if there is none (no
// cookie, a forged or foreign one, expired, revoked), or an error when the
// store failed.
func (a *SessionCookie) Lookup(r *http.Request) (*session.Session, error) {
	v := cookieValue(r.Header, session.CookieName)
	if v == "" {
		return nil, nil
	}
	_, key, err := a.site.Codec.DecodeKey(a.site.Origin, v, a.site.Sessions.Now()) // the sessions' clock, the app's one
	if err != nil {
		return nil, nil
	}
	s := a.site.Sessions.Cached(key) // the common case: no store, no context
	if s == nil {
		if s, err = a.lookupStore(r, key); s == nil {
			return nil, err
		}
	}
	if s.Site != a.site.Origin {
		return nil, nil
	}
	return s, nil
}

// lookupStore asks the store (through the session cache) for key, within
// the store timeout; nil and no error when there is no such live session.
func (a *SessionCookie) lookupStore(r *http.Request, key string) (*session.Session, error) {
	ctx, cancel := context.WithTimeout(r.Context(), a.site.StoreTimeout)
	defer cancel()
	s, err := a.site.Sessions.LookupKey(ctx, key)
	if errors.Is(err, session.ErrNotFound) {
		a.site.NoteStore(nil)
		return nil, nil
	}
	a.site.NoteStore(err)
	return s, err
}

// UnmarshalCaddyfile parses `session` after `authenticate`; it takes no
// arguments and no block.
func (a *SessionCookie) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume the module name
	if d.NextArg() {
		return d.Errf("frontdoor: authenticate session takes no arguments, got %q", d.Val())
	}
	if d.NextBlock(0) {
		return d.Errf("frontdoor: authenticate session takes no block, got %q", d.Val())
	}
	return nil
}

// cookieValue returns the value of the first cookie called name, as
// Request.Cookie does, without parsing (and allocating) every other cookie
// a browser sends; "" if there is none. The value is not validated here:
// the codec refuses anything it did not make.
func cookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				v := part[len(name)+1:]
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}

// Interface guards
var (
	_ Authenticator         = (*SessionCookie)(nil)
	_ Binder                = (*SessionCookie)(nil)
	_ caddyfile.Unmarshaler = (*SessionCookie)(nil)
)
