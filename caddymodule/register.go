package caddymodule

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

// The HTTP side of sign-up and verification (authflow.SignUp,
// authflow.ConfirmEmail): forms in, pages out.

// signupCookie binds a verification link to the browser that signed up:
// only there does confirming it make the sign-up's password the account's
// (or sign in to create the passkey).
const signupCookie = "__Host-frontdoor-signup"

func (h *Handler) registerPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, r, http.StatusOK, "register", h.formPage(w, r, "register.title"))
}

// register starts a sign-up. Every well-formed sign-up gets the same page
// after the same work, so the page says nothing about who has an account.
func (h *Handler) register(w http.ResponseWriter, r *http.Request) error {
	rd := safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	method := signUpMethod(r.PostForm.Get("method"))
	out, err := h.flows.SignUp(r.Context(), authflow.SignUpInput{
		Email: r.PostForm.Get("email"), Password: r.PostForm.Get("password"), Method: method, Redirect: rd,
		Consents: r.PostForm["consent"], Client: h.client(r),
	})
	if err != nil {
		return h.hashFailed(w, r, err)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.render(w, r, http.StatusBadRequest, "register", &pageData{Title: h.say(r, "register.title"), RD: rd,
			Email: truncate(r.PostForm.Get("email"), 254), CSRF: h.csrfFor(w, r), Accepted: r.PostForm["consent"],
			Error: h.say(r, "form.correct_fields"), Errors: h.fieldErrors(r, o.Fields)})
	case authflow.Busy:
		w.Header().Set("Retry-After", "5")
		return h.message(w, r, http.StatusServiceUnavailable, "page.busy.title", "page.busy.sign_up", "", "")
	case authflow.SignUpAccepted:
		setCookie(w, signupCookie, o.Nonce, int(identity.VerifyTokenTTL.Seconds()))
		d := &pageData{Title: h.say(r, "page.mail_sent.title"), Email: o.Email, RD: rd}
		if method == authflow.PurposeEmailSignUp {
			d.Message = h.say(r, "register.sent_email", "email", o.Email)
		}
		return h.render(w, r, http.StatusOK, "register_sent", d)
	}
	return h.unexpected(w, r, out)
}

// signUpMethod is the sign-up form's method button (the field method):
// passkey, email, or anything else for the password.
func signUpMethod(v string) authflow.SignUpPurpose {
	switch v {
	case "passkey":
		return authflow.PurposePasskeySignUp
	case "email":
		return authflow.PurposeEmailSignUp
	}
	return authflow.PurposePasswordSignUp
}

// verify is where the mailed link lands. It only checks the format and
// asks for a click: mail scanners and link previews follow GET (and HEAD)
// links, and must neither use the link up nor make any password
// effective.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.verifyMalformed(w, r)
	}
	page := "verify_confirm"
	if r.URL.Query().Get("passkey") != "" {
		page = "verify_passkey"
	}
	return h.render(w, r, http.StatusOK, page, &pageData{Title: h.say(r, "verify.title"), CSRF: h.csrfFor(w, r), Token: secret})
}

// verifyConfirm is the link's button (and, in a browser other than the
// sign-up's, the form choosing the password): see authflow.ConfirmEmail.
func (h *Handler) verifyConfirm(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.verifyMalformed(w, r)
	}
	nonce, _ := cookieNonce(r, signupCookie)
	out, err := h.flows.ConfirmEmail(r.Context(), authflow.ConfirmInput{
		Secret: secret, Nonce: nonce, Chosen: r.PostForm.Has("password"),
		Password: r.PostForm.Get("password"), Repeat: r.PostForm.Get("password_confirm"),
	})
	if err != nil {
		if isHashingError(err) {
			return h.hashFailed(w, r, err)
		}
		h.logger.Error("confirming an email address", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.render(w, r, http.StatusBadRequest, "verify_password", &pageData{Title: h.say(r, "verify.title"), CSRF: h.csrfFor(w, r),
			Token: secret, Error: h.say(r, "form.correct_fields"), Errors: h.fieldErrors(r, o.Fields)})
	case authflow.ChoosePassword:
		return h.render(w, r, http.StatusOK, "verify_password", &pageData{Title: h.say(r, "verify.title"), CSRF: h.csrfFor(w, r), Token: secret})
	case authflow.LinkExpired:
		return h.message(w, r, http.StatusBadRequest, "verify.title", "verify.expired", h.Prefix+"/login", "link.go_to_sign_in")
	case authflow.EmailConfirmed:
		if o.Bound {
			clearCookie(w, signupCookie)
		}
		msg := h.say(r, "verify.confirmed")
		if o.PasswordChosen {
			msg = h.say(r, "verify.confirmed_password")
		}
		return h.render(w, r, http.StatusOK, "verify", &pageData{Title: h.say(r, "verify.confirmed.title"), Message: msg})
	case authflow.PasswordlessConfirmedElsewhere:
		if o.Purpose == authflow.PurposeEmailSignUp {
			return h.message(w, r, http.StatusOK, "verify.confirmed.title", "verify.confirmed_email", h.Prefix+"/magic", "link.magic")
		}
		return h.message(w, r, http.StatusOK, "verify.confirmed.title", "verify.confirmed_passkey", h.Prefix+"/magic", "link.magic")
	case authflow.PasswordlessConfirmed:
		clearCookie(w, signupCookie)
		rd := h.Prefix + "/account?welcome=passkey"
		if o.Purpose == authflow.PurposeEmailSignUp {
			rd = safeRedirect(o.Redirect, h.allowHosts) // the allow-list may have changed since
		}
		return h.signedIn(w, r, o.Customer, []string{"email"}, rd)
	}
	return h.unexpected(w, r, out)
}

func (h *Handler) verifyMalformed(w http.ResponseWriter, r *http.Request) error {
	return h.message(w, r, http.StatusBadRequest, "verify.title", "verify.malformed", h.Prefix+"/login", "link.go_to_sign_in")
}
