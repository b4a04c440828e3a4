package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// The provider site of TestProviderAgents: an agent (assistant) that the
// customer lets read orders for an hour, a client allowed to exchange
// tokens (concierge), the first-party shop whose tokens hold orders:read
// and orders:write, and API paths that ask for each scope, or for a
// person.
const agentSite = `provider {
			scope orders:read "see your orders"
			scope orders:write "change your orders"
			client shop {
				redirect_uri https://app.test/cb
				secret shop-secret-0123456789
				scopes openid email profile offline_access orders:read orders:write
				first_party
			}
			client assistant {
				name "Shopping Assistant"
				agent
				lifetime 1h
				grant authorization_code device_code
				redirect_uri https://assistant.test/cb
				secret assistant-secret-0123456789
				scopes openid offline_access orders:read
			}
			client concierge {
				name "Order Concierge"
				grant token_exchange
				secret concierge-secret-0123456789
				scopes orders:read orders:write
			}
		}
		protect /api/* {
			accept session api_key bearer
		}
		protect /orders/* {
			accept bearer
			scopes orders:read
		}
		protect /returns/* {
			accept bearer
			scopes orders:write
		}
		require /api/pay/* {
			actor human
		}`

const (
	assistantSecret = "assistant-secret-0123456789"
	conciergeSecret = "concierge-secret-0123456789"
)

// agentConsent walks the assistant's authorization request for browser
// c to its consent page and returns the page and the request's id.
func agentConsent(t *testing.T, g *gateway, c *http.Client, r *rp, verifier string) (string, string) {
	t.Helper()
	res, hops := g.walk(t, c, r.cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)))
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(res.body)
	if res.status != http.StatusOK || m == nil {
		t.Fatalf("no consent page: %d after %v\n%.600s", res.status, hops, res.body)
	}
	return res.body, m[1]
}

// agentTokens has the customer c let the assistant act for them and
// returns its tokens.
func agentTokens(t *testing.T, g *gateway, c *http.Client) (*rp, *oauth2.Token) {
	t.Helper()
	r := newRP(t, g, "assistant", assistantSecret, "https://assistant.test/cb")
	r.cfg.Scopes = []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "orders:read"}
	return r, agentTokensVia(t, g, c, r)
}

// agentTokensVia is agentTokens with the assistant's relying party r.
func agentTokensVia(t *testing.T, g *gateway, c *http.Client, r *rp) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	_, id := agentConsent(t, g, c, r, verifier)
	res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/apps/consent", url.Values{"id": {id}, "decision": {"allow"}})
	u, err := url.Parse(res.header.Get("Location"))
	if res.status != http.StatusFound || err != nil || u.Query().Get("code") == "" {
		t.Fatalf("allow: %d %q", res.status, res.header.Get("Location"))
	}
	tok, err := r.cfg.Exchange(r.ctx, u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

// exchangeAnswer is the token endpoint's answer to a token exchange.
type exchangeAnswer struct {
	status          int
	Error           string `json:"error"`
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	RefreshToken    string `json:"refresh_token"`
	Scope           string `json:"scope"`
	ExpiresIn       int64  `json:"expires_in"`
}

// exchange asks for a token exchange as client id with secret.
func exchange(t *testing.T, g *gateway, id, secret string, form url.Values) exchangeAnswer {
	t.Helper()
	form.Set("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange")
	if !form.Has("subject_token_type") {
		form.Set("subject_token_type", "urn:ietf:params:oauth:token-type:access_token")
	}
	req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/token"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := g.newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a exchangeAnswer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	a.status = resp.StatusCode
	return a
}

// introspect asks the provider about token, as the shop.
func introspect(t *testing.T, g *gateway, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/introspect"), strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("shop", "shop-secret-0123456789")
	resp, err := g.newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspect: %d %v", resp.StatusCode, err)
	}
	return m
}

// bearerCall calls path with an access token, forging the headers the
// gateway sets.
func bearerCall(g *gateway, path, token string) response {
	return g.do(g.newClient(), http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer " + token,
		"Accept": "application/json", "X-Frontdoor-Client": "forged", "X-Frontdoor-Actor": "forged"})
}

