package caddymodule

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// The provider site of TestBearerAtTheEdge, with API paths that take its
// access tokens (and API keys, and sessions).
const bearerSite = providerSite + `
		protect /api/* {
			accept session api_key bearer
		}
		protect /me/* {
			accept bearer
			scopes profile
		}
		require /api/pay/* {
			actor human
		}`

// appTokens has the public client spa (PKCE) get tokens for the
// signed-in browser c, with the given scopes.
func appTokens(t *testing.T, g *gateway, c *http.Client, id, secret, redirect string, scopes ...string) (*rp, *oauth2.Token) {
	t.Helper()
	r := newRP(t, g, id, secret, redirect)
	r.cfg.Scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	verifier := oauth2.GenerateVerifier()
	code, _ := r.codeFor(t, c, oauth2.S256ChallengeOption(verifier))
	tok, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return r, tok
}

// refreshAnswer is the token endpoint's answer to a refresh.
type refreshAnswer struct {
	status                                    int
	Error, AccessToken, RefreshToken, IDToken string
}

// shopRefresh redeems a refresh token of the client shop by hand.
func shopRefresh(t *testing.T, g *gateway, rt string) refreshAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/token"),
		strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("shop", shopSecret)
	resp, err := g.newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error        string `json:"error"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return refreshAnswer{status: resp.StatusCode, Error: body.Error, AccessToken: body.AccessToken, RefreshToken: body.RefreshToken, IDToken: body.IDToken}
}

// refreshShop is shopRefresh's status, error and access token.
func refreshShop(t *testing.T, g *gateway, rt string) (int, string, string) {
	t.Helper()
	a := shopRefresh(t, g, rt)
	return a.status, a.Error, a.AccessToken
}

// mintJWT signs claims with key as alg, header typ typ.
func mintJWT(t *testing.T, alg jose.SignatureAlgorithm, key any, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	return signJWS(t, jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts, claims)
}

// signJWS signs claims (JSON) as a compact JWS: the tests' tokens,
// assertions and proofs.
func signJWS(t *testing.T, key jose.SigningKey, opts *jose.SignerOptions, claims any) string {
	t.Helper()
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claimsOf decodes a JWT's payload without checking it.
func claimsOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestBearerAtTheEdge: an app's access token reaches an API path that
// accepts bearer tokens, with the customer's headers and assertion; every
// kind of forged, foreign or stale token is refused; tokens stop working
// within 2 s of their session's end; refresh tokens die with an ended
// session but not with an expired one.
func TestBearerAtTheEdge(t *testing.T) {
	t.Setenv("FD_TEST_SHOP_SECRET", shopSecret)
	call := func(g *gateway, path, token string) response {
		return g.do(g.newClient(), http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer " + token,
			"Accept": "application/json", "X-Frontdoor-Client": "forged", "X-Frontdoor-Actor": "forged"})
	}
	refused := func(t *testing.T, r response, status int, code string) {
		t.Helper()
		if r.status != status || !strings.Contains(r.header.Get("WWW-Authenticate"), `Bearer error="`+code+`"`) {
			t.Fatalf("%d %q %.200s; want %d %s", r.status, r.header.Get("WWW-Authenticate"), r.body, status, code)
		}
	}
	// gone polls until the token is refused, for at most a little over the
	// cache period.
	gone := func(t *testing.T, g *gateway, token, what string) {
		t.Helper()
		start := time.Now()
		for call(g, "/api/orders/1", token).status != http.StatusUnauthorized {
			if time.Since(start) > 2500*time.Millisecond {
				t.Fatalf("an access token still works %v after %s", time.Since(start), what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	runOnBothStoresWith(t, gatewayOpts{site: bearerSite}, []scenario{
		{"a token reaches the backend", func(t *testing.T, g *gateway) {
			c := g.signUp("edge-ok@example.com")
			id := g.customerID("edge-ok@example.com")
			_, tok := appTokens(t, g, c, "spa", "", "https://spa.test/cb", "email", "profile")
			r := call(g, "/api/orders/1", tok.AccessToken)
			if r.status != http.StatusOK || !strings.Contains(r.body, `"backend":true`) {
				t.Fatalf("bearer call: %d %s", r.status, r.body)
			}
			h := g.backend.lastHeaders()
			if h.Get("X-Frontdoor-User") != id || h.Get("X-Frontdoor-Email") != "edge-ok@example.com" ||
				h.Get("X-Frontdoor-Client") != "spa" || h.Get("X-Frontdoor-Actor") != "" || h.Get("X-Frontdoor-AMR") == "" {
				t.Fatalf("backend headers: %v", h)
			}
			at := claimsOf(t, tok.AccessToken)
			cl := assertionClaims(t, g)
			if cl["sub"] != id || cl["client_id"] != "spa" || cl["act"] != nil || cl["sid"] != at["sid"] ||
				!strings.Contains(cl["scope"].(string), "profile") || cl["email"] != "edge-ok@example.com" {
				t.Fatalf("assertion claims: %v (token %v)", cl, at)
			}
			// The scoped path and the actor-human path take it; a cookie
			// is not enough on the bearer-only path.
			if r := call(g, "/me/profile", tok.AccessToken); r.status != http.StatusOK {
				t.Fatalf("scoped path: %d %s", r.status, r.body)
			}
			if r := call(g, "/api/pay/1", tok.AccessToken); r.status != http.StatusOK {
				t.Fatalf("actor human path: %d %s", r.status, r.body)
			}
			if r := g.get(c, "/me/profile", map[string]string{"Accept": "application/json"}); r.status != http.StatusUnauthorized {
				t.Fatalf("a session on a bearer-only path: %d", r.status)
			}
			// The same line takes API keys and sessions still.
			key := g.makeKey(c, url.Values{"name": {"k"}})
			if r := call(g, "/api/orders/1", key); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Client") != "" {
				t.Fatalf("api key beside bearer: %d %s", r.status, r.body)
			}
			if r := g.get(c, "/api/orders/1", nil); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Client") != "" {
				t.Fatalf("session beside bearer: %d", r.status)
			}
			// Not on a path that does not accept bearer tokens.
			if r := call(g, "/app/x", tok.AccessToken); r.status == http.StatusOK {
				t.Fatalf("a sessions-only path took a bearer token: %d", r.status)
			}
		}},
		{"refused", func(t *testing.T, g *gateway) {
			c := g.signUp("edge-no@example.com")
			id := g.customerID("edge-no@example.com")
			_, tok := appTokens(t, g, c, "spa", "", "https://spa.test/cb", "email")
			good := tok.AccessToken
			at := claimsOf(t, good)
			ring := backendOf(t).assertions.Ring()
			kid, key := ring.SigningKey()
			now := time.Now()
			claims := func(change map[string]any) map[string]any {
				m := map[string]any{"iss": g.url(""), "sub": id, "aud": []string{g.url("")}, "exp": now.Add(5 * time.Minute).Unix(),
					"iat": now.Unix(), "jti": "j1", "client_id": "spa", "scope": "openid email", "sid": at["sid"], "amr": []string{"pwd"}}
				for k, v := range change {
					if v == nil {
						delete(m, k)
					} else {
						m[k] = v
					}
				}
				return m
			}
			// The real key, every claim right: accepted (so each refusal
			// below is for its one change).
			if r := call(g, "/api/orders/1", mintJWT(t, jose.ES256, key, kid, "at+jwt", claims(nil))); r.status != http.StatusOK {
				t.Fatalf("a well-formed token: %d %s", r.status, r.body)
			}
			fresh, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
			hdr := func(alg string) string { return b64json(map[string]string{"alg": alg, "typ": "at+jwt", "kid": kid}) }
			parts := strings.Split(good, ".")
			tampered := claimsOf(t, good)
			tampered["scope"] = "openid email profile"
			cases := []struct {
				name, token, path string
				status            int
				code              string
			}{
				{"ID token of the provider", tok.Extra("id_token").(string), "", 401, "invalid_token"},
				{"another issuer, another key", mintJWT(t, jose.ES256, fresh, "other", "at+jwt", claims(map[string]any{"iss": "https://idp.other.test", "aud": []string{"https://idp.other.test"}})), "", 401, "invalid_token"},
				{"another issuer, our key", mintJWT(t, jose.ES256, key, kid, "at+jwt", claims(map[string]any{"iss": "https://idp.other.test", "aud": []string{"https://idp.other.test"}})), "", 401, "invalid_token"},
				{"our claims, another key under our kid", mintJWT(t, jose.ES256, fresh, kid, "at+jwt", claims(nil)), "", 401, "invalid_token"},
				{"alg none", hdr("none") + "." + b64json(claims(nil)) + ".", "", 401, "invalid_token"},
				{"HS256 keyed with the public key", mintJWT(t, jose.HS256, pubDER, kid, "at+jwt", claims(nil)), "", 401, "invalid_token"},
				{"expired", mintJWT(t, jose.ES256, key, kid, "at+jwt", claims(map[string]any{"exp": now.Add(-time.Second).Unix()})), "", 401, "invalid_token"},
				{"wrong typ", mintJWT(t, jose.ES256, key, kid, "JWT", claims(nil)), "", 401, "invalid_token"},
				{"tampered payload", parts[0] + "." + b64json(tampered) + "." + parts[2], "", 401, "invalid_token"},
				{"undeclared client", mintJWT(t, jose.ES256, key, kid, "at+jwt", claims(map[string]any{"client_id": "ghost"})), "", 401, "invalid_token"},
				{"audience without the issuer", mintJWT(t, jose.ES256, key, kid, "at+jwt", claims(map[string]any{"aud": []string{"spa"}})), "", 401, "invalid_token"},
				{"no sid", mintJWT(t, jose.ES256, key, kid, "at+jwt", claims(map[string]any{"sid": nil})), "", 401, "invalid_token"},
				{"identity assertion", "", "", 401, "invalid_token"},
				{"scope the route needs", good, "/me/profile", 403, "insufficient_scope"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					token, path := tc.token, tc.path
					if tc.name == "identity assertion" {
						g.get(c, "/app/x", nil)
						token = g.backend.lastHeaders().Get("X-Frontdoor-Assertion")
					}
					if path == "" {
						path = "/api/orders/1"
					}
					refused(t, call(g, path, token), tc.status, tc.code)
				})
			}
			t.Run("expired by the clock", func(t *testing.T) {
				clk := useClock(t)
				if r := call(g, "/api/orders/1", good); r.status != http.StatusOK {
					t.Fatalf("before: %d", r.status)
				}
				clk.advance(11 * time.Minute)
				refused(t, call(g, "/api/orders/1", good), 401, "invalid_token")
			})
		}},
		{"sign-out at the provider ends its tokens", func(t *testing.T, g *gateway) {
			c := g.signUp("edge-out@example.com")
			_, tok := appTokens(t, g, c, "spa", "", "https://spa.test/cb", "email")
			if r := call(g, "/api/orders/1", tok.AccessToken); r.status != http.StatusOK {
				t.Fatalf("before: %d", r.status)
			}
			if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/logout", url.Values{}); r.status >= 400 {
				t.Fatalf("sign-out: %d", r.status)
			}
			gone(t, g, tok.AccessToken, "sign-out")
		}},
		{"sign out everywhere ends access and refresh tokens", func(t *testing.T, g *gateway) {
			c := g.signUp("edge-all@example.com")
			r, tok := appTokens(t, g, c, "shop", shopSecret, "https://app.test/cb", "email", oidc.ScopeOfflineAccess)
			if st := call(g, "/api/orders/1", tok.AccessToken).status; st != http.StatusOK || tok.RefreshToken == "" {
				t.Fatalf("before: %d, refresh token %q", st, tok.RefreshToken)
			}
			if _, err := r.prov.UserInfo(r.ctx, oauth2.StaticTokenSource(tok)); err != nil {
				t.Fatalf("userinfo before: %v", err)
			}
			if st := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/signout-everywhere", url.Values{}).status; st >= 400 {
				t.Fatalf("sign out everywhere: %d", st)
			}
			gone(t, g, tok.AccessToken, "sign out everywhere")
			if st, e, _ := refreshShop(t, g, tok.RefreshToken); e != "invalid_grant" {
				t.Fatalf("refresh after sign out everywhere: %d %s", st, e)
			}
			if _, err := r.prov.UserInfo(r.ctx, oauth2.StaticTokenSource(tok)); err == nil {
				t.Fatal("userinfo took an access token of an ended session")
			}
			form := url.Values{"token": {tok.AccessToken}}
			req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/introspect"), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("shop", shopSecret)
			resp, err := g.newClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var in struct {
				Active bool `json:"active"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&in)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || in.Active {
				t.Fatalf("introspection of an ended session's token: %d active=%v", resp.StatusCode, in.Active)
			}
		}},
		{"an offline refresh token outlives an idle session", func(t *testing.T, g *gateway) {
			c := g.signUp("edge-idle@example.com")
			_, tok := appTokens(t, g, c, "shop", shopSecret, "https://app.test/cb", "email", oidc.ScopeOfflineAccess)
			clk := useClock(t)
			clk.advance(31 * time.Minute) // past the idle timeout (30m)
			if r := g.get(c, "/app/x", map[string]string{"Accept": "application/json"}); r.status != http.StatusUnauthorized {
				t.Fatalf("the browser session after idling: %d", r.status)
			}
			st, e, access := refreshShop(t, g, tok.RefreshToken)
			if st != http.StatusOK || access == "" {
				t.Fatalf("refresh after the session idled out: %d %s", st, e)
			}
			if r := call(g, "/api/orders/1", access); r.status != http.StatusOK {
				t.Fatalf("the refreshed access token at the edge: %d %s", r.status, r.body)
			}
		}},
		{"sign out everywhere ends a refresh token whose session had already expired", func(t *testing.T, g *gateway) {
			c := g.signUp("edge-gone@example.com")
			_, tok := appTokens(t, g, c, "shop", shopSecret, "https://app.test/cb", "email", oidc.ScopeOfflineAccess)
			clk := useClock(t)
			clk.advance(31 * time.Minute) // the session idles out: no mark of its own when it ends
			later := g.newClient()
			g.login(later, "edge-gone@example.com", testPassword, "/app/x")
			if st := g.postVia(later, "/.frontdoor/account", "/.frontdoor/account/signout-everywhere", url.Values{}).status; st >= 400 {
				t.Fatalf("sign out everywhere: %d", st)
			}
			if st, e, _ := refreshShop(t, g, tok.RefreshToken); st != http.StatusBadRequest || e != "invalid_grant" {
				t.Fatalf("refresh of a session that expired before sign out everywhere: %d %s", st, e)
			}
			// A grant made after it works.
			c2 := g.newClient()
			g.login(c2, "edge-gone@example.com", testPassword, "/app/x")
			_, tok2 := appTokens(t, g, c2, "shop", shopSecret, "https://app.test/cb", "email", oidc.ScopeOfflineAccess)
			if st, e, _ := refreshShop(t, g, tok2.RefreshToken); st != http.StatusOK {
				t.Fatalf("a new grant after sign out everywhere: %d %s", st, e)
			}
		}},
	})
}
