package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestHealthz(t *testing.T) {
	s := &server{verifier: NewVerifier("http://127.0.0.1:1/jwks.json", "", nil)}
	rec := httptest.NewRecorder()
	s.routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Fatalf("healthz: %d %q", rec.Code, rec.Body.String())
	}
}

func getJSON(t *testing.T, h http.Handler, req *http.Request) report {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var rep report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("decoding %s: %v", rec.Body.String(), err)
	}
	return rep
}

func TestReportJSON(t *testing.T) {
	f := newFixture(t)
	f.v = NewVerifier(f.srv.URL, "", f.srv.Client()) // real clock, no issuer
	f.now = time.Now()
	h := (&server{verifier: f.v}).routes()
	tok := sign(t, jose.ES256, f.key, "k1", f.claims())

	// Anonymous visitor.
	req := httptest.NewRequest(http.MethodGet, "http://shop.example.com/orders/1?format=json", nil)
	rep := getJSON(t, h, req)
	if rep.Path != "/orders/1" || rep.Assertion.Present || rep.Assertion.Valid || len(rep.Headers) != 0 {
		t.Fatalf("anonymous: %+v", rep)
	}

	// Valid assertion; audience from X-Forwarded-Host, port 443 dropped.
	req = httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9000/orders/1?format=json", nil)
	req.Header.Set("X-Forwarded-Host", "Shop.Example.com:443")
	req.Header.Set("X-Frontdoor-User", "u_123")
	req.Header.Set("Remote-User", "u_123")
	req.Header.Set("X-Other", "not shown")
	req.Header.Set(assertionHeader, tok)
	rep = getJSON(t, h, req)
	if !rep.Assertion.Valid || rep.Assertion.Error != "" || rep.Assertion.Claims["sub"] != "u_123" {
		t.Fatalf("valid: %+v", rep.Assertion)
	}
	if rep.Assertion.Audience != testAud {
		t.Fatalf("audience %q", rep.Assertion.Audience)
	}
	if rep.Headers["X-Frontdoor-User"] != "u_123" || rep.Headers["Remote-User"] != "u_123" {
		t.Fatalf("headers: %v", rep.Headers)
	}
	if _, ok := rep.Headers["X-Other"]; ok {
		t.Fatal("unrelated header shown")
	}
	if shown := rep.Headers[assertionHeader]; shown == "" || strings.Contains(shown, tok) || len(shown) >= len(tok) {
		t.Fatalf("assertion not truncated: %q", shown)
	}

	// Another port of the same host is another audience.
	req.Header.Set("X-Forwarded-Host", "Shop.Example.com:8443")
	if rep = getJSON(t, h, req); rep.Assertion.Valid || rep.Assertion.Audience != testAud+":8443" {
		t.Fatalf("another port: %+v", rep.Assertion)
	}

	// Wrong host: invalid, with an error.
	req = httptest.NewRequest(http.MethodGet, "http://evil.example.com/?format=json", nil)
	req.Header.Set(assertionHeader, tok)
	rep = getJSON(t, h, req)
	if !rep.Assertion.Present || rep.Assertion.Valid || !strings.Contains(rep.Assertion.Error, "audience") {
		t.Fatalf("wrong host: %+v", rep.Assertion)
	}

	// A fixed -aud wins over the request's host.
	h = (&server{verifier: f.v, audience: testAud}).routes()
	rep = getJSON(t, h, req)
	if !rep.Assertion.Valid {
		t.Fatalf("fixed aud: %+v", rep.Assertion)
	}
}

func TestReportHTMLEscapes(t *testing.T) {
	s := &server{verifier: NewVerifier("http://127.0.0.1:1/jwks.json", "", nil)}
	req := httptest.NewRequest(http.MethodGet, "/a", nil)
	req.Header.Set("X-Frontdoor-Email", `<script>alert(1)</script>@example.com`)
	rec := httptest.NewRecorder()
	s.routes().ServeHTTP(rec, req)
	body := rec.Body.String()
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("not escaped: %s", body)
	}
	if !strings.Contains(body, "anonymous visitor") {
		t.Fatal("missing anonymous visitor")
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || rec.Header().Get("Content-Security-Policy") == "" {
		t.Fatalf("headers: %v", rec.Header())
	}
}

func TestExpectedAudience(t *testing.T) {
	s := &server{}
	for _, tc := range []struct{ host, fwd, want string }{
		{"shop.example.com", "", "shop.example.com"},
		{"shop.example.com:8443", "", "shop.example.com:8443"},
		{"shop.example.com:443", "", "shop.example.com"},
		{"127.0.0.1:9000", "shop.example.com", "shop.example.com"},
		{"127.0.0.1:9000", "a.example:443, b.example", "a.example"},
		{"[::1]:9000", "", "[::1]:9000"},
		{"[::1]:443", "", "::1"},
		{"Shop.Example.COM.", "", "shop.example.com"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = tc.host
		if tc.fwd != "" {
			req.Header.Set("X-Forwarded-Host", tc.fwd)
		}
		if got := s.expectedAudience(req); got != tc.want {
			t.Errorf("host %q fwd %q: got %q, want %q", tc.host, tc.fwd, got, tc.want)
		}
	}
}
