// Command legacy plays an unmodified legacy backend behind Frontdoor: it only
// reads the identity headers the gateway sets and verifies the signed
// X-Frontdoor-Assertion against the gateway's JWKS.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const assertionHeader = "X-Frontdoor-Assertion"

// extraHeaders are the identity headers of the oauth2-proxy and Authelia presets.
var extraHeaders = []string{"X-Forwarded-User", "X-Forwarded-Email", "Remote-User", "Remote-Email"}

type server struct {
	verifier *Verifier
	audience string // fixed expected audience; empty means derive from the request
}

// report is what the page (HTML or JSON) shows about one request.
type report struct {
	Path      string            `json:"path"`
	Headers   map[string]string `json:"headers"`
	Assertion assertionReport   `json:"assertion"`
}

type assertionReport struct {
	Present  bool           `json:"present"`
	Valid    bool           `json:"valid"`
	Audience string         `json:"audience,omitempty"`
	Error    string         `json:"error,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	jwksURL := flag.String("jwks", "http://localhost:8080/.well-known/frontdoor/jwks.json", "JWKS URL of the Frontdoor gateway")
	aud := flag.String("aud", "", "expected audience (default: host of X-Forwarded-Host, else Host; its port too, unless 443)")
	issuer := flag.String("issuer", "", "expected issuer (optional)")
	flag.Parse()

	s := &server{
		verifier: NewVerifier(*jwksURL, *issuer, &http.Client{Timeout: 5 * time.Second}),
		audience: *aud,
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Printf("legacy backend listening on %s (JWKS %s)", *listen, *jwksURL)
	log.Fatal(srv.ListenAndServe())
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("/", s.serveReport)
	return mux
}

func (s *server) serveReport(w http.ResponseWriter, r *http.Request) {
	rep := s.buildReport(r)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if r.URL.Query().Get("format") == "json" {
		h.Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	if err := pageTmpl.Execute(w, newPageData(rep)); err != nil {
		log.Printf("rendering page: %v", err)
	}
}

func (s *server) buildReport(r *http.Request) report {
	rep := report{Path: r.URL.Path, Headers: map[string]string{}}
	for name, vals := range r.Header {
		if strings.HasPrefix(name, "X-Frontdoor-") {
			rep.Headers[name] = strings.Join(vals, ", ")
		}
	}
	for _, name := range extraHeaders {
		if vals := r.Header.Values(name); len(vals) > 0 {
			rep.Headers[name] = strings.Join(vals, ", ")
		}
	}
	token := r.Header.Get(assertionHeader)
	if _, ok := rep.Headers[assertionHeader]; ok {
		rep.Headers[assertionHeader] = truncate(rep.Headers[assertionHeader])
	}
	if token == "" {
		return rep
	}
	rep.Assertion.Present = true
	rep.Assertion.Audience = s.expectedAudience(r)
	claims, err := s.verifier.Verify(r.Context(), token, rep.Assertion.Audience)
	if err != nil {
		rep.Assertion.Error = err.Error()
		return rep
	}
	rep.Assertion.Valid = true
	rep.Assertion.Claims = claims
	return rep
}

// expectedAudience is the -aud flag, or else the request's host (the first
// X-Forwarded-Host value if present, else Host), lower-cased, with its
// port unless that is 443 — as Frontdoor sets the assertion's aud.
func (s *server) expectedAudience(r *http.Request) string {
	if s.audience != "" {
		return s.audience
	}
	host := r.Host
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		host, _, _ = strings.Cut(fh, ",")
	}
	host = strings.TrimSpace(host)
	port := ""
	if h, p, err := net.SplitHostPort(host); err == nil {
		host, port = h, p
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if port != "" && port != "443" {
		// Frontdoor's audience keeps a port other than 443.
		return net.JoinHostPort(host, port)
	}
	return host
}

// truncate shortens the assertion so the page never echoes a usable token.
func truncate(s string) string {
	const keep = 20
	r := []rune(s)
	if len(r) <= keep {
		return s
	}
	return string(r[:keep]) + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
