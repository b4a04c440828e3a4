package caddymodule

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/session"
	"go.uber.org/zap"
)

// The HTTP side of consent: the purposes on the sign-up form (fields
// consent=<id>, repeated; nothing ticked unless the customer ticked it).

// purposeView is one purpose's checkbox.
type purposeView struct {
	ID, Title, Text, Link string
	Required, Checked     bool
	// Field is its error's key in pageData.Errors.
	Field string
}

// purposeViews are the global purposes as checkboxes, ticked where the
// customer ticked them on the form being shown again.
func (h *Handler) purposeViews(accepted []string) []purposeView {
	return h.purposeViewsOf(h.app.purposes, accepted)
}

func (h *Handler) purposeViewsOf(ps consent.Purposes, accepted []string) []purposeView {
	out := make([]purposeView, 0, len(ps))
	for _, p := range ps {
		out = append(out, purposeView{
			ID: p.ID, Title: p.Title, Text: p.Text, Link: p.Link, Required: p.Required,
			Checked: slices.Contains(accepted, p.ID), Field: authflow.ConsentField(p.ID),
		})
	}
	return out
}

// consentPurposes are the purposes of the running config.
func (b *backend) consentPurposes() consent.Purposes {
	liveMu.Lock()
	defer liveMu.Unlock()
	if live == nil {
		return nil
	}
	return live.purposes
}

// consentHeader tells backends the customer's answers on the purposes the
// site lists: "analytics=granted, marketing=denied".
const consentHeader = "X-Frontdoor-Consent"

// needsConsent reports whether signed-in requests on this site need the
// customer's consent state.
func (h *Handler) needsConsent() bool {
	if len(h.Consent) > 0 {
		return true
	}
	for _, r := range h.Rules {
		if len(r.Consent) > 0 {
			return true
		}
	}
	for _, p := range h.app.purposes {
		if p.Required || p.SaleOrSharing {
			return true
		}
	}
	return false
}

// checkConsent is the hot path's consent step for a signed-in request:
// it honours a Global Privacy Control signal, stops a protected request
// that lacks a purpose it needs (stop, with the answer written), and
// returns what the assertion and headers state.
func (h *Handler) checkConsent(w http.ResponseWriter, r *http.Request, s *session.Session, views []string, public bool) (x session.Extra, stop bool, err error) {
	b := h.app.backend
	st, err := b.consentState(r.Context(), s.UserID)
	if err != nil {
		if public {
			return x, false, nil // served, without the consent header
		}
		h.logger.Error("loading consent", zap.Error(err))
		return x, true, h.unavailable(w, r)
	}
	if r.Header.Get("Sec-GPC") == "1" {
		st = h.honourGPC(r, s, st)
	}
	if !public {
		if p, ok := h.missingConsent(views, st); ok {
			return x, true, h.askConsent(w, r, p)
		}
	}
	if len(h.Consent) > 0 {
		x.Consent = consentValue(st.Summary(h.app.purposes, h.Consent))
	}
	return x, false, nil
}

// consentValue is the header's value.
func consentValue(answers []consent.Answer) string {
	var sb strings.Builder
	for i, a := range answers {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(a.Purpose)
		sb.WriteByte('=')
		sb.WriteString(a.Word())
	}
	return sb.String()
}

// honourGPC records the signal's withdrawals, if any purpose it covers is
// still granted, and returns the state after them.
func (h *Handler) honourGPC(r *http.Request, s *session.Session, st consent.State) consent.State {
	b := h.app.backend
	n, err := h.flows.HonourGPC(r.Context(), s.UserID, st, h.client(r))
	if n > 0 || err != nil {
		b.forgetCustomer(s.UserID)
	}
	if err != nil {
		h.logger.Error("recording a Global Privacy Control withdrawal", zap.Error(err))
	}
	if n == 0 {
		return st
	}
	// What the backend is told now: the purposes withdrawn.
	out := maps.Clone(st)
	for _, p := range h.app.purposes {
		if c, ok := out[p.ID]; p.SaleOrSharing && ok && c.Granted {
			out[p.ID] = consent.Choice{Version: p.Version, At: h.app.backend.clock.Now(), How: consent.HowGPC}
		}
	}
	return out
}

