package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/risk"
	"github.com/frontdoorhq/frontdoor/session"
)

// Continuous evaluation: on a site with a risk policy, a session is held
// to the place it signed in from (Session.IP). A request from the same
// address costs one comparison; from another one, the two addresses'
// places are looked up once per session and address (moves), and another
// country is session_moved (a stolen cookie: by default the session must
// prove itself again — its second factor, or a code mailed to the
// verified address — before it goes on; an API call gets RFC 9470's 401),
// another network in the same country session_network (by default only
// told). Backends learn the level and signals of every request of such a
// site: X-Frontdoor-Risk and the assertion's risk claim.

// riskHeader tells backends how risky the session's sign-in and this
// request are: low, medium or high.
const riskHeader = "X-Frontdoor-Risk"

// movedVerdict is what a session's request from one address is judged.
type movedVerdict struct {
	// level and signals are the request's (the session's sign-in's
	// joined with the move's).
	level, signals string
	decision       risk.Decision
	// from and to are the places, for the trail and the mail.
	to risk.Place
	// noted: the decision was recorded (once per session and address).
	noted sync.Once
}

// moved reports whether the verdict found anything.
func (v *movedVerdict) moved() bool { return v != nil && len(v.decision.Findings) > 0 }

type movedKey struct{ session, ip string }

// moves keeps verdicts per session and address on this node, bounded
// (cleared when full: a verdict is cheap to make again, and its record
// is written once more at most).
type moves struct {
	mu sync.Mutex
	m  map[movedKey]*movedVerdict
}

const maxMoves = 1 << 16

func (mv *moves) get(k movedKey) *movedVerdict {
	mv.mu.Lock()
	defer mv.mu.Unlock()
	return mv.m[k]
}

func (mv *moves) put(k movedKey, v *movedVerdict) *movedVerdict {
	mv.mu.Lock()
	defer mv.mu.Unlock()
	if old := mv.m[k]; old != nil {
		return old
	}
	if mv.m == nil || len(mv.m) >= maxMoves {
		mv.m = make(map[movedKey]*movedVerdict)
	}
	mv.m[k] = v
	return v
}

// sessionRisk returns the level and signals backends are told for a
// request of s, and the verdict when it comes from another place than s
// signed in from (nil: the same address, or nothing found). Only for a
// site with a risk policy.
func (h *Handler) sessionRisk(r *http.Request, s *session.Session) (level, signals string, v *movedVerdict) {
	level, signals = s.Risk, s.RiskSignals
	if level == "" {
		level = string(risk.Low)
	}
	ip := clientIP(r)
	if ip == s.IP || ip == "" || s.IP == "" {
		return level, signals, nil
	}
	k := movedKey{s.Key, ip}
	if v = h.app.backend.moves.get(k); v == nil {
		v = h.app.backend.moves.put(k, h.judgeMove(s, ip, level, signals))
	}
	if !v.moved() {
		return level, signals, nil
	}
	return v.level, v.signals, v
}

// judgeMove makes the verdict on a request of s from ip.
func (h *Handler) judgeMove(s *session.Session, ip, level, signals string) *movedVerdict {
	v := &movedVerdict{level: level, signals: signals}
	if h.app.locator == nil {
		return v // no database: skipped, never guessed
	}
	v.to = h.locate(ip)
	findings := risk.Moved(h.locate(s.IP), v.to)
	if len(findings) == 0 {
		return v
	}
	v.decision = h.Risk.policy.Decide(findings)
	v.level = string(risk.Max(risk.Level(level), v.decision.Level))
	for _, sig := range v.decision.Signals() {
		if !strings.Contains(" "+v.signals+" ", " "+sig+" ") {
			v.signals = strings.TrimSpace(v.signals + " " + sig)
		}
	}
	return v
}

