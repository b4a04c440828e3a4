package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// The provider site of these tests: a confidential and a public
// first-party client, and a third-party one (no consent screen yet).
const providerSite = `provider {
			client shop {
				redirect_uri https://app.test/cb
				secret {env.FD_TEST_SHOP_SECRET}
				scopes openid email profile offline_access
				first_party
				post_logout_redirect_uri https://app.test/bye
			}
			client spa {
				redirect_uri https://spa.test/cb
				first_party
			}
			client partner {
				redirect_uri https://partner.test/cb
				secret partner-secret
			}
		}`

const shopSecret = "shop-secret-0123456789"

// rp is a relying party of the gateway's provider: go-oidc and x/oauth2,
// with discovery done against the gateway.
type rp struct {
	g    *gateway
	ctx  context.Context
	prov *oidc.Provider
	cfg  oauth2.Config
	ver  *oidc.IDTokenVerifier
}

func newRP(t *testing.T, g *gateway, id, secret, redirect string) *rp {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), g.newClient())
	prov, err := oidc.NewProvider(ctx, g.url(""))
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := prov.Endpoint()
	if secret != "" {
		ep.AuthStyle = oauth2.AuthStyleInHeader
	} else {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &rp{g: g, ctx: ctx, prov: prov, ver: prov.Verifier(&oidc.Config{ClientID: id}),
		cfg: oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: redirect, Endpoint: ep, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}}
}

