package caddymodule

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/identity/oidcrp"
)

// Single sign-on with a provider of another deployment (another store):
// its customers are known here by their identity at it (issuer, sub), as a
// social sign-in's are — created on their first visit, never linked to an
// account of the same address without that account's own sign-in — and
// the provider ends their sessions here by back-channel logout:
//
//	POST <prefix>/sso/logout   logout_token (OpenID Connect Back-Channel
//	                           Logout 1.0): the family it names ends
//	                           (200), a bad token is refused (400)

// ssoCustomer returns the customer an ID token of the provider names: the
// customer id itself when this gateway serves the provider (one store),
// else the customer linked to the identity at the provider, created on
// first sign-in. done: the request is answered (a refusal, a second
// factor of the account here).
func (h *Handler) ssoCustomer(w http.ResponseWriter, r *http.Request, id *oidcrp.Identity, rd string) (c *identity.Customer, askConsent string, done bool, err error) {
	ctx := r.Context()
	if h.app.providerSite(h.SSO.Issuer) != nil {
		c, err = h.app.backend.identity.Customer(ctx, id.Subject)
		if errors.Is(err, identity.ErrNotFound) {
			return nil, "", true, h.oidcFailed(w, r, h.sso, oidcrp.ErrInvalidResponse)
		}
		if err != nil {
			h.logger.Error("single sign-on: loading the customer", zap.Error(err))
			return nil, "", true, h.unavailable(w, r)
		}
		return c, "", false, nil
	}
	pol := authflow.ProviderPolicy{Name: ssoName, AutoRegister: true}
	fid := authflow.FederatedIdentity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, EmailVerified: id.EmailVerified,
		Name: id.Name, MFA: id.MFA}
	out, err := h.flows.FederatedSignIn(ctx, authflow.FederatedSignInInput{Provider: pol, Identity: fid, Redirect: rd, Client: h.client(r)})
	if err != nil {
		h.logger.Error("single sign-on: the customer here", zap.Error(err))
		return nil, "", true, h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.SessionDue:
		return o.Customer, o.AskConsent, false, nil
	case authflow.FederatedRefused:
		return nil, "", true, h.oidcRefused(w, r, h.sso, o.Reason)
	case authflow.LinkRequired:
		return nil, "", true, h.oidcRefused(w, r, h.sso, authflow.ErrFederatedLinkNever)
	}
	// The account here has a second factor of its own: it is asked.
	return nil, "", true, h.secondFactorOutcome(w, r, out)
}

// ssoBackchannelLogout takes the provider's logout token and ends the
// session family it names.
func (h *Handler) ssoBackchannelLogout(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	ctx := r.Context()
	lt, err := h.sso.VerifyLogoutToken(ctx, r.PostForm.Get("logout_token"))
	if err != nil {
		h.logger.Info("single sign-on: logout token refused", zap.Error(err))
		if errors.Is(err, oidcrp.ErrInvalidResponse) {
			return writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "logout token refused"})
		}
		return writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
	}
	b := h.app.backend
	// Taken once: a replay in its lifetime is refused.
	seen := identity.HashToken("logout|" + lt.Issuer + "|" + lt.JTI)
	if _, err := b.identity.ConsumeToken(ctx, identity.TokenLogoutSeen, seen, b.clock.Now()); err == nil {
		return writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "logout token replayed"})
	} else if !errors.Is(err, identity.ErrNotFound) {
		return h.backchannelUnavailable(w, err)
	}
	if err := b.identity.PutToken(ctx, identity.NewTokenUnder(seen, identity.LogoutSeen{Issuer: lt.Issuer}, "", lt.Expiry)); err != nil {
		return h.backchannelUnavailable(w, err)
	}
	customerID := lt.Subject
	if h.app.providerSite(h.SSO.Issuer) == nil {
		c, err := b.identity.CustomerByIdentity(ctx, lt.Issuer, lt.Subject)
		if errors.Is(err, identity.ErrNotFound) {
			w.WriteHeader(http.StatusOK) // nobody here: nothing to end
			return nil
		}
		if err != nil {
			return h.backchannelUnavailable(w, err)
		}
		customerID = c.ID
	}
	if _, err := b.sessions.RevokeFamily(ctx, customerID, lt.SID); err != nil {
		return h.backchannelUnavailable(w, err)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *Handler) backchannelUnavailable(w http.ResponseWriter, err error) error {
	h.logger.Error("single sign-on: back-channel logout", zap.Error(err))
	w.Header().Set("Retry-After", "5")
	return writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
}
