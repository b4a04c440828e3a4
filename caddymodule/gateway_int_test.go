package caddymodule

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/frontdoorhq/frontdoor/internal/eml"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// gateway is a real Caddy instance, started from a Caddyfile as an
// operator would, serving real HTTPS on loopback, with a backend that
// records what it receives.
type gateway struct {
	t       testing.TB
	host    string // site host; default shop.test
	port    int
	admin   string
	dir     string
	mailDir string
	logFile string
	roots   *x509.CertPool
	backend *recorder
}

// recorder is the backend: it answers every request with the headers it
// received as JSON and keeps the last request for assertions.
type recorder struct {
	srv         *httptest.Server
	mu          sync.Mutex
	last        http.Header
	lastTrailer http.Header
	hits        int
}

func newRecorder(t testing.TB) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // trailers arrive after the body
		rec.mu.Lock()
		rec.last = r.Header.Clone()
		rec.lastTrailer = r.Trailer.Clone()
		rec.hits++
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"backend": true, "path": r.URL.RequestURI(), "headers": r.Header})
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) lastHeaders() http.Header {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.last
}

func (rec *recorder) lastTrailers() http.Header {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.lastTrailer
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.hits
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freePortBut is freePort, never taken: two free ports asked one after
// the other may be the same (each listener is closed at once), and Caddy
// refuses an https_port that is its http_port.
func freePortBut(t testing.TB, taken int) int {
	for {
		if p := freePort(t); p != taken {
			return p
		}
	}
}

// gatewayOpts shape the Caddyfile.
type gatewayOpts struct {
	global string // extra lines in the global frontdoor block
	site   string // extra lines in the site's frontdoor block
	store  string // store line; default bolt in the test dir
	extra  string // extra site blocks; {port} and {backend} are replaced
	logs   string // lines in the global log block; default "level DEBUG"
	access string // a site access log block (empty: no access log)
	direct string // more directives in the site block
	// caddy is extra Caddy global options (a pki block).
	caddy string
	// limits is the site's limits option; default "limits off": flow
	// tests sign many customers up from one address with a Go client,
	// which the edge defences rightly stop. Defence tests set their own.
	limits string
}

const testCaddyfile = `{
	admin {admin}
	storage file_system {dir}/caddy
	skip_install_trust
	local_certs
	http_port {httpport}
	https_port {port}
	{caddy}
	log {
		output file {log}
		{logs}
	}
	frontdoor {
		{store}
		mailer dir {mail}
		{global}
	}
}

https://shop.test:{port} {
	tls internal
	frontdoor {
		public / /pub/* /static/*
		protect /app/*
		{limits}
		{site}
	}
	{access}
	{direct}
	reverse_proxy {backend}
}
{extra}
`

func (g *gateway) caddyfile(o gatewayOpts) string {
	if o.store == "" {
		o.store = "store bolt " + filepath.Join(g.dir, "frontdoor.db")
	}
	if o.logs == "" {
		o.logs = "level DEBUG"
	}
	if o.limits == "" {
		o.limits = "limits off"
	}
	// Fragments first, so placeholders inside them are replaced too.
	tmpl := strings.NewReplacer("{extra}", o.extra, "{logs}", o.logs, "{access}", o.access, "{direct}", o.direct, "{store}", o.store, "{global}", o.global, "{site}", o.site, "{limits}", o.limits, "{caddy}", o.caddy).Replace(testCaddyfile)
	return strings.NewReplacer(
		"{admin}", g.admin, "{dir}", g.dir, "{httpport}", fmt.Sprint(freePortBut(g.t, g.port)), "{port}", fmt.Sprint(g.port),
		"{log}", g.logFile, "{mail}", g.mailDir,
		"{backend}", g.backend.srv.Listener.Addr().String(),
	).Replace(tmpl)
}

// skipShort skips a test that starts Caddy: -short is the quick run of
// the unit tests alone. Every way this package's tests start a gateway
// (startGateway, startProxiedGateway, buildBinary for the binary) calls
// it first.
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts Caddy")
	}
}

