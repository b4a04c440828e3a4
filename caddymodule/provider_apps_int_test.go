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

// providerConsentScenario: a third-party client gets a consent page that
// names it and what it asks; "don't allow" answers access_denied; "allow"
// answers a code, and the next request with the same scopes asks
// nothing — until prompt=consent, more scopes, or the app is removed.
// The decision is a CSRF-protected post: a GET, or a post without the
// token, decides nothing.
func providerConsentScenario(t *testing.T, g *gateway) {
	c := g.signUp("op-consent@example.com")
	r := newRP(t, g, "partner", "partner-secret", "https://partner.test/cb")
	consentPage := func(opts ...oauth2.AuthCodeOption) (string, string) {
		t.Helper()
		opts = append(opts, oauth2.S256ChallengeOption("verifier-0123456789-0123456789-0123456789"))
		res, hops := g.walk(t, c, r.cfg.AuthCodeURL("st4te", opts...))
		m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(res.body)
		if res.status != http.StatusOK || m == nil || !strings.Contains(res.body, "partner") || !strings.Contains(res.body, "see your email address") {
			t.Fatalf("no consent page: %d after %v\n%.500s", res.status, hops, res.body)
		}
		return m[1], res.body
	}
	decide := func(id, decision string) *url.URL {
		t.Helper()
		res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/apps/consent", url.Values{"id": {id}, "decision": {decision}})
		u, err := url.Parse(res.header.Get("Location"))
		if res.status != http.StatusFound || err != nil || !strings.HasPrefix(u.String(), "https://partner.test/cb") {
			t.Fatalf("%s: %d %q", decision, res.status, res.header.Get("Location"))
		}
		return u
	}
	id, _ := consentPage()
	// No CSRF token: refused, the request stays.
	if res := g.do(c, http.MethodPost, "/.frontdoor/apps/consent", url.Values{"id": {id}, "decision": {"allow"}}, map[string]string{"Origin": strings.TrimSuffix(g.url("/"), "/")}); res.status != http.StatusForbidden {
		t.Fatalf("consent without a CSRF token: %d", res.status)
	}
	if u := decide(id, "deny"); u.Query().Get("error") != "access_denied" || u.Query().Get("iss") != g.url("") {
		t.Fatalf("deny: %s", u)
	}
	id, _ = consentPage()
	if u := decide(id, "allow"); u.Query().Get("code") == "" || u.Query().Get("iss") != g.url("") {
		t.Fatalf("allow: %s", u)
	}
	// The same request id cannot be answered twice.
	if res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/apps/consent", url.Values{"id": {id}, "decision": {"allow"}}); res.status != http.StatusBadRequest {
		t.Fatalf("request answered twice: %d", res.status)
	}
	// Allowed: straight through, now even with prompt=none.
	u := g.follow(t, c, r.cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption("verifier-0123456789-0123456789-0123456789"), oauth2.SetAuthURLParam("prompt", "none")))
	if u.Query().Get("code") == "" {
		t.Fatalf("allowed app asked again: %s", u)
	}
	consentPage(oauth2.SetAuthURLParam("prompt", "consent"))
	if page := g.get(c, "/.frontdoor/account", nil).body; !strings.Contains(page, `name="client" value="partner"`) {
		t.Fatal("allowed app not on the account page")
	}
	if res := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/apps/revoke", url.Values{"issuer": {g.url("")}, "client": {"partner"}}); res.status != http.StatusOK {
		t.Fatalf("remove: %d", res.status)
	}
	consentPage()
}
