package benchkit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Browser headers the gateway's bot defence expects of a browser.
var (
	UserAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:143.0) Gecko/20100101 Firefox/143.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
	}
	Languages = []string{"en-US,en;q=0.9", "en-GB,en;q=0.8", "de-DE,de;q=0.9,en;q=0.7", "fr-FR,fr;q=0.9,en;q=0.6", "es-ES,es;q=0.9", "it-IT,it;q=0.9,en;q=0.5"}
)

// Browser is one client: its own cookie jar and connections, and the
// headers a browser sends.
type Browser struct {
	c      *http.Client
	origin string
	ua     string
	lang   string
}

// BrowserOptions says how a Browser connects.
type BrowserOptions struct {
	// Port is the gateway's HTTPS port on 127.0.0.1, reached whatever the
	// host name of Origin.
	Port int
	// Origin is the site's origin, https://host:port.
	Origin string
	// Source is the local address connections leave from (nil: any).
	Source net.IP
	// UA and Lang are the User-Agent and Accept-Language headers.
	UA, Lang string
}

// NewBrowser returns a Browser. It does not follow redirects: callers
// look at the 303 a form answers.
func NewBrowser(o BrowserOptions) *Browser {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{Timeout: 5 * time.Second}
	if o.Source != nil {
		d.LocalAddr = &net.TCPAddr{IP: o.Source}
	}
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port))
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp4", target)
		},
		// Loopback only: the gateway's certificate is from its own
		// internal CA, which this machine does not trust.
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(4)},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     3 * time.Minute,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &Browser{
		c: &http.Client{Jar: jar, Transport: tr, Timeout: 60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		origin: o.Origin, ua: o.UA, lang: o.Lang,
	}
}

// Requests counts every request any Browser sent.
var Requests atomic.Int64

// Close drops the Browser's idle connections.
func (b *Browser) Close() { b.c.CloseIdleConnections() }

// ForgetCookies empties the cookie jar, as a new browser profile would
// have; connections are kept.
func (b *Browser) ForgetCookies() {
	jar, _ := cookiejar.New(nil)
	b.c.Jar = jar
}

// Page is an answer.
type Page struct {
	Status int
	Body   string
	Header http.Header
}

// Do sends a request as the browser would: a form post carries Origin and
// the same-origin fetch metadata.
func (b *Browser) Do(ctx context.Context, method, target string, form url.Values, referer string) (Page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, b.URL(target), body)
	if err != nil {
		return Page{}, err
	}
	h := req.Header
	h.Set("User-Agent", b.ua)
	h.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	h.Set("Accept-Language", b.lang)
	h.Set("Sec-Fetch-Dest", "document")
	h.Set("Sec-Fetch-Mode", "navigate")
	h.Set("Sec-Fetch-User", "?1")
	if form != nil {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		h.Set("Origin", b.origin)
		h.Set("Sec-Fetch-Site", "same-origin")
	} else {
		h.Set("Sec-Fetch-Site", "none")
	}
	if referer != "" {
		h.Set("Referer", referer)
	}
	Requests.Add(1)
	resp, err := b.c.Do(req)
	if err != nil {
		return Page{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Page{}, err
	}
	return Page{Status: resp.StatusCode, Body: string(raw), Header: resp.Header}, nil
}

// Get loads a page.
func (b *Browser) Get(ctx context.Context, path string) (Page, error) {
	return b.Do(ctx, http.MethodGet, path, nil, "")
}

// Post submits a form found at path, as the browser would from that page.
func (b *Browser) Post(ctx context.Context, path string, form url.Values) (Page, error) {
	return b.Do(ctx, http.MethodPost, path, form, b.URL(path))
}

// URL makes path absolute on the origin; absolute URLs are kept.
func (b *Browser) URL(path string) string {
	if strings.HasPrefix(path, "https://") {
		return path
	}
	return b.origin + path
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// CSRFToken returns the CSRF token of the form on an HTML page (a form
// page, or a challenge page posting the form again).
func CSRFToken(html string) (string, bool) {
	m := csrfRE.FindStringSubmatch(html)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// ErrNoCSRF is FormToken's error for a page without a form token.
var ErrNoCSRF = errors.New("benchkit: no csrf_token on the page")

// FormToken loads a form page and returns its CSRF token.
func (b *Browser) FormToken(ctx context.Context, path string) (string, error) {
	p, err := b.Get(ctx, path)
	if err != nil {
		return "", err
	}
	tok, ok := CSRFToken(p.Body)
	if !ok {
		return "", fmt.Errorf("GET %s: %d: %w", path, p.Status, ErrNoCSRF)
	}
	return tok, nil
}

var titleRE = regexp.MustCompile(`<title>([^<]*)</title>`)

// Summary is a page's status and title, for error messages.
func (p Page) Summary() string {
	title := p.Body
	if m := titleRE.FindStringSubmatch(p.Body); m != nil {
		title = m[1]
	}
	if len(title) > 120 {
		title = title[:120]
	}
	if ra := p.Header.Get("Retry-After"); ra != "" {
		title += " (Retry-After " + ra + ")"
	}
	return fmt.Sprintf("%d %s", p.Status, strings.TrimSpace(title))
}

// Paths of Frontdoor's forms under the default prefix.
const (
	LoginPath    = "/.frontdoor/login"
	RegisterPath = "/.frontdoor/register"
)

// Register signs a customer up and follows the verification link the
// gateway mails into mailDir. A 503 (the hashing queue is full) is retried
// after its Retry-After, until ctx ends.
func (b *Browser) Register(ctx context.Context, mailDir, email, password string) error {
	for {
		tok, err := b.FormToken(ctx, RegisterPath)
		if err != nil {
			return err
		}
		p, err := b.Post(ctx, RegisterPath, url.Values{"email": {email}, "password": {password}, "rd": {"/pub/"}, "csrf_token": {tok}})
		if err != nil {
			return err
		}
		if p.Status == http.StatusServiceUnavailable {
			if err := Sleep(ctx, RetryAfter(p, time.Second)); err != nil {
				return err
			}
			continue
		}
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Check your email") {
			return fmt.Errorf("register %s: %s", email, p.Summary())
		}
		break
	}
	link, err := WaitMail(ctx, mailDir, email, "/.frontdoor/verify?token=")
	if err != nil {
		return err
	}
	p, err := b.Get(ctx, link)
	if err != nil {
		return err
	}
	if p.Status != http.StatusOK {
		return fmt.Errorf("verify %s: %s", email, p.Summary())
	}
	return nil
}

// RetryAfter is a page's Retry-After in seconds, or def.
func RetryAfter(p Page, def time.Duration) time.Duration {
	if s, err := strconv.Atoi(p.Header.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return def
}

// Sleep waits d, or less if ctx ends first; it returns ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
