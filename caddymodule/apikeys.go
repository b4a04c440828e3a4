package caddymodule

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Personal API keys at the edge: a protected path that accepts them
// (`protect /api/* { accept session api_key; scopes orders:read }`) lets a
// request with `Authorization: Bearer fdk_…` in as the key's customer, as
// far as the key's paths, methods and scopes allow. The backend gets the
// same identity headers as for a session, plus X-Frontdoor-Actor (the key
// id); the assertion states `act` and `scope`.

// CallerRule is what a protect line's block accepts.
type CallerRule struct {
	Paths []string `json:"paths"`
	// Accept lists the callers: session (a browser's cookie), api_key and
	// bearer (an access token of the provider, provider_edge.go).
	Accept []string `json:"accept"`
	// Scopes a key or an access token must hold on these paths.
	Scopes []string `json:"scopes,omitempty"`
}

const (
	callerSession = "session"
	callerAPIKey  = "api_key"
)

// parseCallers reads a protect line's optional block.
func parseCallers(h httpcaddyfile.Helper, paths []string) (*CallerRule, error) {
	var g *CallerRule
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		if g == nil {
			g = &CallerRule{Paths: paths}
		}
		switch opt := h.Val(); opt {
		case "accept":
			g.Accept = h.RemainingArgs()
			if len(g.Accept) == 0 {
				return nil, h.Errf("frontdoor: protect accept needs at least one of session, api_key, bearer")
			}
			for _, a := range g.Accept {
				if a != callerSession && a != callerAPIKey && a != callerBearer {
					return nil, h.Errf("frontdoor: protect accept: unknown caller %q (session, api_key, bearer)", a)
				}
			}
		case "scopes":
			g.Scopes = h.RemainingArgs()
			if len(g.Scopes) == 0 {
				return nil, h.Errf("frontdoor: protect scopes needs at least one scope")
			}
		default:
			return nil, h.Errf("frontdoor: unknown protect option %q (accept, scopes)", opt)
		}
	}
	return g, nil
}

// keyCaller is a request's API key, once checked.
type keyCaller struct {
	session *session.Session
	key     identity.APIKey
	scope   string // the scope claim: the key's scopes, space-separated
	// meter counts the key's calls (route api, dimension key).
	meter *botdefense.Meter
	// ip is the address the key was checked from; a call from another
	// address whose network this entry has not seen is recorded (new
	// network, many networks at once), off the request path.
	ip   string
	mu   sync.Mutex
	nets map[string]bool
}

// maxKeyNets bounds the networks one cache entry remembers.
const maxKeyNets = 64

// usedFrom notes a call of a cached key from ip, another address than the
// one it was checked from: the first call from each network queues the
// record of it (authflow.APIKeyUsedFrom), and a key found in use from
// many networks at once is logged as the risk signal it is.
func (h *Handler) usedFrom(kc *keyCaller, r *http.Request, ip string) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return
	}
	network := consent.NetworkPrefix(addr)
	kc.mu.Lock()
	seen := kc.nets[network] || len(kc.nets) >= maxKeyNets
	if !seen {
		kc.nets[network] = true
	}
	kc.mu.Unlock()
	if seen {
		return
	}
	client := h.client(r)
	customer, key := kc.session.UserID, kc.key.ID
	h.app.backend.later.Do(func(ctx context.Context) {
		if h.flows.APIKeyUsedFrom(ctx, customer, key, client) {
			h.logger.Warn("API key used from many networks at once", zap.String("key", key), zap.String("customer", customer))
		}
	})
}

// bearerKey returns the request's API key, "" if it presents none.
func bearerKey(r *http.Request) string {
	v := authorization(r)
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return ""
	}
	if k := strings.TrimSpace(v[7:]); strings.HasPrefix(k, identity.APIKeyPrefix) {
		return k
	}
	return ""
}

// checkKey finds a presented key's customer (per-node cache of checked
// keys, ≤ the session cache period, so a revocation elsewhere bites
// within it; a revocation here forgets the key at once). A key the cache
// does not hold is looked up only when it looks like a key and the
// address is within its budget of such lookups (route credential).
// nil, nil: not a valid key, or the request is answered (answered).
func (h *Handler) checkKey(w http.ResponseWriter, r *http.Request, secret string, now time.Time) (kc *keyCaller, answered bool, err error) {
	b := h.app.backend
	// The common case: a key checked a moment ago, found by itself (held
	// in this node's memory only as long as a session's cache entry).
	kc, ok := b.keyCache.get(secret, now)
	if !ok {
		if !identity.LooksLikeAPIKey(secret) {
			return nil, false, nil
		}
		if !h.apiDefend(w, r, botdefense.RouteCredential) { // a store lookup ahead
			return nil, true, nil
		}
		kc, err = b.keyCache.load(r.Context(), secret, now, b.sessions.Config().CacheTTL, func(ctx context.Context, _ string) (*keyCaller, error) {
			out, err := h.flows.AuthenticateAPIKey(ctx, secret, h.client(r))
			if err != nil {
				return nil, err
			}
			v, ok := out.(authflow.APIKeyValid)
			if !ok {
				return nil, nil
			}
			c, k := v.Customer, v.Key
			ip, nets := clientIP(r), map[string]bool{}
			if addr, err := netip.ParseAddr(ip); err == nil {
				nets[consent.NetworkPrefix(addr)] = true
			}
			return &keyCaller{key: k, scope: strings.Join(k.Scopes, " "), meter: b.defense.Meter(botdefense.RouteAPI, botdefense.DimKey, k.ID, "key "+k.ID),
				ip: ip, nets: nets,
				session: &session.Session{Key: "apikey." + k.ID, UserID: c.ID, Email: c.Email, EmailVerified: c.EmailVerified,
					AuthTime: k.CreatedAt, ExpiresAt: k.ExpiresAt, AMR: []string{"api_key"}, ACR: "aal1", Site: h.origin}}, nil
		})
		if err != nil {
			return nil, false, err
		}
	}
	if kc == nil || !now.Before(kc.key.ExpiresAt) {
		return nil, false, nil
	}
	if ok { // from the cache: checked from this address?
		if ip := clientIP(r); ip != kc.ip {
			h.usedFrom(kc, r, ip)
		}
	}
	return kc, false, nil
}

