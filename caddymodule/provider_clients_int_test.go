package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestProviderClientsAdmin: an operator registers a client through the
// admin API; its secret is shown once, it signs customers in like a
// declared client, a rotation keeps the old secret working for a day, and
// removing it ends its token requests. Caddyfile clients cannot be
// changed there; bad bodies name the field.
func TestProviderClientsAdmin(t *testing.T) {
	skipShort(t)
	t.Setenv("FD_TEST_SHOP_SECRET", shopSecret)
	runOnBothStoresWith(t, gatewayOpts{site: providerSite}, []scenario{{"register, use, rotate, remove", func(t *testing.T, g *gateway) {
		body := `{"name":"Kiosk","redirect_uris":["https://kiosk.test/cb"],"scopes":["openid","email"],"first_party":true}`
		st, out := adminDo(t, g, http.MethodPut, "/frontdoor/clients/kiosk", body)
		var created struct {
			Secret string     `json:"client_secret"`
			Client clientView `json:"client"`
		}
		if err := json.Unmarshal([]byte(out), &created); st != http.StatusCreated || err != nil || len(created.Secret) < 40 || created.Client.Source != "admin" || !created.Client.Confidential {
			t.Fatalf("register: %d %s", st, out)
		}
		// Listed beside the Caddyfile's, never with a secret.
		st, out = adminDo(t, g, http.MethodGet, "/frontdoor/clients", "")
		if st != http.StatusOK || !strings.Contains(out, `"kiosk"`) || !strings.Contains(out, `"shop"`) || !strings.Contains(out, `"admin"`) || strings.Contains(out, created.Secret) || strings.Contains(out, "secret_sum") {
			t.Fatalf("list: %d %s", st, out)
		}
		n := 0
		signIn := func(secret string) error {
			t.Helper()
			n++
			c := g.signUp(fmt.Sprintf("kiosk-%d@example.com", n))
			r := newRP(t, g, "kiosk", secret, "https://kiosk.test/cb")
			v := oauth2.GenerateVerifier()
			code, _ := r.codeFor(t, c, oidc.Nonce("n"), oauth2.S256ChallengeOption(v))
			_, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(v))
			return err
		}
		if err := signIn(created.Secret); err != nil {
			t.Fatalf("registered client: %v", err)
		}
		// Rotation: a new secret, the old one still works for a day.
		st, out = adminDo(t, g, http.MethodPut, "/frontdoor/clients/kiosk", strings.Replace(body, `"first_party":true`, `"first_party":true,"rotate_secret":true`, 1))
		var rotated struct {
			Secret string `json:"client_secret"`
		}
		if err := json.Unmarshal([]byte(out), &rotated); st != http.StatusOK || err != nil || rotated.Secret == "" || rotated.Secret == created.Secret {
			t.Fatalf("rotate: %d %s", st, out)
		}
		for _, s := range []string{rotated.Secret, created.Secret} {
			if err := signIn(s); err != nil {
				t.Fatalf("after rotation, secret %s…: %v", s[:4], err)
			}
		}
		clk := useClock(t)
		clk.advance(25 * time.Hour)
		if err := signIn(created.Secret); err == nil {
			t.Fatal("the rotated-out secret still works after a day")
		}
		if err := signIn(rotated.Secret); err != nil {
			t.Fatalf("current secret: %v", err)
		}
		// An update without rotate_secret shows no secret.
		if st, out = adminDo(t, g, http.MethodPut, "/frontdoor/clients/kiosk", body); st != http.StatusOK || strings.Contains(out, `"client_secret"`) {
			t.Fatalf("update: %d %s", st, out)
		}
		// Refusals.
		for name, tc := range map[string]struct {
			method, path, body string
			status             int
			want               string
		}{
			"Caddyfile client":   {http.MethodPut, "/frontdoor/clients/shop", body, http.StatusConflict, "Caddyfile"},
			"remove Caddyfile's": {http.MethodDelete, "/frontdoor/clients/shop", "", http.StatusConflict, "Caddyfile"},
			"http redirect":      {http.MethodPut, "/frontdoor/clients/x", `{"redirect_uris":["http://x.test/cb"]}`, http.StatusBadRequest, "loopback"},
			"no redirect":        {http.MethodPut, "/frontdoor/clients/x", `{"name":"x"}`, http.StatusBadRequest, "redirect_uris"},
			"unknown scope":      {http.MethodPut, "/frontdoor/clients/x", `{"redirect_uris":["https://x.test/cb"],"scopes":["openid","admin"]}`, http.StatusBadRequest, "admin"},
			"unknown field":      {http.MethodPut, "/frontdoor/clients/x", `{"redirect_uris":["https://x.test/cb"],"secret":"mine"}`, http.StatusBadRequest, "secret"},
			"bad id":             {http.MethodPut, "/frontdoor/clients/Bad%20Id", `{"redirect_uris":["https://x.test/cb"]}`, http.StatusBadRequest, "id"},
			"remove unknown":     {http.MethodDelete, "/frontdoor/clients/nobody", "", http.StatusNotFound, "nobody"},
			"method":             {http.MethodPost, "/frontdoor/clients/x", "{}", http.StatusMethodNotAllowed, ""},
		} {
			if st, out := adminDo(t, g, tc.method, tc.path, tc.body); st != tc.status || !strings.Contains(out, tc.want) {
				t.Errorf("%s: %d %s", name, st, out)
			}
		}
		// A device client, registered: no redirect URI needed, and it may
		// ask for a device code.
		if st, out = adminDo(t, g, http.MethodPut, "/frontdoor/clients/tv", `{"name":"TV","grants":["device_code"],"public":true}`); st != http.StatusCreated || !strings.Contains(out, `"device_code"`) {
			t.Fatalf("device client: %d %s", st, out)
		}
		askDevice(t, g, "tv", "", "openid")
		if st, out = adminDo(t, g, http.MethodPut, "/frontdoor/clients/tv2", `{"grants":["password"]}`); st != http.StatusBadRequest || !strings.Contains(out, "password") {
			t.Fatalf("unknown grant: %d %s", st, out)
		}
		// Removed: its token requests fail at once on this node.
		if st, out = adminDo(t, g, http.MethodDelete, "/frontdoor/clients/kiosk", ""); st != http.StatusNoContent {
			t.Fatalf("remove: %d %s", st, out)
		}
		if err := signInRemoved(t, g, rotated.Secret); err == nil {
			t.Fatal("a removed client still gets tokens")
		}
	}}})
}

// signInRemoved starts an authorization request of the removed client: the
// provider refuses it on its own page (unknown client), never redirecting.
func signInRemoved(t *testing.T, g *gateway, secret string) error {
	t.Helper()
	c := g.signUp("kiosk-gone@example.com")
	r := newRP(t, g, "kiosk", secret, "https://kiosk.test/cb")
	res := g.get(c, r.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v")), navigate)
	if loc := res.header.Get("Location"); strings.HasPrefix(loc, "https://kiosk.test") {
		return nil
	}
	return errRefused
}

var errRefused = errorString("refused")

type errorString string

func (e errorString) Error() string { return string(e) }
