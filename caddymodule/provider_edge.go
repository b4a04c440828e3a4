package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/session"
)

// Access tokens of the provider at the edge: a protected path that accepts
// them (`protect /api/* { accept session bearer }`) lets a request with
// `Authorization: Bearer <access token>` in as the token's customer, for
// the app (client) the customer signed in to. The token must be an RFC
// 9068 access token of a provider site of this config — ES256 by a key of
// the gateway's ring, typ at+jwt, iss one of those sites, aud holding it,
// unexpired, of a client declared there — and the session it was issued
// from must not have ended on purpose (session.Manager.Ended). The backend
// gets the same identity headers and assertion as for the customer's own
// session, plus X-Frontdoor-Client and the assertion's client_id and
// scope. There is no actor: the app acts for the customer, who signed in
// to it (so `require … { actor human }`, which refuses API keys and
// agents, lets such a token through; a path for the browser alone says
// `accept session`).

const callerBearer = "bearer"

// clockSkew is how far in the future a token's iat may be: the nodes'
// clocks differ by a little.
const clockSkew = 5 * time.Second

// tokenCaller is a request's access token, once checked.
type tokenCaller struct {
	session *session.Session
	claims  *accessTokenClaims
	exp     time.Time
	// grant and client count the token's calls (route api: this app for
	// this customer, dimension key; the app, dimension client).
	grant, client *botdefense.Meter
	// app is the config the token was checked against; declared: its
	// client is one of that config's Caddyfile clients (which only a new
	// config changes), not one registered through the admin API.
	app      *App
	declared bool
	// stamp is a service's assertion, signed once for a while
	// (provider_service_edge.go).
	stamp atomic.Pointer[serviceStamp]
	// seen is when an agent's call with this token was last noted
	// (UnixNano): within agentTouchEvery the shared throttle is not asked.
	seen atomic.Int64
}

// parseAccessToken checks what every reader of an access token of this
// gateway checks: exactly ES256 by a key of the ring, header typ at+jwt, a
// subject and a session, unexpired (no skew), not issued in the future.
// The issuer, the audience and the client are the caller's to check.
func parseAccessToken(raw string, keys []jose.JSONWebKey, now time.Time) (*accessTokenClaims, bool) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, false
	}
	hdr := jws.Signatures[0].Protected
	typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string)
	if !strings.EqualFold(typ, accessTokenHeader) && !strings.EqualFold(typ, "application/"+accessTokenHeader) {
		return nil, false
	}
	var key any
	for _, k := range keys {
		if k.KeyID == hdr.KeyID {
			key = k.Key
			break
		}
	}
	if key == nil {
		return nil, false
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, false
	}
	var c accessTokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, false
	}
	// No sid: a service's own token (client credentials), whose subject
	// is the client.
	if c.Subject == "" || (c.SID == "" && c.Subject != c.ClientID) || !now.Before(time.Unix(c.Expiry, 0)) || time.Unix(c.IssuedAt, 0).After(now.Add(clockSkew)) {
		return nil, false
	}
	return &c, true
}

// accepts reports whether the provider site issued c: its issuer, in the
// audience, to a client declared there (a token without sid: a service
// client, one that may use client_credentials).
func (o *siteOP) accepts(c *accessTokenClaims) bool {
	if c.Issuer != o.issuer || !slices.Contains(c.Audience, o.issuer) {
		return false
	}
	cl := o.client(c.ClientID)
	return cl != nil && (c.SID != "" || cl.allows(grantService))
}

// tokenIssuers returns this config's provider sites by issuer. Every site
// of a config is validated before the config serves, so the set is made
// once, at the first request that needs it.
func (a *App) tokenIssuers() map[string]*siteOP {
	if m := a.issuers.Load(); m != nil {
		return *m
	}
	m := map[string]*siteOP{}
	policiesMu.Lock()
	for _, h := range a.sites {
		if h.op != nil {
			m[h.op.issuer] = h.op
		}
	}
	policiesMu.Unlock()
	a.issuers.CompareAndSwap(nil, &m)
	return *a.issuers.Load()
}