// callersAt returns what the path's protect block accepts (nil: sessions
// only) and the scopes a key needs there.
func (h *Handler) callersAt(views []string) (accept []string, scopes []string) {
	n := 0
	for _, g := range h.callers {
		if g.paths.matchAny(views) {
			if n++; n == 1 { // the common case: one block, its own slices
				accept, scopes = g.Accept, g.Scopes
				continue
			}
			accept = append(slices.Clip(accept), g.Accept...)
			scopes = append(slices.Clip(scopes), g.Scopes...)
		}
	}
	return accept, scopes
}

// keyRefused answers an API key the route does not take (RFC 6750).
func keyRefused(w http.ResponseWriter, status int, code, scope string) error {
	ch := `Bearer error="` + code + `"`
	if scope != "" {
		ch += `, scope="` + scope + `"`
	}
	w.Header().Set("WWW-Authenticate", ch)
	w.Header().Set("Cache-Control", "no-store")
	return writeJSONError(w, status, code)
}

// humanOnly reports whether a rule on the path demands a person's session.
func (h *Handler) humanOnly(views []string) bool {
	for _, r := range h.rules {
		if r.Actor == "human" && r.appliesTo(views) {
			return true
		}
	}
	return false
}

// keyCall checks a request's API key against the path: nil and the answer
// written when it is refused.
func (h *Handler) keyCall(w http.ResponseWriter, r *http.Request, views []string, secret string) (*keyCaller, error) {
	accept, scopes := h.callersAt(views)
	if !slices.Contains(accept, callerAPIKey) {
		return nil, keyRefused(w, http.StatusUnauthorized, "invalid_token", "")
	}
	now := h.app.backend.clock.Now() // once: reading the clock is not free
	kc, answered, err := h.checkKey(w, r, secret, now)
	if err != nil {
		return nil, h.unavailable(w, r)
	}
	if answered {
		return nil, nil
	}
	if kc == nil {
		return nil, keyRefused(w, http.StatusUnauthorized, "invalid_token", "")
	}
	if !h.apiSpend(w, r, now, kc.meter) {
		return nil, nil
	}
	if h.humanOnly(views) {
		return nil, forbidMissing(w, "actor")
	}
	// Every reading of the path must be one the key may use.
	for _, v := range views {
		if !authflow.KeyAllows(kc.key, r.Method, v, scopes) {
			return nil, keyRefused(w, http.StatusForbidden, "insufficient_scope", strings.Join(scopes, " "))
		}
	}
	return kc, nil
}

// apiKeyCreate makes a key (a recent sign-in first, as for factor
// changes) and shows it once.
func (h *Handler) apiKeyCreate(w http.ResponseWriter, r *http.Request) error {
	s, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	days, _ := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("expires_days")))
	if raw := strings.TrimSpace(r.PostForm.Get("expires_days")); raw != "" && days == 0 {
		days = -1 // not a number: refused as out of range
	}
	out, err := h.flows.CreateAPIKey(r.Context(), authflow.CreateAPIKeyInput{CustomerID: s.UserID, Name: r.PostForm.Get("name"),
		ExpiresDays: days, Paths: fields(r.PostForm["path"]), Scopes: fields(r.PostForm["scope"]), Methods: fields(r.PostForm["method"]),
		Client: h.client(r)})
	if err != nil {
		h.logger.Error("creating an API key", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.APIKeyCreated:
		return h.render(w, r, http.StatusOK, "apikey", &pageData{Title: h.say(r, "apikey.title"), Token: o.Secret})
	case authflow.Invalid:
		d := &pageData{Title: h.say(r, "apikey.failed.title")}
		for _, msg := range h.fieldErrors(r, o.Fields) {
			d.Error = msg
		}
		return h.render(w, r, http.StatusBadRequest, "apikey", d)
	}
	return h.unexpected(w, r, out)
}

// apiKeyRevoke revokes one of the signed-in customer's keys; this node
// forgets it at once, the others within their cache period.
func (h *Handler) apiKeyRevoke(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	out, err := h.flows.RevokeAPIKey(r.Context(), s.UserID, r.PostForm.Get("id"), h.client(r))
	if err != nil {
		h.logger.Error("revoking an API key", zap.Error(err))
		return h.unavailable(w, r)
	}
	if o, ok := out.(authflow.APIKeyRevoked); ok {
		h.app.backend.keyCache.forgetWhere(func(kc *keyCaller) bool { return kc != nil && kc.key.ID == o.Key.ID })
	}
	http.Redirect(w, r, h.Prefix+"/account", http.StatusSeeOther)
	return nil
}

// fields splits space-separated form values.
func fields(vals []string) []string {
	var out []string
	for _, v := range vals {
		out = append(out, strings.Fields(v)...)
	}
	return out
}