// missingConsent returns the first purpose the request needs and the
// customer has not agreed to in its current version: a required purpose,
// or one a rule on the path demands.
func (h *Handler) missingConsent(views []string, st consent.State) (consent.Purpose, bool) {
	for _, p := range h.app.purposes {
		if p.Required && !st.Granted(p) {
			return p, true
		}
	}
	for _, rule := range h.rules {
		if len(rule.Consent) == 0 || !slices.ContainsFunc(views, rule.paths.match) {
			continue
		}
		for _, id := range rule.Consent {
			if p, ok := h.app.purposes.Lookup(id); ok && !st.Granted(p) {
				return p, true
			}
		}
	}
	return consent.Purpose{}, false
}

// askConsent answers a request that lacks a purpose: a browser's page load
// goes to the prompt, which returns to it; anything else gets 403.
func (h *Handler) askConsent(w http.ResponseWriter, r *http.Request, p consent.Purpose) error {
	w.Header().Set("Cache-Control", "no-store")
	if isNavigation(r) {
		http.Redirect(w, r, h.Prefix+"/consent?rd="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return nil
	}
	return writeJSON(w, http.StatusForbidden, map[string]string{"error": "consent_required", "purpose": p.ID})
}

// askedAt are the purposes the prompt puts to the customer on its way to
// rd: the required ones not agreed to, and those a rule on rd's path
// demands.
func (h *Handler) askedAt(rd string, st consent.State) consent.Purposes {
	var asked consent.Purposes
	for _, p := range h.app.purposes {
		if p.Required && !st.Granted(p) {
			asked = append(asked, p)
		}
	}
	u, err := url.Parse(rd)
	if err != nil || u.Host != "" {
		return asked
	}
	views := pathViews(&http.Request{URL: u})
	for _, rule := range h.rules {
		if len(rule.Consent) == 0 || !slices.ContainsFunc(views, rule.paths.match) {
			continue
		}
		for _, id := range rule.Consent {
			if p, ok := h.app.purposes.Lookup(id); ok && !st.Granted(p) && !slices.ContainsFunc(asked, func(q consent.Purpose) bool { return q.ID == id }) {
				asked = append(asked, p)
			}
		}
	}
	return asked
}

// consentPrompt shows the purposes the customer is asked for before
// going on to rd.
func (h *Handler) consentPrompt(w http.ResponseWriter, r *http.Request) error {
	return h.consentPromptFor(w, r, r.URL.Query().Get("rd"))
}

func (h *Handler) consentPromptFor(w http.ResponseWriter, r *http.Request, rawRD string) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	rd := safeRedirect(rawRD, h.allowHosts)
	if nonce, ok := cookieNonce(r, consentCookie); ok {
		if done, err := h.signUpConsent(w, r, s, nonce, rd); done || err != nil {
			return err
		}
	}
	b := h.app.backend
	rs, err := b.consent.Records(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("loading consent", zap.Error(err))
		return h.unavailable(w, r)
	}
	asked := h.askedAt(rd, consent.StateOf(rs))
	if len(asked) == 0 {
		http.Redirect(w, r, rd, http.StatusSeeOther)
		return nil
	}
	d := &pageData{Title: h.say(r, "consent.title"), CSRF: h.csrfFor(w, r), RD: rd, Purposes: mustAccept(h.purposeViewsOf(asked, nil))}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		accepted := r.PostForm["consent"]
		out, err := h.flows.GiveConsent(r.Context(), authflow.ConsentInput{
			CustomerID: s.UserID, Asked: asked, Accepted: accepted, MustAccept: true, Client: h.client(r), How: consent.HowPrompt,
		})
		b.forgetCustomer(s.UserID)
		if err != nil {
			h.logger.Error("recording consent", zap.Error(err))
			return h.unavailable(w, r)
		}
		switch o := out.(type) {
		case authflow.ConsentRecorded:
			http.Redirect(w, r, rd, http.StatusSeeOther)
			return nil
		case authflow.Invalid:
			status = http.StatusBadRequest
			d.Purposes = mustAccept(h.purposeViewsOf(asked, accepted))
			d.Error, d.Errors = h.say(r, "consent.needed"), h.fieldErrors(r, o.Fields)
		default:
			return h.unexpected(w, r, out)
		}
	}
	return h.render(w, r, status, "consent", d)
}

