package caddymodule

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// oauth2ProxyVersion is the release scripts/deps.sh builds (pinned in
// tools/oauth2-proxy/go.mod).
const oauth2ProxyVersion = "v7.8.1"

// oauth2ProxyBinary finds the oauth2-proxy make deps builds (or
// FRONTDOOR_OAUTH2_PROXY). Like Chromium, it is needed where make test
// sets FRONTDOOR_REQUIRE_BROWSER, and skipped for elsewhere.
func oauth2ProxyBinary(t *testing.T) string {
	t.Helper()
	skipShort(t)
	path := os.Getenv("FRONTDOOR_OAUTH2_PROXY")
	if path == "" {
		path = filepath.Join("..", ".cache", "bin", "oauth2-proxy")
	}
	abs, err := filepath.Abs(path)
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		if os.Getenv("FRONTDOOR_REQUIRE_BROWSER") != "" {
			t.Fatalf("oauth2-proxy %s not found (make deps builds it): %v", oauth2ProxyVersion, err)
		}
		t.Skipf("oauth2-proxy not built; run make deps (%v)", err)
	}
	return abs
}

// o2pCodeRE finds authorization codes in oauth2-proxy's request log.
var o2pCodeRE = regexp.MustCompile(`([?&]code=)[^&\s"]+`)

// startOAuth2Proxy runs oauth2-proxy listening on 127.0.0.1:port with
// args, waits until it answers its ping, and stops it when the test ends,
// showing its output (secrets and codes blanked) if the test failed.
func startOAuth2Proxy(t *testing.T, bin string, port int, redact *strings.Replacer, args ...string) string {
	t.Helper()
	base, _ := startOAuth2ProxyLog(t, bin, port, redact, args...)
	return base
}

