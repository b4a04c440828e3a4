package caddymodule

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// serviceSite is a provider site with API scopes, service clients (a
// secret, private_key_jwt) and paths for them and for customers.
const serviceSite = `provider {
			scope orders:read "see your orders"
			scope orders:write "change your orders"
			client shop {
				redirect_uri https://app.test/cb
				secret shop-secret-0123456789
				scopes openid email profile orders:read
				first_party
			}
			client spa {
				redirect_uri https://spa.test/cb
				first_party
			}
			client svc {
				grant client_credentials
				secret svc-secret-0123456789
				scopes orders:read orders:write
			}
			client signer {
				grant client_credentials
				jwks {signer_jwks}
				scopes orders:read
			}
			client keyed {
				redirect_uri https://keyed.test/cb
				jwks {signer_jwks}
				scopes openid email
				first_party
			}
			client other {
				grant client_credentials
				jwks {other_jwks}
				scopes orders:read
			}
		}
		protect /orders/* {
			accept bearer
			scopes orders:read
		}
		protect /api/* {
			accept session api_key bearer
		}
		require /api/pay/* {
			actor human
		}
		require /api/admin/* {
			role admin
		}`

const svcSecret = "svc-secret-0123456789"

// tokenAnswer is the token endpoint's JSON answer.
type tokenAnswer struct {
	status       int
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// askToken posts form to the token endpoint with client c, with basic
// authentication when id is not "".
func askToken(t *testing.T, g *gateway, c *http.Client, form url.Values, id, secret string) tokenAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/token"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	a.status = resp.StatusCode
	return a
}

// wantToken checks a granted service token: an at+jwt for the client
// itself with the scopes, no sid, no refresh or ID token, 10 minutes.
func wantToken(t *testing.T, a tokenAnswer, client, scope string) map[string]any {
	t.Helper()
	if a.status != http.StatusOK || a.AccessToken == "" || a.RefreshToken != "" || a.IDToken != "" || a.ExpiresIn != 600 ||
		!strings.EqualFold(a.TokenType, "bearer") || a.Scope != scope {
		t.Fatalf("token answer: %+v", a)
	}
	c := claimsOf(t, a.AccessToken)
	var hdr map[string]any
	if b, err := base64.RawURLEncoding.DecodeString(strings.Split(a.AccessToken, ".")[0]); err != nil || json.Unmarshal(b, &hdr) != nil || hdr["typ"] != "at+jwt" {
		t.Fatalf("header %v", hdr)
	}
	if c["sub"] != client || c["client_id"] != client || c["scope"] != scope || c["sid"] != nil || c["email"] != nil || c["auth_time"] != nil {
		t.Fatalf("claims %v", c)
	}
	return c
}

func wantTokenError(t *testing.T, a tokenAnswer, code string) {
	t.Helper()
	if a.Error != code || a.AccessToken != "" {
		t.Fatalf("want %s, got %+v", code, a)
	}
}