// mustAccept marks every purpose of the prompt required: what it asks
// for, the route needs.
func mustAccept(vs []purposeView) []purposeView {
	for i := range vs {
		vs[i].Required = true
	}
	return vs
}

// consentCookie holds the nonce of a sign-up's pending question about
// every purpose (authflow.SessionDue.AskConsent).
const consentCookie = "__Host-frontdoor-consent"

// askConsentFirst sends a customer who just signed up through a provider
// to the prompt, which asks every purpose before going on to due's
// Redirect: no form has asked them yet.
func (h *Handler) askConsentFirst(w http.ResponseWriter, due *authflow.SessionDue) {
	if due.AskConsent == "" {
		return
	}
	setCookie(w, consentCookie, due.AskConsent, int(authflow.SignUpConsentTTL.Seconds()))
	due.Redirect = h.Prefix + "/consent?rd=" + url.QueryEscape(safeRedirect(due.Redirect, h.allowHosts))
}

// signUpConsent is the prompt of a customer whose sign-up asked for no
// purpose (through a provider), in the browser that signed up: every
// purpose, nothing ticked, the required ones to be ticked, recorded as the
// sign-up's answers. done is false when there is no such question (any
// more): the ordinary prompt applies.
func (h *Handler) signUpConsent(w http.ResponseWriter, r *http.Request, s *session.Session, nonce, rd string) (done bool, err error) {
	if len(h.app.purposes) == 0 { // removed by a reload since: nothing to ask
		clearCookie(w, consentCookie)
		return false, nil
	}
	d := &pageData{Title: h.say(r, "consent.title"), CSRF: h.csrfFor(w, r), RD: rd, SignUpConsent: true,
		Message: h.say(r, "consent.signup_intro"), Purposes: h.purposeViews(nil)}
	if r.Method != http.MethodPost {
		pending, err := h.flows.SignUpConsentPending(r.Context(), s.UserID, nonce)
		if err != nil {
			h.logger.Error("loading a sign-up's consent question", zap.Error(err))
			return true, h.unavailable(w, r)
		}
		if !pending {
			clearCookie(w, consentCookie)
			return false, nil
		}
		return true, h.render(w, r, http.StatusOK, "consent", d)
	}
	accepted := r.PostForm["consent"]
	out, err := h.flows.GiveSignUpConsent(r.Context(), authflow.SignUpConsentInput{
		CustomerID: s.UserID, Nonce: nonce, Accepted: accepted, Client: h.client(r),
	})
	h.app.backend.consentCache.forget(s.UserID)
	if err != nil {
		h.logger.Error("recording consent", zap.Error(err))
		return true, h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.ConsentRecorded:
		clearCookie(w, consentCookie)
		http.Redirect(w, r, rd, http.StatusSeeOther)
		return true, nil
	case authflow.Invalid:
		d.Purposes = h.purposeViews(accepted)
		d.Error, d.Errors = h.say(r, "form.correct_fields"), h.fieldErrors(r, o.Fields)
		return true, h.render(w, r, http.StatusBadRequest, "consent", d)
	case authflow.SignUpConsentGone:
		// Answered in another tab, or expired: nothing of this form is
		// recorded; the prompt shows what is asked now.
		clearCookie(w, consentCookie)
		http.Redirect(w, r, h.Prefix+"/consent?rd="+url.QueryEscape(rd), http.StatusSeeOther)
		return true, nil
	}
	return true, h.unexpected(w, r, out)
}

