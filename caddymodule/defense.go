package caddymodule

import (
	"context"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/sms"
)

// Edge defence glue: which of Frontdoor's own requests count against which
// limits, and what the customer sees when one trips. The decisions are
// botdefense's; this file only asks and answers.

// DefenseConfig is a site's edge-defence settings. Anything unset keeps
// botdefense's default.
type DefenseConfig struct {
	// Off turns every limit, signal and challenge of the site off (for a
	// site behind another defence, or tests).
	Off bool `json:"off,omitempty"`
	// Limits replace the default limit of the same route and dimension;
	// a count of 0 turns that limit off.
	Limits []botdefense.Limit `json:"limits,omitempty"`
	// PowBits is the challenge difficulty at the lowest risk.
	PowBits int `json:"pow_bits,omitempty"`
	// Surge: failed sign-ins site-wide per SurgeWindow that set off
	// challenging everyone.
	Surge       int64          `json:"surge,omitempty"`
	SurgeWindow caddy.Duration `json:"surge_window,omitempty"`
	// DistinctAccounts tried from one address (per 10 minutes) that count
	// as a signal.
	DistinctAccounts int64 `json:"distinct_accounts,omitempty"`
	// Disposable: challenge (default), refuse or allow sign-ups from
	// throw-away mail domains; extra domains count as such, allowed ones
	// never do.
	Disposable      string   `json:"disposable,omitempty"`
	DisposableExtra []string `json:"disposable_extra,omitempty"`
	DisposableAllow []string `json:"disposable_allow,omitempty"`
	// Automation: challenge (default) or ignore requests that look
	// scripted.
	Automation string `json:"automation,omitempty"`
}