// TestServiceClients: client credentials with a secret (basic and post)
// and with private_key_jwt; the scopes narrow or are refused; every bad
// assertion is refused, a replayed one too; a service token reaches a
// bearer path with the client's headers and no customer's, and is
// refused where a customer is needed; a registered client's rotated
// secret works during the overlap and not after.
func TestServiceClients(t *testing.T) {
	skipShort(t)
	es := newECKey(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := newECKey(t)
	signerJWKS := writeJWKS(t, "signer.json", jose.JSONWebKey{Key: es.Public(), KeyID: "k1", Use: "sig"},
		jose.JSONWebKey{Key: rsaKey.Public(), KeyID: "k2"})
	otherJWKS := writeJWKS(t, "other.json", jose.JSONWebKey{Key: otherKey.Public(), KeyID: "o1"})
	site := strings.NewReplacer("{signer_jwks}", signerJWKS, "{other_jwks}", otherJWKS).Replace(serviceSite)

	call := func(g *gateway, path, token string) response {
		return g.do(g.newClient(), http.MethodGet, path, nil, map[string]string{"Authorization": "Bearer " + token,
			"Accept": "application/json", "X-Frontdoor-Client": "forged", "X-Frontdoor-Actor": "forged",
			"X-Frontdoor-User": "forged", "X-Frontdoor-Email": "forged@example.com", "X-Frontdoor-Assertion": "forged"})
	}
	assertion := func(g *gateway, key any, alg jose.SignatureAlgorithm, kid string, edit func(map[string]any)) string {
		now := time.Now()
		c := map[string]any{"iss": "signer", "sub": "signer", "aud": g.url("/.frontdoor/oauth2/token"),
			"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "jti": randomID()}
		if edit != nil {
			edit(c)
		}
		return mintJWT(t, alg, key, kid, "JWT", c)
	}
	withAssertion := func(a string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
	}
	cc := url.Values{"grant_type": {"client_credentials"}}

	runOnBothStoresWith(t, gatewayOpts{site: site}, []scenario{
		{"discovery", func(t *testing.T, g *gateway) {
			r := g.get(g.newClient(), "/.well-known/openid-configuration", nil)
			var d struct {
				Grants     []string `json:"grant_types_supported"`
				Methods    []string `json:"token_endpoint_auth_methods_supported"`
				Algs       []string `json:"token_endpoint_auth_signing_alg_values_supported"`
				CertBound  bool     `json:"tls_client_certificate_bound_access_tokens"`
				IssPresent bool     `json:"authorization_response_iss_parameter_supported"`
			}
			if err := json.Unmarshal([]byte(r.body), &d); err != nil || !slices.Contains(d.Grants, "client_credentials") ||
				!slices.Contains(d.Methods, "private_key_jwt") || !slices.Contains(d.Methods, "self_signed_tls_client_auth") ||
				!slices.Contains(d.Methods, "client_secret_basic") || slices.Contains(d.Algs, "HS256") || !slices.Contains(d.Algs, "ES256") ||
				!d.CertBound || !d.IssPresent {
				t.Fatalf("discovery: %v %s", err, r.body)
			}
		}},
		{"secret", func(t *testing.T, g *gateway) {
			c := g.newClient()
			// Basic, no scope asked: every API scope given.
			wantToken(t, askToken(t, g, c, cc, "svc", svcSecret), "svc", "orders:read orders:write")
			// Post, narrowed.
			wantToken(t, askToken(t, g, c, url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {svcSecret}, "scope": {"orders:read"}}, "", ""), "svc", "orders:read")
			// Scopes it lacks, and the customer's scopes, are refused.
			for _, sc := range []string{"openid", "orders:read email", "orders:delete", "offline_access"} {
				wantTokenError(t, askToken(t, g, c, url.Values{"grant_type": {"client_credentials"}, "scope": {sc}}, "svc", svcSecret), "invalid_scope")
			}
			wantTokenError(t, askToken(t, g, c, cc, "svc", "wrong-secret"), "invalid_client")
			wantTokenError(t, askToken(t, g, c, cc, "nobody", svcSecret), "invalid_client")
			// A client without the grant, a public client.
			wantTokenError(t, askToken(t, g, c, cc, "shop", "shop-secret-0123456789"), "unauthorized_client")
			if a := askToken(t, g, c, url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, "", ""); a.AccessToken != "" || a.Error == "" {
				t.Fatalf("public client: %+v", a)
			}
		}},
		{"private_key_jwt", func(t *testing.T, g *gateway) {
			c := g.newClient()
			a := assertion(g, es, jose.ES256, "k1", nil)
			wantToken(t, askToken(t, g, c, withAssertion(a), "", ""), "signer", "orders:read")
			// The same assertion again: refused.
			wantTokenError(t, askToken(t, g, c, withAssertion(a), "", ""), "invalid_client")
			// RS256 and PS256 with the RSA key; aud the issuer; client_id sent too.
			wantToken(t, askToken(t, g, c, withAssertion(assertion(g, rsaKey, jose.RS256, "k2", nil)), "", ""), "signer", "orders:read")
			wantToken(t, askToken(t, g, c, withAssertion(assertion(g, rsaKey, jose.PS256, "k2", func(m map[string]any) { m["aud"] = g.url("") })), "", ""), "signer", "orders:read")
			f := withAssertion(assertion(g, es, jose.ES256, "", nil))
			f.Set("client_id", "signer")
			wantToken(t, askToken(t, g, c, f, "", ""), "signer", "orders:read")
			stranger := newECKey(t)
			hsKey := []byte("0123456789abcdef0123456789abcdef")
			header := func(h map[string]any) string { return b64json(h) }
			now := time.Now()
			body := b64json(map[string]any{"iss": "signer", "sub": "signer", "aud": g.url("/.frontdoor/oauth2/token"), "exp": now.Add(time.Minute).Unix(), "jti": randomID()})
			for name, bad := range map[string]string{
				"wrong aud":          assertion(g, es, jose.ES256, "k1", func(m map[string]any) { m["aud"] = "https://elsewhere.test/token" }),
				"expired":            assertion(g, es, jose.ES256, "k1", func(m map[string]any) { m["exp"] = now.Add(-10 * time.Second).Unix() }),
				"no exp":             assertion(g, es, jose.ES256, "k1", func(m map[string]any) { delete(m, "exp") }),
				"exp an hour ahead":  assertion(g, es, jose.ES256, "k1", func(m map[string]any) { m["exp"] = now.Add(time.Hour).Unix() }),
				"no jti":             assertion(g, es, jose.ES256, "k1", func(m map[string]any) { delete(m, "jti") }),
				"sub another":        assertion(g, es, jose.ES256, "k1", func(m map[string]any) { m["sub"] = "other" }),
				"HS256":              mintJWT(t, jose.HS256, hsKey, "k1", "JWT", map[string]any{"iss": "signer", "sub": "signer", "aud": g.url("/.frontdoor/oauth2/token"), "exp": now.Add(time.Minute).Unix(), "jti": randomID()}),
				"alg none":           header(map[string]any{"alg": "none", "typ": "JWT"}) + "." + body + ".",
				"unknown key":        assertion(g, stranger, jose.ES256, "k1", nil),
				"unknown key no kid": assertion(g, stranger, jose.ES256, "", nil),
				"another client's":   assertion(g, es, jose.ES256, "k1", func(m map[string]any) { m["iss"], m["sub"] = "other", "other" }),
				"a secret client":    assertion(g, es, jose.ES256, "k1", func(m map[string]any) { m["iss"], m["sub"] = "svc", "svc" }),
				"changed payload": func() string {
					p := strings.Split(assertion(g, es, jose.ES256, "k1", nil), ".")
					return p[0] + "." + b64json(map[string]any{"iss": "signer", "sub": "signer", "aud": g.url("/.frontdoor/oauth2/token"), "exp": now.Add(time.Minute).Unix(), "jti": "x"}) + "." + p[2]
				}(),
			} {
				if a := askToken(t, g, c, withAssertion(bad), "", ""); a.Error != "invalid_client" || a.AccessToken != "" {
					t.Errorf("%s: %+v", name, a)
				}
			}
			// client_id naming another client than the assertion's.
			f = withAssertion(assertion(g, es, jose.ES256, "k1", nil))
			f.Set("client_id", "other")
			wantTokenError(t, askToken(t, g, c, f, "", ""), "invalid_client")
			// A wrong assertion type; a secret for a client with keys.
			f = withAssertion(assertion(g, es, jose.ES256, "k1", nil))
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			wantTokenError(t, askToken(t, g, c, f, "", ""), "invalid_request") // op's own check
			wantTokenError(t, askToken(t, g, c, cc, "signer", "anything"), "invalid_client")
			wantTokenError(t, askToken(t, g, c, url.Values{"grant_type": {"client_credentials"}, "client_id": {"signer"}}, "", ""), "invalid_client")
		}},
		{"private_key_jwt for the code grant", func(t *testing.T, g *gateway) {
			// A client with keys signs its customers in with an
			// assertion in place of a secret, and cannot without one.
			c := g.signUp("keyed@example.com")
			r := newRP(t, g, "keyed", "", "https://keyed.test/cb")
			exchange := func(withKey bool) tokenAnswer {
				v := "verifier-0123456789-0123456789-0123456789-0123456789"
				code, _ := r.codeFor(t, c, oauth2.S256ChallengeOption(v))
				f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://keyed.test/cb"}, "code_verifier": {v}, "client_id": {"keyed"}}
				if withKey {
					f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
					f.Set("client_assertion", assertion(g, es, jose.ES256, "k1", func(m map[string]any) { m["iss"], m["sub"] = "keyed", "keyed" }))
				}
				return askToken(t, g, g.newClient(), f, "", "")
			}
			if a := exchange(true); a.status != http.StatusOK || a.IDToken == "" || claimsOf(t, a.AccessToken)["sid"] == nil {
				t.Fatalf("code with an assertion: %+v", a)
			}
			wantTokenError(t, exchange(false), "invalid_client")
		}},
		{"at the edge", func(t *testing.T, g *gateway) {
			tok := wantTokenOf(t, askToken(t, g, g.newClient(), cc, "svc", svcSecret))
			r := call(g, "/orders/list", tok)
			if r.status != http.StatusOK {
				t.Fatalf("service token: %d %s", r.status, r.body)
			}
			h := g.backend.lastHeaders()
			if h.Get("X-Frontdoor-Client") != "svc" || h.Get("X-Frontdoor-Actor") != "svc" || h.Get("X-Frontdoor-User") != "" || h.Get("X-Frontdoor-Email") != "" ||
				h.Get("X-Frontdoor-Email-Verified") != "" || h.Get("X-Frontdoor-Roles") != "" || len(h.Values("X-Frontdoor-Client")) != 1 {
				t.Fatalf("backend headers: %v", h)
			}
			a := claimsOf(t, h.Get("X-Frontdoor-Assertion"))
			if a["caller"] != "service" || a["sub"] != "svc" || a["client_id"] != "svc" || a["scope"] != "orders:read orders:write" ||
				a["email"] != nil || a["sid"] != nil || a["auth_time"] != nil || a["aud"] != g.aud() || a["iss"] != g.url("") {
				t.Fatalf("assertion: %v", a)
			}
			if r := call(g, "/api/things", tok); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Client") != "svc" {
				t.Fatalf("api: %d %s", r.status, r.body)
			}
			// Paths for customers refuse it.
			for path, missing := range map[string]string{"/api/pay/now": "actor", "/api/admin/users": "customer"} {
				r := call(g, path, tok)
				var body map[string]string
				if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != http.StatusForbidden || body["error"] != "forbidden" || body["missing"] != missing {
					t.Errorf("%s: %d %s", path, r.status, r.body)
				}
			}
			// A token without the path's scope.
			narrow := wantTokenOf(t, askToken(t, g, g.newClient(), url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:write"}}, "svc", svcSecret))
			if r := call(g, "/orders/list", narrow); r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
				t.Fatalf("narrow: %d %v", r.status, r.header)
			}
			// A service token with its sub changed is no longer signed.
			p := strings.Split(tok, ".")
			cl := claimsOf(t, tok)
			cl["sub"] = "someone"
			if r := call(g, "/orders/list", p[0]+"."+b64json(cl)+"."+p[2]); r.status != http.StatusUnauthorized {
				t.Fatalf("changed token: %d", r.status)
			}
			// userinfo has no customer to describe; introspection says what it is.
			ui := g.get(g.newClient(), "/.frontdoor/oauth2/userinfo", map[string]string{"Authorization": "Bearer " + tok})
			if ui.status != http.StatusForbidden || strings.Contains(ui.body, `"sub"`) {
				t.Fatalf("userinfo: %d %s", ui.status, ui.body)
			}
			req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/introspect"), strings.NewReader(url.Values{"token": {tok}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("svc", svcSecret)
			resp, err := g.newClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var in map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&in)
			resp.Body.Close()
			if in["active"] != true || in["sub"] != "svc" || in["client_id"] != "svc" || in["caller"] != "service" || in["email"] != nil {
				t.Fatalf("introspection: %v", in)
			}
			// A client with keys introspects with an assertion; with a
			// secret it is refused.
			for _, f := range []url.Values{
				{"token": {tok}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion(g, es, jose.ES256, "k1", nil)}},
				{"token": {tok}, "client_id": {"signer"}, "client_secret": {"anything"}},
			} {
				r := g.do(g.newClient(), http.MethodPost, "/.frontdoor/oauth2/introspect", f, nil)
				withKey := f.Has("client_assertion")
				if withKey && (r.status != http.StatusOK || !strings.Contains(r.body, `"active":true`)) || !withKey && r.status == http.StatusOK {
					t.Errorf("introspection by signer (assertion %v): %d %s", withKey, r.status, r.body)
				}
			}
		}},
		{"registered with keys", func(t *testing.T, g *gateway) {
			// The admin API takes a key set (private_key_jwt) or a
			// certificate thumbprint instead of a secret, checked as the
			// Caddyfile's are, and hands out no secret.
			pub, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: es.Public(), KeyID: "k1", Use: "sig"}}})
			if err != nil {
				t.Fatal(err)
			}
			st, out := adminDo(t, g, http.MethodPut, "/frontdoor/clients/partner", `{"grants":["client_credentials"],"scopes":["orders:read"],"jwks":`+string(pub)+`}`)
			if v := registered(t, out); st != http.StatusCreated || v.Secret != "" || v.Client.AuthMethod != "private_key_jwt" {
				t.Fatalf("register with jwks: %d %s", st, out)
			}
			c := g.newClient()
			a := assertion(g, es, jose.ES256, "k1", func(m map[string]any) { m["iss"], m["sub"] = "partner", "partner" })
			wantToken(t, askToken(t, g, c, withAssertion(a), "", ""), "partner", "orders:read")
			wantTokenError(t, askToken(t, g, c, withAssertion(a), "", ""), "invalid_client") // spent
			// Another key signing for it, or a secret: not the client.
			wantTokenError(t, askToken(t, g, c, withAssertion(assertion(g, otherKey, jose.ES256, "k1", func(m map[string]any) { m["iss"], m["sub"] = "partner", "partner" })), "", ""), "invalid_client")
			wantTokenError(t, askToken(t, g, c, cc, "partner", "guess"), "invalid_client")
			// Bad bodies: a private key, both ways, a secret asked for, a
			// malformed thumbprint — refused, nothing stored.
			priv, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: es, KeyID: "p1"}}})
			for name, body := range map[string]string{
				"private key":    `{"grants":["client_credentials"],"scopes":["orders:read"],"jwks":` + string(priv) + `}`,
				"empty set":      `{"grants":["client_credentials"],"scopes":["orders:read"],"jwks":{"keys":[]}}`,
				"not a set":      `{"grants":["client_credentials"],"scopes":["orders:read"],"jwks":"k1"}`,
				"both":           `{"grants":["client_credentials"],"scopes":["orders:read"],"jwks":` + string(pub) + `,"certificate":"` + strings.Repeat("ab", 32) + `"}`,
				"rotate":         `{"grants":["client_credentials"],"scopes":["orders:read"],"jwks":` + string(pub) + `,"rotate_secret":true}`,
				"bad thumbprint": `{"grants":["client_credentials"],"scopes":["orders:read"],"certificate":"12:34"}`,
			} {
				if st, out := adminDo(t, g, http.MethodPut, "/frontdoor/clients/bad", body); st != http.StatusBadRequest {
					t.Errorf("%s: %d %s", name, st, out)
				}
			}
			if _, out := adminDo(t, g, http.MethodGet, "/frontdoor/clients", ""); strings.Contains(out, `"bad"`) {
				t.Fatalf("a refused client was stored: %s", out)
			}
			// A certificate client, shown with its thumbprint.
			st, out = adminDo(t, g, http.MethodPut, "/frontdoor/clients/dock", `{"grants":["client_credentials"],"scopes":["orders:read"],"certificate":"`+strings.Repeat("AB:", 31)+`AB"}`)
			if v := registered(t, out); st != http.StatusCreated || v.Secret != "" || v.Client.AuthMethod != "self_signed_tls_client_auth" ||
				v.Client.Certificate != strings.Repeat("ab", 32) {
				t.Fatalf("register with a certificate: %d %s", st, out)
			}
			wantTokenError(t, askToken(t, g, c, url.Values{"grant_type": {"client_credentials"}, "client_id": {"dock"}}, "", ""), "invalid_client")
		}},
		{"rotation overlap", func(t *testing.T, g *gateway) {
			st, out := adminDo(t, g, http.MethodPut, "/frontdoor/clients/batch", `{"name":"Batch","grants":["client_credentials"],"scopes":["orders:read"]}`)
			var created struct {
				Secret string `json:"client_secret"`
			}
			if err := json.Unmarshal([]byte(out), &created); st != http.StatusCreated || err != nil || created.Secret == "" {
				t.Fatalf("register: %d %s", st, out)
			}
			c := g.newClient()
			wantToken(t, askToken(t, g, c, cc, "batch", created.Secret), "batch", "orders:read")
			st, out = adminDo(t, g, http.MethodPut, "/frontdoor/clients/batch", `{"name":"Batch","grants":["client_credentials"],"scopes":["orders:read"],"rotate_secret":true}`)
			var rotated struct {
				Secret string `json:"client_secret"`
			}
			if err := json.Unmarshal([]byte(out), &rotated); st != http.StatusOK || err != nil || rotated.Secret == "" || rotated.Secret == created.Secret {
				t.Fatalf("rotate: %d %s", st, out)
			}
			clk := useClock(t)
			clk.advance(23 * time.Hour)
			wantToken(t, askToken(t, g, c, cc, "batch", created.Secret), "batch", "orders:read")
			wantToken(t, askToken(t, g, c, cc, "batch", rotated.Secret), "batch", "orders:read")
			clk.advance(2 * time.Hour)
			wantTokenError(t, askToken(t, g, c, cc, "batch", created.Secret), "invalid_client")
			wantToken(t, askToken(t, g, c, cc, "batch", rotated.Secret), "batch", "orders:read")
			// A public client may not have the grant.
			if st, out := adminDo(t, g, http.MethodPut, "/frontdoor/clients/pub", `{"grants":["client_credentials"],"public":true}`); st != http.StatusBadRequest || !strings.Contains(out, "client_credentials") {
				t.Fatalf("public service: %d %s", st, out)
			}
		}},
	})
}

