package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/caddymodule/authn"
	"github.com/frontdoorhq/frontdoor/session"
)

// loadAuthenticators loads the configured request authenticators, or the
// session cookie alone when none is configured, and keeps a session cookie
// authenticator for Frontdoor's own pages (the configured one if there is
// one). They are bound to the site in Validate, once the origin is known.
func (h *Handler) loadAuthenticators(ctx caddy.Context) error {
	h.authenticators, h.cookies = nil, nil
	if len(h.AuthenticatorsRaw) > 0 {
		if err := knownAuthenticators(h.AuthenticatorsRaw); err != nil {
			return err
		}
		mods, err := ctx.LoadModule(h, "AuthenticatorsRaw")
		if err != nil {
			return fmt.Errorf("frontdoor: loading authenticators: %w", err)
		}
		list, ok := mods.([]any)
		if !ok {
			return fmt.Errorf("frontdoor: authenticators: loaded %T, want a list", mods)
		}
		for _, m := range list {
			a, ok := m.(authn.Authenticator)
			if !ok {
				return fmt.Errorf("frontdoor: module %T is not a request authenticator", m)
			}
			if c, ok := a.(*authn.SessionCookie); ok && h.cookies == nil {
				h.cookies = c
			}
			h.authenticators = append(h.authenticators, a)
		}
	}
	if h.cookies == nil {
		h.cookies = new(authn.SessionCookie)
	}
	if len(h.authenticators) == 0 {
		h.authenticators = []authn.Authenticator{h.cookies}
	}
	return nil
}

// knownAuthenticators refuses an authenticator this build lacks with its
// name and the names it has, before Caddy's generic loading error.
func knownAuthenticators(raws []json.RawMessage) error {
	for i, raw := range raws {
		var m struct {
			Name string `json:"authenticator"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("frontdoor: authenticators[%d]: %w", i, err)
		}
		if m.Name == "" {
			return fmt.Errorf(`frontdoor: authenticators[%d] names no module ("authenticator": "session")`, i)
		}
		if _, err := caddy.GetModule(authn.Namespace + "." + m.Name); err != nil {
			return fmt.Errorf("frontdoor: authenticators[%d]: unknown authenticator %q (this build has: %s)", i, m.Name, moduleNames(authn.Namespace))
		}
	}
	return nil
}

// bindAuthenticators hands the authenticators the validated site. A
// handler that was never provisioned (a unit test of its validation) has
// none to bind.
func (h *Handler) bindAuthenticators() error {
	if h.app == nil || h.cookies == nil {
		return nil
	}
	site := authn.Site{
		Origin: h.origin, Codec: h.app.codec, Sessions: h.app.backend.sessions,
		StoreTimeout: time.Duration(h.app.StoreTimeout), NoteStore: h.app.backend.noteStore,
	}
	if err := h.cookies.BindSite(site); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	for _, a := range h.authenticators {
		if b, ok := a.(authn.Binder); ok {
			if err := b.BindSite(site); err != nil {
				return fmt.Errorf("frontdoor: %w", err)
			}
		}
	}
	return nil
}

// authenticate asks the site's authenticators in order and returns the
// session of the first that knows the caller; nil when none does; an error
// (the store failed) as soon as one cannot tell, so a failing store is
// never mistaken for an anonymous caller.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (*session.Session, error) {
	for _, a := range h.authenticators {
		id, ok, err := a.Authenticate(w, r)
		if err != nil {
			return nil, err
		}
		if ok {
			// Identity headers, the assertion and step-up rules are a
			// session's today: a principal without one stays anonymous
			// until they learn to describe it.
			return id.Session, nil
		}
	}
	return nil, nil
}

// parseAuthenticate parses `authenticate <name> [<args>] [{ … }]` in the
// site's frontdoor block; each line adds one authenticator, in order.
func parseAuthenticate(d *caddyfile.Dispenser) (json.RawMessage, error) {
	if !d.NextArg() {
		return nil, d.Errf("frontdoor: authenticate needs an authenticator, e.g. authenticate session")
	}
	name := d.Val()
	if _, err := caddy.GetModule(authn.Namespace + "." + name); err != nil {
		return nil, d.Errf("frontdoor: unknown authenticator %q (this build has: %s)", name, moduleNames(authn.Namespace))
	}
	unm, err := caddyfile.UnmarshalModule(d, authn.Namespace+"."+name)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(unm, "authenticator", name, nil), nil
}
