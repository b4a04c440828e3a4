package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// deviceSite is a provider with a public TV client, a confidential
// console, both on the device grant, and a web client without it.
const deviceSite = `provider {
			client tv {
				grant device_code
				name "Living room TV"
				scopes openid email profile offline_access
			}
			client console {
				grant urn:ietf:params:oauth:grant-type:device_code
				secret console-secret
			}
			client web {
				redirect_uri https://web.test/cb
				secret web-secret
			}
		}`

var userCodeRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)

// deviceAsk is the device authorization answer.
type deviceAsk struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
	Error                   string `json:"error"`
}

// devicePost posts form to a provider endpoint from a plain HTTP client
// (a TV), as client id (with its secret in Basic when there is one).
func devicePost(t *testing.T, g *gateway, path string, form url.Values, id, secret string) (int, map[string]any) {
	t.Helper()
	if secret == "" && id != "" {
		form.Set("client_id", id)
	}
	req, _ := http.NewRequest(http.MethodPost, g.url(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := g.newClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// askDevice starts a device request as client id.
func askDevice(t *testing.T, g *gateway, id, secret, scope string) deviceAsk {
	t.Helper()
	st, body := devicePost(t, g, "/.frontdoor/oauth2/device_authorization", url.Values{"scope": {scope}}, id, secret)
	raw, _ := json.Marshal(body)
	var a deviceAsk
	_ = json.Unmarshal(raw, &a)
	if st != http.StatusOK || a.DeviceCode == "" {
		t.Fatalf("device authorization as %s: %d %s", id, st, raw)
	}
	return a
}

// poll is one poll of the token endpoint: the error code, or the tokens.
func poll(t *testing.T, g *gateway, id, secret, deviceCode string) (string, map[string]any) {
	t.Helper()
	st, body := devicePost(t, g, "/.frontdoor/oauth2/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}}, id, secret)
	e, _ := body["error"].(string)
	if (st == http.StatusOK) != (e == "") {
		t.Fatalf("poll: %d %v", st, body)
	}
	return e, body
}

// typeCode posts a code on the device page in browser c, with decision
// when not empty.
func typeCode(g *gateway, c *http.Client, code, decision string) response {
	g.t.Helper()
	f := url.Values{"user_code": {code}}
	if decision != "" {
		f.Set("decision", decision)
	}
	return g.post(c, "/.frontdoor/device", f)
}

func TestProviderDevice(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{site: deviceSite}, []scenario{
		{"a TV signs in", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			r := newRP(t, g, "tv", "", "")
			var disc struct {
				Endpoint string   `json:"device_authorization_endpoint"`
				Grants   []string `json:"grant_types_supported"`
			}
			if err := r.prov.Claims(&disc); err != nil || disc.Endpoint != g.url("/.frontdoor/oauth2/device_authorization") ||
				!strings.Contains(strings.Join(disc.Grants, " "), "urn:ietf:params:oauth:grant-type:device_code") {
				t.Fatalf("discovery: %+v %v", disc, err)
			}
			a := askDevice(t, g, "tv", "", "openid email offline_access")
			if len(a.DeviceCode) < 22 || !userCodeRE.MatchString(a.UserCode) || a.VerificationURI != g.url("/.frontdoor/device") ||
				a.VerificationURIComplete != a.VerificationURI+"?user_code="+a.UserCode || a.ExpiresIn != 600 || a.Interval != 5 {
				t.Fatalf("device authorization %+v", a)
			}
			if e, _ := poll(t, g, "tv", "", a.DeviceCode); e != "authorization_pending" {
				t.Fatalf("first poll: %q, want authorization_pending", e)
			}
			if e, _ := poll(t, g, "tv", "", a.DeviceCode); e != "slow_down" {
				t.Fatalf("poll at once again: %q, want slow_down", e)
			}
			// Signed out, the link leads to the sign-in page and back.
			anon := g.get(g.newClient(), a.VerificationURIComplete, navigate)
			if loc := anon.header.Get("Location"); anon.status != http.StatusFound ||
				!strings.HasPrefix(loc, "/.frontdoor/login?rd=") || !strings.Contains(loc, url.QueryEscape("/.frontdoor/device?user_code=")) {
				t.Fatalf("device page signed out: %d %q", anon.status, loc)
			}
			c := g.signUp("device-tv@example.com")
			page := g.get(c, a.VerificationURIComplete, navigate)
			if page.status != http.StatusOK || !strings.Contains(page.body, `value="`+a.UserCode+`"`) {
				t.Fatalf("device page: %d %.400s", page.status, page.body)
			}
			// Typed in lower case with spaces, without the dash.
			typed := strings.ToLower(strings.ReplaceAll(a.UserCode, "-", " "))
			ask := typeCode(g, c, typed, "")
			if ask.status != http.StatusOK || !strings.Contains(ask.body, "Living room TV") || !strings.Contains(ask.body, "see your email address") ||
				!strings.Contains(ask.body, a.UserCode) || !strings.Contains(ask.body, `value="approve"`) {
				t.Fatalf("code typed: %d %.600s", ask.status, ask.body)
			}
			if e, _ := poll(t, g, "tv", "", a.DeviceCode); e != "slow_down" {
				t.Fatalf("still polling too fast: %q", e)
			}
			clk.advance(5 * time.Second)
			if e, _ := poll(t, g, "tv", "", a.DeviceCode); e != "authorization_pending" {
				t.Fatalf("poll before the answer: %q", e)
			}
			if ok := typeCode(g, c, a.UserCode, "approve"); ok.status != http.StatusOK || !strings.Contains(ok.body, "Device connected") {
				t.Fatalf("approve: %d %.400s", ok.status, ok.body)
			}
			clk.advance(5 * time.Second)
			e, tok := poll(t, g, "tv", "", a.DeviceCode)
			if e != "" {
				t.Fatalf("poll after approval: %q", e)
			}
			rawID, _ := tok["id_token"].(string)
			at, _ := tok["access_token"].(string)
			rt, _ := tok["refresh_token"].(string)
			idt, err := r.ver.Verify(r.ctx, rawID)
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			var claims struct {
				Email    string   `json:"email"`
				AMR      []string `json:"amr"`
				AuthTime int64    `json:"auth_time"`
			}
			if err := idt.Claims(&claims); err != nil || claims.Email != "device-tv@example.com" || len(claims.AMR) == 0 || claims.AuthTime == 0 {
				t.Fatalf("ID token claims %+v: %v", claims, err)
			}
			if err := idt.VerifyAccessToken(at); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			jws, err := jose.ParseSignedCompact(at, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			var atc map[string]any
			_ = json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &atc)
			if typ, _ := jws.Signatures[0].Protected.ExtraHeaders["typ"].(string); typ != "at+jwt" || atc["client_id"] != "tv" ||
				atc["sub"] != idt.Subject || atc["sid"] == "" || atc["sid"] == nil {
				t.Fatalf("access token %s %v", typ, atc)
			}
			if rt == "" {
				t.Fatal("no refresh token with offline_access")
			}
			// Exactly once.
			clk.advance(5 * time.Second)
			if e, _ := poll(t, g, "tv", "", a.DeviceCode); e != "invalid_grant" {
				t.Fatalf("second redemption: %q, want invalid_grant", e)
			}
			// The refresh token is a refresh token like any other.
			if st, e := g.tokenPost(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"tv"}}, "", ""); st != http.StatusOK {
				t.Fatalf("refresh: %d %s", st, e)
			}
			// The code is used up: typing it again is a wrong code.
			if again := typeCode(g, c, a.UserCode, ""); again.status != http.StatusBadRequest || !strings.Contains(again.body, "That code does not work") {
				t.Fatalf("used code typed again: %d %.300s", again.status, again.body)
			}
		}},
		{"denied", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			a := askDevice(t, g, "console", "console-secret", "openid profile")
			c := g.signUp("device-deny@example.com")
			if ask := typeCode(g, c, a.UserCode, ""); ask.status != http.StatusOK || !strings.Contains(ask.body, "console") {
				t.Fatalf("code typed: %d %.300s", ask.status, ask.body)
			}
			if no := typeCode(g, c, a.UserCode, "deny"); no.status != http.StatusOK || !strings.Contains(no.body, "Device not connected") {
				t.Fatalf("deny: %d %.300s", no.status, no.body)
			}
			for range 2 {
				if e, _ := poll(t, g, "console", "console-secret", a.DeviceCode); e != "access_denied" {
					t.Fatalf("poll after denial: %q, want access_denied", e)
				}
				clk.advance(5 * time.Second)
			}
			// Answered: the code cannot be approved after all.
			if again := typeCode(g, c, a.UserCode, "approve"); again.status != http.StatusBadRequest {
				t.Fatalf("approve after denying: %d", again.status)
			}
		}},
		{"expired", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			a := askDevice(t, g, "tv", "", "openid")
			c := g.signUp("device-late@example.com")
			clk.advance(10*time.Minute + time.Second)
			if e, _ := poll(t, g, "tv", "", a.DeviceCode); e != "expired_token" {
				t.Fatalf("poll after expiry: %q, want expired_token", e)
			}
			if late := typeCode(g, c, a.UserCode, "approve"); late.status != http.StatusBadRequest || !strings.Contains(late.body, "That code does not work") {
				t.Fatalf("expired code typed: %d %.300s", late.status, late.body)
			}
		}},
		{"another client's device code", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			a := askDevice(t, g, "tv", "", "openid")
			c := g.signUp("device-other@example.com")
			if ok := typeCode(g, c, a.UserCode, "approve"); ok.status != http.StatusOK {
				t.Fatalf("approve: %d", ok.status)
			}
			if e, _ := poll(t, g, "console", "console-secret", a.DeviceCode); e != "invalid_grant" {
				t.Fatalf("console redeeming tv's device code: %q, want invalid_grant", e)
			}
			// Shown to the wrong party, it is burnt.
			clk.advance(5 * time.Second)
			if e, _ := poll(t, g, "tv", "", a.DeviceCode); e != "invalid_grant" {
				t.Fatalf("tv after the console tried: %q, want invalid_grant", e)
			}
			// The console must authenticate, at both endpoints.
			if st, body := devicePost(t, g, "/.frontdoor/oauth2/device_authorization", url.Values{"scope": {"openid"}}, "console", ""); st == http.StatusOK {
				t.Fatalf("console without its secret: %d %v", st, body)
			}
		}},
		{"client without the grant", func(t *testing.T, g *gateway) {
			st, body := devicePost(t, g, "/.frontdoor/oauth2/device_authorization", url.Values{"scope": {"openid"}}, "web", "web-secret")
			if st != http.StatusBadRequest || body["error"] != "unauthorized_client" {
				t.Fatalf("web asking for a device code: %d %v", st, body)
			}
			if e, _ := poll(t, g, "web", "web-secret", strings.Repeat("A", 43)); e != "unauthorized_client" {
				t.Fatalf("web polling: %q, want unauthorized_client", e)
			}
			if st, body := devicePost(t, g, "/.frontdoor/oauth2/device_authorization", url.Values{"scope": {"email"}}, "tv", ""); st != http.StatusBadRequest || body["error"] != "invalid_scope" {
				t.Fatalf("tv without openid: %d %v", st, body)
			}
			// And the TV, with no redirect URI, has no code flow.
			if st, body := devicePost(t, g, "/.frontdoor/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, "tv", ""); st != http.StatusBadRequest || body["error"] != "unauthorized_client" {
				t.Fatalf("tv exchanging a code: %d %v", st, body)
			}
		}},
		{"wrong codes", func(t *testing.T, g *gateway) {
			c := g.signUp("device-wrong@example.com")
			for _, code := range []string{"BBBB-BBBB", "not a code", "", strings.Repeat("B", 40)} {
				r := typeCode(g, c, code, "")
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, "That code does not work") || strings.Contains(r.body, `value="approve"`) {
					t.Fatalf("code %q: %d %.300s", code, r.status, r.body)
				}
			}
			// GET never decides, whatever the link says.
			a := askDevice(t, g, "tv", "", "openid")
			if r := g.get(c, a.VerificationURIComplete+"&decision=approve", navigate); r.status != http.StatusOK {
				t.Fatalf("device page: %d", r.status)
			}
			if e, _ := poll(t, g, "tv", "", a.DeviceCode); e != "authorization_pending" {
				t.Fatalf("after a GET: %q", e)
			}
			// A post without the page's CSRF token is refused.
			if r := g.do(c, http.MethodPost, "/.frontdoor/device", url.Values{"user_code": {a.UserCode}, "decision": {"approve"}}, nil); r.status != http.StatusForbidden {
				t.Fatalf("post without CSRF token: %d", r.status)
			}
		}},
	})
}

