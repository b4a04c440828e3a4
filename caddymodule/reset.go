package caddymodule

import (
	"context"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

func (h *Handler) resetPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, r, http.StatusOK, "reset", h.formPage(w, r, "reset.title"))
}

// reset asks for a reset link (authflow.RequestReset): the same page for
// every well-formed address.
func (h *Handler) reset(w http.ResponseWriter, r *http.Request) error {
	rd := safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	out, err := h.flows.RequestReset(r.Context(), r.PostForm.Get("email"))
	if err != nil {
		h.logger.Error("storing reset token", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.render(w, r, http.StatusBadRequest, "reset", &pageData{
			Title: h.say(r, "reset.title"), CSRF: h.csrfFor(w, r), RD: rd, Email: truncate(r.PostForm.Get("email"), 254),
			Error: h.say(r, "form.correct_fields"), Errors: h.fieldErrors(r, o.Fields),
		})
	case authflow.ResetRequested:
		login := h.Prefix + "/login"
		if rd != "/" {
			login += "?rd=" + url.QueryEscape(rd)
		}
		return h.message(w, r, http.StatusOK, "page.mail_sent.title", "reset.sent", login, "link.back_to_sign_in", "email", o.Email)
	}
	return h.unexpected(w, r, out)
}

// resetConfirmPage is where the mailed link lands. It only checks that the
// token is well formed: mail scanners and link previews follow GET links,
// so opening the link must not use it up. The POST does.
func (h *Handler) resetConfirmPage(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.resetLinkMalformed(w, r)
	}
	return h.render(w, r, http.StatusOK, "reset_confirm", &pageData{Title: h.say(r, "reset.confirm.title"), CSRF: h.csrfFor(w, r), Token: secret})
}

// resetConfirm sets the new password (authflow.ConfirmReset) — after the
// second factor, for an account that has one.
func (h *Handler) resetConfirm(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.resetLinkMalformed(w, r)
	}
	out, err := h.flows.ConfirmReset(r.Context(), authflow.ResetInput{
		Secret: secret, Password: r.PostForm.Get("password"), Repeat: r.PostForm.Get("password_confirm"),
	})
	if err != nil {
		if isHashingError(err) {
			return h.hashFailed(w, r, err)
		}
		h.logger.Error("resetting a password", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.render(w, r, http.StatusBadRequest, "reset_confirm", &pageData{
			Title: h.say(r, "reset.confirm.title"), CSRF: h.csrfFor(w, r), Token: secret,
			Error: h.say(r, "form.correct_fields"), Errors: h.fieldErrors(r, o.Fields),
		})
	case authflow.LinkExpired:
		return h.resetLinkExpired(w, r)
	case authflow.ResetNeedsSecondFactor:
		// The new password waits, server-side and bound to this browser,
		// until the factor is passed (see mfa).
		return h.askSecondFactor(w, r, o.Customer, authflow.Wait{PasswordHash: o.PasswordHash, Purpose: authflow.PurposeReset})
	case authflow.ResetReady:
		out, err := h.flows.ApplyReset(r.Context(), o.Customer.ID, o.PasswordHash, h.client(r))
		if err != nil {
			h.logger.Error("setting new password", zap.Error(err))
			return h.unavailable(w, r)
		}
		return h.secondFactorOutcome(w, r, out)
	}
	return h.unexpected(w, r, out)
}

// passwordReset answers a reset whose new password is set
// (authflow.ApplyReset): the customer's sessions have ended; this
// browser's, if another customer's, ends too.
func (h *Handler) passwordReset(w http.ResponseWriter, r *http.Request) error {
	h.endBrowserSession(r.Context(), r)
	clearSessionCookie(w)
	return h.message(w, r, http.StatusOK, "reset.done.title", "reset.done", h.Prefix+"/login", "link.sign_in")
}

// endBrowserSession revokes the session this browser holds, when it is
// another customer's (the reset's customer's are gone already). Best
// effort: the cookie is cleared either way.
func (h *Handler) endBrowserSession(ctx context.Context, r *http.Request) {
	ck, err := r.Cookie(session.CookieName)
	if err != nil {
		return
	}
	token, err := h.app.codec.Decode(h.origin, ck.Value)
	if err != nil {
		return
	}
	if err := h.app.backend.sessions.Revoke(ctx, session.KeyOf(token)); err != nil {
		h.logger.Warn("revoking this browser's session after a password reset", zap.Error(err))
	}
}

func (h *Handler) resetLinkMalformed(w http.ResponseWriter, r *http.Request) error {
	return h.message(w, r, http.StatusBadRequest, "reset.confirm.title", "reset.malformed", h.Prefix+"/reset", "link.reset_new")
}

func (h *Handler) resetLinkExpired(w http.ResponseWriter, r *http.Request) error {
	return h.message(w, r, http.StatusBadRequest, "reset.confirm.title", "reset.expired", h.Prefix+"/reset", "link.reset_new")
}
