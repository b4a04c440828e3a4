package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/eml"
)

const magicNeedle = "/.frontdoor/magic/verify?token="

// TestMagicLink runs every sign-in link and email code scenario through a
// real Caddy on the bolt store and on Redis. Scenarios share one gateway
// per store; each uses its own addresses.
func TestMagicLink(t *testing.T) {
	runOnBothStores(t, []scenario{
		{"happy path", magicHappyPath},
		{"link reuse", magicReuse},
		{"expired link", magicExpired},
		{"other browser", magicOtherBrowser},
		{"code brute force", magicBruteForce},
		{"same answer for every address", magicSameAnswer},
		{"csrf", magicCSRF},
	})
}

// magicHappyPath: opening the link (twice, as a mail scanner then the
// customer) signs nobody in; the button does, in the browser that asked,
// with amr "email", landing on rd.
func magicHappyPath(t *testing.T, g *gateway) {
	const email = "magic-happy@example.com"
	g.signUp(email)
	c := g.newClient()
	r := magicRequest(t, g, c, email, "/app/landing?x=1")
	var bound *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == magicCookie {
			bound = ck
		}
	}
	if bound == nil || !bound.Secure || !bound.HttpOnly || bound.SameSite != http.SameSiteLaxMode || bound.Path != "/" || bound.MaxAge != 900 {
		t.Fatalf("binding cookie: %q", r.header.Values("Set-Cookie"))
	}
	link, code := magicMail(t, g, email)
	if len(code) != 6 {
		t.Fatalf("code %q", code)
	}
	for range 2 {
		r := g.get(c, link, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, `name="token" value="`+tokenOf(t, link)+`"`) {
			t.Fatalf("confirmation page: %d %s", r.status, r.body)
		}
		if g.sessionCookie(c) != "" {
			t.Fatal("opening the link signed the browser in")
		}
	}
	r = magicConfirm(g, c, link)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/landing?x=1" || g.sessionCookie(c) == "" {
		t.Fatalf("signing in with the link: %d %q", r.status, r.header.Get("Location"))
	}
	wantMagicSession(t, g, c)
}

// magicReuse: a link works once, even in the browser that asked.
func magicReuse(t *testing.T, g *gateway) {
	const email = "magic-reuse@example.com"
	g.signUp(email)
	c := g.newClient()
	magicRequest(t, g, c, email, "/app/x")
	link, _ := magicMail(t, g, email)
	if r := magicConfirm(g, c, link); r.status != http.StatusSeeOther {
		t.Fatalf("first use: %d %s", r.status, r.body)
	}
	for _, b := range []*http.Client{c, g.newClient()} {
		r := magicConfirm(g, b, link)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired or was already used") {
			t.Fatalf("second use: %d %s", r.status, r.body)
		}
	}
}

// magicExpired: a token past its lifetime (stored directly, with this
// browser's binding) signs nobody in; a malformed one is refused up front.
func magicExpired(t *testing.T, g *gateway) {
	const email = "magic-expired@example.com"
	g.signUp(email)
	ctx := context.Background()
	cu, err := backendOf(t).identity.CustomerByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	nonce := authflow.NewNonce()
	payload := identity.MagicLink{Binding: identity.HashToken(nonce), Redirect: "/app/x"}
	secret, tok := identity.NewToken(payload, cu.ID, identity.MagicLinkTTL, time.Now().Add(-identity.MagicLinkTTL-time.Minute))
	if err := backendOf(t).identity.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	b := g.newClient()
	u, _ := url.Parse(g.url("/"))
	b.Jar.SetCookies(u, []*http.Cookie{{Name: magicCookie, Value: nonce, Path: "/", Secure: true}})
	link := g.url(magicNeedle + url.QueryEscape(secret))
	if r := g.get(b, link, nil); r.status != http.StatusOK {
		t.Fatalf("confirmation page of an expired link: %d", r.status)
	}
	r := magicConfirm(g, b, link)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired or was already used") || g.sessionCookie(b) != "" {
		t.Fatalf("expired link: %d %s", r.status, r.body)
	}
	if r := g.get(b, magicNeedle+"not-a-token", nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, "malformed") {
		t.Fatalf("malformed link: %d %s", r.status, r.body)
	}
}

