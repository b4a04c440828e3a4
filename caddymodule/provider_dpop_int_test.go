package caddymodule

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
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

	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// The provider site of TestDPoP: dapp is a public client registered
// dpop, svc a confidential one registered dpop, spa a public client that
// may prove a key or not.
const dpopSite = `provider {
			client dapp {
				redirect_uri https://dapp.test/cb
				scopes openid email profile offline_access
				first_party
				dpop
			}
			client svc {
				redirect_uri https://svc.test/cb
				secret svc-secret
				scopes openid email profile offline_access
				first_party
				dpop
			}
			client spa {
				redirect_uri https://spa.test/cb
				scopes openid email profile offline_access
				first_party
			}
			client dtv {
				grant device_code
				scopes openid email offline_access
				dpop
			}
		}
		protect /api/* {
			accept bearer
		}`

// dpopKey is a client's DPoP key.
type dpopTestKey struct {
	priv *ecdsa.PrivateKey
	jkt  string
}

func newDPoPKey(t *testing.T) *dpopTestKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := (&jose.JSONWebKey{Key: &k.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopTestKey{priv: k, jkt: base64.RawURLEncoding.EncodeToString(tp)}
}

// proofClaims are a proof's claims for method and URL now, with ath for
// token when not "".
func proofClaims(method, htu, token string) map[string]any {
	c := map[string]any{"htm": method, "htu": htu, "iat": time.Now().Unix(), "jti": randomID()}
	if token != "" {
		c["ath"] = athOf(token)
	}
	return c
}

func athOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sign makes a proof with claims, the public key embedded.
func (k *dpopTestKey) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType(dpopType)
	return signJWS(t, jose.SigningKey{Algorithm: jose.ES256, Key: k.priv}, opts, claims)
}

// proof is a fresh proof for method and URL (and token's ath).
func (k *dpopTestKey) proof(t *testing.T, method, htu, token string) string {
	return k.sign(t, proofClaims(method, htu, token))
}

