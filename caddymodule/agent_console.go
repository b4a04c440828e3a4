package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
	"github.com/frontdoorhq/frontdoor/sms"
)

// The agent console (authflow's assisted service), on sites with
// `agents on`:
//
//	GET  <prefix>/agent          the console: a search, or the open case
//	POST <prefix>/agent/find     field query (an address or id): opens a case
//	POST <prefix>/agent/code     mails the customer a code for the caller
//	POST <prefix>/agent/verify   field code: the caller reads it back
//	POST <prefix>/agent/act      fields action, reason, ticket
//	POST <prefix>/agent/close    closes the case in this browser
//
// Only a customer with the agent role, signed in with a passkey (aal2)
// within max_age, opens it; others are sent to step up, and a customer
// without the role is refused. The open case lives in a cookie of the
// agent's browser (never in a URL a log could keep), and is worth nothing
// to another agent.

// AgentsConfig is a site's agent console (`agents on { … }`).
type AgentsConfig struct {
	// MaxAge is how recent the agent's passkey sign-in must be (default
	// 12h).
	MaxAge caddy.Duration `json:"max_age,omitempty"`
	// Lookups is how many cases an agent may open an hour (default 60).
	Lookups int `json:"lookups_per_hour,omitempty"`
	// CoolingOff is how long an agent's removal of second factors waits
	// for the customer to object (default 24h).
	CoolingOff caddy.Duration `json:"cooling_off,omitempty"`
}

const (
	defaultAgentMaxAge  = 12 * time.Hour
	defaultAgentLookups = 60
	// caseCookie holds the agent's open case.
	caseCookie = "__Host-frontdoor-case"
)

func (a *AgentsConfig) maxAge() time.Duration {
	if a.MaxAge > 0 {
		return time.Duration(a.MaxAge)
	}
	return defaultAgentMaxAge
}

func (a *AgentsConfig) lookups() int {
	if a.Lookups > 0 {
		return a.Lookups
	}
	return defaultAgentLookups
}

// parseAgents reads `agents on|off [{ max_age <d>; lookups <n> }]`.
func parseAgents(h httpcaddyfile.Helper) (*AgentsConfig, error) {
	var v string
	if !h.NextArg() {
		return nil, h.Errf("frontdoor: agents needs on or off")
	}
	switch v = h.Val(); v {
	case "on", "off":
	default:
		return nil, h.Errf("frontdoor: agents %q: on or off", v)
	}
	if h.NextArg() {
		return nil, h.Errf("frontdoor: agents takes on or off, then an optional block")
	}
	a := &AgentsConfig{}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		switch opt := h.Val(); opt {
		case "max_age":
			var s string
			if !h.AllArgs(&s) {
				return nil, h.Errf("frontdoor: agents: max_age needs one duration")
			}
			d, err := caddy.ParseDuration(s)
			if err != nil || d < time.Minute || d > 7*24*time.Hour {
				return nil, h.Errf("frontdoor: agents: max_age %q: 1m to 168h", s)
			}
			a.MaxAge = caddy.Duration(d)
		case "cooling_off":
			var s string
			if !h.AllArgs(&s) {
				return nil, h.Errf("frontdoor: agents: cooling_off needs one duration")
			}
			d, err := caddy.ParseDuration(s)
			if err != nil || d < time.Hour || d > 30*24*time.Hour {
				return nil, h.Errf("frontdoor: agents: cooling_off %q: 1h to 720h", s)
			}
			a.CoolingOff = caddy.Duration(d)
		case "lookups":
			var s string
			if !h.AllArgs(&s) {
				return nil, h.Errf("frontdoor: agents: lookups needs one number (cases an agent may open an hour)")
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 10000 {
				return nil, h.Errf("frontdoor: agents: lookups %q: 1 to 10000 an hour", s)
			}
			a.Lookups = n
		default:
			return nil, h.Errf("frontdoor: agents: unknown option %q (max_age, lookups, cooling_off)", opt)
		}
	}
	if v == "off" {
		return nil, nil
	}
	return a, nil
}

// coolingOff is the site's cooling-off for factor removals (0: the
// default).
func (h *Handler) coolingOff() time.Duration {
	if h.Agents == nil {
		return 0
	}
	return time.Duration(h.Agents.CoolingOff)
}