// consentAnswer is the prompt's form.
func (h *Handler) consentAnswer(w http.ResponseWriter, r *http.Request) error {
	return h.consentPromptFor(w, r, r.PostForm.Get("rd"))
}

// consentView is the account page's consent section: each purpose with
// its current answer, and the history of records, newest first.
type consentView struct {
	Purposes []accountPurpose
	History  []consentHistory
}

type accountPurpose struct {
	ID, Title, Text, Link string
	Required, Granted     bool
}

type consentHistory struct {
	Title   string
	Version int
	Granted bool
	At      time.Time
	How     string
	Site    string
}

// consentSection builds the account page's consent section; nil when no
// purpose is configured and the customer has no records.
func (h *Handler) consentSection(r *http.Request, customerID string) (*consentView, error) {
	rs, err := h.app.backend.consent.Records(r.Context(), customerID)
	if err != nil {
		return nil, err
	}
	if len(h.app.purposes) == 0 && len(rs) == 0 {
		return nil, nil
	}
	st := consent.StateOf(rs)
	v := &consentView{}
	for _, p := range h.app.purposes {
		v.Purposes = append(v.Purposes, accountPurpose{ID: p.ID, Title: p.Title, Text: p.Text, Link: p.Link, Required: p.Required, Granted: st.Granted(p)})
	}
	for i := len(rs) - 1; i >= 0; i-- {
		rec := rs[i]
		title := rec.Purpose
		if p, ok := h.app.purposes.Lookup(rec.Purpose); ok {
			title = p.Title
		}
		v.History = append(v.History, consentHistory{Title: title, Version: rec.Version, Granted: rec.Granted, At: rec.At,
			How: h.howSaid(r, rec.How), Site: rec.Site})
	}
	return v, nil
}

// accountConsent gives or withdraws one optional purpose (fields purpose
// and answer=give|withdraw). Required purposes are not withdrawn here:
// the way to stop agreeing to them is to delete the account.
func (h *Handler) accountConsent(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	p, known := h.app.purposes.Lookup(r.PostForm.Get("purpose"))
	answer := r.PostForm.Get("answer")
	if !known || p.Required || (answer != "give" && answer != "withdraw") {
		return h.message(w, r, http.StatusBadRequest, "account.title", "consent.not_changeable", h.Prefix+"/account", "link.account")
	}
	var accepted []string
	if answer == "give" {
		accepted = []string{p.ID}
	}
	_, err := h.flows.GiveConsent(r.Context(), authflow.ConsentInput{
		CustomerID: s.UserID, Asked: consent.Purposes{p}, Accepted: accepted, Client: h.client(r), How: consent.HowAccount,
	})
	// Backends on this node see the change at the next request.
	h.app.backend.forgetCustomer(s.UserID)
	if err != nil {
		h.logger.Error("recording consent", zap.Error(err))
		return h.unavailable(w, r)
	}
	http.Redirect(w, r, h.Prefix+"/account#consent-h", http.StatusSeeOther)
	return nil
}

// howSaid is how a record was made, in the customer's words.
func (h *Handler) howSaid(r *http.Request, how consent.How) string {
	switch how {
	case consent.HowSignup:
		return h.say(r, "consent.how.signup")
	case consent.HowAccount:
		return h.say(r, "consent.how.account")
	case consent.HowPrompt:
		return h.say(r, "consent.how.prompt")
	case consent.HowAdmin:
		return h.say(r, "consent.how.admin")
	case consent.HowGPC:
		return h.say(r, "consent.how.gpc")
	}
	return string(how)
}