// dpopAnswer is the token endpoint's answer (DPoP tests).
type dpopAnswer struct {
	status       int
	Error        string `json:"error"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
}

// dpopTokenPost calls the token endpoint with form, client id (and
// secret: HTTP Basic) and a DPoP header when proof is not "".
func dpopTokenPost(t *testing.T, g *gateway, form url.Values, id, secret, proof string) dpopAnswer {
	t.Helper()
	if secret == "" {
		form.Set("client_id", id)
	}
	req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/token"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(id, secret)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := g.newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := dpopAnswer{status: resp.StatusCode}
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return a
}

// dpopCode signs c in to client id and returns the code's exchange form.
func dpopCode(t *testing.T, g *gateway, c *http.Client, id, secret, redirect string) url.Values {
	t.Helper()
	r := newRP(t, g, id, secret, redirect)
	r.cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess}
	verifier := oauth2.GenerateVerifier()
	code, _ := r.codeFor(t, c, oauth2.S256ChallengeOption(verifier))
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
}

// TestDPoP: a dpop client gets tokens bound to its key only with a
// proof; at the edge and at userinfo the token works only with a fresh
// proof of that key for that request; every replayed, misdirected, stale,
// foreign, unsigned or malformed proof is refused, and so is the token
// alone; a public client's refresh token takes the same key.
func TestDPoP(t *testing.T) {
	tokenURL := func(g *gateway) string { return g.url("/.frontdoor/oauth2/token") }
	// call calls path with the token under scheme and a DPoP proof.
	call := func(g *gateway, method, path, scheme, token, proof string) response {
		hdr := map[string]string{"Authorization": scheme + " " + token, "Accept": "application/json"}
		if proof != "" {
			hdr["DPoP"] = proof
		}
		return g.do(g.newClient(), method, path, nil, hdr)
	}
	refused := func(t *testing.T, what string, r response, code string) {
		t.Helper()
		if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `DPoP error="`+code+`"`) {
			t.Fatalf("%s: %d %q %.200s; want 401 DPoP %s", what, r.status, r.header.Get("WWW-Authenticate"), r.body, code)
		}
	}
	runOnBothStoresWith(t, gatewayOpts{site: dpopSite}, []scenario{
		{"token endpoint binds", func(t *testing.T, g *gateway) {
			var disc map[string]any
			if r := g.get(g.newClient(), "/.well-known/openid-configuration", nil); json.Unmarshal([]byte(r.body), &disc) != nil ||
				!strings.Contains(r.body, `"dpop_signing_alg_values_supported":["ES256","ES384","RS256","PS256","EdDSA"]`) {
				t.Fatalf("discovery: %s", r.body)
			}
			c := g.signUp("dpop-tok@example.com")
			k := newDPoPKey(t)
			form := dpopCode(t, g, c, "dapp", "", "https://dapp.test/cb")
			// A dpop client without a proof: refused, its code not used up.
			if a := dpopTokenPost(t, g, form, "dapp", "", ""); a.status != http.StatusBadRequest || a.Error != "invalid_dpop_proof" || a.AccessToken != "" {
				t.Fatalf("dpop client without a proof: %+v", a)
			}
			// A proof for another URL or method, or a stale one: refused too.
			for name, claims := range map[string]map[string]any{
				"another URL":    proofClaims(http.MethodPost, g.url("/.frontdoor/oauth2/userinfo"), ""),
				"another method": proofClaims(http.MethodGet, tokenURL(g), ""),
				"stale":          {"htm": "POST", "htu": tokenURL(g), "iat": time.Now().Add(-2 * time.Minute).Unix(), "jti": randomID()},
				"no jti":         {"htm": "POST", "htu": tokenURL(g), "iat": time.Now().Unix()},
			} {
				if a := dpopTokenPost(t, g, form, "dapp", "", k.sign(t, claims)); a.status != http.StatusBadRequest || a.Error != "invalid_dpop_proof" {
					t.Fatalf("%s: %+v", name, a)
				}
			}
			proof := k.proof(t, http.MethodPost, tokenURL(g), "")
			a := dpopTokenPost(t, g, form, "dapp", "", proof)
			if a.status != http.StatusOK || a.TokenType != "DPoP" || a.RefreshToken == "" {
				t.Fatalf("dpop exchange: %+v", a)
			}
			if cnf, _ := claimsOf(t, a.AccessToken)["cnf"].(map[string]any); cnf == nil || cnf["jkt"] != k.jkt {
				t.Fatalf("cnf %v, want jkt %s", claimsOf(t, a.AccessToken)["cnf"], k.jkt)
			}
			// The same proof again (a new code): a replay.
			form2 := dpopCode(t, g, c, "dapp", "", "https://dapp.test/cb")
			if a := dpopTokenPost(t, g, form2, "dapp", "", proof); a.status != http.StatusBadRequest || a.Error != "invalid_dpop_proof" {
				t.Fatalf("replayed proof at the token endpoint: %+v", a)
			}
			// A client not registered dpop: a bearer token without a
			// proof, a bound one with.
			plain := dpopTokenPost(t, g, dpopCode(t, g, c, "spa", "", "https://spa.test/cb"), "spa", "", "")
			if plain.status != http.StatusOK || plain.TokenType != "Bearer" || claimsOf(t, plain.AccessToken)["cnf"] != nil {
				t.Fatalf("spa without a proof: %+v", plain)
			}
			bound := dpopTokenPost(t, g, dpopCode(t, g, c, "spa", "", "https://spa.test/cb"), "spa", "", k.proof(t, http.MethodPost, tokenURL(g), ""))
			if bound.status != http.StatusOK || bound.TokenType != "DPoP" {
				t.Fatalf("spa with a proof: %+v", bound)
			}
			// A confidential dpop client must prove too.
			sf := dpopCode(t, g, c, "svc", "svc-secret", "https://svc.test/cb")
			if a := dpopTokenPost(t, g, sf, "svc", "svc-secret", ""); a.status != http.StatusBadRequest || a.Error != "invalid_dpop_proof" {
				t.Fatalf("confidential dpop client without a proof: %+v", a)
			}
			if a := dpopTokenPost(t, g, sf, "svc", "svc-secret", k.proof(t, http.MethodPost, tokenURL(g), "")); a.status != http.StatusOK || a.TokenType != "DPoP" {
				t.Fatalf("confidential dpop client with a proof: %+v", a)
			}
		}},
		{"refresh takes the same key", func(t *testing.T, g *gateway) {
			c := g.signUp("dpop-rt@example.com")
			k, other := newDPoPKey(t), newDPoPKey(t)
			a := dpopTokenPost(t, g, dpopCode(t, g, c, "dapp", "", "https://dapp.test/cb"), "dapp", "", k.proof(t, http.MethodPost, tokenURL(g), ""))
			if a.status != http.StatusOK || a.RefreshToken == "" {
				t.Fatalf("exchange: %+v", a)
			}
			rf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.RefreshToken}}
			if r := dpopTokenPost(t, g, rf, "dapp", "", other.proof(t, http.MethodPost, tokenURL(g), "")); r.status != http.StatusBadRequest || r.Error != "invalid_dpop_proof" {
				t.Fatalf("refresh with another key: %+v", r)
			}
			if r := dpopTokenPost(t, g, rf, "dapp", "", ""); r.status != http.StatusBadRequest || r.Error != "invalid_dpop_proof" {
				t.Fatalf("refresh without a proof: %+v", r)
			}
			// A public client proving a key binds its refresh token even
			// when not registered dpop.
			s := dpopTokenPost(t, g, dpopCode(t, g, c, "spa", "", "https://spa.test/cb"), "spa", "", k.proof(t, http.MethodPost, tokenURL(g), ""))
			sf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.RefreshToken}}
			if r := dpopTokenPost(t, g, sf, "spa", "", ""); s.RefreshToken == "" || r.status != http.StatusBadRequest || r.Error != "invalid_dpop_proof" {
				t.Fatalf("spa refresh without its key: %+v (%+v)", r, s)
			}
			// The attempts used nothing up: the rightful client refreshes.
			r := dpopTokenPost(t, g, rf, "dapp", "", k.proof(t, http.MethodPost, tokenURL(g), ""))
			if r.status != http.StatusOK || r.TokenType != "DPoP" || r.RefreshToken == "" {
				t.Fatalf("refresh with the key: %+v", r)
			}
			if cnf, _ := claimsOf(t, r.AccessToken)["cnf"].(map[string]any); cnf == nil || cnf["jkt"] != k.jkt {
				t.Fatalf("refreshed token cnf %v", claimsOf(t, r.AccessToken)["cnf"])
			}
			rf2 := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.RefreshToken}}
			if r := dpopTokenPost(t, g, rf2, "dapp", "", other.proof(t, http.MethodPost, tokenURL(g), "")); r.status != http.StatusBadRequest {
				t.Fatalf("the rotated refresh token with another key: %+v", r)
			}
		}},
		{"at the edge", func(t *testing.T, g *gateway) {
			c := g.signUp("dpop-edge@example.com")
			id := g.customerID("dpop-edge@example.com")
			k, other := newDPoPKey(t), newDPoPKey(t)
			a := dpopTokenPost(t, g, dpopCode(t, g, c, "dapp", "", "https://dapp.test/cb"), "dapp", "", k.proof(t, http.MethodPost, tokenURL(g), ""))
			if a.status != http.StatusOK {
				t.Fatalf("exchange: %+v", a)
			}
			at, u := a.AccessToken, g.url("/api/orders/1")
			proof := k.proof(t, http.MethodGet, u, at)
			if r := call(g, http.MethodGet, "/api/orders/1", "DPoP", at, proof); r.status != http.StatusOK ||
				g.backend.lastHeaders().Get("X-Frontdoor-User") != id || g.backend.lastHeaders().Get("X-Frontdoor-Client") != "dapp" {
				t.Fatalf("a bound token with its proof: %d %s", r.status, r.body)
			}
			// Scheme in any case; a query is not part of htu; host case
			// and the default port are normalised.
			if r := call(g, http.MethodGet, "/api/orders/1?page=2", "dpop", at, k.proof(t, http.MethodGet, strings.Replace(u, "shop.test", "SHOP.test", 1), at)); r.status != http.StatusOK {
				t.Fatalf("lower-case scheme, query, host case: %d %s", r.status, r.body)
			}
			refused(t, "the same proof again", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, proof), "invalid_dpop_proof")
			refused(t, "a proof for another method", call(g, http.MethodPost, "/api/orders/1", "DPoP", at, k.proof(t, http.MethodGet, u, at)), "invalid_dpop_proof")
			refused(t, "a proof for another URL", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, k.proof(t, http.MethodGet, g.url("/api/orders/2"), at)), "invalid_dpop_proof")
			refused(t, "a proof for another port", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, k.proof(t, http.MethodGet, "https://shop.test/api/orders/1", at)), "invalid_dpop_proof")
			old := map[string]any{"htm": "GET", "htu": u, "iat": time.Now().Add(-61 * time.Second).Unix(), "jti": randomID(), "ath": athOf(at)}
			refused(t, "a proof too old", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, k.sign(t, old)), "invalid_dpop_proof")
			ahead := map[string]any{"htm": "GET", "htu": u, "iat": time.Now().Add(time.Minute).Unix(), "jti": randomID(), "ath": athOf(at)}
			refused(t, "a proof from the future", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, k.sign(t, ahead)), "invalid_dpop_proof")
			refused(t, "a proof by another key", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, other.proof(t, http.MethodGet, u, at)), "invalid_dpop_proof")
			refused(t, "a proof without ath", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, k.proof(t, http.MethodGet, u, "")), "invalid_dpop_proof")
			refused(t, "a proof with another token's ath", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, k.proof(t, http.MethodGet, u, at+"x")), "invalid_dpop_proof")
			refused(t, "no proof", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, ""), "invalid_dpop_proof")
			refused(t, "the token as Bearer", call(g, http.MethodGet, "/api/orders/1", "Bearer", at, ""), "invalid_token")
			refused(t, "the token as Bearer with a proof", call(g, http.MethodGet, "/api/orders/1", "Bearer", at, k.proof(t, http.MethodGet, u, at)), "invalid_token")
			// Proofs no key signs, or signed with a shared secret, or
			// carrying the private key.
			claims := proofClaims(http.MethodGet, u, at)
			pub, _ := json.Marshal(jose.JSONWebKey{Key: &k.priv.PublicKey})
			none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"dpop+jwt","jwk":`+string(pub)+`}`)) + "." + b64json(claims) + "."
			refused(t, "alg none", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, none), "invalid_dpop_proof")
			hs := mintJWT(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), "", dpopType, proofClaims(http.MethodGet, u, at))
			refused(t, "HS256", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, hs), "invalid_dpop_proof")
			priv := jose.JSONWebKey{Key: k.priv}
			ps, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv}, (&jose.SignerOptions{}).WithType(dpopType).WithHeader("jwk", priv))
			if err != nil {
				t.Fatal(err)
			}
			pl, _ := json.Marshal(proofClaims(http.MethodGet, u, at))
			jws, err := ps.Sign(pl)
			if err != nil {
				t.Fatal(err)
			}
			withPriv, _ := jws.CompactSerialize()
			if !strings.Contains(string(mustB64(t, strings.Split(withPriv, ".")[0])), `"d":`) {
				t.Fatal("the private-key proof does not carry d")
			}
			refused(t, "a jwk with its private key", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, withPriv), "invalid_dpop_proof")
			wrongTyp := mintJWTEmbedded(t, k, "JWT", proofClaims(http.MethodGet, u, at))
			refused(t, "typ JWT", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, wrongTyp), "invalid_dpop_proof")
			// Still good with a fresh proof after all that (cached token,
			// proof checked again).
			if r := call(g, http.MethodGet, "/api/orders/1", "DPoP", at, k.proof(t, http.MethodGet, u, at)); r.status != http.StatusOK {
				t.Fatalf("a fresh proof after the refusals: %d %s", r.status, r.body)
			}
			// An unbound token under the DPoP scheme names a binding it
			// does not have; as Bearer it works.
			plain := dpopTokenPost(t, g, dpopCode(t, g, c, "spa", "", "https://spa.test/cb"), "spa", "", "")
			refused(t, "an unbound token as DPoP", call(g, http.MethodGet, "/api/orders/1", "DPoP", plain.AccessToken, k.proof(t, http.MethodGet, u, plain.AccessToken)), "invalid_token")
			if r := call(g, http.MethodGet, "/api/orders/1", "Bearer", plain.AccessToken, ""); r.status != http.StatusOK {
				t.Fatalf("an unbound bearer token: %d %s", r.status, r.body)
			}
		}},
		{"the app clock judges iat", func(t *testing.T, g *gateway) {
			c := g.signUp("dpop-clock@example.com")
			k := newDPoPKey(t)
			a := dpopTokenPost(t, g, dpopCode(t, g, c, "dapp", "", "https://dapp.test/cb"), "dapp", "", k.proof(t, http.MethodPost, tokenURL(g), ""))
			at, u := a.AccessToken, g.url("/api/orders/1")
			clk := useClock(t)
			clk.advance(90 * time.Second)
			refused(t, "a proof 90 s old by the app's clock", call(g, http.MethodGet, "/api/orders/1", "DPoP", at, k.proof(t, http.MethodGet, u, at)), "invalid_dpop_proof")
			late := map[string]any{"htm": "GET", "htu": u, "iat": clk.now().Unix(), "jti": randomID(), "ath": athOf(at)}
			if r := call(g, http.MethodGet, "/api/orders/1", "DPoP", at, k.sign(t, late)); r.status != http.StatusOK {
				t.Fatalf("a proof fresh by the app's clock: %d %s", r.status, r.body)
			}
		}},
		{"userinfo", func(t *testing.T, g *gateway) {
			c := g.signUp("dpop-ui@example.com")
			k := newDPoPKey(t)
			a := dpopTokenPost(t, g, dpopCode(t, g, c, "dapp", "", "https://dapp.test/cb"), "dapp", "", k.proof(t, http.MethodPost, tokenURL(g), ""))
			at, u := a.AccessToken, g.url("/.frontdoor/oauth2/userinfo")
			if r := call(g, http.MethodGet, "/.frontdoor/oauth2/userinfo", "DPoP", at, k.proof(t, http.MethodGet, u, at)); r.status != http.StatusOK || !strings.Contains(r.body, "dpop-ui@example.com") {
				t.Fatalf("userinfo with a proof: %d %s", r.status, r.body)
			}
			if r := call(g, http.MethodGet, "/.frontdoor/oauth2/userinfo", "Bearer", at, ""); r.status != http.StatusUnauthorized {
				t.Fatalf("userinfo, the bound token as Bearer: %d %s", r.status, r.body)
			}
			if r := call(g, http.MethodGet, "/.frontdoor/oauth2/userinfo", "DPoP", at, newDPoPKey(t).proof(t, http.MethodGet, u, at)); r.status != http.StatusUnauthorized {
				t.Fatalf("userinfo, a proof by another key: %d %s", r.status, r.body)
			}
			p := k.proof(t, http.MethodGet, u, at)
			_ = call(g, http.MethodGet, "/.frontdoor/oauth2/userinfo", "DPoP", at, p)
			if r := call(g, http.MethodGet, "/.frontdoor/oauth2/userinfo", "DPoP", at, p); r.status != http.StatusUnauthorized {
				t.Fatalf("userinfo, a replayed proof: %d %s", r.status, r.body)
			}
		}},
		{"device grant", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			a := askDevice(t, g, "dtv", "", "openid email offline_access")
			c := g.signUp("dpop-tv@example.com")
			if ok := typeCode(g, c, a.UserCode, "approve"); ok.status != http.StatusOK {
				t.Fatalf("approve: %d %.300s", ok.status, ok.body)
			}
			clk.advance(6 * time.Second)
			form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {a.DeviceCode}}
			if r := dpopTokenPost(t, g, form, "dtv", "", ""); r.status != http.StatusBadRequest || r.Error != "invalid_dpop_proof" {
				t.Fatalf("device poll without a proof: %+v", r)
			}
			k := newDPoPKey(t)
			// Proofs are judged on the app's clock, moved here.
			claims := map[string]any{"htm": "POST", "htu": tokenURL(g), "iat": clk.now().Unix(), "jti": randomID()}
			r := dpopTokenPost(t, g, form, "dtv", "", k.sign(t, claims))
			if r.status != http.StatusOK || r.TokenType != "DPoP" || r.RefreshToken == "" {
				t.Fatalf("device poll with a proof: %+v", r)
			}
			if cnf, _ := claimsOf(t, r.AccessToken)["cnf"].(map[string]any); cnf == nil || cnf["jkt"] != k.jkt {
				t.Fatalf("device token cnf %v", claimsOf(t, r.AccessToken)["cnf"])
			}
			rf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.RefreshToken}}
			other := map[string]any{"htm": "POST", "htu": tokenURL(g), "iat": clk.now().Unix(), "jti": randomID()}
			if r := dpopTokenPost(t, g, rf, "dtv", "", newDPoPKey(t).sign(t, other)); r.status != http.StatusBadRequest || r.Error != "invalid_dpop_proof" {
				t.Fatalf("device refresh with another key: %+v", r)
			}
		}},
		{"admin API", func(t *testing.T, g *gateway) {
			body := `{"name":"Device","redirect_uris":["https://dev.test/cb"],"scopes":["openid","email"],"first_party":true,"public":true,"dpop":true}`
			st, out := adminDo(t, g, http.MethodPut, "/frontdoor/clients/dev", body)
			if st != http.StatusCreated || !strings.Contains(out, `"dpop": true`) {
				t.Fatalf("register a dpop client: %d %s", st, out)
			}
			c := g.signUp("dpop-admin@example.com")
			form := dpopCode(t, g, c, "dev", "", "https://dev.test/cb")
			if a := dpopTokenPost(t, g, form, "dev", "", ""); a.status != http.StatusBadRequest || a.Error != "invalid_dpop_proof" {
				t.Fatalf("registered dpop client without a proof: %+v", a)
			}
			if a := dpopTokenPost(t, g, form, "dev", "", newDPoPKey(t).proof(t, http.MethodPost, tokenURL(g), "")); a.status != http.StatusOK || a.TokenType != "DPoP" {
				t.Fatalf("registered dpop client with a proof: %+v", a)
			}
		}},
	})
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mintJWTEmbedded signs claims with k, its public key embedded, header
// typ typ.
func mintJWTEmbedded(t *testing.T, k *dpopTestKey, typ string, claims map[string]any) string {
	t.Helper()
	return signJWS(t, jose.SigningKey{Algorithm: jose.ES256, Key: k.priv}, (&jose.SignerOptions{EmbedJWK: true}).WithType(jose.ContentType(typ)), claims)
}

