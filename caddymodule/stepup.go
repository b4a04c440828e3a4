package caddymodule

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// requirement is what the rule asks of a session, as authflow reads it.
func (r Rule) requirement() authflow.Requirement {
	return authflow.Requirement{AAL: r.AAL, MaxAge: time.Duration(r.MaxAge), Methods: r.Methods}
}

// requirementAt returns what the local URL rd asks of a session: the
// account pages' own requirement, or the step-up rules on its path (the
// first one s falls short of; none: nothing).
func (h *Handler) requirementAt(rd string, s *session.Session, c *identity.Customer) authflow.Requirement {
	u, err := url.Parse(rd)
	if err != nil || u.Host != "" {
		return authflow.Requirement{}
	}
	if h.Agents != nil && (u.Path == h.Prefix+"/agent" || strings.HasPrefix(u.Path, h.Prefix+"/agent/")) {
		return h.agentRequirement()
	}
	if u.Path == h.Prefix+"/account" || strings.HasPrefix(u.Path, h.Prefix+"/account/") {
		return h.flows.AccountRequirement(c)
	}
	if h.op != nil && u.Path == h.Prefix+oauthLogin {
		return oauthLoginRequirement(u.Query(), h.app.backend.clock.Now())
	}
	rule, _ := h.unmetRule(pathViews(&http.Request{URL: u}), s)
	return rule.requirement()
}

// stepUpPage is where a browser lands when its session falls short of a
// rule (`rd` is where it was going; `resubmit` says it was sending a
// form): authflow.StepUp asks only for what is missing.
func (h *Handler) stepUpPage(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLoginAnywhere(w, r)
	if !ok {
		return nil
	}
	q := r.URL.Query()
	rd := safeRedirect(q.Get("rd"), h.allowHosts)
	c, err := h.app.backend.identity.Customer(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("loading customer", zap.Error(err))
		return h.unavailable(w, r)
	}
	if handled, err := h.movedStepUp(w, r, s, c, rd); handled {
		return err
	}
	out, err := h.flows.StepUp(r.Context(), authflow.StepUpInput{
		Session: s, Customer: c, Requirement: h.requirementAt(rd, s, c), Redirect: rd, Resubmit: q.Get("resubmit") != "",
	})
	if err != nil {
		h.logger.Error("storing second-factor wait", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.StepUpSatisfied:
		return h.afterStepUp(w, r, o.Purpose, o.Redirect)
	case authflow.SignInAgain:
		// Sign in again, then come back here to see what is still missing.
		back := h.Prefix + "/stepup?rd=" + url.QueryEscape(rd)
		if o.Resubmit {
			back += "&resubmit=1"
		}
		http.Redirect(w, r, h.Prefix+"/login?reauth=1&rd="+url.QueryEscape(back), http.StatusFound)
		return nil
	case authflow.NoFactorToUse:
		return h.message(w, r, http.StatusForbidden, "stepup.no_factor.title", "stepup.no_factor", h.Prefix+"/account", "link.go_to_account")
	}
	return h.secondFactorOutcome(w, r, out)
}

// requireFreshFor checks that the session may change how the customer
// signs in; if not, it sends the browser to step up — returning to rd,
// with resubmit when the customer was sending a form — and returns false.
func (h *Handler) requireFreshFor(w http.ResponseWriter, r *http.Request, s *session.Session, c *identity.Customer, rd string, resubmit bool) bool {
	if !h.flows.Unmet(h.flows.AccountRequirement(c), s) {
		return true
	}
	q := "/stepup?rd="
	if resubmit {
		q = "/stepup?resubmit=1&rd="
	}
	http.Redirect(w, r, h.Prefix+q+url.QueryEscape(rd), http.StatusSeeOther)
	return false
}