// agentRefusedWithin polls until the token is refused (401), for at most a
// little over the cache period.
func agentRefusedWithin(t *testing.T, g *gateway, path, token, what string) {
	t.Helper()
	start := time.Now()
	for bearerCall(g, path, token).status != http.StatusUnauthorized {
		if time.Since(start) > 2500*time.Millisecond {
			t.Fatalf("an agent's token still works %v after %s", time.Since(start), what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// refreshAs redeems a refresh token as r's client and returns the new
// tokens, or the OAuth error.
func refreshAs(t *testing.T, r *rp, rt string) (*oauth2.Token, string) {
	t.Helper()
	tok, err := r.cfg.TokenSource(r.ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err == nil {
		return tok, ""
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("refresh: %v", err)
	}
	return nil, re.ErrorCode
}

// TestProviderAgents: an agent the customer allowed (a consent screen
// naming it as an agent, what it may do and until when) reads orders for
// them — its token names it (act), the backend is told who acts — is
// refused what it was not given and what only a person may do, is
// listed on the account page with when and where it last acted, and stops
// at the edge within 2 s of the customer ending it, its refresh tokens
// with it; its grant ends with its term. A client the operator allows
// exchanges a customer's token for a narrower one of its own (act
// chained), never a wider one; others may not; a dead or forged subject
// token is refused.
func TestProviderAgents(t *testing.T) {
	skipShort(t)
	runOnBothStoresWith(t, gatewayOpts{site: agentSite}, []scenario{
		{"an agent acts for the customer", func(t *testing.T, g *gateway) {
			c := g.signUp("agent-ann@example.com")
			id := g.customerID("agent-ann@example.com")
			r := newRP(t, g, "assistant", assistantSecret, "https://assistant.test/cb")
			r.cfg.Scopes = []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "orders:read"}
			page, _ := agentConsent(t, g, c, r, oauth2.GenerateVerifier())
			until := backendOf(t).clock.Now().Add(time.Hour).UTC()
			for _, want := range []string{"Shopping Assistant", "is an agent", "acts on your behalf", "see your orders",
				"until " + fmt.Sprint(until.Day()), until.Format("15:"), "Let Shopping Assistant act for you?"} {
				if !strings.Contains(page, want) {
					t.Fatalf("the agent's consent page lacks %q:\n%s", want, page)
				}
			}
			r, tok := agentTokens(t, g, c)
			at := claimsOf(t, tok.AccessToken)
			act, _ := at["act"].(map[string]any)
			if at["sub"] != id || at["client_id"] != "assistant" || act == nil || act["sub"] != "assistant" || act["act"] != nil || at["agent_grant"] == nil {
				t.Fatalf("agent's access token: %v", at)
			}
			if exp := int64(at["exp"].(float64)); exp > until.Add(time.Minute).Unix() {
				t.Fatalf("token outlives the grant: exp %d, grant until %v", exp, until)
			}
			// It reads orders, as the customer, named.
			res := bearerCall(g, "/orders/1", tok.AccessToken)
			if res.status != http.StatusOK {
				t.Fatalf("agent reads orders: %d %s", res.status, res.body)
			}
			h := g.backend.lastHeaders()
			if h.Get("X-Frontdoor-User") != id || h.Get("X-Frontdoor-Actor") != "assistant" || h.Get("X-Frontdoor-Client") != "assistant" {
				t.Fatalf("backend headers: %v", h)
			}
			cl := assertionClaims(t, g)
			if aact, _ := cl["act"].(map[string]any); cl["sub"] != id || aact == nil || aact["sub"] != "assistant" || cl["client_id"] != "assistant" || cl["scope"] == nil {
				t.Fatalf("assertion: %v", cl)
			}
			// Not what it was not given, not what only a person may do.
			res = bearerCall(g, "/returns/1", tok.AccessToken)
			if res.status != http.StatusForbidden || !strings.Contains(res.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
				!strings.Contains(res.header.Get("WWW-Authenticate"), `scope="orders:write"`) {
				t.Fatalf("orders:write: %d %q", res.status, res.header.Get("WWW-Authenticate"))
			}
			if res := bearerCall(g, "/api/pay/1", tok.AccessToken); res.status != http.StatusForbidden || !strings.Contains(res.body, `"missing":"actor"`) {
				t.Fatalf("actor human: %d %s", res.status, res.body)
			}
			if res := bearerCall(g, "/api/orders/1", tok.AccessToken); res.status != http.StatusOK {
				t.Fatalf("api: %d", res.status)
			}
			// The account page lists it among agents (not apps), with what
			// it may do and, once the edge noted it, where it last acted.
			var acct string
			for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
				acct = g.get(c, "/.frontdoor/account", nil).body
				if i := strings.Index(acct, `id="agents-h"`); i >= 0 && regexp.MustCompile(`Last acted [^<]* · network 127\.`).MatchString(acct[i:]) {
					break
				}
				if time.Since(start) > 3*time.Second {
					t.Fatalf("account page lacks the agent's last use:\n%s", acct)
				}
			}
			for _, want := range []string{"Agents acting for you", "Shopping Assistant · may: see your orders<br>", `name="client" value="assistant"`, "Stop Shopping Assistant acting for you", "until"} {
				if !strings.Contains(acct, want) {
					t.Fatalf("account page lacks %q:\n%s", want, acct)
				}
			}
			if i := strings.Index(acct, `id="apps-h"`); i >= 0 && strings.Contains(acct[i:strings.Index(acct, `id="agents-h"`)], "Shopping Assistant") {
				t.Fatalf("the agent is listed as an app too:\n%s", acct)
			}
			if !strings.Contains(acct, "An agent may now act for you: Shopping Assistant") {
				t.Fatalf("activity lacks the grant:\n%s", acct)
			}
			// Introspection names the actor.
			if in := introspect(t, g, tok.AccessToken); in["active"] != true || fmt.Sprint(in["act"]) != "map[sub:assistant]" {
				t.Fatalf("introspection: %v", in)
			}
			// The export says it is an agent, not its grant's id.
			export := g.get(c, "/.frontdoor/account/export", nil).body
			if !regexp.MustCompile(`"agent":\s*true`).MatchString(export) || !strings.Contains(export, `"until"`) || strings.Contains(export, at["agent_grant"].(string)) {
				t.Fatalf("export: %s", export)
			}
			// It refreshes, still an agent.
			tok2, err := r.cfg.TokenSource(r.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if act, _ := claimsOf(t, tok2.AccessToken)["act"].(map[string]any); act == nil || act["sub"] != "assistant" {
				t.Fatalf("refreshed token: %v", claimsOf(t, tok2.AccessToken))
			}
			// The customer signing out of this browser does not end it:
			// its grant does, not the session it was allowed from.
			if res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/logout", url.Values{}); res.status >= 400 {
				t.Fatalf("sign out: %d", res.status)
			}
			time.Sleep(2100 * time.Millisecond) // past the cache period
			if res := bearerCall(g, "/orders/1", tok2.AccessToken); res.status != http.StatusOK {
				t.Fatalf("the agent after the customer signed out of the browser: %d", res.status)
			}
			tok2, e := refreshAs(t, r, tok2.RefreshToken)
			if e != "" {
				t.Fatalf("the agent's refresh after the customer signed out of the browser: %q", e)
			}
			g.login(c, "agent-ann@example.com", testPassword, "/app/home")
			// Without asking again.
			u := g.follow(t, c, r.cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption("verifier-0123456789-0123456789-0123456789")))
			if u.Query().Get("code") == "" {
				t.Fatalf("an allowed agent was asked again: %s", u)
			}
			// The customer stops it: at the edge within 2 s, every token.
			form := url.Values{"issuer": {g.url("")}, "client": {"assistant"}}
			if res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/apps/revoke", form); res.status != http.StatusOK || !strings.Contains(res.body, "Agent stopped") {
				t.Fatalf("revoke: %d %s", res.status, res.body)
			}
			agentRefusedWithin(t, g, "/orders/1", tok.AccessToken, "the customer stopped it")
			if in := introspect(t, g, tok.AccessToken); in["active"] != false {
				t.Fatalf("introspection after the agent was stopped: %v", in)
			}
			agentRefusedWithin(t, g, "/orders/1", tok2.AccessToken, "the customer stopped it")
			if _, e := refreshAs(t, r, tok2.RefreshToken); e != "invalid_grant" {
				t.Fatalf("refresh after revocation: %q", e)
			}
			acct = g.get(c, "/.frontdoor/account", nil).body
			if strings.Contains(acct, "Shopping Assistant acting") || !strings.Contains(acct, "An agent can no longer act for you: Shopping Assistant") {
				t.Fatalf("account page after revocation:\n%s", acct)
			}
			// Asked again: a new grant, whose tokens work.
			_, tok3 := agentTokens(t, g, c)
			if claimsOf(t, tok3.AccessToken)["agent_grant"] == at["agent_grant"] {
				t.Fatal("a new grant kept the ended one's id")
			}
			if res := bearerCall(g, "/orders/1", tok3.AccessToken); res.status != http.StatusOK {
				t.Fatalf("after a new grant: %d %s", res.status, res.body)
			}
		}},
		{"an agent on a device", func(t *testing.T, g *gateway) {
			c := g.signUp("agent-eve@example.com")
			a := askDevice(t, g, "assistant", assistantSecret, "openid offline_access orders:read")
			page := typeCode(g, c, a.UserCode, "")
			for _, want := range []string{"Shopping Assistant is an agent", "see your orders", "It may act for you until"} {
				if page.status != http.StatusOK || !strings.Contains(page.body, want) {
					t.Fatalf("device page lacks %q: %d\n%s", want, page.status, page.body)
				}
			}
			if strings.Contains(page.body, "until you remove it") {
				t.Fatalf("an agent's device page says it keeps access until removed:\n%s", page.body)
			}
			if res := typeCode(g, c, a.UserCode, "approve"); res.status != http.StatusOK {
				t.Fatalf("approve: %d", res.status)
			}
			e, body := poll(t, g, "assistant", assistantSecret, a.DeviceCode)
			at, _ := body["access_token"].(string)
			if e != "" || at == "" {
				t.Fatalf("poll: %q %v", e, body)
			}
			if act, _ := claimsOf(t, at)["act"].(map[string]any); act == nil || act["sub"] != "assistant" {
				t.Fatalf("device token: %v", claimsOf(t, at))
			}
			if res := bearerCall(g, "/orders/1", at); res.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Actor") != "assistant" {
				t.Fatalf("device agent at the edge: %d", res.status)
			}
			if acct := g.get(c, "/.frontdoor/account", nil).body; !strings.Contains(acct, "An agent may now act for you: Shopping Assistant") || !strings.Contains(acct, `id="agents-h"`) {
				t.Fatalf("account page after a device grant:\n%s", acct)
			}
		}},
		{"sign out everywhere stops agents", func(t *testing.T, g *gateway) {
			// A takeover's clean-up (or the customer's own panic button)
			// must not leave an agent the intruder allowed acting.
			c := g.signUp("agent-zed@example.com")
			r, tok := agentTokens(t, g, c)
			if res := bearerCall(g, "/orders/1", tok.AccessToken); res.status != http.StatusOK {
				t.Fatalf("agent before: %d", res.status)
			}
			res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/signout-everywhere", url.Values{})
			if res.status != http.StatusOK || !strings.Contains(res.body, "agent acting for you has been stopped") {
				t.Fatalf("sign out everywhere: %d %s", res.status, res.body)
			}
			agentRefusedWithin(t, g, "/orders/1", tok.AccessToken, "the customer signed out everywhere")
			if _, e := refreshAs(t, r, tok.RefreshToken); e != "invalid_grant" {
				t.Fatalf("the agent's refresh after sign out everywhere: %q", e)
			}
			g.login(c, "agent-zed@example.com", testPassword, "/app/home")
			acct := g.get(c, "/.frontdoor/account", nil).body
			if strings.Contains(acct, "Stop Shopping Assistant acting for you") || !strings.Contains(acct, "An agent can no longer act for you: Shopping Assistant") {
				t.Fatalf("account page after sign out everywhere:\n%s", acct)
			}
			// Asked again, it works again (a new grant).
			if _, tok2 := agentTokens(t, g, c); bearerCall(g, "/orders/1", tok2.AccessToken).status != http.StatusOK {
				t.Fatal("a new grant after sign out everywhere is refused")
			}
		}},
		{"token exchange", func(t *testing.T, g *gateway) {
			c := g.signUp("agent-bob@example.com")
			id := g.customerID("agent-bob@example.com")
			_, shop := appTokens(t, g, c, "shop", "shop-secret-0123456789", "https://app.test/cb", "orders:read", "orders:write", "offline_access")
			st := claimsOf(t, shop.AccessToken)
			// Discovery says it.
			if d := g.get(g.newClient(), "/.well-known/openid-configuration", nil).body; !strings.Contains(d, "urn:ietf:params:oauth:grant-type:token-exchange") {
				t.Fatalf("discovery lacks token exchange: %s", d)
			}
			// Narrowed: orders:read+orders:write → orders:read.
			a := exchange(t, g, "concierge", conciergeSecret, url.Values{"subject_token": {shop.AccessToken}, "scope": {"orders:read"}})
			if a.status != http.StatusOK || a.IssuedTokenType != "urn:ietf:params:oauth:token-type:access_token" || a.TokenType != "Bearer" ||
				a.RefreshToken != "" || a.Scope != "orders:read" {
				t.Fatalf("exchange: %+v", a)
			}
			xt := claimsOf(t, a.AccessToken)
			act, _ := xt["act"].(map[string]any)
			if xt["sub"] != id || xt["sid"] != st["sid"] || xt["client_id"] != "concierge" || act == nil || act["sub"] != "concierge" ||
				act["act"] != nil || xt["scope"] != "orders:read" || xt["exp"].(float64) > st["exp"].(float64) {
				t.Fatalf("exchanged token: %v (subject %v)", xt, st)
			}
			if res := bearerCall(g, "/orders/1", a.AccessToken); res.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Actor") != "concierge" {
				t.Fatalf("exchanged token at the edge: %d %v", res.status, g.backend.lastHeaders())
			}
			if res := bearerCall(g, "/returns/1", a.AccessToken); res.status != http.StatusForbidden {
				t.Fatalf("narrowed token on orders:write: %d", res.status)
			}
			// Wider than the subject token, or than the client may have:
			// refused, never trimmed.
			_, narrow := appTokens(t, g, c, "shop", "shop-secret-0123456789", "https://app.test/cb", "orders:read", "email")
			for _, tc := range []struct{ subject, scope string }{
				{narrow.AccessToken, "orders:read orders:write"},
				{narrow.AccessToken, "orders:write"},
				{narrow.AccessToken, "email"},
				{shop.AccessToken, "orders:read profile"},
			} {
				if a := exchange(t, g, "concierge", conciergeSecret, url.Values{"subject_token": {tc.subject}, "scope": {tc.scope}}); a.status != http.StatusBadRequest || a.Error != "invalid_scope" {
					t.Fatalf("scope %q: %+v", tc.scope, a)
				}
			}
			// A chain: the agent's token, exchanged, names both.
			_, agent := agentTokens(t, g, c)
			a = exchange(t, g, "concierge", conciergeSecret, url.Values{"subject_token": {agent.AccessToken}, "scope": {"orders:read"}})
			act, _ = claimsOf(t, a.AccessToken)["act"].(map[string]any)
			inner, _ := act["act"].(map[string]any)
			if in := introspect(t, g, a.AccessToken); fmt.Sprint(in["act"]) != "map[act:map[sub:assistant] sub:concierge]" {
				t.Fatalf("introspection of a chain: %v", in)
			}
			if a.status != http.StatusOK || act["sub"] != "concierge" || inner == nil || inner["sub"] != "assistant" {
				t.Fatalf("chained exchange: %+v %v", a, act)
			}
			// Stopping the first agent ends the chain built on it.
			if res := bearerCall(g, "/orders/1", a.AccessToken); res.status != http.StatusOK {
				t.Fatalf("chained token at the edge: %d", res.status)
			}
			if res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/apps/revoke", url.Values{"issuer": {g.url("")}, "client": {"assistant"}}); res.status != http.StatusOK {
				t.Fatalf("stop the assistant: %d", res.status)
			}
			agentRefusedWithin(t, g, "/orders/1", a.AccessToken, "the agent it was exchanged from was stopped")
			if in := introspect(t, g, a.AccessToken); in["active"] != false {
				t.Fatalf("introspection of a chain whose first agent was stopped: %v", in)
			}
			// Not for a client the operator did not allow, nor with a wrong
			// secret.
			if a := exchange(t, g, "shop", "shop-secret-0123456789", url.Values{"subject_token": {shop.AccessToken}, "scope": {"orders:read"}}); a.Error != "unauthorized_client" {
				t.Fatalf("a client without the grant: %+v", a)
			}
			if a := exchange(t, g, "concierge", "wrong-secret", url.Values{"subject_token": {shop.AccessToken}}); a.Error != "invalid_client" {
				t.Fatalf("a wrong secret: %+v", a)
			}
			// Forged, of another type, with an actor token: refused.
			parts := strings.Split(shop.AccessToken, ".")
			forged := parts[0] + "." + b64json(map[string]any{"iss": g.url(""), "sub": id, "aud": []string{g.url("")}, "exp": st["exp"],
				"iat": st["iat"], "jti": "x", "client_id": "shop", "scope": "orders:read orders:write", "sid": st["sid"]}) + "." + parts[2]
			for name, form := range map[string]url.Values{
				"tampered":   {"subject_token": {forged}},
				"refresh":    {"subject_token": {shop.RefreshToken}},
				"id token":   {"subject_token": {shop.Extra("id_token").(string)}},
				"wrong type": {"subject_token": {shop.AccessToken}, "subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}},
				"actor":      {"subject_token": {shop.AccessToken}, "actor_token": {shop.AccessToken}, "actor_token_type": {"urn:ietf:params:oauth:token-type:access_token"}},
				"audience":   {"subject_token": {shop.AccessToken}, "audience": {"https://elsewhere.test"}},
			} {
				if a := exchange(t, g, "concierge", conciergeSecret, form); a.status != http.StatusBadRequest || a.Error == "" {
					t.Fatalf("%s: %+v", name, a)
				}
			}
			// The exchanging client is an agent of the customer now; ending
			// it ends its tokens at the edge.
			acct := g.get(c, "/.frontdoor/account", nil).body
			if !strings.Contains(acct, "Order Concierge") || !strings.Contains(acct, `name="client" value="concierge"`) ||
				!strings.Contains(acct, "An agent took up access to act for you: Order Concierge") {
				t.Fatalf("account page lacks the exchanging agent:\n%s", acct)
			}
			a = exchange(t, g, "concierge", conciergeSecret, url.Values{"subject_token": {shop.AccessToken}, "scope": {"orders:read"}})
			if res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/apps/revoke", url.Values{"issuer": {g.url("")}, "client": {"concierge"}}); res.status != http.StatusOK {
				t.Fatalf("revoke: %d", res.status)
			}
			agentRefusedWithin(t, g, "/orders/1", a.AccessToken, "the customer stopped the exchanging agent")
			// The customer's sign-out ends exchanged tokens too (they
			// carry the subject's sid); and the subject token, its session
			// ended, exchanges nothing.
			x := exchange(t, g, "concierge", conciergeSecret, url.Values{"subject_token": {shop.AccessToken}, "scope": {"orders:read"}})
			if x.status != http.StatusOK || bearerCall(g, "/orders/1", x.AccessToken).status != http.StatusOK {
				t.Fatalf("exchange after the agent was stopped and came back: %+v", x)
			}
			if res := bearerCall(g, "/api/pay/1", x.AccessToken); res.status != http.StatusForbidden || !strings.Contains(res.body, `"missing":"actor"`) {
				t.Fatalf("an exchanged token on an actor human route: %d %s", res.status, res.body)
			}
			if res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/logout", url.Values{}); res.status >= 400 {
				t.Fatalf("sign out: %d", res.status)
			}
			agentRefusedWithin(t, g, "/orders/1", x.AccessToken, "the customer signed out")
			if a := exchange(t, g, "concierge", conciergeSecret, url.Values{"subject_token": {shop.AccessToken}}); a.status != http.StatusBadRequest || a.Error != "invalid_request" {
				t.Fatalf("an ended subject token: %+v", a)
			}
		}},
		{"agents and exchanges registered through the admin API", func(t *testing.T, g *gateway) {
			body := `{"name":"Helper","redirect_uris":["https://helper.test/cb"],"scopes":["openid","orders:read"],"agent":true,"lifetime":"2h"}`
			st, out := adminDo(t, g, http.MethodPut, "/frontdoor/clients/helper", body)
			if st != http.StatusCreated || !strings.Contains(out, `"agent": true`) || !strings.Contains(out, `"lifetime": "2h0m0s"`) {
				t.Fatalf("register an agent: %d %s", st, out)
			}
			for name, body := range map[string]string{
				"first_party":  `{"redirect_uris":["https://x.test/cb"],"agent":true,"first_party":true}`,
				"lifetime":     `{"redirect_uris":["https://x.test/cb"],"lifetime":"2h"}`,
				"a year":       `{"redirect_uris":["https://x.test/cb"],"agent":true,"lifetime":"400d"}`,
				"confidential": `{"grants":["token_exchange"],"public":true,"scopes":["orders:read"]}`,
			} {
				if st, out := adminDo(t, g, http.MethodPut, "/frontdoor/clients/bad", body); st != http.StatusBadRequest || !strings.Contains(out, name) {
					t.Fatalf("%s: %d %s", name, st, out)
				}
			}
			st, out = adminDo(t, g, http.MethodPut, "/frontdoor/clients/relay", `{"name":"Relay","grants":["token_exchange"],"scopes":["orders:read"]}`)
			var created struct {
				Secret string `json:"client_secret"`
			}
			if err := json.Unmarshal([]byte(out), &created); st != http.StatusCreated || err != nil || created.Secret == "" {
				t.Fatalf("register an exchanging client: %d %s", st, out)
			}
			c := g.signUp("agent-dee@example.com")
			_, shop := appTokens(t, g, c, "shop", "shop-secret-0123456789", "https://app.test/cb", "orders:read")
			a := exchange(t, g, "relay", created.Secret, url.Values{"subject_token": {shop.AccessToken}, "scope": {"orders:read"}})
			if a.status != http.StatusOK || bearerCall(g, "/orders/1", a.AccessToken).status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Actor") != "relay" {
				t.Fatalf("a registered client's exchange: %+v", a)
			}
			// The registered agent gets the agent's consent screen.
			r := newRP(t, g, "helper", "", "https://helper.test/cb")
			r.cfg.Scopes = []string{oidc.ScopeOpenID, "orders:read"}
			if page, _ := agentConsent(t, g, c, r, oauth2.GenerateVerifier()); !strings.Contains(page, "Helper is an agent") {
				t.Fatalf("a registered agent's consent page:\n%s", page)
			}
			for _, id := range []string{"helper", "relay"} {
				if st, _ := adminDo(t, g, http.MethodDelete, "/frontdoor/clients/"+id, ""); st >= 300 {
					t.Fatalf("remove %s: %d", id, st)
				}
			}
		}},
		{"the grant's term", func(t *testing.T, g *gateway) {
			c := g.signUp("agent-cy@example.com")
			r, tok := agentTokens(t, g, c)
			_, shop := appTokens(t, g, c, "shop", "shop-secret-0123456789", "https://app.test/cb", "orders:read")
			clk := useClock(t)
			clk.advance(55 * time.Minute)
			// An expired subject token exchanges nothing.
			if a := exchange(t, g, "concierge", conciergeSecret, url.Values{"subject_token": {shop.AccessToken}}); a.status != http.StatusBadRequest || a.Error != "invalid_request" {
				t.Fatalf("an expired subject token: %+v", a)
			}
			tok, e := refreshAs(t, r, tok.RefreshToken)
			if e != "" {
				t.Fatalf("refresh within the term: %q", e)
			}
			if exp := int64(claimsOf(t, tok.AccessToken)["exp"].(float64)); exp > backendOf(t).clock.Now().Add(6*time.Minute).Unix() {
				t.Fatalf("access token outlives the grant: exp %d", exp)
			}
			clk.advance(time.Hour)
			if _, e := refreshAs(t, r, tok.RefreshToken); e != "invalid_grant" {
				t.Fatalf("refresh past the grant's term: %q", e)
			}
			// The browser session idled out meanwhile.
			g.login(c, "agent-cy@example.com", testPassword, "/app/home")
			if acct := g.get(c, "/.frontdoor/account", nil).body; !strings.Contains(acct, "· ended ") {
				t.Fatalf("account page does not show the grant ended:\n%s", acct)
			}
			// The agent asks again: the customer is asked again.
			r2 := newRP(t, g, "assistant", assistantSecret, "https://assistant.test/cb")
			r2.cfg.Scopes = r.cfg.Scopes
			agentConsent(t, g, c, r2, oauth2.GenerateVerifier())
		}},
	})
}

