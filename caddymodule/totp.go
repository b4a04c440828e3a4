package caddymodule

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"image/png"
	"net/http"

	"github.com/pquerna/otp"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// enrolView is the authenticator-app set-up page.
type enrolView struct {
	QR     template.URL // a data: URL of the QR code's PNG
	Secret string
	Handle string
}

// accountChange loads the signed-in customer for a change to how they
// sign in, after checking the sign-in is recent enough (see requireFreshFor).
// It answers the request itself and returns nil when it cannot go on.
func (h *Handler) accountChange(w http.ResponseWriter, r *http.Request) (*session.Session, *identity.Customer) {
	return h.accountChangeFor(w, r, h.Prefix+"/account", true)
}

// accountChangeFor is accountChange for a page the step-up returns to
// (rd; resubmit when the customer was sending a form).
func (h *Handler) accountChangeFor(w http.ResponseWriter, r *http.Request, rd string, resubmit bool) (*session.Session, *identity.Customer) {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil, nil
	}
	c, err := h.app.backend.identity.Customer(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("loading customer", zap.Error(err))
		_ = h.unavailable(w, r)
		return nil, nil
	}
	if !h.requireFreshFor(w, r, s, c, rd, resubmit) {
		return nil, nil
	}
	return s, c
}

// totpBegin makes a new authenticator secret (authflow.BeginTOTP) and
// shows it (QR code and text); it takes effect once the customer types a
// code from it.
func (h *Handler) totpBegin(w http.ResponseWriter, r *http.Request) error {
	s, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	out, err := h.flows.BeginTOTP(r.Context(), s, c, h.audience)
	if err != nil {
		h.logger.Error("storing authenticator enrolment", zap.Error(err))
		return h.unavailable(w, r)
	}
	if _, ok := out.(authflow.FactorExists); ok {
		return h.message(w, r, http.StatusConflict, "totp.title", "totp.exists_remove_first", h.Prefix+"/account", "link.account")
	}
	return h.accountOutcome(w, r, out)
}

func (h *Handler) totpForm(w http.ResponseWriter, r *http.Request, status int, key *otp.Key, handle, errMsg string) error {
	img, err := key.Image(240, 240)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	d := &pageData{Title: h.say(r, "totp.setup.title"), CSRF: h.csrfFor(w, r), Enrol: &enrolView{
		QR:     template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())),
		Secret: key.Secret(), Handle: handle,
	}}
	if errMsg != "" {
		d.Error, d.Errors = h.say(r, "form.did_not_work"), map[string]string{"code": errMsg}
	}
	return h.render(w, r, status, "totp", d)
}

// totpConfirm turns the authenticator on once a code from it matches
// (authflow.ConfirmTOTP), and shows the recovery codes if the customer
// had none.
func (h *Handler) totpConfirm(w http.ResponseWriter, r *http.Request) error {
	s, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	handle, _ := identity.ParseTokenSecret(r.PostForm.Get("handle"))
	out, err := h.flows.ConfirmTOTP(r.Context(), authflow.ConfirmTOTPInput{
		Session: s, Customer: c, Handle: handle, Code: r.PostForm.Get("code"), Issuer: h.audience, Client: h.client(r),
	})
	if err != nil {
		h.logger.Error("enrolling authenticator", zap.Error(err))
		return h.unavailable(w, r)
	}
	return h.accountOutcome(w, r, out)
}

// accountOutcome answers what a change to how the customer signs in came
// to.
func (h *Handler) accountOutcome(w http.ResponseWriter, r *http.Request, out authflow.Outcome) error {
	back := h.Prefix + "/account"
	switch o := out.(type) {
	case authflow.TOTPEnrolment:
		return h.totpForm(w, r, http.StatusOK, o.Key, o.Handle, "")
	case authflow.WrongEnrolmentCode:
		return h.totpForm(w, r, http.StatusBadRequest, o.Key, o.Handle, h.say(r, "totp.code_wrong"))
	case authflow.EnrolmentExpired:
		return h.message(w, r, http.StatusBadRequest, "totp.title", "totp.expired", back, "link.account")
	case authflow.FactorExists:
		return h.message(w, r, http.StatusConflict, "totp.title", "totp.exists", back, "link.account")
	case authflow.TOTPAdded:
		if o.RecoveryCodes == nil {
			return h.message(w, r, http.StatusOK, "totp.title", "totp.added", back, "link.account")
		}
		return h.render(w, r, http.StatusOK, "recovery", &pageData{Title: h.say(r, "recovery.first.title"), RecoveryCodes: o.RecoveryCodes,
			Message: h.say(r, "recovery.first")})
	case authflow.RecoveryCodesIssued:
		return h.render(w, r, http.StatusOK, "recovery", &pageData{Title: h.say(r, "recovery.new.title"), RecoveryCodes: o.Codes,
			Message: h.say(r, "recovery.new")})
	case authflow.NoSecondFactor:
		return h.message(w, r, http.StatusConflict, "recovery.title", "recovery.no_factor", back, "link.account")
	}
	return h.unexpected(w, r, out)
}

// totpRemove turns the authenticator off.
func (h *Handler) totpRemove(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	if _, err := h.flows.RemoveTOTP(r.Context(), c.ID, h.client(r)); err != nil {
		h.logger.Error("removing authenticator", zap.Error(err))
		return h.unavailable(w, r)
	}
	return h.message(w, r, http.StatusOK, "totp.title", "totp.removed", h.Prefix+"/account", "link.account")
}

// recoveryRegenerate replaces the recovery codes with a new set, shown
// once.
func (h *Handler) recoveryRegenerate(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	out, err := h.flows.NewRecoveryCodes(r.Context(), c, h.client(r))
	if err != nil {
		h.logger.Error("storing recovery codes", zap.Error(err))
		return h.unavailable(w, r)
	}
	return h.accountOutcome(w, r, out)
}

// forgetDevices forgets every browser remembered for the customer. No
// step-up: it only takes a shortcut away.
func (h *Handler) forgetDevices(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	if _, err := h.flows.ForgetDevices(r.Context(), s.UserID, h.client(r)); err != nil {
		h.logger.Error("forgetting devices", zap.Error(err))
		return h.unavailable(w, r)
	}
	clearCookie(w, deviceCookie)
	return h.message(w, r, http.StatusOK, "account.devices_forgotten.title", "account.devices_forgotten", h.Prefix+"/account", "link.account")
}
