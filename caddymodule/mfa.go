package caddymodule

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// The second step of a sign-in, and step-up: once a customer has proven a
// first factor (password, email link) and has a second factor, no session
// is started; a wait for the second factor is stored instead, under the
// hash of a nonce the browser holds in mfaCookie. A step-up uses the same
// wait, bound to the session asking for it.

const (
	// mfaCookie binds a wait for a second factor to the browser.
	mfaCookie = "__Host-frontdoor-mfa"
	// deviceCookie remembers a browser after a second factor:
	// "<customer id>.<secret>", the customer record holding the secret's
	// hash (identity.TrustedDevice).
	deviceCookie = "__Host-frontdoor-device"
)

// signedIn finishes a first factor (authflow.FirstFactorDone): the second
// factor is asked for, or a session starts.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, c *identity.Customer, amr []string, rd string) error {
	return h.firstFactorDone(w, r, authflow.FirstFactorInput{Customer: c, AMR: amr, Redirect: rd})
}

// firstFactorDone is signedIn for a first factor described in full (a
// password sign-in says whether the password is a breached one): the
// browser's remembered-device cookie, its address and user agent and its
// device id (the risk judgement) are added here.
func (h *Handler) firstFactorDone(w http.ResponseWriter, r *http.Request, in authflow.FirstFactorInput) error {
	in.Device, in.Client, in.DeviceID = rememberedDevice(r), h.client(r), h.deviceID(w, r)
	out, err := h.flows.FirstFactorDone(r.Context(), in)
	if err != nil {
		h.logger.Error("storing second-factor wait", zap.Error(err))
		return h.unavailable(w, r)
	}
	return h.secondFactorOutcome(w, r, out)
}

// rememberedDevice is the browser's remembered-device cookie ("" none),
// which spares a remembered customer their second factor.
func rememberedDevice(r *http.Request) string {
	if ck, err := r.Cookie(deviceCookie); err == nil {
		return ck.Value
	}
	return ""
}

// askSecondFactor stores a wait for a second factor of c
// (authflow.AskSecondFactor) and shows the page asking for it.
func (h *Handler) askSecondFactor(w http.ResponseWriter, r *http.Request, c *identity.Customer, wait authflow.Wait) error {
	out, err := h.flows.AskSecondFactor(r.Context(), c, wait)
	if err != nil {
		h.logger.Error("storing second-factor wait", zap.Error(err))
		return h.unavailable(w, r)
	}
	return h.secondFactorOutcome(w, r, out)
}

// secondFactorOutcome answers what a second-factor step came to.
func (h *Handler) secondFactorOutcome(w http.ResponseWriter, r *http.Request, out authflow.Outcome) error {
	switch o := out.(type) {
	case authflow.SecondFactorDue:
		if o.Nonce != "" {
			setCookie(w, mfaCookie, o.Nonce, int(identity.SecondFactorTTL.Seconds()))
		}
		return h.mfaForm(w, r, http.StatusOK, o.Offer, nil)
	case authflow.SessionDue:
		h.askConsentFirst(w, &o)
		kept, err := h.startSession(w, r, o)
		if err != nil {
			h.logger.Error("starting session", zap.Error(err))
			return h.unavailable(w, r)
		}
		if o.DeviceCookie != "" {
			setCookie(w, deviceCookie, o.DeviceCookie, int(identity.TrustedDeviceTTL.Seconds()))
		}
		if kept {
			// Say so: the customer asked for the deletion and may not
			// expect a sign-in to undo it.
			return h.message(w, r, http.StatusOK, "erase.cancelled.title", "erase.cancelled", h.Prefix+"/account", "link.go_to_account")
		}
		return h.afterStepUp(w, r, o.Purpose, o.Redirect)
	case authflow.WaitGone:
		return h.mfaExpired(w, r)
	case authflow.TooManyAnswers:
		return h.tooMany(w, r, http.StatusTooManyRequests, o.RetryAfter, "too_many_attempts", "limit.too_many.title", "limit.too_many.answers")
	case authflow.WrongAnswer:
		return h.mfaForm(w, r, http.StatusUnauthorized, o.Offer, o.Reason)
	case authflow.LockedOut:
		clearCookie(w, mfaCookie)
		if o.SessionEnded {
			clearSessionCookie(w)
		}
		return h.message(w, r, http.StatusUnauthorized, "mfa.title", "mfa.locked_out", h.Prefix+"/login", "link.sign_in")
	case authflow.PasswordReset:
		return h.passwordReset(w, r)
	case authflow.RiskRefused:
		h.logger.Info("risk: sign-in refused", zap.String("level", string(o.Decision.Level)), zap.Strings("signals", o.Decision.Signals()))
		return h.message(w, r, http.StatusForbidden, "risk.refused.title", "risk.refused", "", "")
	case authflow.RiskResetDue:
		return h.message(w, r, http.StatusForbidden, "risk.reset.title", "risk.reset", "", "")
	case authflow.LinkExpired: // a reset whose account was deleted since
		return h.resetLinkExpired(w, r)
	}
	return h.unexpected(w, r, out)
}