// policy compiles the site's settings over the defaults.
func (c *DefenseConfig) policy() (*botdefense.Policy, error) {
	p := botdefense.DefaultPolicy()
	if c != nil && c.Off {
		p.Limits = nil
		p.DistinctAccounts, p.FailureMin, p.Surge, p.RegPrefix, p.RegDomain = 0, 0, 0, 0, 0
		p.Disposable, p.Automation, p.Backlog = "allow", "ignore", false
		return &p, nil
	}
	if c != nil {
		for _, l := range c.Limits {
			kept := p.Limits[:0]
			for _, d := range p.Limits {
				if d.Route != l.Route || d.Dimension != l.Dimension {
					kept = append(kept, d)
				}
			}
			p.Limits = kept
			if l.Count > 0 {
				p.Limits = append(p.Limits, l)
			}
		}
		if c.PowBits > 0 {
			p.PowBits = c.PowBits
			p.PowMaxBits = max(p.PowMaxBits, min(32, c.PowBits+8))
		}
		if c.Surge > 0 {
			p.Surge = c.Surge
		}
		if c.SurgeWindow > 0 {
			p.SurgeWindow = time.Duration(c.SurgeWindow)
		}
		if c.DistinctAccounts > 0 {
			p.DistinctAccounts = c.DistinctAccounts
		}
		if c.Disposable != "" {
			p.Disposable = c.Disposable
		}
		p.DisposableExtra, p.DisposableAllow = c.DisposableExtra, c.DisposableAllow
		if c.Automation != "" {
			p.Automation = c.Automation
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

type attemptKey struct{}

// solvedBitsKey holds the difficulty a request's challenge solution was
// accepted at (an int), when it carried one.
type solvedBitsKey struct{}

// hashBacklogChallenge is how far behind password hashing may fall before
// sign-in and sign-up attempts are challenged first: a burst of real
// customers queues for up to queue_wait, but a queue this long is what the
// first seconds of a flood look like, before the failure surge shows.
const hashBacklogChallenge = 500 * time.Millisecond

// defend asks the edge defences about a request, defended as the route
// table says, before any expensive work is done for it. It answers the
// request itself (429, a challenge, …) and returns false when the request
// goes no further.
func (h *Handler) defend(w http.ResponseWriter, r *http.Request, def defence) (*http.Request, bool) {
	route := def.route
	a := botdefense.Attempt{
		Route: route, Site: h.origin, IP: clientAddr(r), Pow: r.PostForm.Get("pow"),
		Challengeable: def.challenge != nil, Require: route == botdefense.RouteChallenge,
		Backlogged:  def.hashes && h.app.hasher.Backlog() > hashBacklogChallenge,
		Fingerprint: fingerprint(r),
	}
	if e, err := identity.NormalizeEmail(r.PostForm.Get("email")); err == nil {
		a.Account = e
		_, a.Domain, _ = strings.Cut(e, "@")
	} else if def.account != "" {
		a.Account = def.account
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.app.StoreTimeout))
	d, err := h.app.backend.defense.Check(ctx, h.policy, a)
	cancel()
	h.app.backend.noteStore(err)
	if err != nil {
		h.logger.Error("edge defence check failed", zap.String("route", route), zap.Error(err))
		_ = h.unavailable(w, r)
		return r, false
	}
	h.app.backend.decisions.note(route, d.Action)
	if d.Action != botdefense.Allow {
		h.app.backend.decisionLog.note(h.app.backend.logger.Get(), h.app.backend.clock.Now(), route, d, a.IP)
	}
	switch d.Action {
	case botdefense.Allow, botdefense.Solved:
		ctx := context.WithValue(r.Context(), attemptKey{}, &a)
		if d.Action == botdefense.Solved {
			ctx = context.WithValue(ctx, solvedBitsKey{}, d.Bits)
		}
		return r.WithContext(ctx), true
	case botdefense.Limited:
		_ = h.tooMany(w, r, http.StatusTooManyRequests, d.RetryAfter, "too_many_attempts", "limit.too_many.title", "limit.too_many.attempts")
	case botdefense.Blocked:
		_ = h.tooMany(w, r, http.StatusForbidden, d.RetryAfter, "not_available", "limit.blocked.title", "limit.blocked")
	case botdefense.Refused:
		_ = h.render(w, r, http.StatusBadRequest, "register", &pageData{Title: h.say(r, "register.title"), CSRF: h.csrfFor(w, r),
			RD: safeRedirect(r.PostForm.Get("rd"), h.allowHosts), Email: truncate(r.PostForm.Get("email"), 254),
			Accepted: r.PostForm["consent"], Error: h.say(r, "form.correct_fields"),
			Errors: map[string]string{"email": h.say(r, "field.disposable_email")}})
	case botdefense.Challenge:
		_ = h.challengePage(w, r, def.challenge, d)
	}
	return r, false
}

// recordOutcome tells the edge defences how a sign-in attempt ended.
func (h *Handler) recordOutcome(r *http.Request, failed bool) {
	a, ok := r.Context().Value(attemptKey{}).(*botdefense.Attempt)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Duration(h.app.StoreTimeout))
	defer cancel()
	if err := h.app.backend.defense.Record(ctx, h.policy, *a, failed); err != nil {
		h.logger.Warn("recording a sign-in outcome", zap.Error(err))
	}
}

// fingerprint is what the request says about the software sending it.
func fingerprint(r *http.Request) botdefense.Fingerprint {
	return botdefense.Fingerprint{
		UserAgent: r.UserAgent(), AcceptLanguage: r.Header.Get("Accept-Language") != "",
		Accept: r.Header.Get("Accept") != "", SecFetch: r.Header.Get("Sec-Fetch-Mode") != "",
	}
}

// clientAddr is the client's address as Caddy decided it (trusted
// proxies only), falling back to the connection's peer.
func clientAddr(r *http.Request) string {
	if ip := clientIP(r); ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tooMany answers status (429, or 403 for a block) with Retry-After: a
// page for browsers (titleID and textID are message ids), JSON with the
// error code for anything else.
func (h *Handler) tooMany(w http.ResponseWriter, r *http.Request, status int, retry time.Duration, code, titleID, textID string) error {
	secs := max(1, int(math.Ceil(retry.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		return writeJSON(w, status, map[string]any{"error": code, "retry_after": secs})
	}
	return h.message(w, r, status, titleID, "limit.retry", "", "", "message", h.say(r, textID), "duration", h.friendlyDuration(r, secs))
}

func (h *Handler) friendlyDuration(r *http.Request, secs int) string {
	switch {
	case secs < 90:
		return h.say(r, "limit.seconds", "n", strconv.Itoa(secs))
	case secs < 90*60:
		return h.say(r, "limit.minutes", "n", strconv.Itoa((secs+59)/60))
	default:
		return h.say(r, "limit.hours", "n", strconv.Itoa((secs+3599)/3600))
	}
}

// powView is a challenge embedded in a form page.
type powView struct {
	Challenge string
	Bits      int
}

// challengePage shows form again with a challenge the page's script
// solves; the customer then sends it again (a form without secrets is sent
// by the script itself).
func (h *Handler) challengePage(w http.ResponseWriter, r *http.Request, form *challengeForm, d botdefense.Decision) error {
	pd := &pageData{Title: h.say(r, form.title), CSRF: h.csrfFor(w, r), RD: safeRedirect(r.PostForm.Get("rd"), h.allowHosts),
		Email: truncate(r.PostForm.Get("email"), 254), Pow: &powView{Challenge: d.Challenge, Bits: d.Bits},
		Message: h.say(r, "challenge.check"), Accepted: r.PostForm["consent"]}
	if form.password {
		pd.Message = h.say(r, "challenge.check_password")
	}
	if form.ownSite {
		pd.RD = safeRedirect(r.PostForm.Get("rd"), nil)
	}
	if form.phone {
		pd.Email = ""
		pd.Phone = &phoneView{Value: truncate(r.PostForm.Get("phone"), sms.MaxNumberInput), Countries: strings.Join(h.SMSCountries, ", ")}
	}
	w.Header().Set("Cache-Control", "no-store")
	return h.render(w, r, http.StatusForbidden, form.page, pd)
}

// challengeRoute guards a Caddyfile `challenge` path: a browser without a
// valid pass is shown the challenge page; anything else gets 403.
func (h *Handler) challengeRoute(w http.ResponseWriter, r *http.Request) (bool, error) {
	// The route's own difficulty, not what risk added when the pass was
	// earned: a pass stays good for its lifetime unless the operator
	// raises pow_bits.
	if ck, err := r.Cookie(passCookie); err == nil && h.app.backend.defense.ValidPass(ck.Value, h.origin, clientAddr(r), h.policy.PowBits) {
		return true, nil
	}
	if !isNavigation(r) {
		return false, writeJSON(w, http.StatusForbidden, map[string]string{"error": "challenge_required"})
	}
	d, err := h.app.backend.defense.Check(r.Context(), h.policy, botdefense.Attempt{
		Route: botdefense.RouteChallenge, Site: h.origin, IP: clientAddr(r), Challengeable: true, Require: true,
		Fingerprint: fingerprint(r),
	})
	if err != nil {
		h.logger.Error("edge defence check failed", zap.Error(err))
		return false, h.unavailable(w, r)
	}
	h.app.backend.decisions.note(botdefense.RouteChallenge, d.Action)
	if d.Action == botdefense.Limited || d.Action == botdefense.Blocked {
		return false, h.tooMany(w, r, http.StatusTooManyRequests, d.RetryAfter, "too_many_attempts", "limit.too_many.title", "limit.too_many.requests")
	}
	return false, h.render(w, r, http.StatusForbidden, passChallenge.page, &pageData{Title: h.say(r, passChallenge.title), CSRF: h.csrfFor(w, r),
		RD: r.URL.RequestURI(), Pow: &powView{Challenge: d.Challenge, Bits: d.Bits}})
}

const (
	// passCookie lets a client through `challenge` routes once it solved
	// a challenge: bound to the site, its address and the difficulty it
	// was earned at, 30 minutes.
	passCookie = "__Host-frontdoor-pass"
	passTTL    = 30 * time.Minute
)

// challengeSolved is where the challenge page posts its solution (already
// verified by defend): it hands out the pass and returns to rd.
func (h *Handler) challengeSolved(w http.ResponseWriter, r *http.Request) error {
	bits, ok := r.Context().Value(solvedBitsKey{}).(int)
	if !ok {
		// defend let it through without a solution (it always asks for
		// one on this route): no pass for nothing.
		return writeJSON(w, http.StatusForbidden, map[string]string{"error": "challenge_required"})
	}
	setCookie(w, passCookie, h.app.backend.defense.IssuePass(h.origin, clientAddr(r), bits, passTTL), int(passTTL.Seconds()))
	// No allowed hosts: back to a path of this site only.
	http.Redirect(w, r, safeRedirect(r.PostForm.Get("rd"), nil), http.StatusSeeOther)
	return nil
}