// TestProviderDeviceLimits: typing user codes is limited per customer
// (wrong codes only) and per address, so guessing stops after a handful.
func TestProviderDeviceLimits(t *testing.T) {
	limits := "limits {\n\t\t\tcode ip 15/10m\n\t\t\tcode account 10/10m\n\t\t}"
	runOnBothStoresWith(t, gatewayOpts{site: deviceSite, limits: limits}, []scenario{
		{"guessing user codes", func(t *testing.T, g *gateway) {
			useClock(t).alignTo(10 * time.Minute)
			a := g.signUp("device-guess-a@example.com")
			b := g.signUp("device-guess-b@example.com")
			guess := func(c *http.Client) response { return typeCode(g, c, newUserCode(), "") }
			// The customer's limit: ten wrong codes, then 429 — the right
			// one included, from any address.
			for i := range 10 {
				if r := guess(a); r.status != http.StatusBadRequest {
					t.Fatalf("wrong code %d: %d", i+1, r.status)
				}
			}
			ask := askDevice(t, g, "tv", "", "openid")
			if r := typeCode(g, a, ask.UserCode, ""); r.status != http.StatusTooManyRequests {
				t.Fatalf("code 11 of the customer: %d, want 429", r.status)
			}
			elsewhere := clientFrom(g, "127.0.93.1")
			u, _ := url.Parse(g.url("/"))
			elsewhere.Jar.SetCookies(u, a.Jar.Cookies(u))
			if r := typeCode(g, elsewhere, ask.UserCode, ""); r.status != http.StatusTooManyRequests {
				t.Fatalf("the customer from another address: %d, want 429", r.status)
			}
			// The address's limit (15 posts, 11 made): another customer
			// from it gets four tries.
			for i := range 4 {
				if r := guess(b); r.status != http.StatusBadRequest {
					t.Fatalf("other customer's wrong code %d: %d", i+1, r.status)
				}
			}
			r := typeCode(g, b, ask.UserCode, "")
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
				t.Fatalf("post 16 from the address: %d Retry-After %q, want 429", r.status, r.header.Get("Retry-After"))
			}
			// The code itself was never touched: b approves it from
			// another address.
			bElsewhere := clientFrom(g, "127.0.93.2")
			bElsewhere.Jar.SetCookies(u, b.Jar.Cookies(u))
			if r := typeCode(g, bElsewhere, ask.UserCode, ""); r.status != http.StatusOK {
				t.Fatalf("b from another address: %d", r.status)
			}
		}},
	})
}

