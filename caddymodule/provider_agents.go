package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Agents acting for a customer: a client with `agent` in its block (an
// AI assistant, a bot) is given a customer's access on a consent screen
// that names it as an agent and states how long it lasts (`lifetime`), or
// exchanges a token of the customer it holds (provider_exchange.go). Its
// access tokens carry act = {"sub": <client id>} (RFC 8693 §4.1) and the
// grant's id (agent_grant), and never outlive the grant; its refresh
// tokens stop with it. The edge tells the backend who acts
// (X-Frontdoor-Actor), refuses it on `actor human` routes, notes when it
// last acted (off the request path, at most once per agentTouchEvery per
// grant and node), and stops it within the cache period of the customer
// ending the grant on the account page: the grant's id is a family with
// an ended mark, as a signed-out session's is. The tokens of its grant
// (code, device, refresh) have the grant's id as their sid too, so
// signing out of the browser it was allowed from does not end them;
// "sign out everywhere" ends its refresh tokens (as every app's), and
// its term or the account page end it all.

const (
	// agentLifetime is how long a customer's grant to an agent lasts
	// unless the client's lifetime says; agentMaxLifetime bounds it.
	agentLifetime    = 30 * 24 * time.Hour
	agentMaxLifetime = 365 * 24 * time.Hour
	// agentTouchEvery is how often the edge records an agent's use.
	agentTouchEvery = 5 * time.Minute
)

// parseAgentOption reads the client block's agent and lifetime lines.
func (c *ProviderClient) parseAgentOption(d *caddyfile.Dispenser, key string) error {
	if key == "agent" {
		if d.NextArg() {
			return d.Errf("frontdoor: provider: client %s: agent takes no value", c.ID)
		}
		c.Agent = true
		return nil
	}
	var v string
	if !d.AllArgs(&v) {
		return d.Errf("frontdoor: provider: client %s: lifetime needs one duration (lifetime 30d)", c.ID)
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur <= 0 || dur > agentMaxLifetime {
		return d.Errf("frontdoor: provider: client %s: lifetime %q: a duration up to a year (lifetime 30d)", c.ID, v)
	}
	c.Lifetime = caddy.Duration(dur)
	return nil
}

// checkAgent checks what goes with agent and with the token exchange
// grant (a JSON config bypasses parseAgentOption).
func (c *ProviderClient) checkAgent() error {
	switch {
	case c.Agent && c.FirstParty:
		return errors.New("an agent is never first_party: the customer always says what it may do, and for how long")
	case c.Lifetime != 0 && !c.Agent:
		return errors.New("lifetime is for agents (add agent)")
	case c.Lifetime < 0 || time.Duration(c.Lifetime) > agentMaxLifetime:
		return errors.New("lifetime: a duration up to a year")
	case c.allows(grantExchange) && c.Secret == "" && c.secretSum == nil:
		return errors.New("grant token_exchange needs a confidential client (a secret)")
	}
	return nil
}

// lifetime is how long a customer's grant to the agent lasts.
func (c *ProviderClient) lifetime() time.Duration {
	if c.Lifetime > 0 {
		return time.Duration(c.Lifetime)
	}
	return agentLifetime
}

// agentOf names the agent's grant in the request about to be answered
// with tokens: the customer's grant in force, or — a device approval,
// which is the customer's consent — a new one. Nothing for a client that
// is not an agent.
func (o *siteOP) agentOf(ctx context.Context, ar *opAuthRequest) error {
	c := o.client(ar.ClientID)
	if c == nil || !c.Agent {
		return nil
	}
	b := o.h.app.backend
	now := b.clock.Now()
	cust, err := b.customer(ctx, ar.Subject)
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	g, ok := cust.App(o.issuer, ar.ClientID)
	if !ok || !g.Live(now) {
		g, err = o.h.flows.AgentGranted(ctx, ar.Subject, o.issuer, ar.ClientID, ar.Scopes, now.Add(c.lifetime()), identity.EventAgentGranted, authflow.Client{})
		if err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		b.forgetCustomer(ar.Subject)
	}
	// The grant is the agent's session family: the customer signing
	// out of the browser they allowed it from does not end it (its term
	// and the account page do).
	ar.AgentGrant, ar.AgentUntil, ar.SID = g.GrantID, g.Until, g.GrantID
	return nil
}

// agentStillGranted refuses the refresh of an agent whose grant ended
// (revoked, replaced, past its term) and brings the grant's term up to
// date (the customer may have renewed it).
func (o *siteOP) agentStillGranted(ctx context.Context, grant *identity.OAuthRefresh) error {
	c := o.client(grant.ClientID)
	agent := c != nil && c.Agent
	if !agent && grant.AgentGrant == "" {
		return nil
	}
	b := o.h.app.backend
	cust, err := b.customer(ctx, grant.Subject)
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	g, ok := cust.App(o.issuer, grant.ClientID)
	if !agent || !ok || g.GrantID != grant.AgentGrant || !g.Live(b.clock.Now()) {
		if err := o.revokeFamily(ctx, grant.Family); err != nil {
			o.h.logger.Error("provider: revoking a refresh token family", zap.Error(err))
		}
		return oidc.ErrInvalidGrant().WithDescription("the customer's grant to this agent has ended")
	}
	grant.AgentUntil = g.Until
	return nil
}

// refreshTTL is how long a refresh token of grant may live: never past
// an agent's grant.
func (o *siteOP) refreshTTL(grant identity.OAuthRefresh) time.Duration {
	ttl := identity.OAuthRefreshTTL
	if !grant.AgentUntil.IsZero() {
		if left := grant.AgentUntil.Sub(o.h.app.backend.clock.Now()); left < ttl {
			ttl = max(left, time.Second)
		}
	}
	return ttl
}

// agentClaims makes claims an agent's: act names it, the grant's id ends
// it, and it never outlives the grant.
func agentClaims(claims *accessTokenClaims, ar *opAuthRequest) {
	if ar.AgentGrant == "" {
		return
	}
	claims.Act = &actClaim{Subject: ar.ClientID}
	claims.AgentGrant = ar.AgentGrant
	if u := ar.AgentUntil.Unix(); !ar.AgentUntil.IsZero() && u < claims.Expiry {
		claims.Expiry = u
	}
}

// tokenEnded reports whether an access token's session family, or its
// agent's grant, ended on purpose.
func tokenEnded(ctx context.Context, m *session.Manager, c *accessTokenClaims) (bool, error) {
	ended, err := m.Ended(ctx, c.Subject, c.SID)
	if err != nil || ended || c.AgentGrant == "" {
		return ended, err
	}
	return m.Ended(ctx, c.Subject, c.AgentGrant)
}

// tokenEndedCached is tokenEnded from this node's caches alone; ok is
// false when only the store can tell.
func tokenEndedCached(m *session.Manager, c *accessTokenClaims, now time.Time) (ended, ok bool) {
	ended, ok = m.EndedCachedAt(c.Subject, c.SID, now)
	if !ok || ended || c.AgentGrant == "" {
		return ended, ok
	}
	return m.EndedCachedAt(c.Subject, c.AgentGrant, now)
}

// endAgent ends a revoked agent grant's tokens at the edge.
func (h *Handler) endAgent(ctx context.Context, customerID string, g identity.AppGrant) {
	if g.GrantID == "" {
		return
	}
	if err := h.app.backend.sessions.EndFamilies(ctx, customerID, g.GrantID); err != nil {
		h.logger.Error("ending an agent's grant", zap.Error(err))
	}
}

// agentTouches throttles the edge's records of agents' use, per grant,
// on this node (across config reloads: the grant ids are random).
var agentTouches = &touchThrottle{last: map[string]time.Time{}}

type touchThrottle struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether key's use should be recorded at now, and if so
// counts it recorded.
func (t *touchThrottle) due(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at, ok := t.last[key]; ok && now.Sub(at) < agentTouchEvery && !now.Before(at) {
		return false
	}
	if len(t.last) >= 100_000 {
		for k, at := range t.last {
			if now.Sub(at) >= agentTouchEvery {
				delete(t.last, k)
			}
		}
		if len(t.last) >= 100_000 {
			clear(t.last)
		}
	}
	t.last[key] = now
	return true
}

// agentSeen notes an agent's call at the edge: now and then, and off the
// request path, its grant's "last used" (time and network).
func (h *Handler) agentSeen(r *http.Request, tc *tokenCaller, now time.Time) {
	g := tc.claims.AgentGrant
	if g == "" {
		return
	}
	b := h.app.backend
	if last, t := tc.seen.Load(), now.UnixNano(); last != 0 && t >= last && t-last < int64(agentTouchEvery) {
		return // this token's calls were noted lately
	}
	tc.seen.Store(now.UnixNano())
	if !agentTouches.due(g, now) {
		return
	}
	sub, network, flows := tc.claims.Subject, networkOf(clientIP(r)), h.flows
	b.later.Do(func(ctx context.Context) {
		if err := flows.AgentUsed(ctx, sub, g, network, now); err != nil {
			b.logger.Get().Warn("recording an agent's use", zap.Error(err))
			return
		}
		b.forgetCustomer(sub)
	})
}

// agentView is one agent on the account page.
type agentView struct {
	Issuer, ClientID, Name, Network string
	// Scopes are what it may do, in words; ScopeWords them listed.
	Scopes                       []string
	ScopeWords                   string
	GrantedAt, Until, LastUsedAt time.Time
	// Ended: past its term.
	Ended bool
}

// agentViews lists the agents acting for the customer.
func (h *Handler) agentViews(r *http.Request, c *identity.Customer) []agentView {
	now := h.app.backend.clock.Now()
	var out []agentView
	for _, a := range c.Apps {
		if !a.Agent {
			continue
		}
		v := agentView{Issuer: a.Issuer, ClientID: a.ClientID, Name: a.ClientID, Network: a.LastUsedNetwork,
			GrantedAt: a.GrantedAt, Until: a.Until, LastUsedAt: a.LastUsedAt, Ended: !a.Live(now)}
		scopes := a.Scopes
		if o := h.app.providerSite(a.Issuer); o != nil {
			if pc := o.client(a.ClientID); pc != nil && pc.Name != "" {
				v.Name = pc.Name
			}
			v.Scopes = o.h.scopeWords(r, agentScopes(scopes))
		} else {
			v.Scopes = agentScopes(scopes)
		}
		v.ScopeWords = strings.Join(v.Scopes, ", ")
		out = append(out, v)
	}
	return out
}

// agentScopes is what an agent's scopes let it do, as the customer is
// told: less openid (signing in is not something it does for them) and
// offline_access (its grant's term says how long it keeps access).
func agentScopes(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if s != oidc.ScopeOpenID && s != oidc.ScopeOfflineAccess {
			out = append(out, s)
		}
	}
	return out
}

// introspectedActor is a token's act as introspection answers it (RFC
// 8693 §4.1: who acts, and for whom they act in turn).
func introspectedActor(a *actClaim) *oidc.ActorClaims {
	if a == nil {
		return nil
	}
	return &oidc.ActorClaims{Subject: a.Subject, Actor: introspectedActor(a.Act)}
}

// agentConsentScopes is the scopes an agent asks, as its consent screen
// lists them: less offline_access, whose "until you remove it" the
// grant's term, stated beside, replaces.
func agentConsentScopes(scopes []string) []string {
	return slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == oidc.ScopeOfflineAccess })
}

// agentName is how the account page names the agent client id, for its
// activity (the first provider site that declares it names it).
func (h *Handler) agentName(clientID string) string {
	for _, o := range h.app.tokenIssuers() {
		if pc := o.client(clientID); pc != nil && pc.Name != "" {
			return pc.Name
		}
	}
	return clientID
}

// agentEventWords says what an agent's security event was; "" for an
// event that is not an agent's.
func (h *Handler) agentEventWords(r *http.Request, e identity.Event) string {
	switch e.Kind {
	case identity.EventAgentGranted:
		return h.say(r, "event.agent_granted", "agent", h.agentName(e.Detail))
	case identity.EventAgentExchanged:
		return h.say(r, "event.agent_exchanged", "agent", h.agentName(e.Detail))
	case identity.EventAgentRevoked:
		return h.say(r, "event.agent_revoked", "agent", h.agentName(e.Detail))
	}
	return ""
}

// agentLifetimeView is an agent's grant term as the admin API shows it.
func agentLifetimeView(c *ProviderClient) string {
	if !c.Agent {
		return ""
	}
	return c.lifetime().String()
}