// authorization is the request's Authorization header, read from the
// map net/http fills with canonical names (Header.Get would canonicalise
// the name again on each of the hot path's reads).
func authorization(r *http.Request) string {
	if v := r.Header["Authorization"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// bearerJWT returns the request's access token, sent as `Bearer` or as
// `DPoP` (RFC 9449 §7.1), when it has the shape of a JWS (three parts),
// "" otherwise: an API key or anything else is not an access token.
func bearerJWT(r *http.Request) string {
	v := authorization(r)
	var t string
	switch {
	case len(v) >= 7 && strings.EqualFold(v[:7], "bearer "):
		t = v[7:]
	case len(v) >= 5 && strings.EqualFold(v[:5], "dpop "):
		t = v[5:]
	default:
		return ""
	}
	if t = strings.TrimSpace(t); strings.Count(t, ".") == 2 {
		return t
	}
	return ""
}

// cachedToken answers checkToken from this node's caches alone: the
// token checked a moment ago, its session known not ended; nil when only
// checkToken can tell.
func (h *Handler) cachedToken(raw string, now time.Time) *tokenCaller {
	b := h.app.backend
	tc, ok := b.tokenCache.get(raw, now)
	if !ok || !h.stillAccepted(tc, now) {
		return nil
	}
	if tc.service() {
		return tc
	}
	if ended, ok := tokenEndedCached(b.sessions, tc.claims, now); !ok || ended {
		return nil
	}
	return tc
}

// stillAccepted re-checks a kept token against this config (the cache
// outlives a reload): its issuer and client, and its expiry.
func (h *Handler) stillAccepted(tc *tokenCaller, now time.Time) bool {
	if !now.Before(tc.exp) {
		return false
	}
	if tc.app == h.app && tc.declared {
		return true // the same config, whose declared clients do not change
	}
	o := h.app.tokenIssuers()[tc.claims.Issuer]
	return o != nil && o.accepts(tc.claims)
}

// checkToken finds a presented access token's customer: nil, nil when it
// is not a valid access token of this config or its session ended. Tokens
// that passed are kept per node by the presented string for the session
// cache period (never past their expiry); refusals are not kept, so a
// flood of made-up tokens costs signature checks, not memory.
func (h *Handler) checkToken(ctx context.Context, raw string) (*tokenCaller, error) {
	b := h.app.backend
	now := b.clock.Now()
	ttl := b.sessions.Config().CacheTTL
	tc, ok := b.tokenCache.get(raw, now)
	if !ok {
		gen := b.tokenCache.gen.Load()
		c, ok := parseAccessToken(raw, b.assertions.Ring().PublicKeys(), now)
		if !ok {
			return nil, nil
		}
		o := h.app.tokenIssuers()[c.Issuer]
		if o == nil || !o.accepts(c) {
			return nil, nil
		}
		exp := time.Unix(c.Expiry, 0)
		tc = &tokenCaller{claims: c, exp: exp, app: h.app, declared: o.clients[c.ClientID] != nil,
			grant:  h.app.backend.defense.Meter(botdefense.RouteAPI, botdefense.DimKey, "grant "+c.ClientID+" "+c.Subject, "key grant "+c.ClientID+" "+c.Subject),
			client: h.app.backend.defense.Meter(botdefense.RouteAPI, botdefense.DimClient, c.ClientID, "client "+c.ClientID)}
		if !tc.service() { // a service has no customer, no session
			cust, err := b.customer(ctx, c.Subject)
			if err != nil {
				return nil, err
			}
			tc.session = &session.Session{
				Key: "at." + c.ID, UserID: c.Subject, Email: cust.Email, EmailVerified: cust.EmailVerified, Site: h.origin,
				CreatedAt: time.Unix(c.IssuedAt, 0), LastSeen: now, AuthTime: time.Unix(c.AuthTime, 0), ExpiresAt: exp,
				AMR: c.AMR, ACR: c.ACR, Family: c.SID,
			}
		}
		if ttl > 0 {
			until := now.Add(ttl)
			if exp.Before(until) {
				until = exp
			}
			b.tokenCache.put(raw, tc, until, gen, now)
		}
	} else if !h.stillAccepted(tc, now) {
		return nil, nil
	}
	if tc.service() {
		return tc, nil
	}
	ended, err := tokenEnded(ctx, b.sessions, tc.claims)
	if err != nil || ended {
		return nil, err
	}
	return tc, nil
}

// tokenCall checks a request's access token against the path: nil and the
// answer written when it is refused (RFC 6750).
func (h *Handler) tokenCall(w http.ResponseWriter, r *http.Request, views, scopes []string, raw string) (*tokenCaller, time.Time, error) {
	now := h.app.backend.clock.Now() // once: reading the clock is not free
	tc := h.cachedToken(raw, now)
	if tc == nil {
		if !h.apiDefend(w, r, botdefense.RouteCredential) { // a check and a store lookup ahead
			return nil, now, nil
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.app.StoreTimeout))
		var err error
		tc, err = h.checkToken(ctx, raw)
		cancel()
		if err != nil {
			return nil, now, h.unavailable(w, r)
		}
	}
	dpop := hasPrefixFold(authorization(r), dpopScheme+" ") // the scheme bearerJWT took the token from
	if tc == nil {
		if dpop {
			return nil, now, dpopRefused(w, "invalid_token")
		}
		return nil, now, keyRefused(w, http.StatusUnauthorized, "invalid_token", "")
	}
	// A sender-constrained token is worth nothing without the proof of
	// its key, checked on every request (a proof is used once); only the
	// token's own checks are cached.
	switch cnf := tc.claims.Cnf; {
	case cnf == nil:
		if dpop { // DPoP names a binding this token does not have
			return nil, now, dpopRefused(w, "invalid_token")
		}
	case cnf.JKT != "" && cnf.X5T == "":
		if !dpop {
			return nil, now, dpopRefused(w, "invalid_token")
		}
		if answered, err := h.dpopCall(w, r, raw, cnf.JKT); answered {
			return nil, now, err
		}
	case cnf.X5T != "" && cnf.JKT == "" && !dpop && certBound(r, cnf.X5T):
		// The client's certificate, presented on this connection
		// (RFC 8705, provider_service_edge.go).
	default:
		return nil, now, keyRefused(w, http.StatusUnauthorized, "invalid_token", "")
	}
	for _, sc := range scopes {
		if !hasScope(tc.claims.Scope, sc) {
			return nil, now, keyRefused(w, http.StatusForbidden, "insufficient_scope", strings.Join(scopes, " "))
		}
	}
	// The grant (this app for this customer) and the app have budgets.
	if !h.apiSpend(w, r, now, tc.grant, tc.client) {
		return nil, now, nil
	}
	if tc.claims.Act != nil && h.humanOnly(views) {
		// An agent acting for the customer is not the customer.
		return nil, now, forbidMissing(w, "actor")
	}
	return tc, now, nil
}

// hasScope reports whether the space-separated list holds scope.
func hasScope(list, scope string) bool {
	for list != "" {
		var s string
		s, list, _ = strings.Cut(list, " ")
		if s == scope {
			return true
		}
	}
	return false
}