// magicOtherBrowser: the link opened in another browser does not sign it
// in and says to type the code; the browser that asked finishes with it.
func magicOtherBrowser(t *testing.T, g *gateway) {
	const email = "magic-other@example.com"
	g.signUp(email)
	asker, other := g.newClient(), g.newClient()
	magicRequest(t, g, asker, email, "/app/dest")
	link, code := magicMail(t, g, email)
	r := magicConfirm(g, other, link)
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "6-digit code") || strings.Contains(r.body, code) {
		t.Fatalf("link in another browser: %d %s", r.status, r.body)
	}
	if g.sessionCookie(other) != "" {
		t.Fatal("the other browser got a session")
	}
	if r := g.get(other, "/app/x", navigate); r.status != http.StatusFound {
		t.Fatalf("the other browser on a protected route: %d", r.status)
	}
	// The code only works where the request started.
	if r := magicCode(g, other, code); r.status != http.StatusBadRequest || g.sessionCookie(other) != "" {
		t.Fatalf("the code in the other browser: %d %s", r.status, r.body)
	}
	r = magicCode(g, asker, code)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/dest" {
		t.Fatalf("the code where the request started: %d %s", r.status, r.body)
	}
	wantMagicSession(t, g, asker)
	if r := magicCode(g, g.withCookie(""), code); r.status != http.StatusBadRequest {
		t.Fatalf("the code again: %d", r.status)
	}
}

// magicBruteForce: five wrong codes kill the code; the right one after
// that is refused, even with the binding cookie put back.
func magicBruteForce(t *testing.T, g *gateway) {
	const email = "magic-brute@example.com"
	g.signUp(email)
	c := g.newClient()
	magicRequest(t, g, c, email, "/app/x")
	_, code := magicMail(t, g, email)
	n, _ := strconv.Atoi(code)
	wrong := fmt.Sprintf("%06d", (n+1)%1_000_000)
	u, _ := url.Parse(g.url("/"))
	var bound *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == magicCookie {
			bound = &http.Cookie{Name: ck.Name, Value: ck.Value, Path: "/", Secure: true}
		}
	}
	if bound == nil {
		t.Fatal("no binding cookie")
	}
	if r := magicCode(g, c, "12x456"); r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="code-error"`) {
		t.Fatalf("malformed code: %d %s", r.status, r.body)
	}
	for i := 1; i <= identity.EmailCodeMaxAttempts; i++ {
		r := magicCode(g, c, wrong)
		want := fmt.Sprintf("%d tries left", identity.EmailCodeMaxAttempts-i)
		if i == identity.EmailCodeMaxAttempts-1 {
			want = "1 try left"
		}
		if i == identity.EmailCodeMaxAttempts {
			want = "Too many wrong codes"
		}
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, want) {
			t.Fatalf("wrong code %d: %d, want %q in %s", i, r.status, want, r.body)
		}
	}
	c.Jar.SetCookies(u, []*http.Cookie{bound})
	if r := magicCode(g, c, code); r.status != http.StatusBadRequest || g.sessionCookie(c) != "" {
		t.Fatalf("the right code after five wrong ones: %d %s", r.status, r.body)
	}
}

// magicSameAnswer: known, unverified and unknown addresses get the same
// status and page; only the verified account gets mail.
func magicSameAnswer(t *testing.T, g *gateway) {
	const (
		known      = "magic-known@example.com"
		unverified = "magic-unverified@example.com"
		unknown    = "magic-nosuch@example.com"
	)
	g.signUp(known)
	if r := g.post(g.newClient(), "/.frontdoor/register", url.Values{"email": {unverified}, "password": {testPassword}}); r.status != http.StatusOK {
		t.Fatalf("register: %d", r.status)
	}
	c := g.newClient()
	pages := map[string]response{}
	for _, email := range []string{unknown, unverified, known} {
		pages[email] = g.post(c, "/.frontdoor/magic", url.Values{"email": {email}})
	}
	want := pages[known]
	if want.status != http.StatusOK || !strings.Contains(want.body, "Check your email") || !strings.Contains(want.body, known) {
		t.Fatalf("known address: %d %s", want.status, want.body)
	}
	for _, email := range []string{unknown, unverified} {
		got := pages[email]
		if got.status != want.status || strings.ReplaceAll(got.body, email, known) != want.body {
			t.Fatalf("%s: %d, page differs from a known address's:\n%s\n---\n%s", email, got.status, got.body, want.body)
		}
		for _, m := range squatMailsTo(t, g, email) {
			if strings.Contains(m, magicNeedle) {
				t.Fatalf("sign-in mail to %s", email)
			}
		}
	}
	magicMail(t, g, known)
	r := g.post(c, "/.frontdoor/magic", url.Values{"email": {"not an address"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="email-error"`) {
		t.Fatalf("malformed address: %d %s", r.status, r.body)
	}
}

