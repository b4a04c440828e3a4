package caddymodule

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
	"github.com/frontdoorhq/frontdoor/sms"
)

type accountView struct {
	// Removal is a support agent's pending removal of the second factors.
	Removal       *identity.FactorRemoval
	ID            string
	Name          string
	Email         string
	EmailVerified bool
	// PhoneLogin: the account's verified number signs in by itself
	// (phone_login).
	PhoneLogin bool
	// Phone is the account's number as people read it; PhoneOn: the
	// site offers phone numbers (sms_countries).
	Phone                  string
	PhoneVerified, PhoneOn bool
	// SMSOffered: the site offers texted codes as a second factor to this
	// account (sms_mfa, its verified number's country); SMSFactor: they
	// are on; SMSNudge: they are the only second factor, so the page
	// suggests a passkey.
	SMSOffered, SMSFactor, SMSNudge bool
	CreatedAt                       time.Time
	LastLoginAt                     time.Time
	Sessions                        []sessionView
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
	// Activity is the security activity, newest first.
	Activity []activityView
	// Profile is the declared profile fields with the customer's values.
	Profile []profileFieldView
	// Consent is what the customer agreed to, and when (nil: no purposes).
	Consent *consentView
	// Apps are the provider clients holding the customer's tokens.
	Apps []appView
	// Agents are the clients acting for the customer.
	Agents []agentView
	// KeysOn: the site takes API keys; APIKeys are the customer's.
	KeysOn  bool
	APIKeys []apiKeyView
}

type apiKeyView struct {
	ID, Name, Hint, Network, Limits  string
	CreatedAt, ExpiresAt, LastUsedAt time.Time
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
	// ID is the session's handle (session.SID: not a bearer secret).
	ID      string
	Current bool
	Device  string
	IP      string
	// Network is the approximate place: the address's /24 (IPv4) or /56.
	Network   string
	CreatedAt time.Time
	LastSeen  time.Time
}

// activityView is one entry of the account's security activity.
type activityView struct {
	At      time.Time
	What    string
	Network string
	Device  string
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
		return h.unavailable(w, r)
	}
	all, err := h.app.backend.sessions.List(ctx, s.UserID)
	if err != nil {
		h.logger.Error("listing sessions", zap.Error(err))
		return h.unavailable(w, r)
	}
	v := &accountView{Removal: c.FactorRemoval, ID: c.ID, Name: c.Name, Email: c.Email, EmailVerified: c.EmailVerified, CreatedAt: c.CreatedAt, LastLoginAt: c.LastLoginAt,
		HasPassword: c.PasswordHash != "", TOTP: c.TOTP != nil, SecondFactor: h.flows.HasSecondFactor(c), RecoveryLeft: len(c.RecoveryCodes),
		Welcome: r.URL.Query().Get("welcome") == "passkey" && len(c.Passkeys) == 0}
	v.KeysOn = h.keysOn
	v.PhoneOn, v.PhoneVerified = h.flows.Phone != nil, c.PhoneVerified
	v.SMSOffered, v.SMSFactor = h.flows.SMSFactorOffered(c), c.HasSMSFactor()
	v.PhoneLogin = h.flows.PhoneLoginOffered() && c.Phone != "" && c.PhoneVerified
	v.SMSNudge = v.SMSOffered && v.SMSFactor && !c.HasSecondFactor()
	if c.Phone != "" {
		v.Phone = sms.Display(c.Phone)
	}
	v.Apps = h.appViews(c)
	v.Agents = h.agentViews(r, c)
	for _, k := range c.APIKeys {
		limits := strings.TrimSpace(strings.Join(k.Methods, " ") + " " + strings.Join(k.Paths, " ") + " " + strings.Join(k.Scopes, " "))
		v.APIKeys = append(v.APIKeys, apiKeyView{ID: k.ID, Name: k.Name, Hint: k.Hint, Network: k.LastUsedNetwork, Limits: limits,
			CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt})
	}
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
		device := h.deviceName(r, o.UserAgent)
		if o.Actor != "" {
			device = h.say(r, "account.session_agent")
		}
		v.Sessions = append(v.Sessions, sessionView{ID: session.SID(o), Current: o.Key == s.Key, Device: device, IP: o.IP,
			Network: networkOf(o.IP), CreatedAt: o.CreatedAt, LastSeen: o.LastSeen})
	}
	slices.SortFunc(v.Sessions, func(a, b sessionView) int { return b.LastSeen.Compare(a.LastSeen) })
	for _, f := range h.app.Profile {
		v.Profile = append(v.Profile, profileFieldView{Name: f.Name, Label: h.app.fields[f.Name].Label, Value: authflow.ProfileValue(c, f.Name)})
	}
	events, err := h.app.backend.identity.Events(ctx, c.ID, accountActivity)
	if err != nil {
		h.logger.Warn("loading security activity", zap.Error(err))
	}
	for _, e := range events {
		v.Activity = append(v.Activity, activityView{At: e.At, What: h.eventWords(r, e), Network: networkOf(e.IP), Device: h.deviceName(r, e.UserAgent)})
	}
	slices.SortFunc(v.Activity, func(a, b activityView) int { return b.At.Compare(a.At) })
	if v.Consent, err = h.consentSection(r, s.UserID); err != nil {
		h.logger.Error("loading consent", zap.Error(err))
		return h.unavailable(w, r)
	}
	return h.render(w, r, http.StatusOK, "account", &pageData{Title: h.say(r, "account.title"), CSRF: h.csrfFor(w, r), Account: v, Script: true})
}

