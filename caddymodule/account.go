package caddymodule

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

type accountView struct {
	ID            string
	Email         string
	EmailVerified bool
	CreatedAt     time.Time
	LastLoginAt   time.Time
	Sessions      []sessionView
}

type sessionView struct {
	Current   bool
	Device    string
	IP        string
	CreatedAt time.Time
	LastSeen  time.Time
}

// account shows the customer's profile and where they are signed in.
func (h *Handler) account(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	ctx := r.Context()
	c, err := h.app.backend.identity.Customer(ctx, s.UserID)
	if err != nil {
		h.logger.Error("loading customer", zap.Error(err))
		return h.unavailable(w)
	}
	all, err := h.app.backend.sessions.List(ctx, s.UserID)
	if err != nil {
		h.logger.Error("listing sessions", zap.Error(err))
		return h.unavailable(w)
	}
	v := &accountView{ID: c.ID, Email: c.Email, EmailVerified: c.EmailVerified, CreatedAt: c.CreatedAt, LastLoginAt: c.LastLoginAt}
	for _, o := range all {
		v.Sessions = append(v.Sessions, sessionView{Current: o.Key == s.Key, Device: deviceName(o), IP: o.IP, CreatedAt: o.CreatedAt, LastSeen: o.LastSeen})
	}
	slices.SortFunc(v.Sessions, func(a, b sessionView) int { return b.LastSeen.Compare(a.LastSeen) })
	return h.render(w, http.StatusOK, "account", &pageData{Title: "Your account", CSRF: h.csrfFor(w, r), Account: v})
}

// signOutEverywhere revokes every session of the customer, this one too.
func (h *Handler) signOutEverywhere(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	if _, err := h.app.backend.sessions.RevokeUser(r.Context(), s.UserID); err != nil {
		h.logger.Error("revoking all sessions", zap.Error(err))
		return h.unavailable(w)
	}
	ev := identity.Event{At: time.Now().UTC(), Kind: identity.EventSignedOutEverywhere, IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 256)}
	if err := h.app.backend.identity.AppendEvent(r.Context(), s.UserID, ev); err != nil {
		// The sessions are gone, which is what the customer asked for.
		h.logger.Warn("recording a security event", zap.String("kind", ev.Kind), zap.Error(err))
	}
	clearSessionCookie(w)
	return h.message(w, http.StatusOK, "Signed out everywhere",
		"Every device signed in to your account has been signed out.", h.Prefix+"/login", "Sign in again")
}

// deviceName is a short, human description of a session's browser.
func deviceName(s *session.Session) string {
	ua := s.UserAgent
	browser := "A browser"
	for _, b := range []struct{ needle, name string }{
		{"Edg/", "Edge"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.needle) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ needle, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.needle) {
			return browser + " on " + o.name
		}
	}
	return browser
}
