package caddymodule

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestProviderLimits: the provider's endpoints are under the edge defence
// (route oauth). A flood of token requests from one address is answered
// 429 with Retry-After before it reaches the store — the refresh token it
// carries past the limit is not used up — while another address, and so
// the client's real traffic, is not held back; the per-client limit
// holds a client's requests from every address.
func TestProviderLimits(t *testing.T) {
	t.Setenv("FD_TEST_SHOP_SECRET", shopSecret)
	limits := "limits {\n\t\t\toauth ip 20/1m\n\t\t\toauth account 60/1m\n\t\t}"
	runOnBothStoresWith(t, gatewayOpts{site: providerSite, limits: limits}, []scenario{
		{"token flood from one address", func(t *testing.T, g *gateway) {
			useClock(t).alignTo(time.Minute)
			c := g.signUp("op-flood@example.com")
			r := newRP(t, g, "shop", shopSecret, "https://app.test/cb")
			r.cfg.Scopes = append(r.cfg.Scopes, "offline_access")
			verifier := oauth2.GenerateVerifier()
			code, _ := r.codeFor(t, c, oauth2.S256ChallengeOption(verifier))
			tok, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
			if err != nil || tok.RefreshToken == "" {
				t.Fatalf("normal use under the limits: %v, refresh token %q", err, tok.RefreshToken)
			}
			flooder := clientFrom(g, "127.0.88.1")
			post := func(hc *http.Client, refresh string) (int, http.Header, string) {
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
				req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/token"), strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("shop", url.QueryEscape(shopSecret))
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var b strings.Builder
				buf := make([]byte, 4096)
				n, _ := resp.Body.Read(buf)
				b.Write(buf[:n])
				return resp.StatusCode, resp.Header, b.String()
			}
			statuses := map[int]int{}
			for i := range 20 {
				st, _, _ := post(flooder, fmt.Sprintf("junk-%d", i))
				statuses[st]++
			}
			if statuses[http.StatusBadRequest] != 20 {
				t.Fatalf("under the address's limit: %v, want 20 × 400 (invalid_grant)", statuses)
			}
			// Past it: 429, the real refresh token included, which the
			// store never sees.
			st, h, body := post(flooder, tok.RefreshToken)
			if st != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(body, "too_many_attempts") {
				t.Fatalf("request 21 from the flooding address: %d Retry-After %q %s, want 429", st, h.Get("Retry-After"), body)
			}
			// Another address (the client's server) is not held back, and
			// the refresh token was not used up by the refused request.
			if st, _, body := post(g.newClient(), tok.RefreshToken); st != http.StatusOK {
				t.Fatalf("refresh from another address: %d %s", st, body)
			}
		}},
		{"per-client limit", func(t *testing.T, g *gateway) {
			// A window after the flood's (the clock goes back to wall time
			// between scenarios).
			clk := useClock(t)
			clk.alignTo(time.Minute)
			clk.advance(5 * time.Minute)
			// 60 per client per minute, from many addresses (each under
			// its own 20).
			n := 0
			for host := 1; n < 60; host++ {
				hc := clientFrom(g, fmt.Sprintf("127.0.89.%d", host))
				for range 15 {
					if st, e := tokenPostVia(t, g, hc, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"junk"}}); st != http.StatusBadRequest {
						t.Fatalf("request %d of the client: %d %s, want 400", n+1, st, e)
					}
					n++
				}
			}
			hc := clientFrom(g, "127.0.89.100")
			if st, e := tokenPostVia(t, g, hc, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"junk"}}); st != http.StatusTooManyRequests {
				t.Fatalf("request 61 of the client, from a new address: %d %s, want 429", st, e)
			}
			// Another client is not held back by it.
			if st, e := tokenPostVia(t, g, hc, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"junk"}, "client_id": {"spa"}}); st != http.StatusBadRequest {
				t.Fatalf("another client: %d %s, want 400", st, e)
			}
		}},
	})
}

// tokenPostVia posts to the token endpoint as shop (client_secret_basic)
// unless the form names another client, from hc.
func tokenPostVia(t *testing.T, g *gateway, hc *http.Client, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.url("/.frontdoor/oauth2/token"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if form.Get("client_id") == "" {
		req.SetBasicAuth("shop", url.QueryEscape(shopSecret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode, string(buf[:n])
}