// startOAuth2ProxyLog is startOAuth2Proxy, also returning its output so
// far (secrets and codes blanked).
func startOAuth2ProxyLog(t *testing.T, bin string, port int, redact *strings.Replacer, args ...string) (string, func() string) {
	t.Helper()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	out := &syncBuffer{}
	cmd := exec.Command(bin, append([]string{"--http-address=" + base}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	logs := func() string { return o2pCodeRE.ReplaceAllString(redact.Replace(out.String()), "${1}[code]") }
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("oauth2-proxy on port %d output:\n%s", port, logs())
		}
	})
	// It discovers the provider before it listens: a bad issuer or CA
	// ends the process, which the loop notices.
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.Get(base + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, logs
			}
		}
		select {
		case <-exited:
			t.Fatalf("oauth2-proxy exited before it was ready:\n%s", logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("oauth2-proxy not ready after 15 s (%v):\n%s", err, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestProviderOAuth2Proxy: a client no one here wrote, oauth2-proxy
// v7.8.1 as a process with --provider=oidc, signs a customer in through
// the provider by discovery alone (PKCE S256, client_secret, its own
// state and CSRF cookie), and its upstream receives the customer's
// email; signed out of oauth2-proxy alone, the provider session brings
// them back with no prompt. Asking for offline_access, it refreshes the
// session twice with rotating refresh tokens. The provider sits at
// https://localhost, the one name another process resolves; oauth2-proxy
// at http://127.0.0.1 (a loopback redirect URI). An oauth2-proxy without
// PKCE, and one sending a redirect URI the client did not register, get
// no code.
func TestProviderOAuth2Proxy(t *testing.T) {
	bin := oauth2ProxyBinary(t)
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil {
		t.Fatalf("%s --version: %v %s", bin, err, out)
	} else {
		t.Logf("%s", strings.TrimSpace(string(out)))
	}
	secret, cookieSecret := randomHex(t, 16), randomHex(t, 16)
	t.Setenv("FD_TEST_O2P_SECRET", secret)
	redact := strings.NewReplacer(secret, "[client secret]", cookieSecret, "[cookie secret]")
	port, refreshPort, plainPort, strayPort := freePort(t), freePort(t), freePort(t), freePort(t)
	callback := fmt.Sprintf("http://127.0.0.1:%d/oauth2/callback", port)
	refreshCallback := fmt.Sprintf("http://127.0.0.1:%d/oauth2/callback", refreshPort)
	plainCallback := fmt.Sprintf("http://127.0.0.1:%d/oauth2/callback", plainPort)
	g := startGateway(t, gatewayOpts{extra: `
https://localhost:{port} {
	tls internal
	frontdoor {
		public /pub/*
		limits off
		provider {
			client o2p {
				redirect_uri ` + callback + ` ` + refreshCallback + ` ` + plainCallback + `
				secret {env.FD_TEST_O2P_SECRET}
				scopes openid email profile offline_access
				first_party
			}
		}
	}
	reverse_proxy {backend}
}`})
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := os.ReadFile(g.logFile)
			t.Logf("caddy log:\n%s", redact.Replace(string(logs)))
		}
	})
	op := g.on("localhost")
	// The flags it needs against this provider (the README's).
	args := func(redirect string, upstream *recorder) []string {
		return []string{
			"--provider=oidc",
			"--oidc-issuer-url=" + op.url(""),
			// Caddy's local CA, which signed the provider's certificate.
			"--provider-ca-file=" + filepath.Join(g.dir, "caddy", "pki", "authorities", "local", "root.crt"),
			"--client-id=o2p",
			"--client-secret=" + secret,
			"--code-challenge-method=S256",
			"--redirect-url=" + redirect,
			"--cookie-secret=" + cookieSecret,
			"--cookie-secure=false",
			"--email-domain=*",
			"--upstream=" + upstream.srv.URL + "/",
			"--skip-provider-button",
			"--pass-user-headers",
			"--silence-ping-logging",
		}
	}
	upstream := newRecorder(t)
	proxy := startOAuth2Proxy(t, bin, port, redact, args(callback, upstream)...)

	const email = "o2p-ann@example.com"
	g.signUp(email)
	c := g.newClient()
	c.Jar = originJar{} // cookies per origin: oauth2-proxy's apart from the provider's

	// Signed out everywhere: oauth2-proxy sends the browser to the
	// provider's authorization endpoint, by discovery.
	r := g.get(c, proxy+"/app/hello", navigate)
	auth, err := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusFound || err != nil || auth.Host != fmt.Sprintf("localhost:%d", g.port) || auth.Path != "/.frontdoor/oauth2/authorize" {
		t.Fatalf("oauth2-proxy, signed out: %d to %q, want the provider's authorization endpoint", r.status, r.header.Get("Location"))
	}
	q := auth.Query()
	if q.Get("client_id") != "o2p" || q.Get("redirect_uri") != callback || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		t.Fatalf("authorization request %v", q)
	}
	// The customer signs in at the provider and comes back through
	// oauth2-proxy's callback to the page they asked for.
	r, hops := op.walk(t, c, auth.String())
	if r.status != http.StatusOK || !strings.HasPrefix(hops[len(hops)-1], "localhost/.frontdoor/login") {
		t.Fatalf("provider, signed out: %d after %v, want its sign-in page", r.status, hops)
	}
	r = op.login(c, email, testPassword, loginRD(t, hops, r))
	r, hops = op.walk(t, c, op.url(r.header.Get("Location")))
	if r.status != http.StatusOK || !slices.Contains(hops, "127.0.0.1/oauth2/callback") || hops[len(hops)-1] != "127.0.0.1/app/hello" {
		t.Fatalf("after signing in at the provider: %d after %v\n%.300s", r.status, hops, r.body)
	}
	h := upstream.lastHeaders()
	if got := h.Get("X-Forwarded-Email"); got != email {
		t.Fatalf("upstream X-Forwarded-Email %q, want %q (headers %v)", got, email, h)
	}
	if h.Get("X-Forwarded-User") == "" {
		t.Errorf("upstream has no X-Forwarded-User")
	}
	// oauth2-proxy's session stands on its own: the next request goes
	// straight through.
	hits := upstream.count()
	if r := g.get(c, proxy+"/app/again", navigate); r.status != http.StatusOK || upstream.count() != hits+1 {
		t.Fatalf("second request through oauth2-proxy: %d", r.status)
	}

	// Signed out of oauth2-proxy alone: the provider session answers at
	// once, no sign-in page.
	delete(c.Jar.(originJar), fmt.Sprintf("127.0.0.1:%d", port))
	r, hops = op.walk(t, c, proxy+"/app/back")
	if r.status != http.StatusOK || hops[len(hops)-1] != "127.0.0.1/app/back" || slices.ContainsFunc(hops, func(h string) bool { return strings.Contains(h, "/.frontdoor/login") }) {
		t.Fatalf("signed in at the provider: %d after %v", r.status, hops)
	}
	if got := upstream.lastHeaders().Get("X-Forwarded-Email"); got != email {
		t.Fatalf("upstream X-Forwarded-Email %q after the second sign-in", got)
	}

	// With offline_access and --cookie-refresh, oauth2-proxy redeems the
	// refresh token once its session is older than a second, and again a
	// second later with the rotated one (the spent one would be refused
	// and end the family): each time the upstream sees a new access token.
	refreshUp := newRecorder(t)
	refresher, refreshLog := startOAuth2ProxyLog(t, bin, refreshPort, redact, append(args(refreshCallback, refreshUp),
		"--scope=openid email profile offline_access", "--cookie-refresh=1s", "--pass-access-token")...)
	r, hops = op.walk(t, c, refresher+"/app/r")
	if r.status != http.StatusOK || hops[len(hops)-1] != "127.0.0.1/app/r" {
		t.Fatalf("oauth2-proxy asking for offline_access: %d after %v", r.status, hops)
	}
	seen := []string{refreshUp.lastHeaders().Get("X-Forwarded-Access-Token")}
	for want := 1; want <= 2; want++ {
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(refreshLog(), "Refreshing session") < want {
			if time.Now().After(deadline) {
				t.Fatalf("oauth2-proxy did not refresh the session (%d)", want)
			}
			if r := g.get(c, refresher+"/app/r", navigate); r.status != http.StatusOK {
				t.Fatalf("oauth2-proxy while refreshing: %d", r.status)
			}
			time.Sleep(50 * time.Millisecond)
		}
		at := refreshUp.lastHeaders().Get("X-Forwarded-Access-Token")
		if at == "" || slices.Contains(seen, at) {
			t.Fatalf("refresh %d: the upstream's access token is not a new one", want)
		}
		seen = append(seen, at)
	}
	if strings.Contains(refreshLog(), "Unable to refresh") || refreshUp.lastHeaders().Get("X-Forwarded-Email") != email {
		t.Fatalf("refresh through oauth2-proxy failed: upstream email %q", refreshUp.lastHeaders().Get("X-Forwarded-Email"))
	}

	// Without --code-challenge-method oauth2-proxy sends no PKCE (it only
	// warns), and the provider answers invalid_request, no code.
	plainUp := newRecorder(t)
	plainArgs := slices.DeleteFunc(args(plainCallback, plainUp), func(a string) bool { return strings.HasPrefix(a, "--code-challenge-method") })
	plain := startOAuth2Proxy(t, bin, plainPort, redact, plainArgs...)
	r = g.get(c, plain+"/app/hello", navigate)
	auth, err = url.Parse(r.header.Get("Location"))
	if err != nil || auth.Path != "/.frontdoor/oauth2/authorize" || auth.Query().Has("code_challenge") {
		t.Fatalf("oauth2-proxy without --code-challenge-method: %d to %q", r.status, r.header.Get("Location"))
	}
	back := op.follow(t, c, auth.String())
	if !strings.HasPrefix(back.String(), plainCallback+"?") || back.Query().Get("error") != "invalid_request" || back.Query().Has("code") {
		t.Fatalf("authorization request without PKCE answered %s, want invalid_request", back.Redacted())
	}
	if r := g.get(c, back.String(), navigate); r.status < 400 || plainUp.count() != 0 {
		t.Fatalf("oauth2-proxy's callback with the refusal: %d, upstream hits %d", r.status, plainUp.count())
	}

	// The same client from another address: the provider refuses its
	// redirect URI and issues no code; the browser stays on the provider.
	strayUp := newRecorder(t)
	stray := startOAuth2Proxy(t, bin, strayPort, redact, args(fmt.Sprintf("http://127.0.0.1:%d/oauth2/callback", strayPort), strayUp)...)
	r, hops = op.walk(t, c, stray+"/app/hello")
	if r.status < 400 || slices.Contains(hops, "127.0.0.1/oauth2/callback") || strayUp.count() != 0 {
		t.Fatalf("unregistered redirect URI: %d after %v, want a refusal at the provider", r.status, hops)
	}
	if !strings.HasPrefix(hops[len(hops)-1], "localhost/.frontdoor/oauth2/authorize") {
		t.Fatalf("unregistered redirect URI: the refusal came from %v, want the provider's authorization endpoint", hops)
	}
}
