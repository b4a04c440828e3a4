// Command mint signs a customer in to a running Frontdoor gateway over its
// real HTTP contract and prints the session cookie, "__Host-frontdoor=…",
// for the side-by-side benchmark (bench/peers) to send with wrk.
//
// It does what a browser does: loads the sign-up page for its CSRF cookie
// and token, posts the form with an Origin of the site's configured origin,
// follows the verification link from the .eml the gateway's `mailer dir`
// wrote, then signs in. The gateway listens on plain HTTP on loopback (like
// the peers it is measured against), so cookies are carried by hand: the
// __Host- cookies are Secure, and a cookie jar would not send them over
// http.
//
// Usage: mint -base http://127.0.0.1:PORT -origin https://bench.test -mail DIR [-email bench@example.com]
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
)

const (
	sessionCookie = "__Host-frontdoor"
	csrfCookie    = "__Host-frontdoor-csrf"
)

type client struct {
	base, origin, prefix string
	hc                   *http.Client
	cookies              map[string]string
}

func main() {
	base := flag.String("base", "", "the gateway as reached on loopback, e.g. http://127.0.0.1:8091")
	origin := flag.String("origin", "https://bench.test", "the site's configured origin (frontdoor { origin … })")
	prefix := flag.String("prefix", "/.frontdoor", "Frontdoor's page prefix")
	mailDir := flag.String("mail", "", "the gateway's `mailer dir` directory")
	email := flag.String("email", "bench@example.com", "the customer's address")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long")
	flag.Parse()
	if *base == "" || *mailDir == "" {
		fmt.Fprintln(os.Stderr, "mint: -base and -mail are required")
		os.Exit(2)
	}
	c := &client{
		base: strings.TrimSuffix(*base, "/"), origin: *origin, prefix: *prefix, cookies: map[string]string{},
		hc: &http.Client{Timeout: *timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	cookie, err := c.mint(*email, *mailDir, time.Now().Add(*timeout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mint:", err)
		os.Exit(1)
	}
	fmt.Println(sessionCookie + "=" + cookie)
}

func (c *client) mint(email, mailDir string, deadline time.Time) (string, error) {
	// A fresh random password: at least 15 characters and not on the
	// breached list.
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return "", err
	}
	password := base64.RawURLEncoding.EncodeToString(pw[:])

	if _, err := c.postForm("/register", url.Values{"email": {email}, "password": {password}}, http.StatusOK); err != nil {
		return "", err
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	link, err := benchkit.WaitMail(ctx, mailDir, email, c.prefix+"/verify?token=")
	if err != nil {
		return "", err
	}
	if _, _, err := c.do(http.MethodGet, strings.TrimPrefix(link, c.origin), nil, http.StatusOK); err != nil {
		return "", fmt.Errorf("following the verification link: %w", err)
	}
	resp, err := c.postForm("/login", url.Values{"email": {email}, "password": {password}}, http.StatusSeeOther)
	if err != nil {
		return "", err
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie && ck.Value != "" {
			return ck.Value, nil
		}
	}
	return "", errors.New("sign-in answered 303 without a session cookie")
}

// postForm loads the form page at prefix+path for its CSRF token, then
// posts form to it as a same-origin browser would.
func (c *client) postForm(path string, form url.Values, want int) (*http.Response, error) {
	_, page, err := c.do(http.MethodGet, c.prefix+path, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	tok, ok := benchkit.CSRFToken(page)
	if !ok {
		return nil, fmt.Errorf("GET %s%s: no csrf_token on the page", c.prefix, path)
	}
	form.Set("csrf_token", tok)
	resp, _, err := c.do(http.MethodPost, c.prefix+path, form, want)
	return resp, err
}

// do sends one request with the cookies collected so far and keeps any
// cookies it sets; a status other than want is an error.
func (c *client) do(method, path string, form url.Values, want int) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) frontdoor-bench-mint")
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	req.Header.Set("Accept-Language", "en")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.origin)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	} else {
		req.Header.Set("Sec-Fetch-Site", "none")
	}
	names := make([]string, 0, len(c.cookies))
	for n := range c.cookies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		req.AddCookie(&http.Cookie{Name: n, Value: c.cookies[n]})
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", err
	}
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	if resp.StatusCode != want {
		return nil, "", fmt.Errorf("%s %s: want HTTP %d, got %d: %.300s", method, path, want, resp.StatusCode, raw)
	}
	return resp, string(raw), nil
}
