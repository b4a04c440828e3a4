package caddymodule

import (
	"errors"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"mime"
	"net/http"
	"strings"

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
	rt, ok := h.routes[sub]
	if !ok {
		return h.message(w, http.StatusNotFound, "Page not found", "There is nothing at this address.", "/", "Home")
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
		if !h.csrfOK(r) {
			return h.message(w, http.StatusForbidden, "Please try again",
				"This form expired or was sent from another site. Reload the page and submit it again.", r.URL.Path, "Reload")
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
	return h.message(w, http.StatusMethodNotAllowed, "Not allowed", "This page cannot be used that way.", "/", "Home")
}

// parseForm reads a form post within the size limit, answering the client
// itself (and returning false) when the post is too big or malformed.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		_ = h.message(w, http.StatusUnsupportedMediaType, "Unsupported form",
			"This form must be sent as application/x-www-form-urlencoded.", r.URL.Path, "Back to the form")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			_ = h.message(w, http.StatusRequestEntityTooLarge, "Form too large",
				"What you sent is larger than this form accepts (64 KiB).", r.URL.Path, "Back to the form")
			return false
		}
		_ = h.message(w, http.StatusBadRequest, "Malformed form",
			"We could not read what your browser sent. Please go back and submit the form again.", r.URL.Path, "Back to the form")
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
		_ = h.unavailable(w)
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
	return s, true
}