// agentRequirement is what an agent's session must have.
func (h *Handler) agentRequirement() authflow.Requirement {
	return authflow.Requirement{AAL: "aal2", Methods: []string{"passkey"}, MaxAge: h.Agents.maxAge()}
}

// agentSession returns the session of an agent allowed to use the
// console, or answers the request itself.
func (h *Handler) agentSession(w http.ResponseWriter, r *http.Request) (*session.Session, bool) {
	if h.Agents == nil {
		_ = h.message(w, r, http.StatusNotFound, "page.not_found.title", "page.not_found", "/", "link.home")
		return nil, false
	}
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil, false
	}
	c, err := h.app.backend.customer(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("loading an agent", zap.Error(err))
		_ = h.unavailable(w, r)
		return nil, false
	}
	if !c.HasRole(authflow.AgentRole) {
		_ = h.message(w, r, http.StatusForbidden, "agent.title", "agent.not_agent", h.Prefix+"/account", "link.go_to_account")
		return nil, false
	}
	if h.flows.Unmet(h.agentRequirement(), s) {
		rd := h.Prefix + "/agent"
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, h.Prefix+"/stepup?rd="+url.QueryEscape(rd), http.StatusSeeOther)
		return nil, false
	}
	return s, true
}

// consoleView is the console page.
type consoleView struct {
	Case     bool
	Verified bool
	// Masked before verification; the record after.
	Email string
	// Phone is the verified number: its hint before verification, whole
	// after ("" none).
	Phone                       string
	Created, LastSignIn         time.Time
	EmailVerified, SecondFactor bool
	Actions                     []consoleActionView
	Notice                      string
}

type consoleActionView struct{ Value, Label string }

func (h *Handler) agentConsole(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.agentSession(w, r)
	if !ok {
		return nil
	}
	return h.renderConsole(w, r, s, http.StatusOK, "", nil)
}

// renderConsole draws the console for the agent's open case (if any),
// with a notice and field errors.
func (h *Handler) renderConsole(w http.ResponseWriter, r *http.Request, s *session.Session, status int, notice string, errs map[string]string) error {
	v := &consoleView{Notice: notice}
	if id := caseID(r); id != "" {
		info, err := h.flows.Case(r.Context(), s.UserID, id)
		if err != nil {
			h.logger.Error("reading an agent's case", zap.Error(err))
			return h.unavailable(w, r)
		}
		if info != nil {
			c := info.Customer
			v.Case, v.Verified, v.EmailVerified = true, info.Verified, c.EmailVerified
			v.Email, v.Created = maskEmail(c.Email), c.CreatedAt
			if c.Email == "" { // a customer who signed up by phone
				v.Email = ""
			}
			if c.Phone != "" && c.PhoneVerified {
				v.Phone = sms.Hint(c.Phone)
			}
			if info.Verified {
				v.Email, v.SecondFactor, v.LastSignIn = c.Email, c.HasSecondFactor() || c.HasSMSFactor(), c.LastLoginAt
				if v.Phone != "" {
					v.Phone = sms.Display(c.Phone)
				}
				for _, a := range authflow.AgentActions {
					v.Actions = append(v.Actions, consoleActionView{Value: a, Label: h.agentActionLabel(r, a)})
				}
			}
		} else {
			clearCookie(w, caseCookie)
			if notice == "" {
				v.Notice = h.say(r, "agent.case_gone")
			}
		}
	}
	d := &pageData{Title: h.say(r, "agent.title"), CSRF: h.csrfFor(w, r), Agent: v, Errors: errs}
	return h.render(w, r, status, "agent", d)
}

func (h *Handler) agentActionLabel(r *http.Request, a string) string {
	switch a {
	case authflow.ActSendReset:
		return h.say(r, "agent.action.send_reset")
	case authflow.ActResendVerification:
		return h.say(r, "agent.action.resend_verification")
	case authflow.ActRevokeSessions:
		return h.say(r, "agent.action.revoke_sessions")
	case authflow.ActLiftChallenge:
		return h.say(r, "agent.action.lift_challenge")
	case authflow.ActRemoveFactors:
		return h.say(r, "agent.action.remove_factors")
	case authflow.ActRemoveFactorsNow:
		return h.say(r, "agent.action.remove_factors_now")
	case authflow.ActApproveRemoval:
		return h.say(r, "agent.action.approve_removal")
	}
	return a
}

