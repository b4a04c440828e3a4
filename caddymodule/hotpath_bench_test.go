package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
	"github.com/frontdoorhq/frontdoor/session"
)

// benchHandler provisions a Handler against the frontdoor app of a running
// Caddy (bolt store), and returns it with a valid session cookie.
func benchHandler(b *testing.B, o gatewayOpts, rules ...Rule) (*Handler, *http.Cookie) {
	return benchHandlerWith(b, o, func(h *Handler) { h.Rules = rules })
}

// benchHandlerWith is benchHandler with the handler's settings changed by
// set before it is provisioned.
func benchHandlerWith(b *testing.B, o gatewayOpts, set func(*Handler)) (*Handler, *http.Cookie) {
	b.Helper()
	g := startGateway(b, o)
	h := &Handler{Public: []string{"/", "/pub/*"}, Protect: []string{"/app/*"}}
	set(h)
	ctx := caddy.ActiveContext()
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	h.Origin = g.url("")
	if err := h.Validate(); err != nil {
		b.Fatal(err)
	}
	// A real customer, with roles, as the rules benchmarks need.
	if err := h.app.backend.identity.CreateCustomer(context.Background(), &identity.Customer{ID: "u_bench", Email: "bench@example.com",
		EmailVerified: true, CreatedAt: time.Now(), Roles: []string{"beta", "member"}}); err != nil {
		b.Fatal(err)
	}
	return h, benchSession(b, h, session.New{})
}

// benchSession starts a session of u_bench (n adds to it) and returns its
// cookie.
func benchSession(b *testing.B, h *Handler, n session.New) *http.Cookie {
	n.UserID, n.Email, n.EmailVerified, n.Site, n.AMR, n.ACR = "u_bench", "bench@example.com", true, h.origin, []string{"pwd"}, "aal1"
	token, _, err := h.app.backend.sessions.Create(context.Background(), n)
	if err != nil {
		b.Fatal(err)
	}
	v, err := h.app.codec.Encode(h.origin, token)
	if err != nil {
		b.Fatal(err)
	}
	return &http.Cookie{Name: session.CookieName, Value: v}
}

// benchClientIP is the benchmarks' client address.
const benchClientIP = "192.0.2.1"

// serveLoop runs the handler on one request shape, resetting the headers
// the handler rewrites, so each iteration does the full work.
func serveLoop(b *testing.B, h *Handler, path string, ck *http.Cookie, wantHeader string) {
	serveLoopAuth(b, h, path, ck, "", wantHeader)
}

// serveLoopAuth is serveLoop with an Authorization header too.
func serveLoopAuth(b *testing.B, h *Handler, path string, ck *http.Cookie, authz, wantHeader string) {
	repl := caddy.NewReplacer()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	// As Caddy's server sets them: the replacer and the client's address.
	ctx := context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: benchClientIP})
	req = req.WithContext(ctx)
	if ck != nil {
		req.AddCookie(ck)
	}
	forged := "X-Frontdoor-User"
	cookieHdr := req.Header.Get("Cookie")
	called := false
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		called = true
		return nil
	})
	w := httptest.NewRecorder()
	// The header values are set anew each round, in slices made once: a
	// real request's come with it, so the loop counts only the handler's
	// allocations (the handler may rewrite a value in place).
	cookies, authzs, forgeds := make([]string, 1), make([]string, 1), make([]string, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(req.Header)
		if cookieHdr != "" {
			cookies[0] = cookieHdr
			req.Header["Cookie"] = cookies
		}
		if authz != "" {
			authzs[0] = authz
			req.Header["Authorization"] = authzs
		}
		forgeds[0] = "u_attacker"
		req.Header[forged] = forgeds
		called = false
		if err := h.ServeHTTP(w, req, next); err != nil {
			b.Fatal(err)
		}
		if !called {
			b.Fatalf("next not called: %d", w.Code)
		}
	}
	b.StopTimer()
	if wantHeader != "" && req.Header.Get(wantHeader) == "" {
		b.Fatalf("%s not set", wantHeader)
	}
	if req.Header.Get(forged) == "u_attacker" {
		b.Fatal("forged header survived")
	}
}

// BenchmarkProtectedRoute is the hot path: strip forged headers, decode
// the cookie, look the session up (in-process cache), inject the headers
// and the cached assertion.
func BenchmarkProtectedRoute(b *testing.B) {
	h, ck := benchHandler(b, gatewayOpts{logs: "level ERROR"})
	serveLoop(b, h, "/app/orders", ck, "X-Frontdoor-Assertion")
}

// BenchmarkProtectedRouteRole is the hot path behind a role rule
// (require /app/* { role member premium }).
func BenchmarkProtectedRouteRole(b *testing.B) {
	h, ck := benchHandler(b, gatewayOpts{logs: "level ERROR"}, Rule{Paths: []string{"/app/*"}, Roles: []string{"member", "premium"}})
	serveLoop(b, h, "/app/orders", ck, "X-Frontdoor-Roles")
}

// BenchmarkProtectedRouteCEL is the hot path behind a CEL rule.
func BenchmarkProtectedRouteCEL(b *testing.B) {
	h, ck := benchHandler(b, gatewayOpts{logs: "level ERROR"}, Rule{Paths: []string{"/app/*"},
		Expression: "'beta' in roles && auth_time > now - duration('1h')"})
	serveLoop(b, h, "/app/orders", ck, "X-Frontdoor-Roles")
}

