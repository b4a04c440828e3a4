package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"go.uber.org/zap"
)

// DPoP at the provider (RFC 9449 §5): a token request that comes with a
// valid proof (header DPoP) gets an access token bound to the proof's key
// (cnf.jkt) and token_type DPoP, whatever its grant; a client registered
// `dpop` must send one with every token request. A public client's
// refresh tokens are bound to the key too: refreshing takes a proof by
// the same key. Userinfo takes `Authorization: DPoP <token>` with a proof
// for a bound token.

// dpopKey carries, in a token or userinfo request's context, the
// thumbprint of the key the request proved (a checked, spent proof).
type dpopKey struct{}

// dpopJKT is the thumbprint the request proved, "" when it sent no proof.
// Every grant's issuance reads it: a grant's exchange binds its access
// token with dpopCnf and answers tokenTypeFor.
func dpopJKT(ctx context.Context) string {
	jkt, _ := ctx.Value(dpopKey{}).(string)
	return jkt
}

// dpopCnf is the cnf claim of an access token issued for this request:
// nil unless it proved a key.
func dpopCnf(ctx context.Context) *cnfClaim {
	if jkt := dpopJKT(ctx); jkt != "" {
		return &cnfClaim{JKT: jkt}
	}
	return nil
}

// tokenTypeFor is the token_type of the answer: DPoP for a bound token.
func tokenTypeFor(ctx context.Context) string {
	if dpopJKT(ctx) != "" {
		return dpopScheme
	}
	return oidc.BearerToken
}

// dpopError is the token endpoint's answer to a missing or refused proof
// (RFC 9449 §5: 400 invalid_dpop_proof).
func dpopError(desc string) *oidc.Error {
	return &oidc.Error{ErrorType: dpopErrorCode, Description: desc}
}

// tokenRequestClient is the client a token request names (client_id in
// the form or HTTP Basic), authenticated or not: op authenticates it
// after. The form is parsed already (defend).
func tokenRequestClient(r *http.Request) string {
	if id := r.PostForm.Get("client_id"); id != "" {
		return id
	}
	if id, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
	}
	return ""
}

// dpopTokenRequest checks the proof of a token request before op sees
// it: a proof sent is checked and spent, and its key's thumbprint goes
// on in the context; a `dpop` client without one is refused. It answers
// the request itself and returns false when it goes no further.
func (o *siteOP) dpopTokenRequest(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if r.Method != http.MethodPost {
		return r, true
	}
	c := o.client(tokenRequestClient(r))
	if len(r.Header.Values(dpopHeader)) == 0 {
		if c != nil && c.DPoP {
			_ = writeJSON(w, http.StatusBadRequest, map[string]string{"error": dpopErrorCode, "error_description": "this client must send a DPoP proof"})
			return r, false
		}
		return r, true
	}
	p, err := o.h.proveDPoP(r.Context(), r, "")
	if err != nil {
		if isDPoPError(err) {
			_ = writeJSON(w, http.StatusBadRequest, map[string]string{"error": dpopErrorCode, "error_description": err.Error()})
			return r, false
		}
		o.h.logger.Error("provider: spending a DPoP proof", zap.Error(err))
		_ = writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), dpopKey{}, p.JKT)), true
}

// dpopUserinfo lets op's userinfo read a token sent as `Authorization:
// DPoP <token>`: the proof (with ath) is checked and spent here, the
// proved thumbprint goes on in the context, and op reads the token as a
// bearer token. UserInfo then takes a bound token only with its key
// proved (dpopBound).
func (o *siteOP) dpopUserinfo(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if !strings.EqualFold(authScheme(r), dpopScheme) {
		return r, true
	}
	_, tok, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	tok = strings.TrimSpace(tok)
	p, err := o.h.proveDPoP(r.Context(), r, tok)
	if err != nil {
		if isDPoPError(err) {
			_ = dpopRefused(w, dpopErrorCode)
			return r, false
		}
		o.h.logger.Error("provider: spending a DPoP proof", zap.Error(err))
		_ = writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return r, false
	}
	r = r.WithContext(context.WithValue(r.Context(), dpopKey{}, p.JKT))
	r.Header = r.Header.Clone()
	r.Header.Set("Authorization", "Bearer "+tok)
	return r, true
}

// dpopBound reports whether a token may be used by this request: an
// unbound one always, a key-bound one only with its key proved.
// (Certificate-bound tokens, cnf x5t#S256, need a proof of their own.)
func dpopBound(ctx context.Context, c *accessTokenClaims) bool {
	switch {
	case c.Cnf == nil:
		return true
	case c.Cnf.JKT != "" && c.Cnf.X5T == "":
		return dpopJKT(ctx) == c.Cnf.JKT
	default:
		return false
	}
}

// refreshJKT is the key a new refresh grant is bound to: the proved one,
// for a public client (a confidential one authenticates itself).
func (o *siteOP) refreshJKT(ctx context.Context, clientID string) string {
	if c := o.client(clientID); c != nil && c.confidential() {
		return ""
	}
	return dpopJKT(ctx)
}
