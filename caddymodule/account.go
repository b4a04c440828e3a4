package caddymodule

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
)

type accountView struct {
	ID            string
	Name          string
	Email         string
	EmailVerified bool
	CreatedAt     time.Time
	LastLoginAt   time.Time
	Sessions      []sessionView
	// How they sign in.
	HasPassword, TOTP, SecondFactor bool
	RecoveryLeft                    int
	Passkeys                        []passkeyView
	Devices                         []identity.TrustedDevice
	// Welcome greets a passkey-first sign-up that has no passkey yet.
	Welcome bool
	// Identities are the linked provider accounts; Linkable the site's
	// providers not linked yet.
	Identities []identityView
	Linkable   []providerButton
	// Consent is what the customer agreed to, and when (nil: no purposes).
	Consent *consentView
}

type identityView struct {
	ID, Label, Email     string
	LinkedAt, LastUsedAt time.Time
}

type passkeyView struct {
	ID, Name              string
	Synced, Flagged       bool
	CreatedAt, LastUsedAt time.Time
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
	v := &accountView{ID: c.ID, Name: c.Name, Email: c.Email, EmailVerified: c.EmailVerified, CreatedAt: c.CreatedAt, LastLoginAt: c.LastLoginAt,
		HasPassword: c.PasswordHash != "", TOTP: c.TOTP != nil, SecondFactor: c.HasSecondFactor(), RecoveryLeft: len(c.RecoveryCodes),
		Welcome: r.URL.Query().Get("welcome") == "passkey" && len(c.Passkeys) == 0}
	for _, p := range c.Passkeys {
		v.Passkeys = append(v.Passkeys, passkeyView{ID: base64.RawURLEncoding.EncodeToString(p.ID), Name: p.Name,
			Synced: p.BackupState, Flagged: p.Flagged, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt})
	}
	for _, li := range c.Identities {
		v.Identities = append(v.Identities, identityView{ID: identityID(li), Label: h.providerLabel(li.Provider), Email: li.Email,
			LinkedAt: li.LinkedAt, LastUsedAt: li.LastUsedAt})
	}
	for _, p := range h.providerButtons() {
		if _, linked := linkedTo(c, p.Name); !linked {
			v.Linkable = append(v.Linkable, p)
		}
	}
	now := h.app.backend.clock.Now()
	for _, d := range c.TrustedDevices {
		if now.Before(d.ExpiresAt) {
			v.Devices = append(v.Devices, d)
		}
	}
	for _, o := range all {
		v.Sessions = append(v.Sessions, sessionView{Current: o.Key == s.Key, Device: h.deviceName(o.UserAgent), IP: o.IP, CreatedAt: o.CreatedAt, LastSeen: o.LastSeen})
	}
	slices.SortFunc(v.Sessions, func(a, b sessionView) int { return b.LastSeen.Compare(a.LastSeen) })
	if v.Consent, err = h.consentSection(ctx, s.UserID); err != nil {
		h.logger.Error("loading consent", zap.Error(err))
		return h.unavailable(w)
	}
	return h.render(w, http.StatusOK, "account", &pageData{Title: h.say("account.title"), CSRF: h.csrfFor(w, r), Account: v, Script: true})
}

// signOutEverywhere revokes every session of the customer, this one too.
func (h *Handler) signOutEverywhere(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	if _, err := h.flows.SignOutEverywhere(r.Context(), s.UserID, h.client(r)); err != nil {
		h.logger.Error("revoking all sessions", zap.Error(err))
		return h.unavailable(w)
	}
	clearSessionCookie(w)
	return h.message(w, http.StatusOK, "logout.everywhere.title", "logout.everywhere", h.Prefix+"/login", "link.sign_in_again")
}

// deviceName is a short, human description of a browser from its user
// agent.
func (h *Handler) deviceName(ua string) string {
	browser := h.say("account.device_unknown")
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
			return h.say("account.device", "browser", browser, "system", o.name)
		}
	}
	return browser
}
