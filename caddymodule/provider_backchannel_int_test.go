package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// logoutSink is a client's back-channel logout endpoint: it keeps the
// logout tokens posted to it.
type logoutSink struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []string
}

func newLogoutSink(t *testing.T) *logoutSink {
	t.Helper()
	s := &logoutSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("logout_token") == "" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.got = append(s.got, r.URL.Path+" "+r.PostForm.Get("logout_token"))
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *logoutSink) tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// waitTokens polls until the sink holds n tokens (at most 10 s), then
// checks no more come for a moment.
func (s *logoutSink) waitTokens(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.tokens()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	got := s.tokens()
	if len(got) != n {
		t.Fatalf("%d logout tokens, want %d: %v", len(got), n, got)
	}
	return got
}

// TestProviderBackchannelLogout: a client handed tokens of a session hears
// of its end by a signed logout token; a client that never had one, and
// sessions that merely expire or step up, send nothing.
func TestProviderBackchannelLogout(t *testing.T) {
	skipShort(t)
	sink := newLogoutSink(t)
	site := `provider {
			client tv {
				redirect_uri https://app.test/cb
				secret tv-secret-0123456789
				first_party
				backchannel_logout_uri ` + sink.srv.URL + `/tv
			}
			client quiet {
				redirect_uri https://quiet.test/cb
				secret quiet-secret-0123456789
				first_party
				backchannel_logout_uri ` + sink.srv.URL + `/quiet
			}
		}`
	runOnBothStoresWith(t, gatewayOpts{site: site}, []scenario{
		{"sign-out sends one logout token to the client that had a session", func(t *testing.T, g *gateway) {
			sink.mu.Lock()
			sink.got = nil
			sink.mu.Unlock()
			c := g.signUp("bcl-ann@example.com")
			r := newRP(t, g, "tv", "tv-secret-0123456789", "https://app.test/cb")
			verifier := oauth2.GenerateVerifier()
			code, _ := r.codeFor(t, c, oidc.Nonce("n"), oauth2.S256ChallengeOption(verifier))
			tok, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			idt, err := r.ver.Verify(r.ctx, tok.Extra("id_token").(string))
			if err != nil {
				t.Fatal(err)
			}
			var ic struct {
				SID string `json:"sid"`
			}
			_ = idt.Claims(&ic)
			logout(t, g, c)
			got := sink.waitTokens(t, 1)
			path, raw, _ := strings.Cut(got[0], " ")
			if path != "/tv" {
				t.Fatalf("sent to %s, want the tv client's URI only", path)
			}
			claims := verifyLogoutToken(t, g, raw)
			if claims["iss"] != g.url("") || claims["aud"] != "tv" || claims["sub"] != idt.Subject || claims["sid"] != ic.SID || ic.SID == "" {
				t.Fatalf("logout token claims %v (ID token sub %s sid %s)", claims, idt.Subject, ic.SID)
			}
			if _, ok := claims["nonce"]; ok {
				t.Fatal("logout token has a nonce")
			}
			ev, _ := claims["events"].(map[string]any)
			if _, ok := ev["http://schemas.openid.net/event/backchannel-logout"]; !ok {
				t.Fatalf("events %v", claims["events"])
			}
		}},
		{"sign out everywhere tells the client once per session it had; other sessions nothing", func(t *testing.T, g *gateway) {
			sink.mu.Lock()
			sink.got = nil
			sink.mu.Unlock()
			c := g.signUp("bcl-bo@example.com")
			other := g.newClient()
			g.login(other, "bcl-bo@example.com", testPassword, "/")
			r := newRP(t, g, "tv", "tv-secret-0123456789", "https://app.test/cb")
			verifier := oauth2.GenerateVerifier()
			code, _ := r.codeFor(t, c, oidc.Nonce("n"), oauth2.S256ChallengeOption(verifier))
			if _, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier)); err != nil {
				t.Fatal(err)
			}
			// Signing the other browser out: the client had no session of it.
			logout(t, g, other)
			sink.waitTokens(t, 0)
			if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/signout-everywhere", url.Values{}); r.status >= 400 {
				t.Fatalf("sign out everywhere: %d", r.status)
			}
			sink.waitTokens(t, 1)
		}},
	})
}

// verifyLogoutToken checks the token's signature against the gateway's
// keys and its type, and returns its claims.
func verifyLogoutToken(t *testing.T, g *gateway, raw string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ, _ := jws.Signatures[0].Protected.ExtraHeaders["typ"].(string); typ != "logout+jwt" {
		t.Fatalf("logout token typ %q", typ)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(g.get(g.newClient(), JWKSPath, nil).body), &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(jws.Signatures[0].Protected.KeyID)
	if len(keys) == 0 {
		t.Fatal("logout token signed with an unpublished key")
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}
