package oidcrp_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/identity/oidcrp"
	"github.com/frontdoorhq/frontdoor/internal/oidctest"
)

// TestRealProvider signs in through zitadel's certified provider: its
// discovery, login page, code, token endpoint and signed ID token.
func TestRealProvider(t *testing.T) {
	op := oidctest.NewReal(t, oidctest.Account{ID: "u1", Username: "ann", Password: "pw-ann-123", Email: "ann@example.net", EmailVerified: true, FirstName: "Ann", LastName: "Real"})
	op.AddClient("frontdoor", "s3cret", redirectURL)
	p, err := oidcrp.New(oidcrp.Config{Name: "real", Issuer: op.Issuer, ClientID: "frontdoor", ClientSecret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	a, u, err := p.Start(context.Background(), redirectURL)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirectURL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	login, err := browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	login.Body.Close()
	back, err := op.SignIn(browser, login, "ann", "pw-ann-123")
	if err != nil {
		t.Fatal(err)
	}
	back.Body.Close()
	loc, err := back.Location()
	if err != nil {
		t.Fatalf("no redirect back: %d %v", back.StatusCode, err)
	}
	q := loc.Query()
	id, err := p.Finish(context.Background(), a, oidcrp.Callback{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")})
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "u1" || id.Name != "Ann Real" || id.Email != "ann@example.net" || !id.EmailVerified || id.Issuer != op.Issuer {
		t.Fatalf("identity %+v", id)
	}
}