// TestAgentsTwoNodes: two nodes on one Redis. An agent allowed on node A
// acts through node B too, and B refuses it within the 2 s cache bound
// of the customer stopping it on A.
func TestAgentsTwoNodes(t *testing.T) {
	bin := buildBinary(t)
	rs := redistest.Start(t)
	o := gatewayOpts{store: "store redis " + rs.URL(), site: "origin https://shop.test\n\t\t" + agentSite, global: "session {\n\t\t\tcache 2s\n\t\t}"}
	a := startProcess(t, bin, o)
	b := startProcess(t, bin, o)
	shareRoots(t, a, b)
	c := a.signUp("two-agents@example.com")
	// By hand: the issuer is the origin, without the node's port.
	r := &rp{g: a, ctx: context.WithValue(context.Background(), oauth2.HTTPClient, a.newClient()), cfg: oauth2.Config{
		ClientID: "assistant", ClientSecret: assistantSecret, RedirectURL: "https://assistant.test/cb",
		Scopes:   []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "orders:read"},
		Endpoint: oauth2.Endpoint{AuthURL: a.url("/.frontdoor/oauth2/authorize"), TokenURL: a.url("/.frontdoor/oauth2/token"), AuthStyle: oauth2.AuthStyleInHeader},
	}}
	tok := agentTokensVia(t, a, c, r)
	onB := func() int { return bearerCall(b, "/orders/1", tok.AccessToken).status }
	if st := onB(); st != http.StatusOK || b.backend.lastHeaders().Get("X-Frontdoor-Actor") != "assistant" {
		t.Fatalf("the agent on node B: %d %v", st, b.backend.lastHeaders())
	}
	stopped := time.Now()
	form := url.Values{"issuer": {"https://shop.test"}, "client": {"assistant"}}
	if res := a.postVia(c, "/.frontdoor/account", "/.frontdoor/account/apps/revoke", form); res.status != http.StatusOK {
		t.Fatalf("stop on A: %d %s", res.status, res.body)
	}
	for {
		sent := time.Now()
		switch st := onB(); {
		case st == http.StatusUnauthorized:
			return
		case st != http.StatusOK:
			t.Fatalf("the agent on B after it was stopped on A: %d", st)
		case sent.Sub(stopped) >= 2*time.Second:
			t.Fatalf("node B still serves the stopped agent %v later", sent.Sub(stopped).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
