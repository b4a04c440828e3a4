package oidcrp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity/oidcrp"
	"github.com/frontdoorhq/frontdoor/internal/oidctest"
)

const redirectURL = "http://127.0.0.1:1/.frontdoor/oidc/fake/callback"

// noRedirect is a client that stops at the provider's answer.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func newProvider(t *testing.T, f *oidctest.Fake, mod func(*oidcrp.Config)) *oidcrp.Provider {
	t.Helper()
	cfg := oidcrp.Config{Name: "fake", Issuer: f.Issuer, ClientID: f.ClientID, ClientSecret: f.ClientSecret}
	if mod != nil {
		mod(&cfg)
	}
	p, err := oidcrp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// authorize runs the browser's part: start, follow to the provider, read
// the callback it sends back.
func authorize(t *testing.T, p *oidcrp.Provider) (oidcrp.Attempt, oidcrp.Callback) {
	t.Helper()
	return authorizeWith(t, p, oidcrp.StartOptions{})
}

// authorizeWith is authorize asking more of the sign-in.
func authorizeWith(t *testing.T, p *oidcrp.Provider, so oidcrp.StartOptions) (oidcrp.Attempt, oidcrp.Callback) {
	t.Helper()
	a, u, err := p.StartWith(context.Background(), redirectURL, so)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK { // form_post
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		_, fields, err := oidctest.FormPost(b.String())
		if err != nil {
			t.Fatal(err)
		}
		return a, oidcrp.Callback{Code: fields.Get("code"), State: fields.Get("state"), Iss: fields.Get("iss"), User: fields.Get("user")}
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %v", resp.StatusCode, err)
	}
	if !strings.HasPrefix(loc.String(), redirectURL) {
		t.Fatalf("provider sent the browser to %s", loc)
	}
	q := loc.Query()
	return a, oidcrp.Callback{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}
}

func TestHonestProvider(t *testing.T) {
	f := oidctest.NewFake(t, "client-a", "secret-a")
	f.IssParam = true
	f.SetUser(oidctest.User{Subject: "s-42", Email: "Ann@Example.net", EmailVerified: "true", Name: "Ann Example", AMR: []string{"pwd", "mfa"}})
	p := newProvider(t, f, nil)
	a, cb := authorize(t, p)
	id, err := p.Finish(context.Background(), a, cb)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "s-42" || id.Issuer != f.Issuer || id.Email != "Ann@Example.net" || !id.EmailVerified || id.Name != "Ann Example" || !id.MFA || id.Provider != "fake" {
		t.Fatalf("identity %+v", id)
	}
	// The code works once.
	if _, err := p.Finish(context.Background(), a, cb); !errors.Is(err, oidcrp.ErrInvalidResponse) {
		t.Fatalf("replayed code: %v", err)
	}
}

