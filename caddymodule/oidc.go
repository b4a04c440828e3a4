package caddymodule

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/identity/oidcrp"
)

// The HTTP side of sign-in with an OpenID Provider (the contract):
//
//	GET  <prefix>/oidc/<name>?rd=…       302 to the provider (the contract)
//	POST <prefix>/oidc/<name>            (csrf_token, link=1) link it to the signed-in account
//	GET  <prefix>/oidc/<name>/callback   the provider's answer (POST for response_mode=form_post)
//	GET  <prefix>/oidc/link              a provider identity waiting for its account's owner
//	POST <prefix>/oidc/link              (csrf_token) link it, once signed in to that account
//	POST <prefix>/account/identity/unlink (csrf_token, id)

// oidcCookie holds the browser's nonce that binds its provider sign-ins
// and a pending link. SameSite=None: Apple answers with a cross-site form
// post, which must carry it; the nonce is worth nothing to anyone else.
const oidcCookie = "__Host-frontdoor-oidc"

// oidcRoutes are the route table entries of one provider.
func oidcRoutes(p *oidcrp.Provider) []route {
	start := func(h *Handler, w http.ResponseWriter, r *http.Request) error { return h.oidcStart(w, r, p) }
	callback := func(h *Handler, w http.ResponseWriter, r *http.Request) error { return h.oidcCallback(w, r, p) }
	d := defence{route: botdefense.RouteOIDC}
	return []route{
		{path: "/oidc/" + p.Name(), get: start, post: start, getDefence: d, postDefence: d},
		// The provider's answer carries its own CSRF protection: the
		// state, bound to this browser.
		{path: "/oidc/" + p.Name() + "/callback", get: callback, post: callback, getDefence: d, postDefence: d, crossSite: true},
	}
}

// providerButton is a provider as the sign-in and sign-up pages show it;
// Worded: its label is the default "Continue with <Display>", which the
// page says in its language (login.continue_with).
type providerButton struct {
	Name, Label, Display string
	Worded               bool
}

func (h *Handler) providerButtons() []providerButton {
	out := make([]providerButton, 0, len(h.providers))
	for _, p := range h.providers {
		out = append(out, providerButton{Name: p.Name(), Label: p.Label(), Display: p.DisplayName(),
			Worded: p.Label() == "Continue with "+p.DisplayName()})
	}
	return out
}

func (h *Handler) callbackURL(p *oidcrp.Provider) string {
	return h.origin + h.Prefix + "/oidc/" + p.Name() + "/callback"
}

// browserNonce returns the browser's provider nonce, setting a new one
// when it has none.
func (h *Handler) browserNonce(w http.ResponseWriter, r *http.Request) string {
	nonce, ok := cookieNonce(r, oidcCookie)
	if !ok {
		nonce = authflow.NewNonce()
	}
	// Set again each time, so it outlives the newest attempt.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: nonce, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteNoneMode, MaxAge: int(authflow.FederatedAttemptTTL.Seconds())})
	return nonce
}

// oidcStart begins a provider sign-in (GET) or, posted from the account
// page, the linking of a provider to the signed-in account.
func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request, p *oidcrp.Provider) error {
	var rd, linkFor string
	if r.Method == http.MethodPost {
		if r.PostForm.Get("link") == "" {
			return h.message(w, r, http.StatusBadRequest, "oidc.title", "oidc.bad_request", h.Prefix+"/login", "link.back_to_sign_in")
		}
		_, c := h.accountChange(w, r)
		if c == nil {
			return nil
		}
		if _, linked := linkedTo(c, p.Name()); linked {
			return h.message(w, r, http.StatusConflict, "oidc.title", "oidc.already_linked", h.Prefix+"/account", "link.account", "provider", p.DisplayName())
		}
		linkFor, rd = c.ID, h.Prefix+"/account"
	} else {
		rd = safeRedirect(r.URL.Query().Get("rd"), h.allowHosts)
	}
	att, authURL, err := p.Start(r.Context(), h.callbackURL(p))
	if err != nil {
		return h.oidcFailed(w, r, p, err)
	}
	proto, err := json.Marshal(att)
	if err != nil {
		return h.unavailable(w, r)
	}
	nonce := h.browserNonce(w, r)
	if err := h.flows.BeginFederated(r.Context(), authflow.FederatedAttempt{Provider: p.Name(), State: att.State,
		Protocol: proto, Redirect: rd, LinkFor: linkFor}, nonce); err != nil {
		h.logger.Error("storing provider sign-in", zap.String("provider", p.Name()), zap.Error(err))
		return h.unavailable(w, r)
	}
	status := http.StatusFound // the contract: GET answers 302 to the provider
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, authURL, status)
	return nil
}

