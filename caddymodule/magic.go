package caddymodule

import (
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

const (
	// magicCookie holds the nonce binding a sign-in link and code to the
	// browser that asked for them. The token records keep only its hash.
	magicCookie = "__Host-frontdoor-magic"
)

func (h *Handler) magicPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, r, http.StatusOK, "magic", h.formPage(w, r, "magic.title"))
}

// magic mails a sign-in link and a code (authflow.SendEmailLink) and asks
// for the code. A post with a `code` field is the second step instead.
// Every well-formed address gets the same page after the same work, so
// the page says nothing about who has an account.
func (h *Handler) magic(w http.ResponseWriter, r *http.Request) error {
	if r.PostForm.Has("code") {
		return h.magicCode(w, r)
	}
	rd := safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	rawEmail := r.PostForm.Get("email")
	out, err := h.flows.SendEmailLink(r.Context(), authflow.EmailLinkInput{Email: rawEmail, Redirect: rd})
	if err != nil {
		h.logger.Error("storing sign-in link", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.render(w, r, http.StatusBadRequest, "magic", &pageData{
			Title: h.say(r, "magic.title"), CSRF: h.csrfFor(w, r), RD: rd, Email: truncate(rawEmail, 254),
			Error: h.say(r, "form.correct_fields"), Errors: h.fieldErrors(r, o.Fields),
		})
	case authflow.EmailLinkSent:
		setCookie(w, magicCookie, o.Nonce, int(identity.MagicLinkTTL.Seconds()))
		return h.render(w, r, http.StatusOK, "magic", &pageData{
			Title: h.say(r, "page.mail_sent.title"), CSRF: h.csrfFor(w, r), RD: rd, CodeStep: true,
			Message: h.say(r, "magic.sent", "email", o.Email),
		})
	}
	return h.unexpected(w, r, out)
}

// magicCode signs in the browser that asked for a code, if it types the
// right one (authflow.SignInWithCode).
func (h *Handler) magicCode(w http.ResponseWriter, r *http.Request) error {
	nonce, _ := cookieNonce(r, magicCookie)
	out, err := h.flows.SignInWithCode(r.Context(), authflow.EmailCodeInput{Code: r.PostForm.Get("code"), Nonce: nonce})
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.magicCodeForm(w, r, http.StatusBadRequest, h.say(r, "magic.code_missing"))
	case authflow.CodeDead:
		return h.magicCodeDead(w, r)
	case authflow.CodeLockedOut:
		clearCookie(w, magicCookie)
		return h.message(w, r, http.StatusBadRequest, "magic.title", "magic.code_locked_out", h.Prefix+"/magic", "link.magic_new")
	case authflow.WrongCode:
		msg := h.say(r, "magic.code_wrong", "left", strconv.Itoa(o.Left))
		if o.Left == 1 {
			msg = h.say(r, "magic.code_wrong_last")
		}
		return h.magicCodeForm(w, r, http.StatusBadRequest, msg)
	case authflow.LinkExpired:
		clearCookie(w, magicCookie)
		return h.magicLinkExpired(w, r)
	case authflow.FirstFactorPassed:
		clearCookie(w, magicCookie)
		return h.signedIn(w, r, o.Customer, o.AMR, o.Redirect)
	}
	return h.unexpected(w, r, out)
}

// magicVerifyPage is where the mailed link lands. Like the reset link's,
// it only checks the format and asks for a click: mail scanners follow GET
// links, and must neither use the link up nor sign anyone in.
func (h *Handler) magicVerifyPage(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.magicLinkMalformed(w, r)
	}
	return h.render(w, r, http.StatusOK, "magic_confirm", &pageData{Title: h.say(r, "magic.confirm.title"), CSRF: h.csrfFor(w, r), Token: secret})
}

// magicVerify uses the link up and signs in the browser that asked for it
// (authflow.SignInWithLink). Any other browser is told to type the code
// where the request started.
func (h *Handler) magicVerify(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.magicLinkMalformed(w, r)
	}
	nonce, _ := cookieNonce(r, magicCookie)
	out, err := h.flows.SignInWithLink(r.Context(), authflow.EmailLinkConfirmInput{Secret: secret, Nonce: nonce})
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.LinkExpired:
		return h.magicLinkExpired(w, r)
	case authflow.OtherBrowser:
		return h.message(w, r, http.StatusForbidden, "magic.other_browser.title", "magic.other_browser", "", "")
	case authflow.FirstFactorPassed:
		clearCookie(w, magicCookie)
		return h.signedIn(w, r, o.Customer, o.AMR, o.Redirect)
	}
	return h.unexpected(w, r, out)
}

func (h *Handler) magicCodeForm(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	return h.render(w, r, status, "magic", &pageData{
		Title: h.say(r, "page.mail_sent.title"), CSRF: h.csrfFor(w, r), CodeStep: true,
		Error: h.say(r, "form.correct_fields"), Errors: map[string]string{"code": msg},
	})
}

func (h *Handler) magicCodeDead(w http.ResponseWriter, r *http.Request) error {
	return h.message(w, r, http.StatusBadRequest, "magic.title", "magic.code_dead", h.Prefix+"/magic", "link.magic_new")
}

func (h *Handler) magicLinkMalformed(w http.ResponseWriter, r *http.Request) error {
	return h.message(w, r, http.StatusBadRequest, "magic.confirm.title", "magic.malformed", h.Prefix+"/magic", "link.magic_new")
}

func (h *Handler) magicLinkExpired(w http.ResponseWriter, r *http.Request) error {
	return h.message(w, r, http.StatusBadRequest, "magic.confirm.title", "magic.expired", h.Prefix+"/magic", "link.magic_new")
}