// TestProviderDeviceNotAdvertised: without a device client, discovery
// says nothing of the grant.
func TestProviderDeviceNotAdvertised(t *testing.T) {
	t.Setenv("FD_TEST_SHOP_SECRET", shopSecret)
	g := startGateway(t, gatewayOpts{site: providerSite})
	r := g.get(g.newClient(), "/.well-known/openid-configuration", nil)
	if r.status != http.StatusOK || strings.Contains(r.body, "device") {
		t.Fatalf("discovery: %d %s", r.status, r.body)
	}
}

func TestProviderDeviceCaddyfile(t *testing.T) {
	out, err := adapt(t, providerCaddyfile("\t\t\tclient tv {\n\t\t\t\tgrant device_code\n\t\t\t}\n\t\t\tclient both {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t\tgrant authorization_code urn:ietf:params:oauth:grant-type:device_code\n\t\t\t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`{"grants":["device_code"],"id":"tv"}`, `"grants":["authorization_code","device_code"],"id":"both"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted JSON lacks %s:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		name, clients string
		line          int
		want          string
	}{
		{"unknown grant", "\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n\t\t\t\tgrant implicit\n\t\t\t}\n", 6, `client a: unknown grant "implicit"`},
		{"no grant", "\t\t\tclient a {\n\t\t\t\tgrant\n\t\t\t}\n", 5, "client a: grant needs a grant type"},
		{"code flow without redirect_uri", "\t\t\tclient a {\n\t\t\t\tgrant authorization_code device_code\n\t\t\t}\n", 4, "client a needs a redirect_uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, providerCaddyfile(tc.clients), tc.line, tc.want)
		})
	}
}
