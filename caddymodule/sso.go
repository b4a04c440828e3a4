package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity/oidcrp"
	"github.com/frontdoorhq/frontdoor/session"
)

// Single sign-on: a site with `sso <issuer>` is an OpenID Connect client
// of the gateway's provider site (provider.go), by the standard code flow:
//
//	a visitor without a session   302 to the provider's authorize endpoint
//	                              (PKCE S256, state, nonce sealed in a
//	                              __Host- flow cookie of this site)
//	GET <prefix>/sso/callback     the provider's answer: the code is
//	                              redeemed on the back channel, the ID
//	                              token checked, and a host-only session
//	                              of this site started in the family of
//	                              the provider's session (its sid)
//
// Signing out anywhere ends the family — the provider's session and every
// site's — at once on this node and within the session cache (2 s) on the
// others. A provider served by this gateway is reached in process (no DNS,
// no TLS, no hop); its customers are this store's, so the ID token's sub
// is the customer id. Step-up rules ask the provider for max_age and
// acr_values and check what comes back (oidcrp).

// ssoCookiePrefix names the flow cookies: one per sign-in in flight,
// suffixed with the start of its state, so two tabs do not overwrite
// each other's.
const ssoCookiePrefix = "__Host-frontdoor-sso-"

// ssoMaxRD bounds the return URL kept in a flow cookie.
const ssoMaxRD = 1024

// ssoFlow is what a flow cookie seals.
type ssoFlow struct {
	oidcrp.Attempt
	RD string `json:"rd"`
	// StepUp: started because the session fell short of rd's rule.
	StepUp bool `json:"up,omitempty"`
}

func (h *Handler) ssoCallbackURL() string { return h.origin + h.Prefix + "/sso/callback" }

func ssoCookieName(state string) string {
	if len(state) > 12 {
		state = state[:12]
	}
	return ssoCookiePrefix + state
}

// ssoStart sends the browser to the provider, to come back to rd.
func (h *Handler) ssoStart(w http.ResponseWriter, r *http.Request, rd string, so oidcrp.StartOptions) error {
	return h.ssoBegin(w, r, ssoFlow{RD: rd}, so)
}

// ssoBegin starts the flow f (its RD and StepUp set).
func (h *Handler) ssoBegin(w http.ResponseWriter, r *http.Request, f ssoFlow, so oidcrp.StartOptions) error {
	rd := f.RD
	if len(rd) > ssoMaxRD {
		rd = "/"
	}
	att, authURL, err := h.sso.StartWith(r.Context(), h.ssoCallbackURL(), so)
	if err != nil {
		return h.oidcFailed(w, r, h.sso, err)
	}
	name := ssoCookieName(att.State)
	f.Attempt, f.RD = att, rd
	f.Provider, f.RedirectURL = "", "" // known again at the callback
	raw, err := json.Marshal(f)
	if err != nil {
		return h.unavailable(w, r)
	}
	v, err := h.app.codec.EncodeFlow(name, h.origin, raw)
	if err != nil {
		h.logger.Error("sealing a single sign-on", zap.Error(err))
		return h.unavailable(w, r)
	}
	// Lax: the provider's answer is a top-level GET from its site.
	http.SetCookie(w, &http.Cookie{Name: name, Value: v, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(session.FlowMaxAge.Seconds())})
	w.Header().Set("Cache-Control", "no-store")
	status := http.StatusFound
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, authURL, status)
	return nil
}

// ssoLogin stands for the sign-in and sign-up pages on a single sign-on
// site: both happen at the provider.
func (h *Handler) ssoLogin(w http.ResponseWriter, r *http.Request) error {
	return h.ssoStart(w, r, safeRedirect(r.URL.Query().Get("rd"), h.allowHosts), oidcrp.StartOptions{})
}

// ssoStepUp stands for the step-up page: the provider is asked for the
// sign-in the rule at rd wants (max_age, acr_values), and the answer is
// checked when it comes back.
func (h *Handler) ssoStepUp(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	rd := safeRedirect(r.URL.Query().Get("rd"), h.allowHosts)
	c, err := h.app.backend.identity.Customer(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("loading customer", zap.Error(err))
		return h.unavailable(w, r)
	}
	return h.ssoBegin(w, r, ssoFlow{RD: rd, StepUp: true}, ssoAsk(h.requirementAt(rd, s, c)))
}

// ssoAsk turns a requirement into what the provider is asked.
func ssoAsk(req authflow.Requirement) oidcrp.StartOptions {
	so := oidcrp.StartOptions{ACR: req.AAL}
	if req.MaxAge > 0 {
		so.MaxAge = max(1, int64(req.MaxAge/time.Second))
	}
	return so
}