// oidcCallback takes the provider's answer: the attempt this browser
// began is used up first (so junk never reaches the provider), then the
// relying party redeems the code and checks the ID token, and the
// account decision is authflow's.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request, p *oidcrp.Provider) error {
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		form = r.PostForm
	}
	nonce, _ := cookieNonce(r, oidcCookie)
	fa, err := h.flows.TakeFederated(r.Context(), form.Get("state"), nonce)
	if errors.Is(err, authflow.ErrAttemptGone) {
		h.logger.Info("provider answer without an attempt in this browser", zap.String("provider", p.Name()))
		return h.message(w, r, http.StatusBadRequest, "oidc.title", "oidc.expired", h.Prefix+"/login", "link.back_to_sign_in")
	}
	if err != nil {
		h.logger.Error("reading provider sign-in", zap.Error(err))
		return h.unavailable(w, r)
	}
	var att oidcrp.Attempt
	if err := json.Unmarshal(fa.Protocol, &att); err != nil {
		return h.message(w, r, http.StatusBadRequest, "oidc.title", "oidc.expired", h.Prefix+"/login", "link.back_to_sign_in")
	}
	id, err := p.Finish(r.Context(), att, oidcrp.Callback{Code: form.Get("code"), State: form.Get("state"), Iss: form.Get("iss"),
		Error: form.Get("error"), ErrorDescription: form.Get("error_description"), User: form.Get("user")})
	if err != nil {
		return h.oidcFailed(w, r, p, err)
	}
	cfg := p.Config()
	pol := authflow.ProviderPolicy{Name: p.Name(), LinkByEmail: cfg.Link == oidcrp.LinkVerifiedEmail, AutoRegister: cfg.AutoRegister, TrustMFA: cfg.TrustMFA}
	fid := authflow.FederatedIdentity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, EmailVerified: id.EmailVerified, Name: id.Name, MFA: id.MFA,
		RolesMapped: id.RolesMapped, Roles: id.Roles}
	if fa.LinkFor != "" {
		return h.oidcLinkSignedIn(w, r, fa.LinkFor, pol, fid)
	}
	out, err := h.flows.FederatedSignIn(r.Context(), authflow.FederatedSignInInput{Provider: pol, Identity: fid,
		Redirect: fa.Redirect, Device: rememberedDevice(r), Client: h.client(r), DeviceID: h.deviceID(w, r)})
	if err != nil {
		h.logger.Error("provider sign-in", zap.String("provider", p.Name()), zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.LinkRequired:
		if err := h.flows.HoldLink(r.Context(), o, fa.Redirect, nonce); err != nil {
			h.logger.Error("holding provider link", zap.Error(err))
			return h.unavailable(w, r)
		}
		http.Redirect(w, r, h.Prefix+"/oidc/link", http.StatusSeeOther)
		return nil
	case authflow.FederatedRefused:
		return h.oidcRefused(w, r, p, o.Reason)
	}
	return h.secondFactorOutcome(w, r, out)
}

