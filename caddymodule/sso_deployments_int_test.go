package caddymodule

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA writes a root CA certificate and key to dir for both deployments'
// Caddy to issue their sites' certificates from, and for both (and the
// test's browser) to trust: two companies' gateways, each trusting the
// other's public certificates.
func testCA(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Frontdoor test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour), // beyond the intermediate Caddy makes (7 days)
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "root.crt"), filepath.Join(dir, "root.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestSSOAcrossDeployments: the provider and a client site run as two
// deployments with stores of their own (two processes, each its own bolt
// file). The customer signs in at the provider once; the client's
// deployment knows them by their identity at the provider, creating its
// own customer on the first visit; signing out at the provider ends the
// client's session by back-channel logout within 2 s.
func TestSSOAcrossDeployments(t *testing.T) {
	bin := buildBinary(t)
	caCert, caKey, pool := testCA(t, t.TempDir())
	pki := fmt.Sprintf("pki {\n\t\tca local {\n\t\t\troot {\n\t\t\t\tcert %s\n\t\t\t\tkey %s\n\t\t\t\tformat pem_file\n\t\t\t}\n\t\t}\n\t}", caCert, caKey)
	a, b := newProcessGateway(t), newProcessGateway(t)
	t.Cleanup(func() {
		if t.Failed() {
			for _, g := range []*gateway{a, b} {
				logs, _ := os.ReadFile(g.logFile)
				t.Logf("%s log:\n%s", g.dir, logs)
			}
		}
	})
	// Both at localhost, the one name every process resolves (a site on
	// an IP address cannot have passkeys); the browser keeps each origin's
	// cookies apart (originJar), as two registrable domains' would be.
	issuer := fmt.Sprintf("https://localhost:%d", a.port)
	client := fmt.Sprintf("https://localhost:%d", b.port)
	a.runProcess(bin, gatewayOpts{caddy: pki, extra: `
https://localhost:{port} {
	tls internal
	frontdoor {
		public /pub/*
		limits off
		provider {
			client brand {
				redirect_uri ` + client + `/.frontdoor/sso/callback
				secret brand-secret-0123456789
				first_party
				backchannel_logout_uri ` + client + `/.frontdoor/sso/logout
				post_logout_redirect_uri ` + client + `/.frontdoor/sso/signed-out
			}
		}
	}
	reverse_proxy {backend}
}`}, "SSL_CERT_FILE="+caCert)
	b.runProcess(bin, gatewayOpts{caddy: pki, extra: `
https://localhost:{port} {
	tls internal
	frontdoor {
		public /pub/*
		protect /app/*
		limits off
		sso ` + issuer + ` {
			client_id brand
			client_secret brand-secret-0123456789
		}
	}
	reverse_proxy {backend}
}`}, "SSL_CERT_FILE="+caCert)
	a.roots, b.roots = pool, pool
	a.waitReady()
	b.waitReady()
	a.host, b.host = "localhost", "localhost"
	a.waitReady()
	b.waitReady()

	// The customer has an account at the provider's deployment only.
	a.host = "shop.test"
	a.signUp("across@example.com")
	a.host = "localhost"
	c := b.newClient()
	c.Jar = originJar{}
	r, hops := b.walk(t, c, b.url("/app/orders"))
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="password"`) || !strings.HasPrefix(hops[len(hops)-1], "localhost/.frontdoor/login") {
		t.Fatalf("client site, signed out: %d after %v, want the provider's sign-in page", r.status, hops)
	}
	r = a.login(c, "across@example.com", testPassword, loginRD(t, hops, r))
	r, hops = b.walk(t, c, a.url(r.header.Get("Location")))
	if r.status != http.StatusOK || hops[len(hops)-1] != "localhost/app/orders" {
		t.Fatalf("after signing in at the provider: %d after %v\n%.300s", r.status, hops, r.body)
	}
	got := b.backend.lastHeaders()
	if got.Get("X-Frontdoor-Email") != "across@example.com" || got.Get("X-Frontdoor-User") == "" {
		t.Fatalf("client backend got %q / %q", got.Get("X-Frontdoor-User"), got.Get("X-Frontdoor-Email"))
	}
	// Signing out at the provider: its deployment tells the client's.
	logout(t, a, c)
	waitStatus(t, func() int { return b.get(c, "/app/orders", nil).status }, http.StatusUnauthorized)

	// Signed in again; now signing out on the client site ends the
	// provider's session too (its end_session), and comes back.
	r, hops = b.walk(t, c, b.url("/app/orders"))
	r = a.login(c, "across@example.com", testPassword, loginRD(t, hops, r))
	if r, hops = b.walk(t, c, a.url(r.header.Get("Location"))); r.status != http.StatusOK {
		t.Fatalf("signing in again: %d after %v", r.status, hops)
	}
	if st := a.get(c, "/app/x", nil).status; st != http.StatusOK {
		t.Fatalf("provider session: %d", st)
	}
	out := b.postVia(c, "/.frontdoor/logout", "/.frontdoor/logout", url.Values{})
	if out.status != http.StatusSeeOther || !strings.HasPrefix(out.header.Get("Location"), issuer+"/.frontdoor/oauth2/end_session?") {
		t.Fatalf("client sign-out: %d to %q, want the provider's end_session", out.status, out.header.Get("Location"))
	}
	if r, hops = b.walk(t, c, out.header.Get("Location")); r.status != http.StatusOK || hops[len(hops)-1] != "localhost/.frontdoor/sso/signed-out" {
		t.Fatalf("after end_session: %d after %v", r.status, hops)
	}
	if st := a.get(c, "/app/x", nil).status; st != http.StatusUnauthorized {
		t.Fatalf("provider session after signing out on the client: %d", st)
	}
	if st := b.get(c, "/app/orders", nil).status; st != http.StatusUnauthorized {
		t.Fatalf("client session after signing out there: %d", st)
	}
}

// originJar keeps cookies per origin (host and port): the two deployments
// of TestSSOAcrossDeployments share the name localhost, where a browser
// would see two registrable domains.
type originJar map[string]*cookiejar.Jar

func (j originJar) jar(u *url.URL) *cookiejar.Jar {
	if j[u.Host] == nil {
		j[u.Host], _ = cookiejar.New(nil)
	}
	return j[u.Host]
}

func (j originJar) SetCookies(u *url.URL, cookies []*http.Cookie) { j.jar(u).SetCookies(u, cookies) }
func (j originJar) Cookies(u *url.URL) []*http.Cookie             { return j.jar(u).Cookies(u) }