// magicCSRF: the request, the code and the confirmation need a CSRF token.
func magicCSRF(t *testing.T, g *gateway) {
	const email = "magic-csrf@example.com"
	g.signUp(email)
	c := g.newClient()
	if r := g.do(c, http.MethodPost, "/.frontdoor/magic", url.Values{"email": {email}}, nil); r.status != http.StatusForbidden {
		t.Fatalf("request without a CSRF token: %d", r.status)
	}
	magicRequest(t, g, c, email, "/app/x")
	link, code := magicMail(t, g, email)
	if r := g.do(c, http.MethodPost, "/.frontdoor/magic", url.Values{"code": {code}}, nil); r.status != http.StatusForbidden {
		t.Fatalf("code without a CSRF token: %d", r.status)
	}
	if r := g.do(c, http.MethodPost, "/.frontdoor/magic/verify", url.Values{"token": {tokenOf(t, link)}}, nil); r.status != http.StatusForbidden {
		t.Fatalf("confirmation without a CSRF token: %d", r.status)
	}
	if r := magicConfirm(g, c, link); r.status != http.StatusSeeOther {
		t.Fatalf("the link after refused posts: %d %s", r.status, r.body)
	}
}

func magicRequest(t *testing.T, g *gateway, c *http.Client, email, rd string) response {
	t.Helper()
	r := g.post(c, "/.frontdoor/magic", url.Values{"email": {email}, "rd": {rd}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") || !strings.Contains(r.body, `name="code"`) {
		t.Fatalf("magic request for %s: %d %s", email, r.status, r.body)
	}
	return r
}

var (
	magicLinkRE = regexp.MustCompile(`https://[^\s"<>]*` + regexp.QuoteMeta(magicNeedle) + `[^\s"<>]*`)
	magicCodeRE = regexp.MustCompile(`code there: (\d{6})`)
)

// magicMail takes the sign-in mail to `to` out of the mailbox and returns
// its link and code.
func magicMail(t *testing.T, g *gateway, to string) (link, code string) {
	t.Helper()
	squatMailIdle(t)
	files, _ := filepath.Glob(filepath.Join(g.mailDir, "[0-9]*.eml"))
	sort.Strings(files)
	for _, f := range files {
		text, rcpt := eml.Read(f)
		if !strings.EqualFold(rcpt, to) {
			continue
		}
		l, m := magicLinkRE.FindString(text), magicCodeRE.FindStringSubmatch(text)
		if l != "" && m != nil {
			os.Remove(f)
			return l, m[1]
		}
	}
	t.Fatalf("no sign-in mail to %s", to)
	return "", ""
}

func magicConfirm(g *gateway, c *http.Client, link string) response {
	g.t.Helper()
	return g.postVia(c, link, "/.frontdoor/magic/verify", url.Values{"token": {tokenOf(g.t, link)}})
}

func magicCode(g *gateway, c *http.Client, code string) response {
	g.t.Helper()
	return g.post(c, "/.frontdoor/magic", url.Values{"code": {code}})
}

// wantMagicSession checks that the browser reaches a protected route and
// the backend hears it signed in by email link.
func wantMagicSession(t *testing.T, g *gateway, c *http.Client) {
	t.Helper()
	if r := g.get(c, "/app/x", navigate); r.status != http.StatusOK {
		t.Fatalf("protected route after signing in: %d", r.status)
	}
	if amr := g.backend.lastHeaders().Get("X-Frontdoor-AMR"); amr != "email" {
		t.Fatalf("X-Frontdoor-AMR %q, want email", amr)
	}
}
