package caddymodule

import (
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

const (
	magicTitle        = "Sign in with email"
	magicConfirmTitle = "Finish signing in"
	// magicCookie holds the nonce binding a sign-in link and code to the
	// browser that asked for them. The token records keep only its hash.
	magicCookie = "__Host-frontdoor-magic"
)

func (h *Handler) magicPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, http.StatusOK, "magic", h.formPage(w, r, magicTitle))
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
		return h.unavailable(w)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.render(w, http.StatusBadRequest, "magic", &pageData{
			Title: magicTitle, CSRF: h.csrfFor(w, r), RD: rd, Email: truncate(rawEmail, 254),
			Error: "Please correct the fields marked below.", Errors: fieldErrors(o.Fields),
		})
	case authflow.EmailLinkSent:
		setCookie(w, magicCookie, o.Nonce, int(identity.MagicLinkTTL.Seconds()))
		return h.render(w, http.StatusOK, "magic", &pageData{
			Title: "Check your email", CSRF: h.csrfFor(w, r), RD: rd, CodeStep: true,
			Message: "If an account uses " + o.Email + ", we sent a sign-in link and a 6-digit code to that address. " +
				"Open the link in this browser, or type the code below. The link works once, for 15 minutes; the code for 10 minutes. " +
				"Nothing arrived? Check your spam folder, or ask for a new link in a few minutes.",
		})
	}
	return h.unexpected(w, out)
}

// magicCode signs in the browser that asked for a code, if it types the
// right one (authflow.SignInWithCode).
func (h *Handler) magicCode(w http.ResponseWriter, r *http.Request) error {
	nonce, _ := cookieNonce(r, magicCookie)
	out, err := h.flows.SignInWithCode(r.Context(), authflow.EmailCodeInput{Code: r.PostForm.Get("code"), Nonce: nonce})
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.magicCodeForm(w, r, http.StatusBadRequest, "Enter the 6-digit code from the email.")
	case authflow.CodeDead:
		return h.magicCodeDead(w)
	case authflow.CodeLockedOut:
		clearCookie(w, magicCookie)
		return h.message(w, http.StatusBadRequest, magicTitle,
			"Too many wrong codes: this code no longer works. Ask for a new sign-in link.", h.Prefix+"/magic", "Ask for a new link")
	case authflow.WrongCode:
		msg := fmt.Sprintf("That code is not right. %d tries left.", o.Left)
		if o.Left == 1 {
			msg = "That code is not right. 1 try left."
		}
		return h.magicCodeForm(w, r, http.StatusBadRequest, msg)
	case authflow.LinkExpired:
		clearCookie(w, magicCookie)
		return h.magicLinkExpired(w)
	case authflow.FirstFactorPassed:
		clearCookie(w, magicCookie)
		return h.signedIn(w, r, o.Customer, o.AMR, o.Redirect)
	}
	return h.unexpected(w, out)
}

// magicVerifyPage is where the mailed link lands. Like the reset link's,
// it only checks the format and asks for a click: mail scanners follow GET
// links, and must neither use the link up nor sign anyone in.
func (h *Handler) magicVerifyPage(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.magicLinkMalformed(w)
	}
	return h.render(w, http.StatusOK, "magic_confirm", &pageData{Title: magicConfirmTitle, CSRF: h.csrfFor(w, r), Token: secret})
}

// magicVerify uses the link up and signs in the browser that asked for it
// (authflow.SignInWithLink). Any other browser is told to type the code
// where the request started.
func (h *Handler) magicVerify(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.magicLinkMalformed(w)
	}
	nonce, _ := cookieNonce(r, magicCookie)
	out, err := h.flows.SignInWithLink(r.Context(), authflow.EmailLinkConfirmInput{Secret: secret, Nonce: nonce})
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	switch o := out.(type) {
	case authflow.LinkExpired:
		return h.magicLinkExpired(w)
	case authflow.OtherBrowser:
		return h.message(w, http.StatusForbidden, "Finish on the device where you asked",
			"This browser was not signed in: the link was opened in a different browser from the one that asked for it. "+
				"Enter the 6-digit code from the same email on the device where you asked for the link.", "", "")
	case authflow.FirstFactorPassed:
		clearCookie(w, magicCookie)
		return h.signedIn(w, r, o.Customer, o.AMR, o.Redirect)
	}
	return h.unexpected(w, out)
}

func (h *Handler) magicCodeForm(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	return h.render(w, status, "magic", &pageData{
		Title: "Check your email", CSRF: h.csrfFor(w, r), CodeStep: true,
		Error: "Please correct the fields marked below.", Errors: map[string]string{"code": msg},
	})
}

func (h *Handler) magicCodeDead(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, magicTitle,
		"This code has expired, was already used, or was asked for in another browser. Ask for a new sign-in link.",
		h.Prefix+"/magic", "Ask for a new link")
}

func (h *Handler) magicLinkMalformed(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, magicConfirmTitle,
		"This link is incomplete or malformed. Copy the whole link from the email, or ask for a new one.",
		h.Prefix+"/magic", "Ask for a new link")
}

func (h *Handler) magicLinkExpired(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, magicConfirmTitle,
		"This link has expired or was already used. Ask for a new one.",
		h.Prefix+"/magic", "Ask for a new link")
}