// noteMove records a verdict once per session and address, off the
// request path: the customer's trail, the log, the metrics, and the mail
// when the policy asks to tell them.
func (h *Handler) noteMove(r *http.Request, s *session.Session, v *movedVerdict) {
	v.noted.Do(func() {
		b := h.app.backend
		d := v.decision
		h.logger.Info("risk: session used from another place", zap.String("user", s.UserID), zap.String("level", string(d.Level)),
			zap.Strings("signals", d.Signals()), zap.Strings("actions", actionNames(d.Actions)), zap.Bool("enforced", d.Enforced))
		client := h.client(r)
		flows, id, at := h.flows, s.UserID, b.clock.Now().UTC()
		ctx := context.WithoutCancel(r.Context())
		b.later.Do(func(context.Context) {
			flows.RiskMoved(ctx, client, id, d, risk.Sighting{At: at, Place: v.to, Browser: risk.DeviceFamily(client.UserAgent)})
		})
	})
}

func actionNames(as []risk.Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}

// actOnMove carries out an enforced verdict: deny ends the session and
// answers as to a signed-out browser; stepup sends a browser to prove
// itself again and answers an API call with RFC 9470's 401. answered:
// the request is answered; anonymous: serve it without the session (a
// public path).
func (h *Handler) actOnMove(w http.ResponseWriter, r *http.Request, s *session.Session, v *movedVerdict, public bool) (answered, anonymous bool, err error) {
	h.noteMove(r, s, v)
	d := v.decision
	switch {
	case d.Asks(risk.Deny):
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.app.StoreTimeout))
		err := h.app.backend.sessions.Revoke(ctx, s.Key)
		cancel()
		if err != nil {
			h.logger.Error("risk: ending a moved session", zap.Error(err))
			return true, false, h.unavailable(w, r)
		}
		clearSessionCookie(w)
		if public {
			return false, true, nil
		}
		return true, false, h.deny(w, r)
	case d.Asks(risk.StepUp):
		if public {
			return false, true, nil
		}
		return true, false, h.stepUpMoved(w, r)
	}
	return false, false, nil
}

// stepUpMoved asks a moved session to prove itself again.
func (h *Handler) stepUpMoved(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", error_description="the session is used from another place than it signed in from: sign in again there"`)
		return writeJSONError(w, http.StatusUnauthorized, "insufficient_user_authentication")
	}
	rd := r.URL.RequestURI()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rd = h.Prefix + "/account" // a form sent from elsewhere is not sent again
	}
	http.Redirect(w, r, h.Prefix+"/stepup?rd="+url.QueryEscape(rd), http.StatusSeeOther)
	return nil
}

// ownPageMoved holds the gateway's own pages (account, keys, consent, …)
// to the same rule: it answers a moved session's request and reports
// whether it did.
func (h *Handler) ownPageMoved(w http.ResponseWriter, r *http.Request, s *session.Session) bool {
	if h.Risk == nil {
		return false
	}
	_, _, v := h.sessionRisk(r, s)
	if v == nil {
		return false
	}
	answered, anonymous, err := h.actOnMove(w, r, s, v, false)
	if err != nil {
		h.logger.Debug("answering a moved session", zap.Error(err))
	}
	return answered || anonymous
}

// movedStepUp is the step-up page's answer to a moved session: its second
// factor, or a code mailed to its verified address; handled reports
// whether the session had moved.
func (h *Handler) movedStepUp(w http.ResponseWriter, r *http.Request, s *session.Session, c *identity.Customer, rd string) (handled bool, err error) {
	if h.Risk == nil {
		return false, nil
	}
	_, _, v := h.sessionRisk(r, s)
	if v == nil || !v.decision.Asks(risk.StepUp) {
		return false, nil
	}
	out, err := h.flows.StepUpMoved(r.Context(), authflow.StepUpInput{Session: s, Customer: c, Redirect: rd})
	if err != nil {
		h.logger.Error("storing a moved session's step-up", zap.Error(err))
		return true, h.unavailable(w, r)
	}
	if _, ok := out.(authflow.NoFactorToUse); ok {
		return true, h.message(w, r, http.StatusForbidden, "stepup.no_factor.title", "stepup.no_factor", h.Prefix+"/login", "link.sign_in_again")
	}
	return true, h.secondFactorOutcome(w, r, out)
}