// TestAskedIsChecked: what an attempt asked (max_age, acr_values) is
// sent, and an ID token that does not meet it is refused — a provider
// may ignore both. What it says of its session (sid, acr, auth_time) is
// handed on.
func TestAskedIsChecked(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name   string
		so     oidcrp.StartOptions
		claims map[string]any
		ok     bool
	}{
		{"aal2 asked, aal1 came", oidcrp.StartOptions{ACR: "aal2"}, map[string]any{"acr": "aal1"}, false},
		{"aal2 asked, none said", oidcrp.StartOptions{ACR: "aal2"}, nil, false},
		{"aal2 asked, aal2 came", oidcrp.StartOptions{ACR: "aal2"}, map[string]any{"acr": "aal2", "sid": "fam-1"}, true},
		{"aal1 asked, aal2 came", oidcrp.StartOptions{ACR: "aal1"}, map[string]any{"acr": "aal2"}, true},
		{"max_age asked, no auth_time", oidcrp.StartOptions{MaxAge: 60}, nil, false},
		{"max_age asked, old sign-in", oidcrp.StartOptions{MaxAge: 60}, map[string]any{"auth_time": now.Add(-10 * time.Minute).Unix()}, false},
		{"max_age asked, sign-in in the future", oidcrp.StartOptions{MaxAge: 60}, map[string]any{"auth_time": now.Add(10 * time.Minute).Unix()}, false},
		{"max_age asked, recent sign-in", oidcrp.StartOptions{MaxAge: 60}, map[string]any{"auth_time": now.Add(-10 * time.Second).Unix()}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := oidctest.NewFake(t, "c", "s")
			f.SetUser(oidctest.User{Subject: "s", Email: "x@example.net", EmailVerified: true, Extra: tc.claims})
			p := newProvider(t, f, nil)
			_, u, err := p.StartWith(context.Background(), redirectURL, tc.so)
			if err != nil {
				t.Fatal(err)
			}
			q, _ := url.Parse(u)
			if tc.so.ACR != "" && q.Query().Get("acr_values") != tc.so.ACR || tc.so.MaxAge > 0 && q.Query().Get("max_age") != "60" {
				t.Fatalf("authorization URL does not ask: %s", u)
			}
			a, cb := authorizeWith(t, p, tc.so)
			id, err := p.Finish(context.Background(), a, cb)
			if tc.ok != (err == nil) {
				t.Fatalf("Finish: %v (want ok=%v)", err, tc.ok)
			}
			if err != nil && !errors.Is(err, oidcrp.ErrInvalidResponse) {
				t.Fatalf("refusal of the wrong kind: %v", err)
			}
			if err == nil && (id.SessionID != stringOr(tc.claims["sid"]) || id.ACR != stringOr(tc.claims["acr"])) {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

func stringOr(v any) string { s, _ := v.(string); return s }

func TestClaimsMapping(t *testing.T) {
	f := oidctest.NewFake(t, "c", "s")
	f.SetUser(oidctest.User{Subject: "s", Email: "x@example.net", EmailVerified: false, Extra: map[string]any{"mail": "m@example.net", "mail_ok": true, "display": "Disp"}})
	p := newProvider(t, f, func(c *oidcrp.Config) {
		c.Claims = map[string]string{"email": "mail", "email_verified": "mail_ok", "name": "display"}
	})
	a, cb := authorize(t, p)
	id, err := p.Finish(context.Background(), a, cb)
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != "m@example.net" || !id.EmailVerified || id.Name != "Disp" {
		t.Fatalf("mapped identity %+v", id)
	}
}

// TestHostileProvider: every way a provider (or someone between it and
// the browser) can lie is refused as an invalid response.
func TestHostileProvider(t *testing.T) {
	f := oidctest.NewFake(t, "client-a", "secret-a")
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(&f.Key.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	sign := func(c map[string]any) string { return oidctest.Sign(f.Key, f.KeyID, c) }
	cases := []struct {
		name   string
		tamper func(c map[string]any) string
		cb     func(cb *oidcrp.Callback)
	}{
		{"alg none", func(c map[string]any) string { return oidctest.Unsigned(c) }, nil},
		{"HS256 with the public key (PEM) as secret", func(c map[string]any) string { return oidctest.HS256(pubPEM, f.KeyID, c) }, nil},
		{"HS256 with the public key (DER) as secret", func(c map[string]any) string { return oidctest.HS256(pubDER, f.KeyID, c) }, nil},
		{"wrong iss", func(c map[string]any) string { c["iss"] = "https://evil.example"; return sign(c) }, nil},
		{"aud for another client", func(c map[string]any) string { c["aud"] = "client-b"; return sign(c) }, nil},
		{"several aud, no azp", func(c map[string]any) string { c["aud"] = []string{"client-a", "client-b"}; return sign(c) }, nil},
		{"azp another client", func(c map[string]any) string { c["azp"] = "client-b"; return sign(c) }, nil},
		{"expired", func(c map[string]any) string {
			c["exp"] = time.Now().Add(-time.Minute).Unix()
			c["iat"] = time.Now().Add(-time.Hour).Unix()
			return sign(c)
		}, nil},
		{"iat in the future", func(c map[string]any) string {
			c["iat"] = time.Now().Add(10 * time.Minute).Unix()
			c["exp"] = time.Now().Add(time.Hour).Unix()
			return sign(c)
		}, nil},
		{"iat missing", func(c map[string]any) string { delete(c, "iat"); return sign(c) }, nil},
		{"nonce missing", func(c map[string]any) string { delete(c, "nonce"); return sign(c) }, nil},
		{"nonce of another attempt", func(c map[string]any) string { c["nonce"] = "another-attempt"; return sign(c) }, nil},
		{"sub missing", func(c map[string]any) string { delete(c, "sub"); return sign(c) }, nil},
		{"unknown kid, not in the refreshed JWKS", func(c map[string]any) string { return oidctest.Sign(other, "k9", c) }, nil},
		{"known kid, foreign key", func(c map[string]any) string { return oidctest.Sign(other, f.KeyID, c) }, nil},
		{"state missing", nil, func(cb *oidcrp.Callback) { cb.State = "" }},
		{"state mismatched", nil, func(cb *oidcrp.Callback) { cb.State = "x" + cb.State }},
		{"callback iss of another issuer", nil, func(cb *oidcrp.Callback) { cb.Iss = "https://evil.example" }},
		{"junk code", nil, func(cb *oidcrp.Callback) { cb.Code = "junk" }},
	}
	p := newProvider(t, f, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.Tamper(tc.tamper)
			defer f.Tamper(nil)
			a, cb := authorize(t, p)
			if tc.cb != nil {
				tc.cb(&cb)
			}
			id, err := p.Finish(context.Background(), a, cb)
			if !errors.Is(err, oidcrp.ErrInvalidResponse) {
				t.Fatalf("accepted or wrong error: %v %+v", err, id)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			for _, secret := range []string{cb.Code, f.ClientSecret, a.Verifier, a.Nonce} {
				if secret != "" && len(secret) > 8 && strings.Contains(err.Error(), secret) {
					t.Fatalf("error quotes a secret: %v", err)
				}
			}
		})
	}
	// Honest again after all that.
	a, cb := authorize(t, p)
	if _, err := p.Finish(context.Background(), a, cb); err != nil {
		t.Fatal(err)
	}
}

// TestMixUp: a response for provider A delivered to provider B's callback
// is refused, even when both use the same client id.
func TestMixUp(t *testing.T) {
	fa := oidctest.NewFake(t, "client", "secret")
	fb := oidctest.NewFake(t, "client", "secret")
	pa := newProvider(t, fa, func(c *oidcrp.Config) { c.Name = "a" })
	pb := newProvider(t, fb, func(c *oidcrp.Config) { c.Name = "b" })
	a, cb := authorize(t, pa)
	if _, err := pb.Finish(context.Background(), a, cb); !errors.Is(err, oidcrp.ErrInvalidResponse) {
		t.Fatalf("mix-up accepted: %v", err)
	}
	if n := fb.TokenRequests.Load(); n != 0 {
		t.Fatalf("provider B was sent A's code (%d token requests)", n)
	}
}

// TestKeyRotation: a token signed with a key the provider published after
// the first fetch is accepted (the key set is refreshed on an unknown kid).
func TestKeyRotation(t *testing.T) {
	f := oidctest.NewFake(t, "c", "s")
	p := newProvider(t, f, nil)
	a, cb := authorize(t, p)
	if _, err := p.Finish(context.Background(), a, cb); err != nil {
		t.Fatal(err)
	}
	next, _ := rsa.GenerateKey(rand.Reader, 2048)
	f.PublishKey(&next.PublicKey, "k2")
	f.Tamper(func(c map[string]any) string { return oidctest.Sign(next, "k2", c) })
	a, cb = authorize(t, p)
	if _, err := p.Finish(context.Background(), a, cb); err != nil {
		t.Fatalf("rotated key refused: %v", err)
	}
}

func TestProviderErrors(t *testing.T) {
	f := oidctest.NewFake(t, "c", "s")
	p := newProvider(t, f, nil)
	a, _ := authorize(t, p)
	if _, err := p.Finish(context.Background(), a, oidcrp.Callback{Error: "access_denied", State: a.State}); !errors.Is(err, oidcrp.ErrDenied) {
		t.Fatalf("access_denied: %v", err)
	}
	if _, err := p.Finish(context.Background(), a, oidcrp.Callback{Error: "server_error\r\nforged: log", State: a.State}); !errors.Is(err, oidcrp.ErrProvider) || strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("server_error: %v", err)
	}
	a, cb := authorize(t, p)
	f.Down.Store(true)
	if _, err := p.Finish(context.Background(), a, cb); !errors.Is(err, oidcrp.ErrProvider) {
		t.Fatalf("token endpoint down: %v", err)
	}
}

// TestDiscoveryDown: a provider that is down fails fast with
// ErrUnavailable, is not asked again on every request, and works once it
// is back (the retry window is on the injected clock).
func TestDiscoveryDown(t *testing.T) {
	f := oidctest.NewFake(t, "c", "s")
	f.Down.Store(true)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	p := newProvider(t, f, func(c *oidcrp.Config) { c.Now = func() time.Time { return time.Unix(0, now.Load()) } })
	if _, _, err := p.Start(context.Background(), redirectURL); !errors.Is(err, oidcrp.ErrUnavailable) {
		t.Fatalf("down: %v", err)
	}
	f.Down.Store(false)
	if _, _, err := p.Start(context.Background(), redirectURL); !errors.Is(err, oidcrp.ErrUnavailable) {
		t.Fatalf("within the retry window the failure is remembered: %v", err)
	}
	now.Add(int64(time.Minute))
	if _, _, err := p.Start(context.Background(), redirectURL); err != nil {
		t.Fatalf("back up: %v", err)
	}
}

func TestMicrosoftTenants(t *testing.T) {
	f := oidctest.NewFake(t, "c", "s")
	f.Issuer = f.URL + "/{tenantid}/v2.0"
	const good, other = "9188040d-6c67-4c5b-b112-36a304b66dad", "72f988bf-86f1-41af-91ab-2d7cd011db47"
	p := newProvider(t, f, func(c *oidcrp.Config) {
		c.Preset, c.Issuer, c.Tenants = oidcrp.PresetMicrosoft, f.URL+"/common/v2.0", []string{good}
	})
	f.SetUser(oidctest.User{Subject: "s", Email: "m@example.net", EmailVerified: true, Extra: map[string]any{"tid": good}})
	a, cb := authorize(t, p)
	id, err := p.Finish(context.Background(), a, cb)
	if err != nil {
		t.Fatal(err)
	}
	if id.Tenant != good || id.Issuer != f.URL+"/"+good+"/v2.0" {
		t.Fatalf("identity %+v", id)
	}
	// A tenant outside the allow-list.
	f.SetUser(oidctest.User{Subject: "s", Extra: map[string]any{"tid": other}})
	a, cb = authorize(t, p)
	if _, err := p.Finish(context.Background(), a, cb); !errors.Is(err, oidcrp.ErrInvalidResponse) {
		t.Fatalf("foreign tenant: %v", err)
	}
	// A token whose iss names another tenant than its tid.
	f.SetUser(oidctest.User{Subject: "s", Extra: map[string]any{"tid": good}})
	f.Tamper(func(c map[string]any) string {
		c["iss"] = f.URL + "/" + other + "/v2.0"
		return oidctest.Sign(f.Key, f.KeyID, c)
	})
	a, cb = authorize(t, p)
	if _, err := p.Finish(context.Background(), a, cb); !errors.Is(err, oidcrp.ErrInvalidResponse) {
		t.Fatalf("iss of another tenant: %v", err)
	}
}

func TestGoogleHostedDomain(t *testing.T) {
	f := oidctest.NewFake(t, "c", "s")
	p := newProvider(t, f, func(c *oidcrp.Config) { c.Preset, c.HostedDomain = oidcrp.PresetGoogle, "acme.com" })
	f.SetUser(oidctest.User{Subject: "s", Email: "a@acme.com", EmailVerified: true, Extra: map[string]any{"hd": "acme.com"}})
	a, cb := authorize(t, p)
	if _, err := p.Finish(context.Background(), a, cb); err != nil {
		t.Fatal(err)
	}
	f.SetUser(oidctest.User{Subject: "s", Email: "a@gmail.com", EmailVerified: true})
	a, cb = authorize(t, p)
	if _, err := p.Finish(context.Background(), a, cb); !errors.Is(err, oidcrp.ErrInvalidResponse) {
		t.Fatalf("no hd: %v", err)
	}
}

func TestApple(t *testing.T) {
	f := oidctest.NewFake(t, "com.example.web", "")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	file := filepath.Join(t.TempDir(), "AuthKey.p8")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, f, func(c *oidcrp.Config) {
		c.Preset, c.ClientSecret, c.TeamID, c.KeyID, c.KeyFile = oidcrp.PresetApple, "", "TEAM123456", "KEY1234567", file
	})
	if !p.FormPost() {
		t.Fatal("apple answers with form_post")
	}
	f.SetUser(oidctest.User{Subject: "000123.abc", Email: "x@privaterelay.appleid.com", EmailVerified: "true"})
	a, cb := authorize(t, p)
	cb.User = `{"name":{"firstName":"Ann","lastName":"Apple"},"email":"x@privaterelay.appleid.com"}`
	id, err := p.Finish(context.Background(), a, cb)
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "Ann Apple" || !id.EmailVerified {
		t.Fatalf("identity %+v", id)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []struct {
		cfg  oidcrp.Config
		want string
	}{
		{oidcrp.Config{Name: "x", Issuer: "http://idp.example.com", ClientID: "c"}, "https"},
		{oidcrp.Config{Name: "x", Issuer: "ftp://idp.example.com", ClientID: "c"}, "https"},
		{oidcrp.Config{Name: "x", Issuer: "https://idp.example.com"}, "client_id"},
		{oidcrp.Config{Name: "Bad Name", Issuer: "https://idp.example.com", ClientID: "c"}, "name"},
		{oidcrp.Config{Name: "x", Preset: "facebook", ClientID: "c"}, "preset"},
		{oidcrp.Config{Name: "x", Issuer: "https://idp.example.com", ClientID: "c", Link: "always"}, "link"},
		{oidcrp.Config{Name: "x", Issuer: "https://idp.example.com", ClientID: "c", Scopes: []string{"email"}}, "openid"},
		{oidcrp.Config{Name: "x", Issuer: "https://idp.example.com", ClientID: "c", Claims: map[string]string{"password": "p"}}, "claims"},
		{oidcrp.Config{Name: "x", Preset: oidcrp.PresetApple, ClientID: "c"}, "key_file"},
		{oidcrp.Config{Name: "x", Issuer: "https://idp.example.com", ClientID: "c", HostedDomain: "a.com"}, "hosted_domain"},
	}
	for _, tc := range bad {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error about %s", tc.cfg, err, tc.want)
		}
	}
	for _, issuer := range []string{"http://127.0.0.1:5556", "http://localhost:8080/dex", "http://[::1]:9000", "https://idp.example.com"} {
		c := oidcrp.Config{Name: "x", Issuer: issuer, ClientID: "c"}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", issuer, err)
		}
	}
	g := oidcrp.Config{Name: "google", Preset: oidcrp.PresetGoogle, ClientID: "c", ClientSecret: "s"}
	if err := g.Validate(); err != nil || g.Issuer != oidcrp.GoogleIssuer || g.Link != oidcrp.LinkVerifiedEmail || len(g.Scopes) != 3 {
		t.Fatalf("google defaults: %v %+v", err, g)
	}
}