// ssoCallback takes the provider's answer.
func (h *Handler) ssoCallback(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	state := q.Get("state")
	back := h.Prefix + "/login"
	var f ssoFlow
	if ok := len(state) >= 16 && len(state) <= 128; ok {
		name := ssoCookieName(state)
		if ck, err := r.Cookie(name); err == nil {
			clearCookie(w, name) // one use, whatever comes of it
			if raw, err := h.app.codec.DecodeFlow(name, h.origin, ck.Value); err == nil {
				_ = json.Unmarshal(raw, &f)
			}
		}
	}
	if f.State == "" {
		h.logger.Info("single sign-on answer without an attempt in this browser")
		return h.message(w, r, http.StatusBadRequest, "oidc.title", "oidc.expired", back, "link.back_to_sign_in")
	}
	f.Provider, f.RedirectURL = ssoName, h.ssoCallbackURL()
	id, err := h.sso.Finish(r.Context(), f.Attempt, oidcrp.Callback{Code: q.Get("code"), State: state, Iss: q.Get("iss"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description")})
	if err != nil {
		return h.oidcFailed(w, r, h.sso, err)
	}
	if id.SessionID == "" || len(id.SessionID) > 64 {
		return h.oidcFailed(w, r, h.sso, oidcrp.ErrInvalidResponse)
	}
	c, askConsent, done, err := h.ssoCustomer(w, r, id, f.RD)
	if done || err != nil {
		return err
	}
	// A step-up must come back with what the page asks (a rule may name
	// sign-in methods the provider cannot be asked for): else a refusal,
	// not another round trip. A plain sign-in goes to rd, whose rule
	// then asks for the step-up.
	got := &session.Session{AuthTime: id.AuthTime, ACR: id.ACR, AMR: id.AMR}
	if got.AuthTime.IsZero() {
		got.AuthTime = h.app.backend.clock.Now()
	}
	if f.StepUp && h.flows.Unmet(h.requirementAt(f.RD, got, c), got) {
		return h.message(w, r, http.StatusForbidden, "stepup.no_factor.title", "stepup.no_factor", "/", "link.home")
	}
	due := authflow.SessionDue{Customer: c, AMR: id.AMR, ACR: id.ACR, Redirect: f.RD, AskConsent: askConsent}
	h.askConsentFirst(w, &due)
	in := authflow.StartSessionInput{Due: due, Family: id.SessionID, AuthTime: id.AuthTime}
	if h.app.providerSite(h.SSO.Issuer) == nil {
		in.IDToken = id.RawIDToken // to sign out there too
	}
	if _, err := h.startSessionIn(w, r, in); err != nil {
		h.logger.Error("single sign-on: starting the session", zap.Error(err))
		return h.unavailable(w, r)
	}
	http.Redirect(w, r, safeRedirect(due.Redirect, h.allowHosts), http.StatusSeeOther)
	return nil
}

// providerSite returns the OpenID Provider this configuration serves at
// origin, nil when none.
func (a *App) providerSite(origin string) *siteOP {
	policiesMu.Lock()
	defer policiesMu.Unlock()
	if h := a.sites[strings.TrimSuffix(origin, "/")]; h != nil {
		return h.op
	}
	return nil
}

// ssoTransport carries a single sign-on site's calls to its provider: in
// process when this gateway serves the provider, else over the network.
type ssoTransport struct {
	app  *App
	next http.RoundTripper
}

func (t ssoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if o := t.app.providerSite(r.URL.Scheme + "://" + r.URL.Host); o != nil {
		return o.roundTrip(r)
	}
	return t.next.RoundTrip(r)
}

// roundTrip answers a back-channel request of one of this gateway's own
// sites (discovery, keys, token) without leaving the process. It skips
// the edge limits: the caller is the gateway, with the client's secret.
func (o *siteOP) roundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(o.h.app.StoreTimeout))
	defer cancel()
	in := r.Clone(op.ContextWithIssuer(ctx, o.issuer))
	in.RemoteAddr, in.RequestURI, in.Host = "127.0.0.1:0", r.URL.RequestURI(), r.URL.Host
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	o.web.ServeHTTP(rec, in)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// ssoRoutes are the route table entries of a single sign-on site: the
// callback, and the sign-in, sign-up and step-up pages, which happen at
// the provider.
func ssoRoutes() []route {
	return []route{
		{path: "/sso/callback", get: (*Handler).ssoCallback, getDefence: defence{route: botdefense.RouteOIDC}},
		{path: "/login", get: (*Handler).ssoLogin, post: (*Handler).ssoLogin},
		{path: "/register", get: (*Handler).ssoLogin},
		{path: "/stepup", get: (*Handler).ssoStepUp},
		// The provider's back channel: a logout token, no CSRF token (it
		// is its own proof).
		{path: "/sso/signed-out", get: (*Handler).ssoSignedOut},
		{path: "/sso/logout", post: (*Handler).ssoBackchannelLogout, postDefence: defence{route: botdefense.RouteOIDC}, crossSite: true},
	}
}

// ssoSignedOut is where the provider of another deployment sends the
// browser back after signing it out there too (post_logout_redirect_uri).
func (h *Handler) ssoSignedOut(w http.ResponseWriter, r *http.Request) error {
	return h.message(w, r, http.StatusOK, "logout.done.title", "logout.done", h.Prefix+"/login", "link.sign_in_again")
}

// ssoEndSessionURL is where signing out sends a browser whose session came
// from a provider of another deployment: its end_session, to end the
// session there too, and back to <prefix>/sso/signed-out. "" for none.
func (h *Handler) ssoEndSessionURL(r *http.Request, idToken string) string {
	if h.sso == nil || idToken == "" {
		return ""
	}
	u, err := h.sso.EndSessionURL(r.Context(), idToken, h.origin+h.Prefix+"/sso/signed-out", "")
	if err != nil {
		h.logger.Warn("single sign-on: the provider's end_session", zap.Error(err))
		return ""
	}
	return u
}
