package caddymodule

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// accountFreshness is how recent a sign-in must be to change how the
// customer signs in (add or remove a factor, new recovery codes).
const accountFreshness = 10 * time.Minute

// accountRule is the step-up the account page's changes need: a recent
// sign-in, with the second factor if the customer has one.
func accountRule(c *identity.Customer) Rule {
	r := Rule{MaxAge: caddy.Duration(accountFreshness)}
	if c.HasSecondFactor() {
		r.AAL = "aal2"
	}
	return r
}

// ruleFor returns the step-up rule the session falls short of at the
// local URL rd, if any.
func (h *Handler) ruleFor(rd string, s *session.Session, c *identity.Customer) (Rule, bool) {
	u, err := url.Parse(rd)
	if err != nil || u.Host != "" {
		return Rule{}, false
	}
	now := h.app.backend.sessions.Now()
	if u.Path == h.Prefix+"/account" || strings.HasPrefix(u.Path, h.Prefix+"/account/") {
		rule := accountRule(c)
		return rule, ruleUnmet(rule, s, now)
	}
	rule, ok := h.unmetRule(pathViews(&http.Request{URL: u}), s)
	return rule.Rule, ok
}

// stepUpPage is where a browser lands when its session falls short of a
// rule (`rd` is where it was going; `resubmit` says it was sending a
// form). It asks only for what is missing: a sign-in that is too old
// means signing in again (which asks for the second factor of a customer
// who has one); a recent sign-in that lacks the second factor or the
// method the rule names asks for just that.
func (h *Handler) stepUpPage(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	q := r.URL.Query()
	rd := safeRedirect(q.Get("rd"), h.allowHosts)
	purpose := purposeStepUp
	if q.Get("resubmit") != "" {
		purpose = purposeResubmit
	}
	c, err := h.app.backend.identity.Customer(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("loading customer", zap.Error(err))
		return h.unavailable(w)
	}
	rule, unmet := h.ruleFor(rd, s, c)
	if !unmet {
		return h.afterStepUp(w, r, purpose, rd)
	}
	now := h.app.backend.sessions.Now()
	stale := rule.MaxAge > 0 && now.Sub(s.AuthTime) > time.Duration(rule.MaxAge)
	factors, second := secondFactorsFor(rule, s)
	if stale || !second {
		// Sign in again, then come back here to see what is still missing.
		back := h.Prefix + "/stepup?rd=" + url.QueryEscape(rd)
		if purpose == purposeResubmit {
			back += "&resubmit=1"
		}
		http.Redirect(w, r, h.Prefix+"/login?reauth=1&rd="+url.QueryEscape(back), http.StatusFound)
		return nil
	}
	usable := slices.DeleteFunc(slices.Clone(factors), func(f string) bool {
		return (f == factorTOTP && c.TOTP == nil) || (f == factorPasskey && !c.HasUsablePasskey()) ||
			(f == factorRecovery && len(c.RecoveryCodes) == 0)
	})
	if len(usable) == 0 {
		return h.message(w, http.StatusForbidden, "Two-step verification needed",
			"This page needs a second way to prove it is you: an authenticator app or a passkey. Add one on your account page, then come back.",
			h.Prefix+"/account", "Go to your account")
	}
	return h.askSecondFactor(w, r, c, &identity.Token{Methods: s.AMR, Redirect: rd, Purpose: purpose, Binding: identity.HashToken(s.Key)}, usable)
}

// secondFactorsFor returns which second factors satisfy rule, and whether
// a second factor is what the session lacks (false: it lacks a first
// factor, such as a password the rule names).
func secondFactorsFor(rule Rule, s *session.Session) ([]string, bool) {
	if rule.AAL == "aal2" && s.ACR != "aal2" {
		return allFactors, true
	}
	if len(rule.Methods) == 0 || anyMethod(s.AMR, rule.Methods) {
		return allFactors, true // only freshness is missing
	}
	var fs []string
	for _, m := range rule.Methods {
		switch m {
		case "otp", "totp":
			fs = append(fs, factorTOTP)
		case "passkey", "hwk", "swk":
			fs = append(fs, factorPasskey)
		case "mfa":
			fs = append(fs, allFactors...)
		}
	}
	slices.Sort(fs)
	fs = slices.Compact(fs)
	return fs, len(fs) > 0
}

// requireFresh checks that the session may change how the customer signs
// in; if not, it sends the browser to step up and returns false.
func (h *Handler) requireFresh(w http.ResponseWriter, r *http.Request, s *session.Session, c *identity.Customer) bool {
	if !ruleUnmet(accountRule(c), s, h.app.backend.sessions.Now()) {
		return true
	}
	http.Redirect(w, r, h.Prefix+"/stepup?resubmit=1&rd="+url.QueryEscape(h.Prefix+"/account"), http.StatusSeeOther)
	return false
}