func startGateway(t testing.TB, o gatewayOpts) *gateway {
	t.Helper()
	skipShort(t)
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	g := &gateway{
		t: t, port: freePort(t), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t)), dir: dir,
		mailDir: filepath.Join(dir, "mail"), logFile: filepath.Join(dir, "caddy.log"), backend: newRecorder(t),
	}
	// freePort's port can be taken by another process before Caddy binds
	// it: a first load that finds its ports in use tries new ones.
	for try := 0; ; try++ {
		err := g.tryLoad(o)
		if err == nil {
			break
		}
		if try == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("load: %v", err)
		}
		g.port, g.admin = freePort(t), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	g.waitReady()
	g.waitCertificates(g.caddyfile(o))
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping caddy: %v", err)
		}
	})
	return g
}

// tryLoad adapts and loads a Caddyfile, as load does, and returns what
// went wrong.
func (g *gateway) tryLoad(o gatewayOpts) error {
	cfg, warn, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(g.caddyfile(o)), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return fmt.Errorf("adapt: %v (warnings %v)", err, warn)
	}
	return caddy.Load(cfg, true)
}

// load adapts and loads a Caddyfile, as `frontdoor run` and `frontdoor
// reload` do, then waits until the site answers.
func (g *gateway) load(o gatewayOpts) {
	g.t.Helper()
	if err := g.tryLoad(o); err != nil {
		g.t.Fatalf("load: %v", err)
	}
	g.waitReady()
	g.waitCertificates(g.caddyfile(o))
}

// siteHostRE finds the hosts of a Caddyfile's https site addresses.
var siteHostRE = regexp.MustCompile(`(?m)https://([A-Za-z0-9.-]+):\d+\s*(?:,|\{)`)