// oidcLinkSignedIn finishes a link asked for on the account page: only
// for the account that asked, still signed in here.
func (h *Handler) oidcLinkSignedIn(w http.ResponseWriter, r *http.Request, customerID string, pol authflow.ProviderPolicy, fid authflow.FederatedIdentity) error {
	s, err := h.customerSession(r)
	if err != nil {
		return h.unavailable(w, r)
	}
	if s == nil || s.UserID != customerID {
		return h.message(w, r, http.StatusBadRequest, "oidc.title", "oidc.expired", h.Prefix+"/account", "link.account")
	}
	out, err := h.flows.LinkToSignedIn(r.Context(), customerID, pol, fid, h.client(r))
	if err != nil {
		h.logger.Error("linking provider identity", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.IdentityLinkedDone:
		return h.message(w, r, http.StatusOK, "oidc.linked.title", "oidc.linked", h.Prefix+"/account", "link.account", "provider", h.providerLabel(o.Provider))
	case authflow.FederatedRefused:
		return h.message(w, r, http.StatusConflict, "oidc.title", "oidc.elsewhere", h.Prefix+"/account", "link.account")
	}
	return h.message(w, r, http.StatusBadRequest, "oidc.title", "oidc.expired", h.Prefix+"/account", "link.account")
}

// oidcFailed answers a provider that failed, refused or lied: a page with
// the way back, and a log line with no code, token or secret.
func (h *Handler) oidcFailed(w http.ResponseWriter, r *http.Request, p *oidcrp.Provider, err error) error {
	log := h.logger.With(zap.String("provider", p.Name()), zap.String("error", err.Error()))
	back := h.Prefix + "/login"
	switch {
	case errors.Is(err, oidcrp.ErrUnavailable):
		log.Warn("provider unavailable")
		w.Header().Set("Retry-After", "15")
		return h.message(w, r, http.StatusServiceUnavailable, "oidc.unavailable.title", "oidc.unavailable", back, "link.back_to_sign_in", "provider", p.DisplayName())
	case errors.Is(err, oidcrp.ErrDenied):
		log.Info("provider sign-in refused")
		return h.message(w, r, http.StatusForbidden, "oidc.title", "oidc.denied", back, "link.back_to_sign_in", "provider", p.DisplayName())
	case errors.Is(err, oidcrp.ErrInvalidResponse):
		log.Warn("provider answer refused")
		return h.message(w, r, http.StatusBadRequest, "oidc.title", "oidc.invalid", back, "link.back_to_sign_in", "provider", p.DisplayName())
	default:
		log.Warn("provider failed")
		return h.message(w, r, http.StatusBadGateway, "oidc.title", "oidc.provider_error", back, "link.back_to_sign_in", "provider", p.DisplayName())
	}
}

func (h *Handler) oidcRefused(w http.ResponseWriter, r *http.Request, p *oidcrp.Provider, reason error) error {
	back := h.Prefix + "/login"
	switch {
	case errors.Is(reason, authflow.ErrFederatedNoEmail):
		return h.message(w, r, http.StatusForbidden, "oidc.title", "oidc.no_email", back, "link.back_to_sign_in", "provider", p.DisplayName())
	case errors.Is(reason, authflow.ErrFederatedClosed):
		return h.message(w, r, http.StatusForbidden, "oidc.title", "oidc.closed", back, "link.back_to_sign_in", "provider", p.DisplayName())
	case errors.Is(reason, authflow.ErrFederatedUnverified):
		return h.message(w, r, http.StatusConflict, "oidc.title", "oidc.unverified", back, "link.back_to_sign_in", "provider", p.DisplayName())
	default: // link never
		return h.message(w, r, http.StatusConflict, "oidc.title", "oidc.link_never", back, "link.back_to_sign_in", "provider", p.DisplayName())
	}
}

// providerLabel names a provider in sentences (it may no longer be
// configured: then its name).
func (h *Handler) providerLabel(name string) string {
	if p, ok := h.app.providers[name]; ok {
		return p.DisplayName()
	}
	return name
}

// oidcLinkPage shows a provider identity waiting for its account's owner
// to sign in (a link to the sign-in page that returns here), or, once
// signed in, the button that links it.
func (h *Handler) oidcLinkPage(w http.ResponseWriter, r *http.Request) error {
	return h.oidcLink(w, r, false)
}

func (h *Handler) oidcLinkConfirm(w http.ResponseWriter, r *http.Request) error {
	return h.oidcLink(w, r, true)
}

func (h *Handler) oidcLink(w http.ResponseWriter, r *http.Request, confirm bool) error {
	s, err := h.customerSession(r)
	if err != nil {
		return h.unavailable(w, r)
	}
	nonce, _ := cookieNonce(r, oidcCookie)
	out, err := h.flows.ConfirmLink(r.Context(), authflow.ConfirmLinkInput{Nonce: nonce, Session: s, Confirm: confirm, Client: h.client(r)})
	if err != nil {
		h.logger.Error("pending provider link", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.LinkPending:
		d := &pageData{Title: h.say(r, "oidc.link.title"), CSRF: h.csrfFor(w, r), Email: o.Email}
		label := h.providerLabel(o.Provider)
		if o.SignedIn {
			d.Message = h.say(r, "oidc.link.confirm", "provider", label)
			d.Confirm = &confirmView{Action: h.Prefix + "/oidc/link", Button: h.say(r, "oidc.link.button", "provider", label)}
			return h.render(w, r, http.StatusOK, "oidc_link", d)
		}
		q := url.Values{"rd": {h.Prefix + "/oidc/link"}, "email": {o.Email}}
		return h.message(w, r, http.StatusOK, "oidc.link.title", "oidc.link.sign_in", h.Prefix+"/login?"+q.Encode(), "link.sign_in",
			"provider", label, "email", o.Email)
	case authflow.IdentityLinkedDone:
		if o.Redirect != "" && o.Redirect != "/" {
			http.Redirect(w, r, o.Redirect, http.StatusSeeOther)
			return nil
		}
		return h.message(w, r, http.StatusOK, "oidc.linked.title", "oidc.linked", h.Prefix+"/account", "link.account", "provider", h.providerLabel(o.Provider))
	}
	return h.message(w, r, http.StatusNotFound, "oidc.link.title", "oidc.link.gone", h.Prefix+"/login", "link.sign_in")
}

// identityID names a linked identity in the account page's forms.
func identityID(li identity.LinkedIdentity) string {
	sum := sha256.Sum256([]byte(li.Issuer + "\x00" + li.Subject))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func linkedTo(c *identity.Customer, provider string) (identity.LinkedIdentity, bool) {
	for _, li := range c.Identities {
		if li.Provider == provider {
			return li, true
		}
	}
	return identity.LinkedIdentity{}, false
}

// identityUnlink removes a linked identity from the account (never the
// last way to sign in).
func (h *Handler) identityUnlink(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	var target *identity.LinkedIdentity
	for i, li := range c.Identities {
		if identityID(li) == r.PostForm.Get("id") {
			target = &c.Identities[i]
		}
	}
	if target == nil {
		return h.message(w, r, http.StatusNotFound, "oidc.title", "oidc.unlink.not_found", h.Prefix+"/account", "link.account")
	}
	out, err := h.flows.UnlinkIdentity(r.Context(), authflow.UnlinkInput{CustomerID: c.ID, Issuer: target.Issuer, Subject: target.Subject, Client: h.client(r)})
	if err != nil {
		h.logger.Error("unlinking provider identity", zap.Error(err))
		return h.unavailable(w, r)
	}
	label := h.providerLabel(target.Provider)
	switch out.(type) {
	case authflow.IdentityUnlinked:
		return h.message(w, r, http.StatusOK, "oidc.unlinked.title", "oidc.unlinked", h.Prefix+"/account", "link.account", "provider", label)
	case authflow.LastWayToSignIn:
		return h.message(w, r, http.StatusConflict, "oidc.title", "oidc.unlink.last", h.Prefix+"/account", "link.account", "provider", label)
	}
	return h.message(w, r, http.StatusNotFound, "oidc.title", "oidc.unlink.not_found", h.Prefix+"/account", "link.account")
}