// registered reads the admin API's answer to a client's registration.
func registered(t *testing.T, out string) (v struct {
	Client clientView `json:"client"`
	Secret string     `json:"client_secret"`
}) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return v
}

func wantTokenOf(t *testing.T, a tokenAnswer) string {
	t.Helper()
	if a.status != http.StatusOK || a.AccessToken == "" {
		t.Fatalf("token: %+v", a)
	}
	return a.AccessToken
}

// selfSigned makes a self-signed client certificate.
func selfSigned(t *testing.T, cn string) (tls.Certificate, []byte) {
	t.Helper()
	key := newECKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, sum[:]
}

// withCert is the gateway's client presenting cert.
func withCert(g *gateway, cert tls.Certificate) *http.Client {
	c := g.newClient()
	c.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{cert}
	return c
}

// TestServiceClientCertificate: a client known by its TLS certificate
// (RFC 8705) gets a token bound to it (cnf x5t#S256), taken at the edge
// only over a connection with that certificate.
func TestServiceClientCertificate(t *testing.T) {
	skipShort(t)
	cert, sum := selfSigned(t, "mtls-client")
	other, _ := selfSigned(t, "someone-else")
	// The thumbprint as openssl prints it: upper-case hex with colons.
	var hexThumb []string
	for _, b := range sum {
		hexThumb = append(hexThumb, strings.ToUpper(hex.EncodeToString([]byte{b})))
	}
	site := `provider {
			scope orders:read "see your orders"
			client mtls {
				grant client_credentials
				certificate ` + strings.Join(hexThumb, ":") + `
				scopes orders:read
			}
		}
		protect /orders/* {
			accept bearer
			scopes orders:read
		}`
	g := startGateway(t, gatewayOpts{site: site, direct: "tls {\n\t\tclient_auth {\n\t\t\tmode request\n\t\t}\n\t}"})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"mtls"}}
	a := askToken(t, g, withCert(g, cert), form, "", "")
	claims := wantToken(t, a, "mtls", "orders:read")
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum) || cnf["jkt"] != nil {
		t.Fatalf("cnf: %v", claims)
	}
	// Without its certificate, or with another, the client is not known.
	wantTokenError(t, askToken(t, g, g.newClient(), form, "", ""), "invalid_client")
	wantTokenError(t, askToken(t, g, withCert(g, other), form, "", ""), "invalid_client")
	wantTokenError(t, askToken(t, g, withCert(g, cert), cc0(), "mtls", "a-secret"), "invalid_client")

	get := func(c *http.Client) response {
		return g.do(c, http.MethodGet, "/orders/list", nil, map[string]string{"Authorization": "Bearer " + a.AccessToken, "Accept": "application/json"})
	}
	if r := get(withCert(g, cert)); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Client") != "mtls" {
		t.Fatalf("with its certificate: %d %s", r.status, r.body)
	}
	for name, c := range map[string]*http.Client{"no certificate": g.newClient(), "another certificate": withCert(g, other)} {
		if r := get(c); r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
			t.Errorf("%s: %d %v %s", name, r.status, r.header, r.body)
		}
	}
	// It introspects over its certificate too; without it, it is nobody.
	in := url.Values{"token": {a.AccessToken}, "client_id": {"mtls"}}
	if r := g.do(withCert(g, cert), http.MethodPost, "/.frontdoor/oauth2/introspect", in, nil); r.status != http.StatusOK || !strings.Contains(r.body, `"active":true`) {
		t.Fatalf("introspection over its certificate: %d %s", r.status, r.body)
	}
	for name, c := range map[string]*http.Client{"no certificate": g.newClient(), "another certificate": withCert(g, other)} {
		if r := g.do(c, http.MethodPost, "/.frontdoor/oauth2/introspect", in, nil); r.status == http.StatusOK {
			t.Errorf("introspection with %s: %d %s", name, r.status, r.body)
		}
	}
	// The same through the admin API: a registered certificate client.
	if st, out := adminDo(t, g, http.MethodPut, "/frontdoor/clients/mtls2", `{"grants":["client_credentials"],"scopes":["orders:read"],"certificate":"`+
		base64.RawURLEncoding.EncodeToString(sum)+`"}`); st != http.StatusCreated {
		t.Fatalf("register: %d %s", st, out)
	}
	form2 := url.Values{"grant_type": {"client_credentials"}, "client_id": {"mtls2"}}
	wantToken(t, askToken(t, g, withCert(g, cert), form2, "", ""), "mtls2", "orders:read")
	wantTokenError(t, askToken(t, g, withCert(g, other), form2, "", ""), "invalid_client")
	wantTokenError(t, askToken(t, g, g.newClient(), form2, "", ""), "invalid_client")
}

