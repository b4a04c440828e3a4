package caddymodule

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"html/template"
	"image/png"
	"net/http"
	"time"

	"github.com/pquerna/otp"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// totpEnrolTTL is how long a customer has to scan the code and confirm.
const totpEnrolTTL = 10 * time.Minute

// enrolView is the authenticator-app set-up page.
type enrolView struct {
	QR     template.URL // a data: URL of the QR code's PNG
	Secret string
	Handle string
}

// accountChange loads the signed-in customer for a change to how they
// sign in, after checking the sign-in is recent enough (see requireFresh).
// It answers the request itself and returns nil when it cannot go on.
func (h *Handler) accountChange(w http.ResponseWriter, r *http.Request) (*session.Session, *identity.Customer) {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil, nil
	}
	c, err := h.app.backend.identity.Customer(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("loading customer", zap.Error(err))
		_ = h.unavailable(w)
		return nil, nil
	}
	if !h.requireFresh(w, r, s, c) {
		return nil, nil
	}
	return s, c
}

// totpBegin makes a new authenticator secret and shows it (QR code and
// text); it takes effect once the customer types a code from it.
func (h *Handler) totpBegin(w http.ResponseWriter, r *http.Request) error {
	s, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	if c.TOTP != nil {
		return h.message(w, http.StatusConflict, "Authenticator app",
			"An authenticator app is already set up. Remove it first to set up another.", h.Prefix+"/account", "Back to your account")
	}
	key, err := identity.NewTOTPKey(h.audience, c.Email)
	if err != nil {
		return err
	}
	handle := newNonce()
	tok := &identity.Token{Kind: identity.TokenTOTPEnrol, Hash: identity.HashToken(handle), CustomerID: c.ID,
		ExpiresAt: time.Now().Add(totpEnrolTTL), Binding: identity.HashToken(s.Key), Data: []byte(key.Secret())}
	if err := h.app.backend.identity.PutToken(r.Context(), tok); err != nil {
		h.logger.Error("storing authenticator enrolment", zap.Error(err))
		return h.unavailable(w)
	}
	return h.totpForm(w, r, http.StatusOK, key, handle, "")
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
	d := &pageData{Title: "Set up an authenticator app", CSRF: h.csrfFor(w, r), Enrol: &enrolView{
		QR:     template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())),
		Secret: key.Secret(), Handle: handle,
	}}
	if errMsg != "" {
		d.Error, d.Errors = "That did not work.", map[string]string{"code": errMsg}
	}
	return h.render(w, status, "totp", d)
}

// totpConfirm turns the authenticator on once a code from it matches, and
// shows the recovery codes if the customer had none.
func (h *Handler) totpConfirm(w http.ResponseWriter, r *http.Request) error {
	s, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	ctx, now := r.Context(), time.Now()
	handle, err := identity.ParseTokenSecret(r.PostForm.Get("handle"))
	var tok *identity.Token
	if err == nil {
		tok, err = h.app.backend.identity.ConsumeToken(ctx, identity.TokenTOTPEnrol, identity.HashToken(handle), now)
	}
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	if err != nil || tok.CustomerID != c.ID || subtle.ConstantTimeCompare(tok.Binding, identity.HashToken(s.Key)) != 1 {
		return h.message(w, http.StatusBadRequest, "Authenticator app",
			"This set-up has expired. Start again from your account page.", h.Prefix+"/account", "Back to your account")
	}
	secret := string(tok.Data)
	step, ok := identity.MatchTOTP(secret, r.PostForm.Get("code"), h.app.backend.sessions.Now())
	if !ok {
		h.putBack(ctx, tok)
		key, err := identity.TOTPKey(h.audience, c.Email, secret)
		if err != nil {
			return err
		}
		return h.totpForm(w, r, http.StatusBadRequest, key, handle, "That code is not right. Type the 6 digits your app shows now.")
	}
	codes, hashes := identity.NewRecoveryCodes()
	fresh := false
	_, err = h.app.backend.identity.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		if c.TOTP != nil {
			return identity.ErrFactorExists
		}
		c.TOTP = &identity.TOTP{Secret: secret, LastStep: step, CreatedAt: now.UTC()}
		fresh = len(c.RecoveryCodes) == 0
		if fresh {
			c.RecoveryCodes = hashes
		}
		return nil
	})
	if errors.Is(err, identity.ErrFactorExists) {
		return h.message(w, http.StatusConflict, "Authenticator app", "An authenticator app is already set up.", h.Prefix+"/account", "Back to your account")
	}
	if err != nil {
		h.logger.Error("enrolling authenticator", zap.Error(err))
		return h.unavailable(w)
	}
	h.audit(r, c.ID, identity.EventTOTPAdded)
	if !fresh {
		return h.message(w, http.StatusOK, "Authenticator app", "Your authenticator app is set up.", h.Prefix+"/account", "Back to your account")
	}
	h.audit(r, c.ID, identity.EventRecoveryCodesNew)
	return h.render(w, http.StatusOK, "recovery", &pageData{Title: "Save your recovery codes", RecoveryCodes: codes,
		Message: "Your authenticator app is set up. If you lose it, each of these codes lets you in once. Keep them somewhere safe: they are shown only now."})
}