// waitCertificates waits until every https site of the Caddyfile has its
// certificate: Caddy obtains them in the background, and a test that
// ended (caddy.Stop) while one was still being issued left certmagic's
// job running into the next test's config (a data race inside Caddy's
// certificate cache).
func (g *gateway) waitCertificates(caddyfile string) {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, m := range siteHostRE.FindAllStringSubmatch(caddyfile, -1) {
		host := m[1]
		for {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", g.port),
				&tls.Config{ServerName: host, RootCAs: g.roots})
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				g.t.Fatalf("no certificate for %s: %v", host, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (g *gateway) waitReady() { g.waitReadyAt("/pub/ready") }

// waitReadyAt polls path until the site answers over TLS with its CA.
func (g *gateway) waitReadyAt(path string) {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if g.roots == nil {
			if pem, err := os.ReadFile(filepath.Join(g.dir, "caddy", "pki", "authorities", "local", "root.crt")); err == nil {
				pool := x509.NewCertPool()
				if pool.AppendCertsFromPEM(pem) {
					g.roots = pool
				}
			}
		}
		if g.roots != nil {
			resp, err := g.newClient().Get(g.url(path))
			if err == nil {
				resp.Body.Close()
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.t.Fatal("gateway did not become ready")
}

// aud is the identity assertion's audience on the test site: its host and
// port.
func (g *gateway) aud() string { return strings.TrimPrefix(g.url(""), "https://") }

func (g *gateway) url(p string) string {
	host := g.host
	if host == "" {
		host = "shop.test"
	}
	return fmt.Sprintf("https://%s:%d%s", host, g.port, p)
}

// newClientH1 is newClient speaking HTTP/1.1 only (for headers HTTP/2
// forbids, such as Connection).
func (g *gateway) newClientH1() *http.Client {
	c := g.newClient()
	tr := c.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	return c
}

// newClient is a browser: a cookie jar, no automatic redirects, every host
// resolved to loopback, trusting only the gateway's own CA.
func (g *gateway) newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: g.roots},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				if port == "443" { // links on an origin without a port reach this node
					port = fmt.Sprint(g.port)
				}
				return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (g *gateway) do(c *http.Client, method, path string, form url.Values, hdr map[string]string) response {
	g.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	target := path
	if strings.HasPrefix(path, "/") {
		target = g.url(path)
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		g.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	// A browser's fingerprint unless the test says otherwise: the edge
	// defences challenge what looks scripted.
	req.Header.Set("User-Agent", browserUA)
	req.Header.Set("Accept-Language", "en-GB,en;q=0.8")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (g *gateway) get(c *http.Client, path string, hdr map[string]string) response {
	return g.do(c, http.MethodGet, path, nil, hdr)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf loads a form page and returns its CSRF token.
func (g *gateway) csrf(c *http.Client, page string) string {
	g.t.Helper()
	r := g.get(c, page, nil)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		g.t.Fatalf("no csrf token on %s (status %d)", page, r.status)
	}
	return m[1]
}

// post submits a form the way a browser does: token from the page first.
func (g *gateway) post(c *http.Client, page string, form url.Values) response {
	g.t.Helper()
	return g.postVia(c, page, page, form)
}

// postVia submits to action a form found on page.
func (g *gateway) postVia(c *http.Client, page, action string, form url.Values) response {
	g.t.Helper()
	form.Set("csrf_token", g.csrf(c, page))
	return g.do(c, http.MethodPost, action, form, nil)
}

// mailLink waits for a mail to `to` whose body holds a link containing
// `needle` and returns the link; the message is removed so the next call
// finds the next one.
func (g *gateway) mailLink(to, needle string) string {
	g.t.Helper()
	re := regexp.MustCompile(`https://[^\s"<>]*` + regexp.QuoteMeta(needle) + `[^\s"<>]*`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(g.mailDir, "*.eml"))
		sort.Strings(files)
		for _, f := range files {
			if strings.HasPrefix(filepath.Base(f), ".") {
				continue // the mailer's temporary file, not yet renamed
			}
			text, rcpt := eml.Read(f)
			if !strings.EqualFold(rcpt, to) {
				continue
			}
			if l := re.FindString(text); l != "" {
				os.Remove(f)
				return l
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatalf("no mail to %s with %q", to, needle)
	return ""
}

const testPassword = "correct horse battery staple"

// browserUA is the User-Agent test clients send.
const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"

// signUp registers, verifies and signs in a new customer; it returns the
// signed-in browser.
func (g *gateway) signUp(email string) *http.Client {
	g.t.Helper()
	c := g.newClient()
	r := g.post(c, "/.frontdoor/register", url.Values{"email": {email}, "password": {testPassword}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") {
		g.t.Fatalf("register: %d %s", r.status, r.body)
	}
	link := g.mailLink(email, "/.frontdoor/verify?token=")
	if r := g.confirmLink(c, link); r.status != http.StatusOK {
		g.t.Fatalf("verify: %d %s", r.status, r.body)
	}
	g.login(c, email, testPassword, "/app/home")
	return c
}

// confirmLink opens a verification link in c and presses its button, as
// a customer does; the answer is the button's.
func (g *gateway) confirmLink(c *http.Client, link string) response {
	g.t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		g.t.Fatalf("verification link %q: %v", link, err)
	}
	return g.postVia(c, link, "/.frontdoor/verify", url.Values{"token": {u.Query().Get("token")}})
}

func (g *gateway) login(c *http.Client, email, password, rd string) response {
	g.t.Helper()
	r := g.post(c, "/.frontdoor/login", url.Values{"email": {email}, "password": {password}, "rd": {rd}})
	if r.status != http.StatusSeeOther {
		g.t.Fatalf("login: %d %s", r.status, r.body)
	}
	return r
}

// sessionCookie returns the browser's session cookie value.
func (g *gateway) sessionCookie(c *http.Client) string {
	u, _ := url.Parse(g.url("/"))
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "__Host-frontdoor" {
			return ck.Value
		}
	}
	return ""
}

// withCookie is a fresh browser holding only the given session cookie.
func (g *gateway) withCookie(value string) *http.Client {
	c := g.newClient()
	u, _ := url.Parse(g.url("/"))
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-frontdoor", Value: value, Path: "/", Secure: true}})
	return c
}

// backendOf returns the pooled backend of the running config.
func backendOf(t testing.TB) *backend {
	t.Helper()
	var b *backend
	backends.Range(func(_, v any) bool {
		b, _ = v.(*backend)
		return b == nil
	})
	if b == nil {
		t.Fatal("no backend in the pool")
	}
	return b
}

var navigate = map[string]string{"Accept": "text/html,application/xhtml+xml"}

// waitStatus polls until f returns want (at most 5 s).
func waitStatus(t *testing.T, f func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	got := 0
	for time.Now().Before(deadline) {
		if got = f(); got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("status %d, want %d", got, want)
}

func urlValues(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// silentSMTP is an SMTP server that accepts connections and never greets,
// so a mailer talking to it is stuck until release. accepted yields each
// connection (put it back to keep it for release).
func silentSMTP(t *testing.T) (addr string, accepted chan net.Conn, release func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c // hold it open, never greet
		}
	}()
	release = func() {
		l.Close()
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	}
	return l.Addr().String(), accepted, release
}

// scenario is one case run against a shared gateway.
type scenario struct {
	name string
	run  func(t *testing.T, g *gateway)
}

// runOnBothStores runs every scenario through one real Caddy on the bolt
// store and one on Redis. Scenarios share the gateway of their store, so
// each must use its own addresses.
func runOnBothStores(t *testing.T, scenarios []scenario) {
	runOnBothStoresWith(t, gatewayOpts{}, scenarios)
}

// runOnBothStoresSite is runOnBothStores with extra lines in the site's
// frontdoor block (see gatewayOpts.site).
func runOnBothStoresSite(t *testing.T, site string, scenarios []scenario) {
	runOnBothStoresWith(t, gatewayOpts{site: site}, scenarios)
}

// runOnBothStoresWith runs the scenarios on a gateway shaped by o, once on
// bolt and once on Redis.
func runOnBothStoresWith(t *testing.T, o gatewayOpts, scenarios []scenario) {
	for _, st := range []string{"bolt", "redis"} {
		t.Run(st, func(t *testing.T) {
			o := o
			if st == "redis" {
				o.store = "store redis " + redistest.Start(t).URL()
			}
			g := startGateway(t, o)
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					// The gateway's helpers fail the test they hold: this one.
					parent := g.t
					g.t = t
					defer func() { g.t = parent }()
					sc.run(t, g)
				})
			}
		})
	}
}

// testClock is a clock a test moves forward instead of sleeping.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

// useClock moves the backend's one clock — sessions, tokens and codes
// (authenticator codes too: they are about time steps), limit windows,
// blocks, challenges, mail dates — with a testClock until the test ends,
// so a test uses as much time as it needs without sleeping.
func useClock(t *testing.T) *testClock {
	t.Helper()
	clk := &testClock{}
	c := backendOf(t).clock
	c.Set(clk.now)
	t.Cleanup(func() { c.Set(nil) })
	return clk
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// alignTo moves the clock just past the start of a window of length
// period (limit windows are fixed), so a test's few minutes stay inside
// one window.
func (c *testClock) alignTo(period time.Duration) {
	now := c.now()
	c.advance(now.Truncate(period).Add(period + time.Second).Sub(now))
}

// shareRoots makes every gateway's client trust every gateway's local CA
// (one browser visiting several nodes).
func shareRoots(t *testing.T, gs ...*gateway) {
	t.Helper()
	roots := x509.NewCertPool()
	for _, g := range gs {
		pem, err := os.ReadFile(filepath.Join(g.dir, "caddy", "pki", "authorities", "local", "root.crt"))
		if err != nil || !roots.AppendCertsFromPEM(pem) {
			t.Fatalf("root CA: %v", err)
		}
	}
	for _, g := range gs {
		g.roots = roots
	}
}
