package caddymodule

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
)

// The account page's switch for texted codes as the second factor
// (authflow.SetSMSFactor): POST <prefix>/account/sms-factor with on=1 to
// turn it on, on=0 to turn it off. Either needs a recent sign-in (and the
// second factor of a customer who has one), like any change to how the
// customer signs in. The second-factor page's button is mfaSMS (mfa.go).

func (h *Handler) smsFactorSet(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	on := r.PostForm.Get("on") == "1"
	out, err := h.flows.SetSMSFactor(r.Context(), c, on, h.client(r))
	if err != nil {
		h.logger.Error("changing the texted second factor", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch out.(type) {
	case authflow.SMSFactorOn:
		return h.message(w, r, http.StatusOK, "sms_factor.title", "sms_factor.on", h.Prefix+"/account", "link.account")
	case authflow.SMSFactorOff:
		return h.message(w, r, http.StatusOK, "sms_factor.title", "sms_factor.off", h.Prefix+"/account", "link.account")
	case authflow.SMSFactorUnavailable:
		return h.message(w, r, http.StatusConflict, "sms_factor.title", "sms_factor.unavailable", h.Prefix+"/account", "link.account")
	}
	return h.unexpected(w, r, out)
}