// signOutEverywhere revokes every session of the customer, this one too.
func (h *Handler) signOutEverywhere(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	if _, err := h.flows.SignOutEverywhere(r.Context(), s.UserID, h.client(r)); err != nil {
		h.logger.Error("revoking all sessions", zap.Error(err))
		return h.unavailable(w, r)
	}
	clearSessionCookie(w)
	return h.message(w, r, http.StatusOK, "logout.everywhere.title", "logout.everywhere", h.Prefix+"/login", "link.sign_in_again")
}

// deviceName is a short, human description of a browser from its user
// agent.
func (h *Handler) deviceName(r *http.Request, ua string) string {
	browser := h.say(r, "account.device_unknown")
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
			return h.say(r, "account.device", "browser", browser, "system", o.name)
		}
	}
	return browser
}

// accountActivity is how many security events the account page shows.
const accountActivity = 30

// networkOf is an address's network (its /24 or /56): where a session or
// an event came from, roughly, without the whole address.
func networkOf(ip string) string {
	if ip == "" {
		return ""
	}
	return botdefense.Prefix(ip)
}

// eventWords says what a security event was.
func (h *Handler) eventWords(r *http.Request, e identity.Event) string {
	switch e.Kind {
	case identity.EventSignedIn:
		return h.say(r, "event.signed_in")
	case identity.EventSignInFailed:
		return h.say(r, "event.signin_failed")
	case identity.EventPasswordReset:
		return h.say(r, "event.password_reset")
	case identity.EventSignedOutEverywhere:
		return h.say(r, "event.signed_out_everywhere")
	case identity.EventTOTPAdded:
		return h.say(r, "event.totp_added")
	case identity.EventTOTPRemoved:
		return h.say(r, "event.totp_removed")
	case identity.EventRecoveryCodesNew:
		return h.say(r, "event.recovery_codes_generated")
	case identity.EventRecoveryCodeUsed:
		return h.say(r, "event.recovery_code_used")
	case identity.EventPasskeyAdded:
		return h.say(r, "event.passkey_added")
	case identity.EventPasskeyRemoved:
		return h.say(r, "event.passkey_removed")
	case identity.EventPasskeyFlagged:
		return h.say(r, "event.passkey_counter_rollback")
	case identity.EventSecondFactorFailed:
		return h.say(r, "event.second_factor_failed")
	case identity.EventDevicesForgotten:
		return h.say(r, "event.trusted_devices_forgotten")
	case identity.EventIdentityLinked:
		return h.say(r, "event.identity_linked", "provider", h.providerLabel(e.Detail))
	case identity.EventIdentityUnlinked:
		return h.say(r, "event.identity_unlinked", "provider", h.providerLabel(e.Detail))
	case identity.EventEmailChanged:
		return h.say(r, "event.email_changed")
	case identity.EventPhoneAdded:
		return h.say(r, "event.phone_added")
	case identity.EventPhoneChanged:
		return h.say(r, "event.phone_changed")
	case identity.EventPhoneRemoved:
		return h.say(r, "event.phone_removed")
	case identity.EventSMSFactorAdded:
		return h.say(r, "event.sms_factor_added")
	case identity.EventSMSFactorRemoved:
		return h.say(r, "event.sms_factor_removed")
	case identity.EventSessionRevoked:
		return h.say(r, "event.session_revoked")
	case identity.EventProfileUpdated:
		return h.say(r, "event.profile_updated")
	case identity.EventAppRevoked:
		return h.say(r, "event.app_revoked", "app", e.Detail)
	case identity.EventImported:
		return h.say(r, "event.imported")
	case identity.EventMigrated:
		return h.say(r, "event.migrated")
	}
	if w := h.assistEventWords(r, e); w != "" {
		return w
	}
	if w := h.riskEventWords(r, e); w != "" {
		return w
	}
	if w := h.agentEventWords(r, e); w != "" {
		return w
	}
	return h.say(r, "event.other")
}

// sessionRevoke ends one of the customer's sessions, chosen on the
// account page (field id: its handle), with its family; ending this one
// signs out here.
func (h *Handler) sessionRevoke(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	all, err := h.app.backend.sessions.List(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("listing sessions", zap.Error(err))
		return h.unavailable(w, r)
	}
	// The handle names a family (session.SID): a single sign-on's
	// sessions on every site end together.
	id := r.PostForm.Get("id")
	found, here := false, false
	for _, o := range all {
		if id == "" || session.SID(o) != id {
			continue
		}
		if _, err := h.flows.RevokeSession(r.Context(), s.UserID, o.Key, h.client(r)); err != nil {
			h.logger.Error("revoking a session", zap.Error(err))
			return h.unavailable(w, r)
		}
		found, here = true, here || o.Key == s.Key
	}
	if here {
		clearSessionCookie(w)
		return h.message(w, r, http.StatusOK, "account.session_revoked.title", "account.session_revoked_here", h.Prefix+"/login", "link.sign_in")
	}
	if found {
		return h.message(w, r, http.StatusOK, "account.session_revoked.title", "account.session_revoked", h.Prefix+"/account", "link.account")
	}
	return h.message(w, r, http.StatusNotFound, "account.session_revoked.title", "account.session_gone", h.Prefix+"/account", "link.account")
}