// follow walks browser redirects on the gateway until one leaves it, and
// returns where it leads (the client's redirect URI with the answer).
func (g *gateway) follow(t *testing.T, c *http.Client, target string) *url.URL {
	t.Helper()
	for range 8 {
		r := g.get(c, target, map[string]string{"Accept": "text/html"})
		loc := r.header.Get("Location")
		if r.status < 300 || r.status > 399 || loc == "" {
			t.Fatalf("GET %s: %d, no redirect: %.300s", target, r.status, r.body)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		if u.IsAbs() && !strings.HasPrefix(loc, g.url("/")) {
			return u
		}
		target = loc
	}
	t.Fatalf("too many redirects from %s", target)
	return nil
}

// codeFor runs the authorization request of r in the signed-in browser c
// and returns the code and the redirect it came on.
func (r *rp) codeFor(t *testing.T, c *http.Client, opts ...oauth2.AuthCodeOption) (string, *url.URL) {
	t.Helper()
	u := r.g.follow(t, c, r.cfg.AuthCodeURL("st4te", opts...))
	q := u.Query()
	if q.Get("code") == "" {
		t.Fatalf("no code in %s", u)
	}
	return q.Get("code"), u
}

func s256(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// tokenPost calls the token endpoint by hand and returns the status and
// the OAuth error code.
func (g *gateway) tokenPost(t *testing.T, form url.Values, basicID, basicSecret string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/token"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := g.newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Error
}

func TestProvider(t *testing.T) {
	t.Setenv("FD_TEST_SHOP_SECRET", shopSecret)
	runOnBothStoresWith(t, gatewayOpts{site: providerSite}, []scenario{
		{"confidential client signs in", func(t *testing.T, g *gateway) {
			c := g.signUp("op-conf@example.com")
			r := newRP(t, g, "shop", shopSecret, "https://app.test/cb")
			verifier := oauth2.GenerateVerifier()
			code, u := r.codeFor(t, c, oidc.Nonce("n0nce"), oauth2.S256ChallengeOption(verifier))
			if u.Query().Get("iss") != g.url("") || u.Query().Get("state") != "st4te" {
				t.Fatalf("authorization response %s: want iss %s and the state", u, g.url(""))
			}
			if len(code) < 22 {
				t.Fatalf("code %q is short", code)
			}
			tok, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := r.ver.Verify(r.ctx, raw)
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			if idt.Nonce != "n0nce" || idt.Issuer != g.url("") {
				t.Fatalf("ID token nonce %q issuer %q", idt.Nonce, idt.Issuer)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			var claims struct {
				Email         string `json:"email"`
				EmailVerified bool   `json:"email_verified"`
			}
			if err := idt.Claims(&claims); err != nil || claims.Email != "op-conf@example.com" || !claims.EmailVerified {
				t.Fatalf("ID token claims %+v %v", claims, err)
			}
			// The access token: RFC 9068, signed with the assertion keys,
			// carrying the session.
			jws, err := jose.ParseSignedCompact(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			if typ, _ := jws.Signatures[0].Protected.ExtraHeaders["typ"].(string); typ != "at+jwt" {
				t.Fatalf("access token typ %q", typ)
			}
			keys := g.get(g.newClient(), JWKSPath, nil)
			var set jose.JSONWebKeySet
			if err := json.Unmarshal([]byte(keys.body), &set); err != nil {
				t.Fatal(err)
			}
			kid := jws.Signatures[0].Protected.KeyID
			if len(set.Key(kid)) != 1 {
				t.Fatalf("access token key %q not in the assertion JWKS", kid)
			}
			payload, err := jws.Verify(set.Key(kid)[0].Key)
			if err != nil {
				t.Fatal(err)
			}
			var at map[string]any
			_ = json.Unmarshal(payload, &at)
			if at["sid"] == "" || at["sid"] == nil || at["client_id"] != "shop" || at["sub"] != idt.Subject || at["iss"] != g.url("") {
				t.Fatalf("access token claims %v", at)
			}
			ui, err := r.prov.UserInfo(r.ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if ui.Subject != idt.Subject || ui.Email != "op-conf@example.com" || !ui.EmailVerified {
				t.Fatalf("userinfo %+v", ui)
			}
		}},
		{"public client signs in, customer not yet signed in", func(t *testing.T, g *gateway) {
			g.signUp("op-pub@example.com")
			c := g.newClient() // another browser, signed out
			r := newRP(t, g, "spa", "", "https://spa.test/cb")
			verifier := oauth2.GenerateVerifier()
			r1 := g.get(c, r.cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)), map[string]string{"Accept": "text/html"})
			bridge := r1.header.Get("Location")
			r2 := g.get(c, bridge, map[string]string{"Accept": "text/html"})
			login := r2.header.Get("Location")
			if !strings.HasPrefix(login, "/.frontdoor/login?rd=") {
				t.Fatalf("signed out: %d to %q, want the sign-in page", r2.status, login)
			}
			lu, _ := url.Parse(login)
			back := g.login(c, "op-pub@example.com", testPassword, lu.Query().Get("rd")).header.Get("Location")
			u := g.follow(t, c, back)
			tok, err := r.cfg.Exchange(r.ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			idt, err := r.ver.Verify(r.ctx, tok.Extra("id_token").(string))
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			if idt.Audience[0] != "spa" {
				t.Fatalf("aud %v", idt.Audience)
			}
		}},
		{"refresh tokens rotate; reuse revokes the family", func(t *testing.T, g *gateway) {
			c := g.signUp("op-refresh@example.com")
			r := newRP(t, g, "shop", shopSecret, "https://app.test/cb")
			verifier := oauth2.GenerateVerifier()
			// Without offline_access: no refresh token.
			code, _ := r.codeFor(t, c, oauth2.S256ChallengeOption(verifier))
			tok, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
			if err != nil || tok.RefreshToken != "" {
				t.Fatalf("without offline_access: refresh token %q, %v", tok.RefreshToken, err)
			}
			r.cfg.Scopes = append(r.cfg.Scopes, oidc.ScopeOfflineAccess)
			code, _ = r.codeFor(t, c, oauth2.S256ChallengeOption(verifier))
			tok, err = r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
			if err != nil || tok.RefreshToken == "" {
				t.Fatalf("with offline_access: refresh token %q, %v", tok.RefreshToken, err)
			}
			refresh := func(rt string) (int, string, string) {
				a := shopRefresh(t, g, rt)
				if a.status == http.StatusOK {
					if _, err := r.ver.Verify(r.ctx, a.IDToken); err != nil {
						t.Errorf("refreshed ID token: %v", err)
					}
				}
				return a.status, a.Error, a.RefreshToken
			}
			first := tok.RefreshToken
			st, e, second := refresh(first)
			if st != http.StatusOK || second == "" || second == first {
				t.Fatalf("rotation: %d %s, new token %q", st, e, second)
			}
			st, e, third := refresh(second)
			if st != http.StatusOK || third == "" {
				t.Fatalf("second rotation: %d %s", st, e)
			}
			// The spent first token again: refused, and the family dies.
			if st, e, _ := refresh(first); e != "invalid_grant" {
				t.Fatalf("reused refresh token: %d %s", st, e)
			}
			if st, e, _ := refresh(third); e != "invalid_grant" {
				t.Fatalf("current token after the family was revoked: %d %s", st, e)
			}
			// Another family (another code) lives on.
			code, _ = r.codeFor(t, c, oauth2.S256ChallengeOption(verifier))
			tok, err = r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if st, e, _ := refresh(tok.RefreshToken); st != http.StatusOK {
				t.Fatalf("another family: %d %s", st, e)
			}
			// Another client cannot use it.
			f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"spa"}}
			if st, e := g.tokenPost(t, f, "", ""); e != "invalid_grant" {
				t.Fatalf("refresh token of another client: %d %s", st, e)
			}
			// Revocation (RFC 7009) ends a family.
			code, _ = r.codeFor(t, c, oauth2.S256ChallengeOption(verifier))
			tok, err = r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			revoke := func(token, id, secret string) int {
				req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/revoke"), strings.NewReader(url.Values{"token": {token}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(id, secret)
				resp, err := g.newClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if st := revoke(tok.RefreshToken, "partner", "partner-secret"); st == http.StatusOK {
				t.Fatalf("another client revoked the token")
			}
			st, e, next := refresh(tok.RefreshToken)
			if st != http.StatusOK {
				t.Fatalf("refresh after another client's revocation attempt: %d %s", st, e)
			}
			if st := revoke(next, "shop", shopSecret); st != http.StatusOK {
				t.Fatalf("revocation: %d", st)
			}
			if st, e, _ := refresh(next); e != "invalid_grant" {
				t.Fatalf("revoked refresh token: %d %s", st, e)
			}
			if st := revoke("not-a-token", "shop", shopSecret); st != http.StatusOK {
				t.Fatalf("revoking an unknown token: %d, want 200", st)
			}
		}},
		{"userinfo and introspection take only access tokens", func(t *testing.T, g *gateway) {
			c, _, tok := shopTokens(t, g, "op-bearer@example.com")
			// The identity assertion a backend gets: same issuer, same keys.
			g.get(c, "/app/x", nil)
			assertion := g.backend.lastHeaders().Get("X-Frontdoor-Assertion")
			if assertion == "" {
				t.Fatal("no assertion")
			}
			userinfo := func(bearer string) int {
				return g.get(g.newClient(), "/.frontdoor/oauth2/userinfo", map[string]string{"Authorization": "Bearer " + bearer}).status
			}
			introspect := func(token string) bool {
				req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/introspect"), strings.NewReader(url.Values{"token": {token}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("shop", shopSecret)
				resp, err := g.newClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body struct {
					Active bool   `json:"active"`
					Sub    string `json:"sub"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&body)
				return body.Active
			}
			if st := userinfo(tok.AccessToken); st != http.StatusOK {
				t.Fatalf("access token at userinfo: %d", st)
			}
			if !introspect(tok.AccessToken) {
				t.Fatal("access token inactive")
			}
			for name, bearer := range map[string]string{
				"ID token": tok.Extra("id_token").(string), "identity assertion": assertion, "garbage": "abc.def.ghi",
				"alg none": "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + strings.Split(tok.AccessToken, ".")[1] + ".",
			} {
				if st := userinfo(bearer); st != http.StatusUnauthorized {
					t.Errorf("%s at userinfo: %d, want 401", name, st)
				}
				if introspect(bearer) {
					t.Errorf("%s introspected active", name)
				}
			}
			// After its 10 minutes the access token is refused.
			clk := useClock(t)
			clk.advance(11 * time.Minute)
			if st := userinfo(tok.AccessToken); st != http.StatusUnauthorized {
				t.Errorf("expired access token at userinfo: %d", st)
			}
		}},
		{"end_session refuses the identity assertion as id_token_hint", func(t *testing.T, g *gateway) {
			c, r, tok := shopTokens(t, g, "op-hint@example.com")
			if st := g.get(c, "/app/x", nil).status; st != http.StatusOK {
				t.Fatalf("signed in: %d", st)
			}
			// What the backend received: same issuer, keys and sid as the
			// ID token, but issued to the site.
			assertion := g.backend.lastHeaders().Get("X-Frontdoor-Assertion")
			if assertion == "" {
				t.Fatal("no assertion reached the backend")
			}
			resp := g.get(g.newClient(), "/.frontdoor/oauth2/end_session?id_token_hint="+url.QueryEscape(assertion), nil)
			if resp.status < 400 {
				t.Errorf("end_session with the assertion as hint: %d to %q, want refused", resp.status, resp.header.Get("Location"))
			}
			if st := g.get(c, "/app/x", nil).status; st != http.StatusOK {
				t.Fatalf("session after end_session with the assertion: %d, want it alive", st)
			}
			// The client's own ID token still ends it.
			if _, err := r.ver.Verify(r.ctx, tok.Extra("id_token").(string)); err != nil {
				t.Fatal(err)
			}
			resp = g.get(g.newClient(), "/.frontdoor/oauth2/end_session?id_token_hint="+url.QueryEscape(tok.Extra("id_token").(string)), nil)
			if resp.status != http.StatusFound {
				t.Fatalf("end_session with the ID token: %d", resp.status)
			}
			if st := g.get(c, "/app/x", nil).status; st != http.StatusUnauthorized {
				t.Errorf("session after end_session with the ID token: %d, want 401", st)
			}
		}},
		{"end_session returns only to a registered post_logout_redirect_uri", func(t *testing.T, g *gateway) {
			c, _, tok := shopTokens(t, g, "op-bye@example.com")
			hint := url.QueryEscape(tok.Extra("id_token").(string))
			for _, bad := range []string{"https://evil.test/", "https://app.test/bye/", "https://APP.test/bye", "https://app.test/bye?x=1", "https://app.test:8443/bye"} {
				resp := g.get(c, "/.frontdoor/oauth2/end_session?id_token_hint="+hint+"&post_logout_redirect_uri="+url.QueryEscape(bad), nil)
				if resp.status < 400 || strings.Contains(resp.header.Get("Location"), "evil") {
					t.Errorf("post_logout_redirect_uri %s: %d to %q", bad, resp.status, resp.header.Get("Location"))
				}
			}
			if st := g.get(c, "/app/x", nil).status; st != http.StatusOK {
				t.Fatalf("session after refused end_session requests: %d", st)
			}
			resp := g.get(c, "/.frontdoor/oauth2/end_session?id_token_hint="+hint+"&post_logout_redirect_uri="+url.QueryEscape("https://app.test/bye")+"&state=s1", nil)
			if resp.status != http.StatusFound || resp.header.Get("Location") != "https://app.test/bye?state=s1" {
				t.Fatalf("end_session: %d to %q", resp.status, resp.header.Get("Location"))
			}
			if st := g.get(c, "/app/x", nil).status; st != http.StatusUnauthorized {
				t.Errorf("session after end_session: %d, want 401", st)
			}
		}},
		{"end_session with the ID token ends its session", func(t *testing.T, g *gateway) {
			c, r, tok := shopTokens(t, g, "op-logout@example.com")
			idt, err := r.ver.Verify(r.ctx, tok.Extra("id_token").(string))
			if err != nil {
				t.Fatal(err)
			}
			var claims struct {
				SID string `json:"sid"`
			}
			if err := idt.Claims(&claims); err != nil || claims.SID == "" {
				t.Fatalf("ID token sid: %q %v", claims.SID, err)
			}
			// Without a hint: refused, the session lives on.
			if st := g.get(c, "/.frontdoor/oauth2/end_session", nil).status; st < 400 {
				t.Errorf("end_session without id_token_hint: %d", st)
			}
			if st := g.get(c, "/app/x", nil).status; st != http.StatusOK {
				t.Fatalf("session after a bare end_session: %d", st)
			}
			// Another browser of the same customer keeps its session.
			other := g.newClient()
			g.login(other, "op-logout@example.com", testPassword, "/app/x")
			resp := g.get(c, "/.frontdoor/oauth2/end_session?id_token_hint="+url.QueryEscape(tok.Extra("id_token").(string)), nil)
			if resp.status != http.StatusFound || resp.header.Get("Location") != g.url("/") {
				t.Fatalf("end_session: %d to %q", resp.status, resp.header.Get("Location"))
			}
			if st := g.get(c, "/app/x", nil).status; st != http.StatusUnauthorized {
				t.Errorf("session after end_session: %d, want 401", st)
			}
			if st := g.get(other, "/app/x", nil).status; st != http.StatusOK {
				t.Errorf("the other browser's session: %d", st)
			}
		}},
		{"discovery advertises code flow and S256 only", func(t *testing.T, g *gateway) {
			r := g.get(g.newClient(), "/.well-known/openid-configuration", nil)
			var d map[string]any
			if err := json.Unmarshal([]byte(r.body), &d); err != nil {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for k, want := range map[string]string{
				"issuer": g.url(""), "authorization_endpoint": g.url("/.frontdoor/oauth2/authorize"),
				"token_endpoint": g.url("/.frontdoor/oauth2/token"), "userinfo_endpoint": g.url("/.frontdoor/oauth2/userinfo"),
				"jwks_uri": g.url("/.frontdoor/oauth2/jwks"), "revocation_endpoint": g.url("/.frontdoor/oauth2/revoke"),
				"introspection_endpoint": g.url("/.frontdoor/oauth2/introspect"),
				"end_session_endpoint":   g.url("/.frontdoor/oauth2/end_session"),
			} {
				if d[k] != want {
					t.Errorf("%s = %v, want %s", k, d[k], want)
				}
			}
			if b, _ := json.Marshal(d["code_challenge_methods_supported"]); string(b) != `["S256"]` {
				t.Errorf("code_challenge_methods_supported %s", b)
			}
			if b, _ := json.Marshal(d["response_types_supported"]); string(b) != `["code"]` {
				t.Errorf("response_types_supported %s", b)
			}
			if d["authorization_response_iss_parameter_supported"] != true {
				t.Errorf("iss parameter not advertised")
			}
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("security headers: CSP %q", csp)
			}
		}},
		{"prompt=none without a session", func(t *testing.T, g *gateway) {
			r := newRP(t, g, "shop", shopSecret, "https://app.test/cb")
			u := g.follow(t, g.newClient(), r.cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption("v"), oauth2.SetAuthURLParam("prompt", "none")))
			if u.Host != "app.test" || u.Query().Get("error") != "login_required" || u.Query().Get("iss") != g.url("") || u.Query().Get("state") != "st4te" {
				t.Fatalf("prompt=none: %s", u)
			}
		}},
		{"prompt=none with a session answers at once", func(t *testing.T, g *gateway) {
			c := g.signUp("op-none@example.com")
			r := newRP(t, g, "shop", shopSecret, "https://app.test/cb")
			verifier := oauth2.GenerateVerifier()
			code, _ := r.codeFor(t, c, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none"))
			if _, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier)); err != nil {
				t.Fatalf("exchange: %v", err)
			}
		}},
		{"third-party client, prompt=none, not allowed yet", func(t *testing.T, g *gateway) {
			c := g.signUp("op-3p@example.com")
			r := newRP(t, g, "partner", "partner-secret", "https://partner.test/cb")
			u := g.follow(t, c, r.cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption("v"), oauth2.SetAuthURLParam("prompt", "none")))
			if u.Query().Get("error") != "consent_required" || u.Query().Get("code") != "" {
				t.Fatalf("third party: %s", u)
			}
		}},
		{"third-party client: the consent screen", providerConsentScenario},
		{"redirect URIs compared exactly", func(t *testing.T, g *gateway) {
			c := g.signUp("op-redir@example.com")
			r := newRP(t, g, "shop", shopSecret, "https://app.test/cb")
			for _, bad := range []string{
				"https://APP.test/cb", "https://app.test/CB", "https://app.test/cb/", "https://app.test/cb/more",
				"https://app.test/cb?x=1", "https://user@app.test/cb", "https://app.test:8443/cb", "http://app.test/cb",
				"https://app.test/cb#frag", "https://app.test.evil/cb",
			} {
				t.Run(bad, func(t *testing.T) {
					cfg := r.cfg
					cfg.RedirectURL = bad
					resp := g.get(c, cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption("v")), map[string]string{"Accept": "text/html"})
					loc := resp.header.Get("Location")
					if resp.status < 400 || strings.Contains(loc, "code=") || strings.HasPrefix(loc, "http") {
						t.Errorf("redirect_uri %s: %d Location %q, want a refusal on the provider", bad, resp.status, loc)
					}
				})
			}
		}},
		{"PKCE required, S256 only", func(t *testing.T, g *gateway) {
			c := g.signUp("op-pkce@example.com")
			r := newRP(t, g, "shop", shopSecret, "https://app.test/cb")
			for name, opts := range map[string][]oauth2.AuthCodeOption{
				"none":               nil,
				"plain":              {oauth2.SetAuthURLParam("code_challenge", "abcdefghijabcdefghijabcdefghijabcdefghij12345"), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
				"S256 but form_post": {oauth2.S256ChallengeOption("v"), oauth2.SetAuthURLParam("response_mode", "form_post")},
			} {
				t.Run(name, func(t *testing.T) {
					u := g.follow(t, c, r.cfg.AuthCodeURL("st4te", opts...))
					if u.Query().Get("code") != "" || u.Query().Get("error") != "invalid_request" || u.Query().Get("iss") != g.url("") {
						t.Errorf("%s: %s, want invalid_request with iss", name, u)
					}
				})
			}
		}},
		{"code refusals", func(t *testing.T, g *gateway) {
			c := g.signUp("op-codes@example.com")
			r := newRP(t, g, "shop", shopSecret, "https://app.test/cb")
			verifier := oauth2.GenerateVerifier()
			const cb = "https://app.test/cb"
			grant := func(code, redirect, verifier string) url.Values {
				f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
				if verifier != "" {
					f.Set("code_verifier", verifier)
				}
				return f
			}
			newCode := func(t *testing.T) string {
				code, _ := r.codeFor(t, c, oauth2.S256ChallengeOption(verifier))
				return code
			}
			t.Run("replayed", func(t *testing.T) {
				code := newCode(t)
				if st, e := g.tokenPost(t, grant(code, cb, verifier), "shop", shopSecret); st != http.StatusOK {
					t.Fatalf("first redemption: %d %s", st, e)
				}
				if st, e := g.tokenPost(t, grant(code, cb, verifier), "shop", shopSecret); e != "invalid_grant" {
					t.Errorf("replayed code: %d %s", st, e)
				}
			})
			t.Run("used by another client", func(t *testing.T) {
				code := newCode(t)
				f := grant(code, cb, verifier)
				f.Set("client_id", "spa")
				if st, e := g.tokenPost(t, f, "", ""); e != "invalid_grant" {
					t.Errorf("code used by another client: %d %s", st, e)
				}
				// Burnt: its own client cannot use it after that.
				if st, e := g.tokenPost(t, grant(code, cb, verifier), "shop", shopSecret); e != "invalid_grant" {
					t.Errorf("code after another client tried it: %d %s", st, e)
				}
			})
			t.Run("missing verifier", func(t *testing.T) {
				if st, e := g.tokenPost(t, grant(newCode(t), cb, ""), "shop", shopSecret); st == http.StatusOK || e != "invalid_request" {
					t.Errorf("missing verifier: %d %s", st, e)
				}
			})
			t.Run("wrong verifier", func(t *testing.T) {
				if st, e := g.tokenPost(t, grant(newCode(t), cb, oauth2.GenerateVerifier()), "shop", shopSecret); e != "invalid_grant" {
					t.Errorf("wrong verifier: %d %s", st, e)
				}
			})
			t.Run("other redirect_uri at the token endpoint", func(t *testing.T) {
				if st, e := g.tokenPost(t, grant(newCode(t), cb+"/", verifier), "shop", shopSecret); e != "invalid_grant" {
					t.Errorf("redirect_uri mismatch: %d %s", st, e)
				}
			})
			t.Run("wrong secret", func(t *testing.T) {
				if st, e := g.tokenPost(t, grant(newCode(t), cb, verifier), "shop", "wrong"); e != "invalid_client" {
					t.Errorf("wrong secret: %d %s", st, e)
				}
			})
			t.Run("public client cannot pose as the confidential one", func(t *testing.T) {
				f := grant(newCode(t), cb, verifier)
				f.Set("client_id", "shop")
				if st, e := g.tokenPost(t, f, "", ""); e != "invalid_client" {
					t.Errorf("no secret: %d %s", st, e)
				}
			})
			t.Run("unknown client", func(t *testing.T) {
				if st, e := g.tokenPost(t, grant(newCode(t), cb, verifier), "nobody", "x"); e != "invalid_client" {
					t.Errorf("unknown client: %d %s", st, e)
				}
			})
			t.Run("client_secret_post", func(t *testing.T) {
				f := grant(newCode(t), cb, verifier)
				f.Set("client_id", "shop")
				f.Set("client_secret", shopSecret)
				if st, e := g.tokenPost(t, f, "", ""); st != http.StatusOK {
					t.Errorf("client_secret_post: %d %s", st, e)
				}
			})
			t.Run("older than 60 s", func(t *testing.T) {
				clk := useClock(t)
				code := newCode(t)
				clk.advance(61 * time.Second)
				if st, e := g.tokenPost(t, grant(code, cb, verifier), "shop", shopSecret); e != "invalid_grant" {
					t.Errorf("code older than 60 s: %d %s", st, e)
				}
				code = newCode(t)
				clk.advance(50 * time.Second)
				if st, e := g.tokenPost(t, grant(code, cb, verifier), "shop", shopSecret); st != http.StatusOK {
					t.Errorf("code 50 s old: %d %s", st, e)
				}
			})
		}},
		{"unknown client at the authorization endpoint", func(t *testing.T, g *gateway) {
			c := g.signUp("op-unknown@example.com")
			q := url.Values{"client_id": {"nobody"}, "redirect_uri": {"https://app.test/cb"}, "response_type": {"code"},
				"scope": {"openid"}, "code_challenge": {s256("v")}, "code_challenge_method": {"S256"}}
			resp := g.get(c, "/.frontdoor/oauth2/authorize?"+q.Encode(), map[string]string{"Accept": "text/html"})
			if resp.status < 400 || strings.HasPrefix(resp.header.Get("Location"), "http") {
				t.Fatalf("unknown client: %d %q", resp.status, resp.header.Get("Location"))
			}
		}},
		{"a client secret given as a placeholder stays out of the log", func(t *testing.T, g *gateway) {
			// Runs after the scenarios above, which authenticated with it
			// (right and wrong) at DEBUG level. (A literal secret is part of
			// the config, which Caddy itself logs at DEBUG: hence the
			// placeholder the README asks for.)
			raw, err := os.ReadFile(g.logFile)
			if err != nil {
				t.Fatal(err)
			}
			if i := strings.Index(string(raw), shopSecret); i >= 0 {
				t.Errorf("the log holds a client secret: %.200s", string(raw)[max(0, i-150):])
			}
		}},
	})
}

// shopTokens signs a new customer up and has the confidential client shop
// redeem a code for them.
func shopTokens(t *testing.T, g *gateway, email string) (*http.Client, *rp, *oauth2.Token) {
	t.Helper()
	c := g.signUp(email)
	r := newRP(t, g, "shop", shopSecret, "https://app.test/cb")
	verifier := oauth2.GenerateVerifier()
	code, _ := r.codeFor(t, c, oauth2.S256ChallengeOption(verifier))
	tok, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return c, r, tok
}
