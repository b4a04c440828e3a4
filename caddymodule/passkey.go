package caddymodule

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-webauthn/webauthn/webauthn"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/sms"
)

// The HTTP side of passkeys (authflow/passkey.go holds the ceremonies).

// ceremonyCookie binds a passkey sign-in ceremony to the browser.
const ceremonyCookie = "__Host-frontdoor-ceremony"

// newWebAuthn builds the relying party of the site.
func newWebAuthn(rpID, origin, name string) (*webauthn.WebAuthn, error) {
	return webauthn.New(&webauthn.Config{
		RPID: rpID, RPDisplayName: name, RPOrigins: []string{origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: identity.CeremonyTTL, TimeoutUVD: identity.CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: identity.CeremonyTTL, TimeoutUVD: identity.CeremonyTTL},
		},
	})
}

// passkeyOptions starts a ceremony (form field purpose: login, mfa or
// register; mediation "conditional" for autofill) and answers the options
// for navigator.credentials as JSON.
func (h *Handler) passkeyOptions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var (
		out authflow.Outcome
		err error
	)
	switch authflow.CeremonyPurpose(r.PostForm.Get("purpose")) {
	case authflow.CeremonySignIn:
		nonce, _ := cookieNonce(r, ceremonyCookie)
		out, err = h.flows.BeginPasskeySignIn(ctx, nonce, r.PostForm.Get("mediation") == "conditional")
	case authflow.CeremonySecondFactor:
		nonce, _ := cookieNonce(r, mfaCookie)
		out, err = h.flows.BeginPasskeySecondFactor(ctx, nonce, h.currentSessionOf(r))
	case authflow.CeremonyRegister:
		s, err := h.customerSession(r)
		if err != nil {
			return h.unavailable(w, r)
		}
		if s == nil {
			return writeJSON(w, http.StatusUnauthorized, map[string]string{"error": h.say(r, "passkey.sign_in_again"), "location": h.Prefix + "/login"})
		}
		c, err := h.app.backend.identity.Customer(ctx, s.UserID)
		if err != nil {
			h.logger.Error("loading customer", zap.Error(err))
			return h.unavailable(w, r)
		}
		if h.flows.Unmet(h.flows.AccountRequirement(c), s) {
			return writeJSON(w, http.StatusForbidden, map[string]string{"error": h.say(r, "passkey.confirm_first"),
				"location": h.Prefix + "/stepup?rd=" + url.QueryEscape(h.Prefix+"/account")})
		}
		if out, err = h.flows.BeginPasskeyRegistration(ctx, s, c); err != nil {
			return fmt.Errorf("frontdoor: beginning passkey registration: %w", err)
		}
	default:
		return writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown purpose"})
	}
	if err != nil {
		h.logger.Error("beginning passkey ceremony", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.PasskeyCeremony:
		if o.Nonce != "" {
			http.SetCookie(w, &http.Cookie{Name: ceremonyCookie, Value: o.Nonce, Path: "/", Secure: true, HttpOnly: true,
				SameSite: http.SameSiteStrictMode, MaxAge: int(identity.CeremonyTTL.Seconds())})
		}
		return writeJSON(w, http.StatusOK, o.Options)
	case authflow.NoPasskey:
		return writeJSON(w, http.StatusBadRequest, map[string]string{"error": h.say(r, "passkey.none")})
	case authflow.TooManyPasskeys:
		return writeJSON(w, http.StatusConflict, map[string]string{"error": h.say(r, "passkey.too_many")})
	}
	return h.secondFactorOutcome(w, r, out) // an HTML page, as before: the script reloads it
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// cookieNonce returns the nonce a binding cookie holds, if well formed.
func cookieNonce(r *http.Request, name string) (string, bool) {
	ck, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	nonce, err := identity.ParseTokenSecret(ck.Value)
	return nonce, err == nil
}

// passkeyLogin signs in with a discoverable passkey (no email typed),
// authflow.PasskeySignIn.
func (h *Handler) passkeyLogin(w http.ResponseWriter, r *http.Request) error {
	rd := safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	nonce, _ := cookieNonce(r, ceremonyCookie)
	out, err := h.flows.PasskeySignIn(r.Context(), authflow.PasskeySignInInput{
		Credential: r.PostForm.Get("credential"), Nonce: nonce, Redirect: rd, Client: h.client(r), DeviceID: h.deviceID(w, r),
	})
	if err != nil {
		h.logger.Error("checking a passkey", zap.Error(err))
		return h.unavailable(w, r)
	}
	d := &pageData{Title: h.say(r, "login.title"), RD: rd, CSRF: h.csrfFor(w, r), Script: true}
	switch o := out.(type) {
	case authflow.PasskeyRefused:
		d.Error = h.factorRefusal(r, o.Reason)
		return h.render(w, r, http.StatusUnauthorized, "login", d)
	case authflow.PasskeyEmailUnverified:
		d.Error = h.say(r, "login.passkey_unverified")
		return h.render(w, r, http.StatusUnauthorized, "login", d)
	case authflow.SessionDue:
		clearCookie(w, ceremonyCookie)
	}
	return h.secondFactorOutcome(w, r, out)
}

// passkeyRegister adds the passkey the browser created to the signed-in
// customer's account (authflow.RegisterPasskey).
func (h *Handler) passkeyRegister(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	out, err := h.flows.RegisterPasskey(r.Context(), authflow.RegisterPasskeyInput{
		Session: s, Credential: r.PostForm.Get("credential"), Client: h.client(r),
		Name: h.say(r, "passkey.name", "device", h.deviceName(r, r.UserAgent())),
	})
	if err != nil {
		h.logger.Error("adding a passkey", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch out.(type) {
	case authflow.PasskeyNotAdded:
		return h.passkeyNotAdded(w, r)
	case authflow.Done:
		http.Redirect(w, r, h.Prefix+"/account", http.StatusSeeOther)
		return nil
	}
	return h.unexpected(w, r, out)
}

func (h *Handler) passkeyNotAdded(w http.ResponseWriter, r *http.Request) error {
	return h.message(w, r, http.StatusBadRequest, "passkey.not_added.title", "passkey.not_added", h.Prefix+"/account", "link.account")
}

// passkeyRemove deletes a passkey. Removing the last way to sign in
// (besides an email link) asks for confirmation first.
func (h *Handler) passkeyRemove(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	id, err := base64.RawURLEncoding.DecodeString(r.PostForm.Get("id"))
	p, ok := c.Passkey(id)
	if err != nil || !ok {
		return h.message(w, r, http.StatusNotFound, "passkey.title", "passkey.not_found", h.Prefix+"/account", "link.account")
	}
	if c.SignInMethods() == 1 && !p.Flagged && r.PostForm.Get("confirm") == "" {
		warning := h.say(r, "passkey.remove_last", "email", c.Email)
		if c.Email == "" {
			warning = h.say(r, "passkey.remove_last_phone", "phone", sms.Display(c.Phone))
		}
		return h.render(w, r, http.StatusOK, "confirm", &pageData{Title: h.say(r, "passkey.remove_last.title"), CSRF: h.csrfFor(w, r),
			Error: warning,
			Confirm: &confirmView{Action: h.Prefix + "/account/passkey/remove", Button: h.say(r, "passkey.remove_last.button"),
				Fields: []hiddenField{{"id", r.PostForm.Get("id")}, {"confirm", "1"}}}})
	}
	if _, err := h.flows.RemovePasskey(r.Context(), c.ID, id, h.client(r)); err != nil {
		h.logger.Error("removing passkey", zap.Error(err))
		return h.unavailable(w, r)
	}
	return h.message(w, r, http.StatusOK, "passkey.removed.title", "passkey.removed", h.Prefix+"/account", "link.account")
}
