package caddymodule

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/session"
)

// Service tokens at the edge: a token without sid, whose subject is its
// client and whose client may use client_credentials, is a service
// calling on its own — no customer. On a path that accepts bearer tokens
// it passes (scopes and the client's API budget as for any token); the
// backend gets X-Frontdoor-Client and X-Frontdoor-Actor (both the client
// id) and a service assertion (serviceAssertion), never a customer's
// headers. A path that asks anything of a customer — actor human, an
// access rule, a step-up, a profile field, a consent — refuses it: 403
// {"error":"forbidden","missing":"actor"|"customer"}.

// callerService is the assertion's caller claim for a service.
const callerService = "service"

// service reports whether the token is a service's own (client
// credentials): no session.
func (tc *tokenCaller) service() bool { return tc.claims.SID == "" }

// certBound reports whether the request came over TLS with the client
// certificate whose SHA-256 thumbprint is x5t (RFC 8705 §3).
func certBound(r *http.Request, x5t string) bool {
	want, err := base64.RawURLEncoding.DecodeString(x5t)
	if err != nil || len(want) != sha256.Size || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	got := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// serviceUnmet is what a path asks of a customer that a service cannot
// give: "actor" (actor human), "customer" (any other requirement), or "".
func (h *Handler) serviceUnmet(views []string) string {
	missing := ""
	for _, rule := range h.rules {
		if !rule.appliesTo(views) {
			continue
		}
		if rule.Actor == "human" {
			return "actor"
		}
		if rule.access != nil || rule.AAL != "" || rule.MaxAge > 0 || len(rule.Methods) > 0 || len(rule.Profile) > 0 ||
			len(rule.Consent) > 0 || len(rule.Roles) > 0 || len(rule.Attributes) > 0 || len(rule.EmailDomains) > 0 || rule.Expression != "" {
			missing = "customer"
		}
	}
	return missing
}

// forbidMissing answers an API caller that is not what the path asks:
// 403 {"error":"forbidden","missing":"actor"|"customer"} (an agent, a key
// or a service where the customer's own session is wanted).
func forbidMissing(w http.ResponseWriter, missing string) error {
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden", "missing": missing})
}

// serveService hands a service's request to the backend, or refuses it
// on a path for customers.
func (h *Handler) serveService(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, views []string, tc *tokenCaller) error {
	if m := h.serviceUnmet(views); m != "" {
		return forbidMissing(w, m)
	}
	id := tc.claims.ClientID
	if h.names.plain {
		r.Header[clientHeader] = []string{id}
		r.Header[actorHeader] = []string{id}
	}
	if h.names.assertion {
		a, err := h.serviceAssertion(tc)
		if err != nil {
			h.logger.Error("signing a service assertion", zap.Error(err))
			return h.unavailable(w, r)
		}
		r.Header[h.names.Assertion] = []string{a}
	}
	return h.next(w, r, next)
}

// serviceAssertionClaims is the identity assertion of a service: sub and
// client_id the client, its scope, caller "service" — no email, no sid,
// no auth_time, nothing a backend could take for a customer.
type serviceAssertionClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	Caller   string `json:"caller"`
}

// serviceStamp is a signed service assertion and what it was signed for.
type serviceStamp struct {
	iss, aud, kid string
	token         string
	refresh       time.Time
}

// serviceAssertion signs the service's assertion for this site, kept on
// the token's cache entry and signed anew after half its life.
func (h *Handler) serviceAssertion(tc *tokenCaller) (string, error) {
	b := h.app.backend
	now := b.clock.Now()
	kid, key := b.assertions.Ring().SigningKey()
	if st := tc.stamp.Load(); st != nil && st.iss == h.origin && st.aud == h.assertionAud && st.kid == kid && now.Before(st.refresh) {
		return st.token, nil
	}
	exp := now.Add(session.AssertionTTL)
	if tc.exp.Before(exp) {
		exp = tc.exp
	}
	payload, err := json.Marshal(serviceAssertionClaims{
		Issuer: h.origin, Subject: tc.claims.ClientID, Audience: h.assertionAud, IssuedAt: now.Unix(), Expiry: exp.Unix(),
		ClientID: tc.claims.ClientID, Scope: tc.claims.Scope, Caller: callerService,
	})
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("frontdoor: service assertion signer: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", err
	}
	tc.stamp.Store(&serviceStamp{iss: h.origin, aud: h.assertionAud, kid: kid, token: token, refresh: now.Add(exp.Sub(now) / 2)})
	return token, nil
}

// describeService completes an introspection answer: a service's token
// says so, and a bound token its binding (RFC 8705 §3.2).
func describeService(resp *oidc.IntrospectionResponse, c *accessTokenClaims) {
	if c.SID == "" || c.Cnf != nil {
		resp.Claims = map[string]any{}
	}
	if c.SID == "" {
		resp.Claims["caller"] = callerService
	}
	if c.Cnf != nil {
		resp.Claims["cnf"] = c.Cnf
	}
}