func cc0() url.Values { return url.Values{"grant_type": {"client_credentials"}} }

// TestServiceClientLimits: a service's calls count against its client's
// API budget (route api, dimension client), on both stores.
func TestServiceClientLimits(t *testing.T) {
	skipShort(t)
	key := newECKey(t)
	jwks := writeJWKS(t, "k.json", jose.JSONWebKey{Key: key.Public(), KeyID: "k1"})
	site := strings.NewReplacer("{signer_jwks}", jwks, "{other_jwks}", jwks).Replace(serviceSite)
	o := gatewayOpts{site: site, limits: "limits {\n\t\t\tapi client 3/1m\n\t\t}"}
	runOnBothStoresWith(t, o, []scenario{{"client budget", func(t *testing.T, g *gateway) {
		useClock(t).alignTo(time.Minute)
		tok := wantTokenOf(t, askToken(t, g, g.newClient(), cc0(), "svc", svcSecret))
		call := func() response {
			return g.do(g.newClient(), http.MethodGet, "/orders/list", nil, map[string]string{"Authorization": "Bearer " + tok, "Accept": "application/json"})
		}
		for i := range 3 {
			if r := call(); r.status != http.StatusOK {
				t.Fatalf("call %d: %d %s", i+1, r.status, r.body)
			}
		}
		if r := call(); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Fatalf("over the client's budget: %d %v", r.status, r.header)
		}
	}}})
}