// TestDPoPTwoNodes: two nodes on one Redis share the proofs' single use:
// a proof spent on one node is a replay on the other.
func TestDPoPTwoNodes(t *testing.T) {
	bin := buildBinary(t)
	r := redistest.Start(t)
	o := gatewayOpts{store: "store redis " + r.URL(), site: "origin https://shop.test\n\t\t" + dpopSite}
	a := startProcess(t, bin, o)
	b := startProcess(t, bin, o)
	shareRoots(t, a, b)
	c := a.signUp("dpop-two@example.com")
	// The authorization request on node A, by hand: the site's public
	// origin is https://shop.test (port 443 reaches node A's port).
	verifier := oauth2.GenerateVerifier()
	target := "https://shop.test/.frontdoor/oauth2/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"dapp"},
		"redirect_uri": {"https://dapp.test/cb"}, "scope": {"openid email"}, "state": {"st4te"},
		"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}}.Encode()
	var code string
	for range 8 {
		resp := a.get(c, target, map[string]string{"Accept": "text/html"})
		loc, err := url.Parse(resp.header.Get("Location"))
		if resp.status < 300 || resp.status > 399 || err != nil || loc.String() == "" {
			t.Fatalf("GET %s: %d %.300s", target, resp.status, resp.body)
		}
		base, _ := url.Parse(target)
		next := base.ResolveReference(loc)
		if next.Host == "dapp.test" {
			code = next.Query().Get("code")
			break
		}
		target = next.String()
	}
	if code == "" {
		t.Fatal("no code")
	}
	k := newDPoPKey(t)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://dapp.test/cb"}, "code_verifier": {verifier}}
	tok := dpopTokenPost(t, a, form, "dapp", "", k.proof(t, http.MethodPost, "https://shop.test/.frontdoor/oauth2/token", ""))
	if tok.status != http.StatusOK || tok.TokenType != "DPoP" {
		t.Fatalf("exchange: %+v", tok)
	}
	call := func(g *gateway, proof string) response {
		return g.get(g.newClient(), "/api/orders/1", map[string]string{"Authorization": "DPoP " + tok.AccessToken, "DPoP": proof, "Accept": "application/json"})
	}
	// A proof names the site's public URL; it is good once, on any node.
	p := k.proof(t, http.MethodGet, "https://shop.test/api/orders/1", tok.AccessToken)
	if r := call(a, p); r.status != http.StatusOK {
		t.Fatalf("node A: %d %s", r.status, r.body)
	}
	if r := call(b, p); r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
		t.Fatalf("the proof replayed on node B: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	if r := call(b, k.proof(t, http.MethodGet, "https://shop.test/api/orders/1", tok.AccessToken)); r.status != http.StatusOK {
		t.Fatalf("node B, a fresh proof: %d %s", r.status, r.body)
	}
}
