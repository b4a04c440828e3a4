package caddymodule

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

// The HTTP side of changing the account's email address
// (authflow.RequestEmailChange, ConfirmEmailChange):
//
//	GET  <prefix>/account/email             the form (signed in)
//	POST <prefix>/account/email             field email → a link to the new address (recent sign-in required)
//	GET  <prefix>/account/email/confirm     ?token=… shows a button (changes nothing)
//	POST <prefix>/account/email/confirm     field token → the account moves; signed out everywhere

func (h *Handler) emailChangePage(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	return h.render(w, r, http.StatusOK, "email_change", &pageData{Title: h.say(r, "email.change.title"), CSRF: h.csrfFor(w, r), Email: s.Email})
}

func (h *Handler) emailChange(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	out, err := h.flows.RequestEmailChange(r.Context(), authflow.ChangeEmailInput{Customer: c, Email: r.PostForm.Get("email")})
	if err != nil {
		h.logger.Error("email change", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		d := &pageData{Title: h.say(r, "email.change.title"), CSRF: h.csrfFor(w, r), Email: c.Email,
			Error: h.say(r, "form.did_not_work"), Errors: h.fieldErrors(r, o.Fields)}
		return h.render(w, r, http.StatusBadRequest, "email_change", d)
	case authflow.EmailUnchanged:
		return h.message(w, r, http.StatusOK, "email.change.title", "email.change.same", h.Prefix+"/account", "link.account")
	case authflow.Busy:
		return h.unavailable(w, r)
	case authflow.EmailChangeSent:
		return h.message(w, r, http.StatusOK, "email.change.sent.title", "email.change.sent", h.Prefix+"/account", "link.account", "email", o.Email)
	}
	return h.unexpected(w, r, out)
}

func (h *Handler) emailChangeConfirmPage(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.message(w, r, http.StatusBadRequest, "email.change.title", "email.change.malformed", h.Prefix+"/account", "link.account")
	}
	return h.render(w, r, http.StatusOK, "email_change_confirm", &pageData{Title: h.say(r, "email.change.confirm.title"), CSRF: h.csrfFor(w, r), Token: secret})
}

func (h *Handler) emailChangeConfirm(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.message(w, r, http.StatusBadRequest, "email.change.title", "email.change.malformed", h.Prefix+"/account", "link.account")
	}
	out, err := h.flows.ConfirmEmailChange(r.Context(), secret, h.client(r))
	if err != nil {
		h.logger.Error("confirming email change", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.EmailChanged:
		clearSessionCookie(w)
		return h.message(w, r, http.StatusOK, "email.changed.title", "email.changed", h.Prefix+"/login?email="+o.Customer.Email, "link.sign_in_again", "email", o.Customer.Email)
	case authflow.EmailTakenMeanwhile:
		return h.message(w, r, http.StatusConflict, "email.change.title", "email.change.taken", h.Prefix+"/account", "link.account")
	case authflow.LinkExpired:
		return h.message(w, r, http.StatusBadRequest, "email.change.title", "email.change.expired", h.Prefix+"/account", "link.account")
	}
	return h.unexpected(w, r, out)
}
