package caddymodule

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/frontdoorhq/frontdoor/botdefense"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdoorhq/frontdoor/session"
)

// maxFormBytes bounds every form post.
const maxFormBytes = 64 << 10

// serveOwn answers Frontdoor's own paths under the prefix from the route
// table (routes.go). It never calls the next handler: nothing under the
// prefix reaches the backend.
func (h *Handler) serveOwn(w http.ResponseWriter, r *http.Request) error {
	sub := strings.TrimPrefix(r.URL.Path, h.Prefix)
	if strings.HasPrefix(sub, "/static/style-") && strings.HasSuffix(sub, ".css") {
		return serveAsset(w, r, "style.css", "text/css; charset=utf-8", h.pages.css)
	}
	if strings.HasPrefix(sub, "/static/pow-") && strings.HasSuffix(sub, ".js") {
		return serveAsset(w, r, "pow.js", "text/javascript; charset=utf-8", botdefense.SolverJS)
	}
	if strings.HasPrefix(sub, "/static/passkey-") && strings.HasSuffix(sub, ".js") {
		return serveAsset(w, r, "passkey.js", "text/javascript; charset=utf-8", h.pages.js)
	}
	// The language of the page, and of any mail the request sends.
	r = h.withLang(r)
	rt, ok := h.routes[sub]
	if !ok {
		return h.message(w, r, http.StatusNotFound, "page.not_found.title", "page.not_found", "/", "link.home")
	}
	switch {
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && rt.get != nil:
		if d := rt.defenceOf(r); d.route != "" {
			var ok bool
			if r, ok = h.defend(w, r, d); !ok {
				return nil
			}
		}
		return rt.get(h, w, r)
	case r.Method == http.MethodPost && rt.post != nil:
		if !h.parseForm(w, r) {
			return nil
		}
		// Before the CSRF check: a flood of forged posts counts too.
		if d := rt.defenceOf(r); d.route != "" {
			var ok bool
			if r, ok = h.defend(w, r, d); !ok {
				return nil
			}
		}
		if !rt.crossSite && !h.csrfOK(r) {
			return h.message(w, r, http.StatusForbidden, "form.expired.title", "form.expired", r.URL.Path, "link.reload")
		}
		return rt.post(h, w, r)
	}
	allow := []string{}
	if rt.get != nil {
		allow = append(allow, "GET", "HEAD")
	}
	if rt.post != nil {
		allow = append(allow, "POST")
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return h.message(w, r, http.StatusMethodNotAllowed, "page.not_allowed.title", "page.not_allowed", "/", "link.home")
}

// parseForm reads a form post within the size limit, answering the client
// itself (and returning false) when the post is too big or malformed.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		_ = h.message(w, r, http.StatusUnsupportedMediaType, "form.unsupported.title", "form.unsupported", r.URL.Path, "link.back_to_form")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			_ = h.message(w, r, http.StatusRequestEntityTooLarge, "form.too_large.title", "form.too_large", r.URL.Path, "link.back_to_form")
			return false
		}
		_ = h.message(w, r, http.StatusBadRequest, "form.malformed.title", "form.malformed", r.URL.Path, "link.back_to_form")
		return false
	}
	return true
}

// setSessionCookie hands the browser its session.
func (h *Handler) setSessionCookie(w http.ResponseWriter, token string) error {
	v, err := h.app.codec.Encode(h.origin, token)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: session.CookieName, Value: v, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		MaxAge: int(h.app.backend.sessions.Config().Absolute.Seconds()),
	})
	return nil
}

func clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: session.CookieName, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// clientIP is the address Caddy decided the client has (honouring only its
// trusted_proxies setting).
func clientIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}

// sessionOrLogin returns the valid session of a page that needs one, or
// answers the request itself (redirect to login, or 503) and returns nil.
func (h *Handler) sessionOrLogin(w http.ResponseWriter, r *http.Request) (*session.Session, bool) {
	s, err := h.currentSession(r)
	if err != nil { // logged by noteStore when the store's state changes
		_ = h.unavailable(w, r)
		return nil, false
	}
	if s == nil {
		if r.Method == http.MethodGet {
			_ = h.deny(w, r)
		} else {
			http.Redirect(w, r, h.Prefix+"/login", http.StatusSeeOther)
		}
		return nil, false
	}
	if h.ownPageMoved(w, r, s) { // used from another place (risk_edge.go)
		return nil, false
	}
	if s.Actor != "" { // an agent viewing as the customer: not their pages
		_ = h.actorRefused(w, r)
		return nil, false
	}
	return s, true
}

// sessionOrLoginAnywhere is sessionOrLogin for the step-up page itself,
// where a session that moved comes to prove itself again.
func (h *Handler) sessionOrLoginAnywhere(w http.ResponseWriter, r *http.Request) (*session.Session, bool) {
	s, err := h.currentSession(r)
	if err != nil {
		_ = h.unavailable(w, r)
		return nil, false
	}
	if s == nil {
		_ = h.deny(w, r)
		return nil, false
	}
	return s, true
}