func (h *Handler) mfaForm(w http.ResponseWriter, r *http.Request, status int, v authflow.Offer, refused error) error {
	d := &pageData{Title: h.say(r, "mfa.title"), CSRF: h.csrfFor(w, r), Factors: &v, Script: v.Passkey}
	if refused != nil {
		d.Error = h.say(r, "form.did_not_work")
		d.Errors = map[string]string{"code": h.factorRefusal(r, refused)}
	}
	return h.render(w, r, status, "mfa", d)
}

// currentSessionOf reads the browser's session for a journey that may
// need it (a step-up's wait).
func (h *Handler) currentSessionOf(r *http.Request) authflow.CurrentSession {
	return func() (*session.Session, error) { return h.currentSession(r) }
}

// mfaPage shows the second-factor form again (a reload).
func (h *Handler) mfaPage(w http.ResponseWriter, r *http.Request) error {
	nonce, _ := cookieNonce(r, mfaCookie)
	out, err := h.flows.SecondFactorWait(r.Context(), nonce, h.currentSessionOf(r))
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w, r)
	}
	return h.secondFactorOutcome(w, r, out)
}

// mfa checks a second factor (authflow.AnswerSecondFactor): an
// authenticator code (`code`), a recovery code (`recovery_code`), a
// texted code (`sms_code`) or a passkey assertion (`credential`).
func (h *Handler) mfa(w http.ResponseWriter, r *http.Request) error {
	nonce, _ := cookieNonce(r, mfaCookie)
	in := authflow.SecondFactorInput{
		Nonce: nonce, Current: h.currentSessionOf(r),
		TOTP: r.PostForm.Get("code"), RecoveryCode: r.PostForm.Get("recovery_code"), EmailCode: r.PostForm.Get("email_code"),
		SMSCode:  r.PostForm.Get("sms_code"),
		Remember: r.PostForm.Get("remember") != "", DeviceName: h.deviceName(r, r.UserAgent()),
		Passkey: r.PostForm.Get("credential"), Client: h.client(r),
	}
	out, err := h.flows.AnswerSecondFactor(r.Context(), in)
	if err != nil {
		h.logger.Error("checking a second factor", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch out.(type) {
	case authflow.SessionDue, authflow.PasswordReset, authflow.LinkExpired:
		clearCookie(w, mfaCookie)
	case authflow.TooManyAnswers:
		h.app.backend.decisions.note(botdefense.RouteStepUp, botdefense.Limited)
	}
	return h.secondFactorOutcome(w, r, out)
}

// mfaSMS texts a code for the browser's wait (authflow.SendSMSCode):
// only when the customer presses the button, never when the wait starts,
// and within the text limits.
func (h *Handler) mfaSMS(w http.ResponseWriter, r *http.Request) error {
	nonce, _ := cookieNonce(r, mfaCookie)
	out, err := h.flows.SendSMSCode(r.Context(), nonce, h.currentSessionOf(r))
	if err != nil {
		h.logger.Error("texting a second-factor code", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.TextLimited:
		h.app.backend.decisions.note(botdefense.RouteStepUp, botdefense.Limited)
		return h.textRefused(w, r, o.RetryAfter)
	case authflow.Busy:
		return h.unavailable(w, r)
	}
	return h.secondFactorOutcome(w, r, out)
}

// afterStepUp sends the customer on: back to the page (a GET), or to a
// page asking them to send their form again.
func (h *Handler) afterStepUp(w http.ResponseWriter, r *http.Request, purpose authflow.WaitPurpose, rd string) error {
	rd = safeRedirect(rd, h.allowHosts)
	if purpose == authflow.PurposeResubmit {
		return h.message(w, r, http.StatusOK, "mfa.verified.title", "mfa.verified_resend", rd, "link.go_back")
	}
	http.Redirect(w, r, rd, http.StatusSeeOther)
	return nil
}

// factorRefusal words why a second factor was refused.
func (h *Handler) factorRefusal(r *http.Request, err error) string {
	switch {
	case errors.Is(err, identity.ErrCodeReused):
		return h.say(r, "mfa.code_reused")
	case errors.Is(err, identity.ErrCounter):
		return h.say(r, "mfa.passkey_flagged")
	case errors.Is(err, authflow.ErrPasskeyRefused), errors.Is(err, identity.ErrNoFactor):
		return h.say(r, "mfa.passkey_refused")
	case errors.Is(err, authflow.ErrSMSCodeExpired):
		return h.say(r, "mfa.sms_expired")
	}
	return h.say(r, "mfa.code_wrong")
}

func (h *Handler) mfaExpired(w http.ResponseWriter, r *http.Request) error {
	return h.message(w, r, http.StatusBadRequest, "mfa.title", "mfa.expired", h.Prefix+"/login", "link.sign_in")
}

// client is who is asking, for the security events of an account.
func (h *Handler) client(r *http.Request) authflow.Client {
	return authflow.Client{IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 256)}
}

// setCookie sets one of Frontdoor's own cookies (binding nonces, the
// remembered device, the challenge pass): __Host- named, Secure,
// HttpOnly, SameSite=Lax, for maxAge seconds (-1 deletes it).
func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

func clearCookie(w http.ResponseWriter, name string) { setCookie(w, name, "", -1) }
