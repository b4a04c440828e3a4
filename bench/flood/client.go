//go:build linux

package main

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

// browser is one client: its own source address, cookie jar and
// connections, and the headers a browser sends.
type browser struct {
	c      *http.Client
	origin string
	ua     string
	lang   string
}

// newBrowser returns a browser whose connections leave from src and reach
// the gateway on 127.0.0.1:port whatever the host name.
func newBrowser(src net.IP, port int, origin, ua, lang string) *browser {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: src}}
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
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
	return &browser{
		c: &http.Client{Jar: jar, Transport: tr, Timeout: 60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		origin: origin, ua: ua, lang: lang,
	}
}

// requestsSent counts every request any browser sent.
var requestsSent atomic.Int64

func (b *browser) close() { b.c.CloseIdleConnections() }

// page is an answer.
type page struct {
	status     int
	body       string
	retryAfter string
}

func (b *browser) do(ctx context.Context, method, target string, form url.Values, referer string) (page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return page{}, err
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
	requestsSent.Add(1)
	resp, err := b.c.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return page{}, err
	}
	return page{status: resp.StatusCode, body: string(raw), retryAfter: resp.Header.Get("Retry-After")}, nil
}

func (b *browser) get(ctx context.Context, path string) (page, error) {
	return b.do(ctx, http.MethodGet, b.url(path), nil, "")
}

// post submits a form found at path, as the browser would from that page.
func (b *browser) post(ctx context.Context, path string, form url.Values) (page, error) {
	return b.do(ctx, http.MethodPost, b.url(path), form, b.url(path))
}

func (b *browser) url(path string) string {
	if strings.HasPrefix(path, "https://") {
		return path
	}
	return b.origin + path
}

var (
	csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	powRE  = regexp.MustCompile(`data-pow-challenge="([^"]+)" data-pow-bits="([0-9]+)"`)
)

var errNoCSRF = errors.New("no csrf_token on the page")

// formToken loads a form page and returns its CSRF token.
func (b *browser) formToken(ctx context.Context, path string) (string, error) {
	p, err := b.get(ctx, path)
	if err != nil {
		return "", err
	}
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		return "", fmt.Errorf("GET %s: %d: %w", path, p.status, errNoCSRF)
	}
	return m[1], nil
}

// challengeOf returns the proof-of-work challenge a page carries.
func challengeOf(p page) (challenge string, bits int, ok bool) {
	if p.status != http.StatusForbidden {
		return "", 0, false
	}
	m := powRE.FindStringSubmatch(p.body)
	if m == nil {
		return "", 0, false
	}
	bits, err := strconv.Atoi(m[2])
	if err != nil {
		return "", 0, false
	}
	return m[1], bits, true
}

// Answer classes of a sign-in post.
const (
	ans303       = "303"
	ans401       = "401"
	ans429       = "429"
	ansChallenge = "403-challenge"
	ans403       = "403-other"
	ans5xx       = "5xx"
	ansOther     = "other"
	ansError     = "error"
)

var answerOrder = []string{ans303, ans401, ans429, ansChallenge, ans403, ans5xx, ansOther, ansError}

func classify(p page) string {
	switch {
	case p.status == http.StatusSeeOther:
		return ans303
	case p.status == http.StatusUnauthorized:
		return ans401
	case p.status == http.StatusTooManyRequests:
		return ans429
	case p.status == http.StatusForbidden:
		if _, _, ok := challengeOf(p); ok {
			return ansChallenge
		}
		return ans403
	case p.status >= 500:
		return ans5xx
	}
	return ansOther
}
