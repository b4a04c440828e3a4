package caddymodule

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// The consent screen of a client that is not first_party: the customer,
// signed in at the provider, sees which app asks for what and allows it or
// not (a CSRF-protected form; GET never decides). An allowed app is one of
// the customer's apps (identity.AppGrant) with the scopes allowed: it is
// not asked again until it asks for more, asks with prompt=consent, or the
// customer removes it on the account page. prompt=none when consent is
// needed: consent_required to the client.
//
//	POST <prefix>/apps/consent   csrf_token, id (the request), decision allow|deny

// appConsentView is what the consent page shows.
type appConsentView struct {
	ID, Name, Site string
	// Scopes are the scopes asked, each in words.
	Scopes []string
	// Agent: the client acts for the customer (provider_agents.go), until
	// Until if allowed now.
	Agent bool
	Until time.Time
}

// consentNeeded reports whether the customer must be asked: the app is
// not one of theirs, asks for a scope they did not allow, or asks again
// (prompt=consent).
func (o *siteOP) consentNeeded(ctx context.Context, customerID string, req identity.OAuthRequest) (bool, error) {
	if slices.Contains(req.Prompt, oidc.PromptConsent) {
		return true, nil
	}
	c, err := o.h.app.backend.customer(ctx, customerID)
	if err != nil {
		return false, err
	}
	app, ok := c.App(o.issuer, req.ClientID)
	if !ok {
		return true, nil
	}
	if pc := o.client(req.ClientID); pc != nil && pc.Agent && !app.Live(o.h.app.backend.clock.Now()) {
		// An agent's grant ended with its term: the customer is asked
		// again.
		return true, nil
	}
	for _, sc := range req.Scopes {
		if !slices.Contains(app.Scopes, sc) {
			return true, nil
		}
	}
	return false, nil
}

// askConsent shows the consent page for the waiting request req.
func (o *siteOP) askConsent(w http.ResponseWriter, r *http.Request, c *ProviderClient, req identity.OAuthRequest) error {
	h := o.h
	name := c.Name
	if name == "" {
		name = c.ID
	}
	v := &appConsentView{ID: req.ID, Name: name, Site: h.audience, Scopes: h.scopeWords(r, req.Scopes)}
	title := h.say(r, "app_consent.title", "app", name)
	if c.Agent {
		// Its term, stated below, says how long it keeps access.
		v.Scopes = h.scopeWords(r, agentConsentScopes(req.Scopes))
		v.Agent, v.Until = true, h.app.backend.clock.Now().Add(c.lifetime())
		title = h.say(r, "agent_consent.title", "agent", name)
	}
	w.Header().Set("Cache-Control", "no-store")
	return h.render(w, r, http.StatusOK, "app_consent", &pageData{Title: title, CSRF: h.csrfFor(w, r), AppConsent: v})
}

// appConsent takes the customer's answer.
func (h *Handler) appConsent(w http.ResponseWriter, r *http.Request) error {
	o, s, err := h.providerSession(w, r)
	if s == nil {
		return err
	}
	ctx := r.Context()
	b := h.app.backend
	tok, req, err := o.takeRequest(w, r, r.PostForm.Get("id"))
	if tok == nil {
		return err
	}
	pc := o.client(req.ClientID)
	if pc == nil {
		return h.unavailable(w, r)
	}
	w = &issWriter{ResponseWriter: w, iss: o.issuer, own: o.issuer + h.Prefix + "/"}
	if r.PostForm.Get("decision") != "allow" {
		op.AuthRequestError(w, r, &opAuthRequest{req}, oidc.ErrAccessDenied().WithDescription("the customer did not allow this client"), o.prov)
		return nil
	}
	if pc.Agent {
		// The term runs from the customer's answer.
		until := b.clock.Now().Add(pc.lifetime())
		if _, err := h.flows.AgentGranted(ctx, s.UserID, o.issuer, req.ClientID, req.Scopes, until, identity.EventAgentGranted, h.client(r)); err != nil {
			h.logger.Error("provider: recording an agent's grant", zap.Error(err))
			return h.unavailable(w, r)
		}
	} else if err := h.flows.AppUsed(ctx, s.UserID, o.issuer, req.ClientID, req.Scopes, ""); err != nil {
		h.logger.Error("provider: recording an allowed app", zap.Error(err))
		return h.unavailable(w, r)
	}
	b.forgetCustomer(s.UserID)
	o.answer(w, r, req, s)
	return nil
}

// providerSession is the provider and the customer's session of a page
// only a provider site has, for a signed-in customer; else the request is
// answered (404 on another site, the sign-in page) and s is nil.
func (h *Handler) providerSession(w http.ResponseWriter, r *http.Request) (o *siteOP, s *session.Session, err error) {
	if h.op == nil {
		return nil, nil, h.message(w, r, http.StatusNotFound, "page.not_found.title", "page.not_found", "/", "link.home")
	}
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil, nil, nil
	}
	return h.op, s, nil
}