// BenchmarkProtectedRouteAPIKey is the hot path for a request with a
// personal API key (checked once, then from the per-node key cache).
func BenchmarkProtectedRouteAPIKey(b *testing.B) {
	h, _ := benchHandlerWith(b, gatewayOpts{logs: "level ERROR"}, func(h *Handler) {
		h.Callers = []CallerRule{{Paths: []string{"/app/*"}, Accept: []string{callerSession, callerAPIKey}}}
		h.Defense = benchAPILimits()
	})
	out, err := h.app.backend.flows().CreateAPIKey(context.Background(), authflow.CreateAPIKeyInput{CustomerID: "u_bench", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	serveLoopAuth(b, h, "/app/orders", nil, "Bearer "+out.(authflow.APIKeyCreated).Secret, "X-Frontdoor-Actor")
}

// benchAPILimits keeps the API limits counting, as they do for every
// call, but high enough for a benchmark's calls of one key.
func benchAPILimits() *DefenseConfig {
	return &DefenseConfig{Limits: []botdefense.Limit{{Route: botdefense.RouteAPI, Dimension: botdefense.DimKey, Count: 1 << 40, Period: time.Minute},
		{Route: botdefense.RouteAPI, Dimension: botdefense.DimClient, Count: 1 << 40, Period: time.Minute}}}
}

// BenchmarkProtectedRouteBearer is the hot path for a request with an
// access token of the site's provider (checked once, then from the
// per-node token cache and the cache of ended sessions).
func BenchmarkProtectedRouteBearer(b *testing.B) {
	h, _ := benchHandlerWith(b, gatewayOpts{logs: "level ERROR"}, func(h *Handler) {
		h.Callers = []CallerRule{{Paths: []string{"/app/*"}, Accept: []string{callerSession, callerBearer}}}
		h.Defense = benchAPILimits()
		h.Provider = &ProviderConfig{Clients: []*ProviderClient{{ID: "spa", RedirectURIs: []string{"https://spa.test/cb"}, FirstParty: true}}}
	})
	at, err := h.op.accessToken(context.Background(), &opAuthRequest{identity.OAuthRequest{ClientID: "spa", Subject: "u_bench", SID: "bench-sid",
		Scopes: []string{"openid", "email"}, AuthTime: time.Now(), AMR: []string{"pwd"}, ACR: "aal1"}})
	if err != nil {
		b.Fatal(err)
	}
	serveLoopAuth(b, h, "/app/orders", nil, "Bearer "+at, "X-Frontdoor-Client")
}

// BenchmarkProtectedRouteAgent is the bearer hot path for an agent acting
// for the customer (act names it; its grant's end is checked, from the
// cache of ended sessions, beside the session's).
func BenchmarkProtectedRouteAgent(b *testing.B) {
	h, _ := benchHandlerWith(b, gatewayOpts{logs: "level ERROR"}, func(h *Handler) {
		h.Callers = []CallerRule{{Paths: []string{"/app/*"}, Accept: []string{callerSession, callerBearer}, Scopes: []string{"orders:read"}}}
		h.Defense = benchAPILimits()
		h.Provider = &ProviderConfig{Scopes: []*APIScope{{Name: "orders:read", Description: "See your orders"}},
			Clients: []*ProviderClient{{ID: "shopper", RedirectURIs: []string{"https://agent.test/cb"}, Agent: true, Scopes: []string{"openid", "orders:read"}}}}
	})
	at, err := h.op.accessToken(context.Background(), &opAuthRequest{identity.OAuthRequest{ClientID: "shopper", Subject: "u_bench", SID: "bench-sid",
		Scopes: []string{"openid", "orders:read"}, AuthTime: time.Now(), AMR: []string{"pwd"}, ACR: "aal1",
		AgentGrant: "bench-grant", AgentUntil: time.Now().Add(time.Hour)}})
	if err != nil {
		b.Fatal(err)
	}
	serveLoopAuth(b, h, "/app/orders", nil, "Bearer "+at, "X-Frontdoor-Actor")
}

// BenchmarkProtectedRouteNoCache reads the session from bbolt every time.
func BenchmarkProtectedRouteNoCache(b *testing.B) {
	h, ck := benchHandler(b, gatewayOpts{logs: "level ERROR", global: "session {\n\t\t\tcache off\n\t\t}"})
	serveLoop(b, h, "/app/orders", ck, "X-Frontdoor-Assertion")
}

// BenchmarkPublicRouteAnonymous is header stripping and path matching only.
func BenchmarkPublicRouteAnonymous(b *testing.B) {
	h, _ := benchHandler(b, gatewayOpts{logs: "level ERROR"})
	serveLoop(b, h, "/pub/page", nil, "")
}

// BenchmarkProtectedRouteRedis is the hot path on the Redis store with the
// in-process cache (the default).
func BenchmarkProtectedRouteRedis(b *testing.B) {
	r := redistest.Start(b)
	h, ck := benchHandler(b, gatewayOpts{logs: "level ERROR", store: "store redis " + r.URL()})
	serveLoop(b, h, "/app/orders", ck, "X-Frontdoor-Assertion")
}

// BenchmarkProtectedRouteRedisNoCache reads the session from Redis every
// request.
func BenchmarkProtectedRouteRedisNoCache(b *testing.B) {
	r := redistest.Start(b)
	h, ck := benchHandler(b, gatewayOpts{logs: "level ERROR", store: "store redis " + r.URL(), global: "session {\n\t\t\tcache off\n\t\t}"})
	serveLoop(b, h, "/app/orders", ck, "X-Frontdoor-Assertion")
}
