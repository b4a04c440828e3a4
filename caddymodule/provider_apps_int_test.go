package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestProviderApps: an app that got a customer's tokens is on their
// account page (its name, what it can see, when) and in their export;
// removing it there ends its refresh tokens at once, on any site.
func TestProviderApps(t *testing.T) {
	skipShort(t)
	site := `provider {
			client tv {
				name "Living-room TV"
				redirect_uri https://tv.test/cb
				secret tv-secret-0123456789
				scopes openid email profile offline_access
				first_party
			}
		}`
	runOnBothStoresWith(t, gatewayOpts{site: site}, []scenario{
		{"listed, exported, revoked", func(t *testing.T, g *gateway) {
			c := g.signUp("apps-ann@example.com")
			if page := g.get(c, "/.frontdoor/account", nil).body; strings.Contains(page, "Living-room TV") {
				t.Fatal("an app listed before it had tokens")
			}
			r := newRP(t, g, "tv", "tv-secret-0123456789", "https://tv.test/cb")
			r.cfg.Scopes = append(r.cfg.Scopes, oidc.ScopeOfflineAccess)
			verifier := oauth2.GenerateVerifier()
			code, _ := r.codeFor(t, c, oidc.Nonce("n"), oauth2.S256ChallengeOption(verifier))
			tok, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
			if err != nil || tok.RefreshToken == "" {
				t.Fatalf("exchange: %v (refresh token %t)", err, tok != nil && tok.RefreshToken != "")
			}
			// It refreshes: still allowed.
			tok, err = r.cfg.TokenSource(r.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			page := g.get(c, "/.frontdoor/account", nil).body
			if !strings.Contains(page, "Living-room TV") || !strings.Contains(page, "offline_access") || !strings.Contains(page, `name="client" value="tv"`) {
				t.Fatalf("account page does not list the app:\n%s", page)
			}
			var export struct {
				Apps []struct {
					ClientID string   `json:"client_id"`
					Scopes   []string `json:"scopes"`
				} `json:"apps"`
			}
			if err := json.Unmarshal([]byte(g.get(c, "/.frontdoor/account/export", nil).body), &export); err != nil || len(export.Apps) != 1 || export.Apps[0].ClientID != "tv" {
				t.Fatalf("export apps %+v %v", export.Apps, err)
			}
			if m := regexp.MustCompile(`"families"|` + regexp.QuoteMeta(tok.RefreshToken)).FindString(g.get(c, "/.frontdoor/account/export", nil).body); m != "" {
				t.Fatalf("export holds %q", m)
			}
			// Removing it on the account page.
			form := url.Values{"issuer": {g.url("")}, "client": {"tv"}}
			if res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/apps/revoke", form); res.status != http.StatusOK {
				t.Fatalf("revoke: %d", res.status)
			}
			_, err = r.cfg.TokenSource(r.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
				t.Fatalf("refresh after the app was removed: %v", err)
			}
			if page := g.get(c, "/.frontdoor/account", nil).body; strings.Contains(page, "Living-room TV") {
				t.Fatal("removed app still listed")
			}
			if res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/apps/revoke", form); res.status != http.StatusNotFound {
				t.Fatalf("second removal: %d", res.status)
			}
		}},
	})
}
