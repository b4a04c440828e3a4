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

const verifyTitle = "Confirm your email"

func (h *Handler) registerPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, http.StatusOK, "register", h.formPage(w, r, "Create your account"))
}

// register starts a sign-up. Every well-formed sign-up gets the same page
// after the same work, so the page says nothing about who has an account.
func (h *Handler) register(w http.ResponseWriter, r *http.Request) error {
	rd := safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	out, err := h.flows.SignUp(r.Context(), authflow.SignUpInput{
		Email: r.PostForm.Get("email"), Password: r.PostForm.Get("password"),
		Passkey: r.PostForm.Get("method") == "passkey",
	})
	if err != nil {
		return h.hashFailed(w, err)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.render(w, http.StatusBadRequest, "register", &pageData{Title: "Create your account", RD: rd,
			Email: truncate(r.PostForm.Get("email"), 254), CSRF: h.csrfFor(w, r),
			Error: "Please correct the fields marked below.", Errors: fieldErrors(o.Fields)})
	case authflow.Busy:
		w.Header().Set("Retry-After", "5")
		return h.message(w, http.StatusServiceUnavailable, "Busy right now",
			"Many people are signing up at the moment. Please try again in a few seconds.", "", "")
	case authflow.SignUpAccepted:
		setCookie(w, signupCookie, o.Nonce, int(identity.VerifyTokenTTL.Seconds()))
		return h.render(w, http.StatusOK, "register_sent", &pageData{Title: "Check your email", Email: o.Email, RD: rd})
	}
	return h.unexpected(w, out)
}

// verify is where the mailed link lands. It only checks the format and
// asks for a click: mail scanners and link previews follow GET (and HEAD)
// links, and must neither use the link up nor make any password
// effective.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.verifyMalformed(w)
	}
	page := "verify_confirm"
	if r.URL.Query().Get("passkey") != "" {
		page = "verify_passkey"
	}
	return h.render(w, http.StatusOK, page, &pageData{Title: verifyTitle, CSRF: h.csrfFor(w, r), Token: secret})
}

// verifyConfirm is the link's button (and, in a browser other than the
// sign-up's, the form choosing the password): see authflow.ConfirmEmail.
func (h *Handler) verifyConfirm(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.verifyMalformed(w)
	}
	nonce, _ := cookieNonce(r, signupCookie)
	out, err := h.flows.ConfirmEmail(r.Context(), authflow.ConfirmInput{
		Secret: secret, Nonce: nonce, Chosen: r.PostForm.Has("password"),
		Password: r.PostForm.Get("password"), Repeat: r.PostForm.Get("password_confirm"),
	})
	if err != nil {
		if isHashingError(err) {
			return h.hashFailed(w, err)
		}
		h.logger.Error("confirming an email address", zap.Error(err))
		return h.unavailable(w)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.render(w, http.StatusBadRequest, "verify_password", &pageData{Title: verifyTitle, CSRF: h.csrfFor(w, r),
			Token: secret, Error: "Please correct the fields marked below.", Errors: fieldErrors(o.Fields)})
	case authflow.ChoosePassword:
		return h.render(w, http.StatusOK, "verify_password", &pageData{Title: verifyTitle, CSRF: h.csrfFor(w, r), Token: secret})
	case authflow.LinkExpired:
		return h.message(w, http.StatusBadRequest, verifyTitle,
			"This link has expired or was already used. Sign in to get a new one.", h.Prefix+"/login", "Go to sign in")
	case authflow.EmailConfirmed:
		if o.Bound {
			clearCookie(w, signupCookie)
		}
		msg := "Thank you — your email address is confirmed. You can sign in now."
		if o.PasswordChosen {
			msg = "Thank you — your email address is confirmed and your password is set. You can sign in now."
		}
		return h.render(w, http.StatusOK, "verify", &pageData{Title: "Email confirmed", Message: msg})
	case authflow.PasskeyConfirmedElsewhere:
		return h.message(w, http.StatusOK, "Email confirmed",
			"Thank you — your email address is confirmed. To create your passkey, sign in with an email link "+
				"on the device you will use, then add the passkey on your account page.", h.Prefix+"/magic", "Sign in with email")
	case authflow.PasskeySignUpConfirmed:
		clearCookie(w, signupCookie)
		return h.signedIn(w, r, o.Customer, []string{"email"}, h.Prefix+"/account?welcome=passkey")
	}
	return h.unexpected(w, out)
}

func (h *Handler) verifyMalformed(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, verifyTitle, "This link is incomplete or malformed. Copy the whole link from the email.", h.Prefix+"/login", "Go to sign in")
}