func caseID(r *http.Request) string {
	if ck, err := r.Cookie(caseCookie); err == nil && len(ck.Value) <= 64 {
		return ck.Value
	}
	return ""
}

func (h *Handler) agentFind(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.agentSession(w, r)
	if !ok {
		return nil
	}
	over, err := h.app.backend.defense.AgentLookup(r.Context(), s.UserID, h.Agents.lookups())
	if err != nil {
		h.logger.Error("counting an agent's lookups", zap.Error(err))
		return h.unavailable(w, r)
	}
	if over {
		return h.renderConsole(w, r, s, http.StatusTooManyRequests, h.say(r, "agent.too_many"), nil)
	}
	out, err := h.flows.OpenCase(r.Context(), s.UserID, r.PostForm.Get("query"), h.client(r))
	if err != nil {
		h.logger.Error("opening a case", zap.Error(err))
		return h.unavailable(w, r)
	}
	o, ok := out.(authflow.CaseOpened)
	if !ok {
		return h.renderConsole(w, r, s, http.StatusNotFound, h.say(r, "agent.not_found"), nil)
	}
	setCookie(w, caseCookie, o.ID, int(identity.AgentCaseTTL.Seconds()))
	http.Redirect(w, r, h.Prefix+"/agent", http.StatusSeeOther)
	return nil
}

