package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

// The apps holding a customer's tokens (identity.AppGrant): recorded at
// each code exchange (provider.go), listed on the account page of every
// site, revoked there — every refresh token family of the app ends at
// once, and a refresh of a family the record no longer knows (older than
// the ones it keeps) is refused too, because the grant is gone.

// appStillGranted refuses a refresh whose app the customer revoked, or
// whose session began before the customer ended every session, and
// keeps the grant's "last used" (at most once per AppTouchEvery).
func (o *siteOP) appStillGranted(ctx context.Context, grant identity.OAuthRefresh) error {
	b := o.h.app.backend
	c, err := b.customer(ctx, grant.Subject)
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if !c.SessionsEndedAt.IsZero() && !grant.SessionAt.After(c.SessionsEndedAt) {
		// Every session was ended after this grant's began ("sign out
		// everywhere", a reset), even if it had expired already.
		if err := o.revokeFamily(ctx, grant.Family); err != nil {
			o.h.logger.Error("provider: revoking a refresh token family", zap.Error(err))
		}
		return oidc.ErrInvalidGrant().WithDescription("every session of the customer has ended since this grant")
	}
	app, ok := c.App(o.issuer, grant.ClientID)
	if !ok {
		if err := o.revokeFamily(ctx, grant.Family); err != nil {
			o.h.logger.Error("provider: revoking a refresh token family", zap.Error(err))
		}
		return oidc.ErrInvalidGrant().WithDescription("the customer revoked this app's access")
	}
	if b.clock.Now().Sub(app.LastUsedAt) >= authflow.AppTouchEvery {
		if err := o.h.flows.AppUsed(ctx, grant.Subject, o.issuer, grant.ClientID, nil, ""); err != nil {
			o.h.logger.Warn("provider: recording an app's use", zap.Error(err))
		} else {
			b.forgetCustomer(grant.Subject)
		}
	}
	return nil
}

// appView is one app on the account page.
type appView struct {
	Issuer, ClientID, Name, Scopes string
	GrantedAt, LastUsedAt          time.Time
}

// appViews lists the customer's apps, named as their provider site names
// them.
func (h *Handler) appViews(c *identity.Customer) []appView {
	var out []appView
	for _, a := range c.Apps {
		if a.Agent {
			continue // listed with the agents (agentViews)
		}
		name := a.ClientID
		if o := h.app.providerSite(a.Issuer); o != nil {
			if pc := o.client(a.ClientID); pc != nil && pc.Name != "" {
				name = pc.Name
			}
		}
		scopes := slices.DeleteFunc(slices.Clone(a.Scopes), func(s string) bool { return s == oidc.ScopeOpenID })
		out = append(out, appView{Issuer: a.Issuer, ClientID: a.ClientID, Name: name, Scopes: strings.Join(scopes, ", "),
			GrantedAt: a.GrantedAt, LastUsedAt: a.LastUsedAt})
	}
	return out
}

// appRevoke takes an app's access away (fields issuer, client).
func (h *Handler) appRevoke(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	ctx := r.Context()
	out, err := h.flows.RevokeApp(ctx, s.UserID, r.PostForm.Get("issuer"), r.PostForm.Get("client"), h.client(r))
	if err != nil {
		h.logger.Error("revoking an app", zap.Error(err))
		return h.unavailable(w, r)
	}
	h.app.backend.forgetCustomer(s.UserID)
	o, ok := out.(authflow.AppRevoked)
	if !ok {
		return h.message(w, r, http.StatusNotFound, "account.app_revoked.title", "account.app_gone", h.Prefix+"/account", "link.account")
	}
	h.endAgent(ctx, s.UserID, o.App)
	for _, f := range o.App.Families {
		if err := revokeRefreshFamily(ctx, h.app.backend, f); err != nil && !errors.Is(err, context.Canceled) {
			// The grant is gone already: its refreshes are refused anyway.
			h.logger.Warn("revoking an app's refresh tokens", zap.Error(err))
		}
	}
	if o.App.Agent {
		return h.message(w, r, http.StatusOK, "account.agent_revoked.title", "account.agent_revoked", h.Prefix+"/account", "link.account")
	}
	return h.message(w, r, http.StatusOK, "account.app_revoked.title", "account.app_revoked", h.Prefix+"/account", "link.account")
}
