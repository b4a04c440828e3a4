package caddymodule

import (
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/risk"
)

// The sign-in mail's "this wasn't me" link (authflow.NotMe):
//
//	GET  <prefix>/not-me?token=…  a page with one button (a mail scanner
//	                              following the link changes nothing)
//	POST <prefix>/not-me          fields csrf_token, token: every session
//	                              ends, remembered devices are forgotten,
//	                              a password reset link is mailed

func (h *Handler) notMePage(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.message(w, r, http.StatusBadRequest, "not_me.title", "not_me.malformed", h.Prefix+"/login", "link.go_to_sign_in")
	}
	return h.render(w, r, http.StatusOK, "not_me", &pageData{Title: h.say(r, "not_me.title"), CSRF: h.csrfFor(w, r), Token: secret})
}

func (h *Handler) notMe(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.message(w, r, http.StatusBadRequest, "not_me.title", "not_me.malformed", h.Prefix+"/login", "link.go_to_sign_in")
	}
	out, err := h.flows.NotMe(r.Context(), secret, h.client(r))
	if err != nil {
		h.logger.Error("securing an account from a \"this wasn't me\" link", zap.Error(err))
		return h.unavailable(w, r)
	}
	o, ok := out.(authflow.NotMeDone)
	if !ok {
		return h.message(w, r, http.StatusBadRequest, "not_me.title", "not_me.expired", h.Prefix+"/login", "link.go_to_sign_in")
	}
	h.app.backend.forgetCustomer(o.Customer.ID)
	clearSessionCookie(w) // this browser's session, if any, has ended too
	h.logger.Info("risk: a customer reported a sign-in that was not them", zap.String("user", o.Customer.ID))
	return h.message(w, r, http.StatusOK, "not_me.title", "not_me.done", h.Prefix+"/login", "link.go_to_sign_in")
}

// riskEventWords says what a risk event of the trail was, in the
// customer's words: the signals behind it ("" for another kind).
func (h *Handler) riskEventWords(r *http.Request, e identity.Event) string {
	switch e.Kind {
	case identity.EventRiskDecision:
		return h.say(r, "event.risk_decision", "why", h.riskWhy(r, e.Detail))
	case identity.EventRiskRefused:
		return h.say(r, "event.risk_refused", "why", h.riskWhy(r, e.Detail))
	case identity.EventNotMe:
		return h.say(r, "event.not_me")
	}
	return ""
}

// riskWhy words the signals a decision's detail names ("high:
// impossible_travel (…), new_country (…) → stepup").
func (h *Handler) riskWhy(r *http.Request, detail string) string {
	var words []string
	for _, s := range risk.Signals {
		if strings.Contains(detail, " "+string(s)) {
			words = append(words, h.signalWords(r, s))
		}
	}
	if len(words) == 0 {
		return h.say(r, "risk.why.unknown")
	}
	return strings.Join(words, ", ")
}

// signalWords says what a signal means, in the customer's words.
func (h *Handler) signalWords(r *http.Request, s risk.Signal) string {
	switch s {
	case risk.NewDevice:
		return h.say(r, "risk.why.new_device")
	case risk.NewCountry:
		return h.say(r, "risk.why.new_country")
	case risk.NewNetwork:
		return h.say(r, "risk.why.new_network")
	case risk.ImpossibleTravel:
		return h.say(r, "risk.why.impossible_travel")
	case risk.AnonymousNetwork:
		return h.say(r, "risk.why.anonymous_network")
	case risk.BreachedPassword:
		return h.say(r, "risk.why.breached_password")
	case risk.RecentFailures:
		return h.say(r, "risk.why.recent_failures")
	case risk.SessionMoved:
		return h.say(r, "risk.why.session_moved")
	case risk.SessionNetwork:
		return h.say(r, "risk.why.session_network")
	}
	return h.say(r, "risk.why.unknown")
}