func (h *Handler) agentCode(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.agentSession(w, r)
	if !ok {
		return nil
	}
	out, err := h.flows.SendCaseCode(r.Context(), s.UserID, caseID(r))
	if err != nil {
		h.logger.Error("sending a case code", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.CaseCodeSent:
		return h.renderConsole(w, r, s, http.StatusOK, h.say(r, "agent.code_sent"), nil)
	case authflow.CaseCodeTexted:
		return h.renderConsole(w, r, s, http.StatusOK, h.say(r, "agent.code_texted", "phone", o.Hint), nil)
	case authflow.TextLimited:
		return h.renderConsole(w, r, s, http.StatusTooManyRequests, h.say(r, "agent.code_text_limited"), nil)
	case authflow.Busy:
		return h.unavailable(w, r)
	case authflow.NoVerifiedAddress:
		return h.renderConsole(w, r, s, http.StatusConflict, h.say(r, "agent.no_address"), nil)
	}
	return h.renderConsole(w, r, s, http.StatusNotFound, h.say(r, "agent.case_gone"), nil)
}

func (h *Handler) agentVerify(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.agentSession(w, r)
	if !ok {
		return nil
	}
	out, err := h.flows.VerifyCase(r.Context(), s.UserID, caseID(r), r.PostForm.Get("code"), h.client(r))
	if err != nil {
		h.logger.Error("verifying a caller", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.CaseVerified:
		return h.renderConsole(w, r, s, http.StatusOK, h.say(r, "agent.verified"), nil)
	case authflow.CaseCodeWrong:
		return h.renderConsole(w, r, s, http.StatusUnauthorized, "", map[string]string{"code": h.say(r, "agent.code_wrong", "n", strconv.Itoa(o.TriesLeft))})
	case authflow.CaseClosed:
		clearCookie(w, caseCookie)
		h.logger.Info("assisted service: a case closed after wrong codes", zap.String("agent", s.UserID))
		return h.renderConsole(w, r, s, http.StatusForbidden, h.say(r, "agent.case_closed"), nil)
	}
	return h.renderConsole(w, r, s, http.StatusNotFound, h.say(r, "agent.case_gone"), nil)
}

func (h *Handler) agentAct(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.agentSession(w, r)
	if !ok {
		return nil
	}
	out, err := h.flows.Act(r.Context(), authflow.AgentActInput{Agent: s.UserID, Case: caseID(r), Action: r.PostForm.Get("action"),
		Reason: r.PostForm.Get("reason"), Ticket: r.PostForm.Get("ticket"), Client: h.client(r)})
	if err != nil {
		h.logger.Error("an agent's action", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.AgentActed:
		h.logger.Info("assisted service: an agent acted", zap.String("agent", s.UserID), zap.String("action", o.Action))
		return h.renderConsole(w, r, s, http.StatusOK, h.say(r, "agent.acted"), nil)
	case authflow.Invalid:
		errs := map[string]string{}
		for k, e := range o.Fields {
			errs[k] = e.Error()
		}
		return h.renderConsole(w, r, s, http.StatusBadRequest, h.say(r, "form.correct_fields"), errs)
	case authflow.CaseUnverified:
		return h.renderConsole(w, r, s, http.StatusForbidden, h.say(r, "agent.unverified"), nil)
	case authflow.NoVerifiedAddress:
		return h.renderConsole(w, r, s, http.StatusConflict, h.say(r, "agent.no_address"), nil)
	case authflow.SameApprover:
		return h.renderConsole(w, r, s, http.StatusForbidden, h.say(r, "agent.same_approver"), nil)
	}
	return h.renderConsole(w, r, s, http.StatusNotFound, h.say(r, "agent.case_gone"), nil)
}

// agentView checks the code the customer gave the agent and, if right,
// replaces the agent's session in this browser by one as the customer
// (ViewAsTTL, the agent as its actor): the agent signs in again after.
func (h *Handler) agentViewAs(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.agentSession(w, r)
	if !ok {
		return nil
	}
	out, err := h.flows.ViewAs(r.Context(), s.UserID, caseID(r), r.PostForm.Get("view_code"), h.client(r))
	if err != nil {
		h.logger.Error("an agent's view-as", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.ViewAsGranted:
		token, err := h.flows.StartViewAs(r.Context(), o.Customer, s.UserID, h.origin, h.client(r))
		if err != nil {
			h.logger.Error("starting a view-as session", zap.Error(err))
			return h.unavailable(w, r)
		}
		if err := h.setSessionCookie(w, token); err != nil {
			return err
		}
		clearCookie(w, caseCookie)
		h.logger.Info("assisted service: an agent views an account as its customer", zap.String("agent", s.UserID), zap.String("customer", o.Customer.ID))
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	case authflow.CaseCodeWrong:
		return h.renderConsole(w, r, s, http.StatusUnauthorized, "", map[string]string{"view_code": h.say(r, "agent.code_wrong", "n", strconv.Itoa(o.TriesLeft))})
	case authflow.CaseClosed:
		clearCookie(w, caseCookie)
		return h.renderConsole(w, r, s, http.StatusForbidden, h.say(r, "agent.case_closed"), nil)
	}
	return h.renderConsole(w, r, s, http.StatusNotFound, h.say(r, "agent.case_gone"), nil)
}

// viewCode shows the signed-in customer a code that lets a support agent
// see the account as they do, for 15 minutes.
func (h *Handler) viewCode(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	code, err := h.flows.NewViewCode(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("making a view-as code", zap.Error(err))
		return h.unavailable(w, r)
	}
	h.app.backend.forgetCustomer(s.UserID)
	return h.message(w, r, http.StatusOK, "view_code.title", "view_code.body", h.Prefix+"/account", "link.go_to_account", "code", code[:3]+" "+code[3:])
}

// actorRefused answers a request of an agent's view-as session where only
// the customer may go.
func (h *Handler) actorRefused(w http.ResponseWriter, r *http.Request) error {
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		return forbidMissing(w, "actor")
	}
	w.Header().Set("Cache-Control", "no-store")
	return h.message(w, r, http.StatusForbidden, "agent.title", "agent.customer_only", "/", "link.home")
}

func (h *Handler) agentClose(w http.ResponseWriter, r *http.Request) error {
	if _, ok := h.agentSession(w, r); !ok {
		return nil
	}
	clearCookie(w, caseCookie)
	http.Redirect(w, r, h.Prefix+"/agent", http.StatusSeeOther)
	return nil
}

// supportCode shows the signed-in customer a code to read to an agent.
func (h *Handler) supportCode(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	code, _, err := h.flows.NewSupportCode(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("making a support code", zap.Error(err))
		return h.unavailable(w, r)
	}
	h.app.backend.forgetCustomer(s.UserID)
	return h.message(w, r, http.StatusOK, "support_code.title", "support_code.body", h.Prefix+"/account", "link.go_to_account", "code", code[:3]+" "+code[3:])
}

// defenceAssist lifts what the edge defences hold against an account.
type defenceAssist struct{ h *Handler }

func (d defenceAssist) LiftAccount(ctx context.Context, email string) error {
	policies := []*botdefense.Policy{d.h.policy}
	return d.h.app.backend.defense.ForgetAccount(ctx, policies, email)
}

// assistEventWords says what a support agent's event on the customer's
// trail was ("" for another kind).
func (h *Handler) assistEventWords(r *http.Request, e identity.Event) string {
	switch e.Kind {
	case identity.EventAgentLookup:
		return h.say(r, "event.agent_lookup")
	case identity.EventAgentVerified:
		return h.say(r, "event.agent_verified")
	case identity.EventAgentVerifyFailed:
		return h.say(r, "event.agent_verify_failed")
	case identity.EventAgentViewAs:
		return h.say(r, "event.agent_view_as")
	case identity.EventAgentAction:
		action, _, _ := strings.Cut(e.Detail, " ")
		switch action {
		case authflow.ActSendReset:
			return h.say(r, "event.agent_action.send_reset")
		case authflow.ActResendVerification:
			return h.say(r, "event.agent_action.resend_verification")
		case authflow.ActRevokeSessions:
			return h.say(r, "event.agent_action.revoke_sessions")
		case authflow.ActLiftChallenge:
			return h.say(r, "event.agent_action.lift_challenge")
		case authflow.ActRemoveFactors, authflow.ActRemoveFactorsNow:
			return h.say(r, "event.agent_action.remove_factors")
		case authflow.ActApproveRemoval:
			return h.say(r, "event.agent_action.approve_removal")
		}
	case identity.EventFactorRemovalAsked:
		return h.say(r, "event.factor_removal_asked")
	case identity.EventFactorRemovalCancelled:
		return h.say(r, "event.factor_removal_cancelled")
	case identity.EventFactorsRemoved:
		return h.say(r, "event.factors_removed")
	}
	return ""
}

// cancelRemovalHere cancels a pending factor removal from the signed-in
// customer's account page.
func (h *Handler) cancelRemovalHere(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	if _, err := h.flows.CancelRemoval(r.Context(), "", s.UserID, h.client(r)); err != nil {
		h.logger.Error("cancelling a factor removal", zap.Error(err))
		return h.unavailable(w, r)
	}
	h.app.backend.forgetCustomer(s.UserID)
	return h.message(w, r, http.StatusOK, "removal.title", "removal.cancelled", h.Prefix+"/account", "link.go_to_account")
}

// cancelRemovalPage is the mail's cancel link: a page with one button (a
// mail scanner following the link changes nothing).
func (h *Handler) cancelRemovalPage(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.message(w, r, http.StatusBadRequest, "removal.title", "removal.malformed", h.Prefix+"/login", "link.go_to_sign_in")
	}
	return h.render(w, r, http.StatusOK, "confirm", &pageData{Title: h.say(r, "removal.title"), CSRF: h.csrfFor(w, r), Message: h.say(r, "removal.confirm"),
		Confirm: &confirmView{Action: h.Prefix + "/factor-removal/cancel", Fields: []hiddenField{{"token", secret}}, Button: h.say(r, "removal.button")}})
}

func (h *Handler) cancelRemovalLink(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.message(w, r, http.StatusBadRequest, "removal.title", "removal.malformed", h.Prefix+"/login", "link.go_to_sign_in")
	}
	out, err := h.flows.CancelRemoval(r.Context(), secret, "", h.client(r))
	if err != nil {
		h.logger.Error("cancelling a factor removal", zap.Error(err))
		return h.unavailable(w, r)
	}
	if _, ok := out.(authflow.RemovalCancelled); !ok {
		return h.message(w, r, http.StatusBadRequest, "removal.title", "removal.expired", h.Prefix+"/login", "link.go_to_sign_in")
	}
	return h.message(w, r, http.StatusOK, "removal.title", "removal.cancelled", h.Prefix+"/login", "link.go_to_sign_in")
}