// totpRemove turns the authenticator off.
func (h *Handler) totpRemove(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	_, err := h.app.backend.identity.UpdateCustomer(r.Context(), c.ID, func(c *identity.Customer) error {
		c.TOTP = nil
		dropLoneFactors(c)
		return nil
	})
	if err != nil {
		h.logger.Error("removing authenticator", zap.Error(err))
		return h.unavailable(w)
	}
	h.audit(r, c.ID, identity.EventTOTPRemoved)
	return h.message(w, http.StatusOK, "Authenticator app", "Your authenticator app was removed.", h.Prefix+"/account", "Back to your account")
}

// dropLoneFactors removes what only makes sense beside a second factor —
// recovery codes, remembered browsers — once none is left.
func dropLoneFactors(c *identity.Customer) {
	if !c.HasSecondFactor() {
		c.RecoveryCodes = nil
		c.ForgetDevices()
	}
}

// recoveryRegenerate replaces the recovery codes with a new set, shown
// once.
func (h *Handler) recoveryRegenerate(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	if !c.HasSecondFactor() {
		return h.message(w, http.StatusConflict, "Recovery codes",
			"Recovery codes go with a second factor. Set up an authenticator app or a passkey first.", h.Prefix+"/account", "Back to your account")
	}
	codes, hashes := identity.NewRecoveryCodes()
	if _, err := h.app.backend.identity.UpdateCustomer(r.Context(), c.ID, func(c *identity.Customer) error {
		c.RecoveryCodes = hashes
		return nil
	}); err != nil {
		h.logger.Error("storing recovery codes", zap.Error(err))
		return h.unavailable(w)
	}
	h.audit(r, c.ID, identity.EventRecoveryCodesNew)
	return h.render(w, http.StatusOK, "recovery", &pageData{Title: "Your new recovery codes", RecoveryCodes: codes,
		Message: "Your old recovery codes no longer work. Each of these lets you in once. Keep them somewhere safe: they are shown only now."})
}

// forgetDevices forgets every browser remembered for the customer. No
// step-up: it only takes a shortcut away.
func (h *Handler) forgetDevices(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	if _, err := h.app.backend.identity.UpdateCustomer(r.Context(), s.UserID, func(c *identity.Customer) error {
		c.ForgetDevices()
		return nil
	}); err != nil {
		h.logger.Error("forgetting devices", zap.Error(err))
		return h.unavailable(w)
	}
	clearCookie(w, deviceCookie)
	h.audit(r, s.UserID, identity.EventDevicesForgotten)
	return h.message(w, http.StatusOK, "Remembered devices",
		"No device is remembered any more: every sign-in will ask for your second factor.", h.Prefix+"/account", "Back to your account")
}
