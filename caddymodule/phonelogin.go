package caddymodule

import (
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/sms"
)

// Sign-in and sign-up by phone alone (`phone_login on`;
// authflow.SendPhoneSignIn, SignInWithPhoneCode):
//
//	GET  <prefix>/phone   the number form
//	POST <prefix>/phone   field phone → a code texted to it; field code → signed in
//
// Every number the site texts gets the same page after the same work,
// whether an account has it or not. Asking for a text is the edge
// defence's "text" route (per address, range, number and overall, and a
// challenge), besides the text limits (per number, range, calling code
// and day); typing a code is a code attempt.

// phoneLoginCookie holds the nonce the texted code is bound to.
const phoneLoginCookie = "__Host-frontdoor-phone"

// phoneLoginDefence: asking for a text is the "text" route, counted by
// the number as typed (digits only) and challengeable; typing the code is
// a code attempt.
func phoneLoginDefence(r *http.Request) defence {
	if r.PostForm.Has("code") {
		return defence{route: botdefense.RouteCode}
	}
	return defence{route: botdefense.RouteText, challenge: phoneLoginChallenge, account: typedNumber(r.PostForm.Get("phone"))}
}

// typedNumber is the digits of a typed number (and its leading +), which
// the account limits count by: the site's region is not known here, so
// "07400 123456" and "+44 7400 123456" count apart — the text limits,
// which parse the number, count them together.
func typedNumber(s string) string {
	if len(s) > sms.MaxNumberInput {
		s = s[:sms.MaxNumberInput]
	}
	var b strings.Builder
	for i, c := range strings.TrimSpace(s) {
		if c >= '0' && c <= '9' || c == '+' && i == 0 {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "tel:" + b.String()
}

// phoneLoginOn reports whether the site signs in by phone; if not, it
// answers the request.
func (h *Handler) phoneLoginOn(w http.ResponseWriter, r *http.Request) bool {
	if h.flows.PhoneLoginOffered() {
		return true
	}
	_ = h.message(w, r, http.StatusNotFound, "phone_login.title", "phone_login.off", h.Prefix+"/login", "link.sign_in")
	return false
}

func (h *Handler) phoneLoginForm(w http.ResponseWriter, r *http.Request, status int, rd string, v *phoneView, errs map[string]string) error {
	v.Countries = strings.Join(h.SMSCountries, ", ")
	d := &pageData{Title: h.say(r, "phone_login.title"), CSRF: h.csrfFor(w, r), RD: rd, Phone: v, Errors: errs}
	if len(errs) > 0 {
		d.Error = h.say(r, "form.correct_fields")
	}
	return h.render(w, r, status, "phone_login", d)
}

func (h *Handler) phoneLoginPage(w http.ResponseWriter, r *http.Request) error {
	if !h.phoneLoginOn(w, r) {
		return nil
	}
	return h.phoneLoginForm(w, r, http.StatusOK, safeRedirect(r.URL.Query().Get("rd"), h.allowHosts), &phoneView{}, nil)
}

// phoneLogin texts a sign-in code to the number typed; a post with a
// `code` field is the second step instead.
func (h *Handler) phoneLogin(w http.ResponseWriter, r *http.Request) error {
	if !h.phoneLoginOn(w, r) {
		return nil
	}
	if r.PostForm.Has("code") {
		return h.phoneLoginCode(w, r)
	}
	rd := safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	typed := r.PostForm.Get("phone")
	out, err := h.flows.SendPhoneSignIn(r.Context(), authflow.PhoneSignInInput{Phone: typed, Redirect: rd})
	if err != nil {
		h.logger.Error("phone sign-in", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.phoneLoginForm(w, r, http.StatusBadRequest, rd, &phoneView{Value: truncate(typed, sms.MaxNumberInput)}, h.phoneFieldErrors(r, o.Fields))
	case authflow.PhoneOff:
		return h.message(w, r, http.StatusNotFound, "phone_login.title", "phone_login.off", h.Prefix+"/login", "link.sign_in")
	case authflow.TextLimited:
		return h.textRefused(w, r, o.RetryAfter)
	case authflow.Busy:
		return h.unavailable(w, r)
	case authflow.PhoneSignInSent:
		setCookie(w, phoneLoginCookie, o.Nonce, int(identity.PhoneCodeTTL.Seconds()))
		return h.phoneLoginForm(w, r, http.StatusOK, rd, &phoneView{CodeStep: true, Sent: sms.Display(o.Phone)}, nil)
	}
	return h.unexpected(w, r, out)
}

// phoneLoginCode signs in the browser that asked for a code, if it types
// the right one.
func (h *Handler) phoneLoginCode(w http.ResponseWriter, r *http.Request) error {
	nonce, _ := cookieNonce(r, phoneLoginCookie)
	out, err := h.flows.SignInWithPhoneCode(r.Context(), authflow.PhoneCodeInput{Code: r.PostForm.Get("code"), Nonce: nonce,
		Device: rememberedDevice(r), Client: h.client(r), DeviceID: h.deviceID(w, r)})
	if err != nil {
		h.logger.Error("phone sign-in code", zap.Error(err))
		return h.unavailable(w, r)
	}
	codeStep := func(status int, msg string) error {
		return h.phoneLoginForm(w, r, status, "", &phoneView{CodeStep: true}, map[string]string{"code": msg})
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return codeStep(http.StatusBadRequest, h.say(r, "field.code_format"))
	case authflow.WrongCode:
		return codeStep(http.StatusBadRequest, h.say(r, "phone.code_wrong", "left", strconv.Itoa(o.Left)))
	case authflow.CodeLockedOut:
		clearCookie(w, phoneLoginCookie)
		return h.message(w, r, http.StatusBadRequest, "phone_login.title", "phone.code_locked", h.Prefix+"/phone", "phone.try_again")
	case authflow.CodeDead:
		clearCookie(w, phoneLoginCookie)
		return h.message(w, r, http.StatusBadRequest, "phone_login.title", "phone.code_dead", h.Prefix+"/phone", "phone.try_again")
	case authflow.PhoneSignInRefused:
		clearCookie(w, phoneLoginCookie)
		if o.Unconfirmed {
			return h.message(w, r, http.StatusForbidden, "phone_login.title", "phone_login.unconfirmed", h.Prefix+"/login", "link.sign_in")
		}
		return h.message(w, r, http.StatusForbidden, "phone_login.title", "phone_login.refused", h.Prefix+"/login", "link.sign_in")
	}
	clearCookie(w, phoneLoginCookie)
	return h.secondFactorOutcome(w, r, out)
}
