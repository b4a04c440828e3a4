package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/frontdoorhq/frontdoor/internal/oidctest"
)

// axeVersion is the axe-core release scripts/deps.sh installs (keep the
// two in step).
const axeVersion = "4.10.3"

// axeSource reads axe-core from the git-ignored cache that make deps
// fills (or FRONTDOOR_AXE_JS). Like Chromium, it is needed where make test
// sets FRONTDOOR_REQUIRE_BROWSER, and skipped for elsewhere.
func axeSource(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts Chromium")
	}
	path := os.Getenv("FRONTDOOR_AXE_JS")
	if path == "" {
		path = filepath.Join("..", ".cache", "axe-core", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("FRONTDOOR_REQUIRE_BROWSER") != "" {
			t.Fatalf("axe-core %s not found (make deps installs it): %v", axeVersion, err)
		}
		t.Skipf("axe-core not installed; run make deps (%v)", err)
	}
	return string(b)
}

// axeViolation is one failed rule of an axe-core run.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeRun runs axe-core's default rules (WCAG 2.0, 2.1 and 2.2 A and AA,
// and its best practices) on the whole document. The page's CSP allows
// no inline script: axe is evaluated through the DevTools protocol, which
// the CSP does not govern (the page's own scripts stay bound by it).
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`

// a11yWidths are the viewport widths every page is checked at: a small
// phone (WCAG 1.4.10 reflow) and a desktop.
var a11yWidths = []int64{320, 1280}

// checkA11y runs axe-core on the page the browser shows, at every width,
// and the reflow check at 320 px; it reports each violation with its
// rule, impact and the elements it found.
func checkA11y(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	for _, w := range a11yWidths {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 800)); err != nil {
			t.Fatalf("%s: viewport %d: %v", page, w, err)
		}
		if dir := os.Getenv("FRONTDOOR_A11Y_SHOTS"); dir != "" {
			// For a person's review of the look: FRONTDOOR_A11Y_SHOTS=dir.
			if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
				name := strings.Map(func(r rune) rune {
					if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
						return r
					}
					return '-'
				}, page)
				_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644)
			}
		}
		if w == 320 {
			problems, err := chromedp.Run(ctx, chromedp.Evaluate[string](fitsAndLabelled))
			if err != nil || problems != "" {
				t.Errorf("%s at %d px: %s %v", page, w, problems, err)
			}
		}
		loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== "undefined"`))
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		if !loaded {
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](axe+"\n;true")); err != nil {
				t.Fatalf("%s: injecting axe-core: %v", page, err)
			}
		}
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s at %d px: axe.run: %v", page, w, err)
		}
		var vs []axeViolation
		if err := json.Unmarshal([]byte(out), &vs); err != nil {
			t.Fatalf("%s: axe result %q: %v", page, out, err)
		}
		for _, v := range vs {
			for _, n := range v.Nodes {
				t.Errorf("%s at %d px: axe %s (%s): %s — %v\n\t%s", page, w, v.ID, v.Impact, v.Help, n.Target, strings.ReplaceAll(n.Summary, "\n", "\n\t"))
			}
		}
	}
}

// a11yTour is the state the rows of an accessibility tour share: one
// gateway, one browser, one customer on their way through the pages.
type a11yTour struct {
	t      *testing.T
	g      *gateway
	ctx    context.Context
	clk    *testClock
	email  string
	secret string // the customer's authenticator key once set up
	// provider is the tour's OpenID Provider (TestBrowserAccessibility).
	provider *oidctest.Fake
}

func (s *a11yTour) run(steps ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	if err := chromedp.Do(s.ctx, steps...); err != nil {
		s.t.Fatal(err)
	}
}

// open navigates to a path of the site.
func (s *a11yTour) open(path string) {
	s.t.Helper()
	s.run(chromedp.Navigate(s.g.url(path)))
}

// fill sets a field's value (the keyboard test types; this one checks
// pages).
func (s *a11yTour) fill(sel, value string) {
	s.t.Helper()
	s.run(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SetValue(chromedp.CSS(sel), value))
}

// press clicks a button and waits for the page it leads to.
func (s *a11yTour) press(sel string) {
	s.t.Helper()
	before, _ := chromedp.Run(s.ctx, chromedp.Evaluate[string](`String(performance.timeOrigin)`))
	s.run(chromedp.Click(chromedp.CSS(sel)))
	s.waitNewPage(before)
}

// waitNewPage waits until the browser shows a document other than the one
// whose time origin was before, fully loaded.
func (s *a11yTour) waitNewPage(before string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		now, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? String(performance.timeOrigin) : ""`))
		if err == nil && now != "" && now != before {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatal("the form post led to no new page")
}

// opener opens a path: a row for a page reached by a link.
func opener(path string) func(*a11yTour) {
	return func(s *a11yTour) { s.open(path) }
}

// a11yPage is one page of the tour: reach drives the browser there from
// where the row before left it; h1 is the heading the page must show.
type a11yPage struct {
	name  string
	reach func(s *a11yTour)
	h1    string
}

// a11yPages is every page Frontdoor serves to a browser, in the order a
// customer meets them. A new page is one row here (a GET page: opener).
var a11yPages = []a11yPage{
	{"sign-in", opener("/.frontdoor/login?rd=%2Fapp%2Forders"), "Sign in"},
	{"sign-in with an error", func(s *a11yTour) {
		s.fill("#email", "nobody@example.com")
		s.fill("#password", "not the password")
		s.press("form[action$='/login'] button[type=submit]")
	}, "Sign in"},
	{"sign-up", opener("/.frontdoor/register"), "Create your account"},
	{"sign-up with field errors", func(s *a11yTour) {
		s.fill("#email", "not an address")
		s.fill("#password", "short")
		s.press("form[action$='/register'] button[type=submit]:not([name])")
	}, "Create your account"},
	{"check your email", func(s *a11yTour) {
		s.fill("#email", s.email)
		s.fill("#password", testPassword)
		s.press("form[action$='/register'] button[type=submit]:not([name])")
	}, "Check your email"},
	{"confirm your email", func(s *a11yTour) {
		s.run(chromedp.Navigate(s.g.mailLink(s.email, "/.frontdoor/verify?token=")))
	}, "Confirm your email"},
	{"email confirmed", func(s *a11yTour) { s.press("#confirm-email") }, "Email confirmed"},
	{"expired verification link", opener("/.frontdoor/verify?token=expired"), "Confirm your email"},
	{"verification in another browser (choose a password)", func(s *a11yTour) {
		c := s.g.newClient()
		s.g.post(c, "/.frontdoor/register", urlValues("email", "other-browser@example.com", "password", testPassword))
		s.run(chromedp.Navigate(s.g.mailLink("other-browser@example.com", "/.frontdoor/verify?token=")))
	}, "Confirm your email"},
	{"verification in another browser: the password form", func(s *a11yTour) {
		s.press("#confirm-email")
		s.run(chromedp.WaitVisible(chromedp.CSS("#password_confirm")))
	}, "Confirm your email"},
	{"passkey sign-up verification", func(s *a11yTour) {
		c := s.g.newClient()
		s.g.post(c, "/.frontdoor/register", urlValues("email", "passkey-first@example.com", "method", "passkey"))
		s.run(chromedp.Navigate(s.g.mailLink("passkey-first@example.com", "/.frontdoor/verify?token=")))
	}, "Confirm your email"},
	{"email link", opener("/.frontdoor/magic"), "Sign in with email"},
	{"email link: code", func(s *a11yTour) {
		s.fill("#email", s.email)
		s.press("form[action$='/magic'] button[type=submit]")
	}, "Check your email"},
	{"email link: wrong code", func(s *a11yTour) {
		s.fill("#code", "000000")
		s.press("form[action$='/magic'] button[type=submit]")
	}, "Check your email"},
	{"email link opened", func(s *a11yTour) {
		s.run(chromedp.Navigate(s.g.mailLink(s.email, "/.frontdoor/magic/verify?token=")))
	}, "Finish signing in"},
	{"reset", opener("/.frontdoor/reset"), "Reset your password"},
	{"reset sent", func(s *a11yTour) {
		s.fill("#email", s.email)
		s.press("form[action$='/reset'] button[type=submit]")
	}, "Check your email"},
	{"reset: new password", func(s *a11yTour) {
		s.run(chromedp.Navigate(s.g.mailLink(s.email, "/.frontdoor/reset/confirm?token=")))
	}, "Choose a new password"},
	{"reset: new password with errors", func(s *a11yTour) {
		s.fill("#password", "short")
		s.fill("#password_confirm", "other")
		s.press("form[action$='/reset/confirm'] button[type=submit]")
	}, "Choose a new password"},
	{"provider sign-in for an existing address", func(s *a11yTour) {
		// The provider vouches for the customer's address: linking waits
		// for the account's own sign-in.
		s.open("/.frontdoor/oidc/fake?rd=%2Fapp%2Flinked")
	}, "Link your account"},
	{"provider link: confirm", func(s *a11yTour) {
		s.press("a.button")
		s.fill("#password", testPassword)
		s.press("form[action$='/login'] button[type=submit]")
	}, "Link your account"},
	{"account with a linked provider", func(s *a11yTour) {
		s.press("form[action$='/oidc/link'] button[type=submit]")
		s.open("/.frontdoor/account")
	}, "Your account"},
	{"authenticator set-up", func(s *a11yTour) { s.press("#add-totp") }, "Set up an authenticator app"},
	{"authenticator set-up with a wrong code", func(s *a11yTour) {
		secret, err := chromedp.Run(s.ctx, chromedp.Text(chromedp.CSS("code.secret")))
		if err != nil {
			s.t.Fatal(err)
		}
		s.secret = secret
		s.fill("#code", "000000")
		s.press("form[action$='/totp/confirm'] button[type=submit]")
	}, "Set up an authenticator app"},
	{"recovery codes", func(s *a11yTour) {
		s.fill("#code", s.clk.code(s.t, s.secret, 0))
		s.press("form[action$='/totp/confirm'] button[type=submit]")
	}, "Save your recovery codes"},
	{"account with a second factor", opener("/.frontdoor/account"), "Your account"},
	// French, chosen with the switcher at the foot of the page (a link:
	// no script needed), then English again.
	{"account in French", func(s *a11yTour) { s.press("nav.langs a[hreflang=fr]") }, "Votre compte"},
	{"sign-in in French", opener("/.frontdoor/login?rd=%2Fapp%2Forders"), "Connexion"},
	{"sign-up in French with field errors", func(s *a11yTour) {
		s.open("/.frontdoor/register")
		s.fill("#email", "pas une adresse")
		s.fill("#password", "court")
		s.press("form[action$='/register'] button[type=submit]:not([name])")
	}, "Créez votre compte"},
	{"reset in French", opener("/.frontdoor/reset"), "Réinitialisez votre mot de passe"},
	{"back to English", func(s *a11yTour) { s.press("nav.langs a[hreflang=en]") }, "Reset your password"},
	{"sign out", opener("/.frontdoor/logout"), "Sign out"},
	{"signed out", func(s *a11yTour) { s.press("form[action$='/logout'] button[type=submit]") }, "Signed out"},
	{"second factor", func(s *a11yTour) {
		s.open("/.frontdoor/login?rd=%2Fapp%2Fvault%2Fx")
		s.fill("#email", s.email)
		s.fill("#password", testPassword)
		s.press("form[action$='/login'] button[type=submit]")
	}, "Two-step verification"},
	{"second factor with a wrong code", func(s *a11yTour) {
		s.fill("#code", "000000")
		s.press("form[action$='/mfa'] button[type=submit]")
	}, "Two-step verification"},
	{"step-up", func(s *a11yTour) {
		// A remembered device skips the second step at sign-in, never
		// at a step-up.
		s.clk.advance(30 * time.Second)
		s.run(chromedp.Click(chromedp.CSS("#remember")))
		s.fill("#code", s.clk.code(s.t, s.secret, 0))
		s.press("form[action$='/mfa'] button[type=submit]")
		s.open("/.frontdoor/logout")
		s.press("form[action$='/logout'] button[type=submit]")
		s.open("/.frontdoor/login?rd=%2Fapp%2Fhome")
		s.fill("#email", s.email)
		s.fill("#password", testPassword)
		s.press("form[action$='/login'] button[type=submit]")
		s.open("/app/vault/x")
	}, "Two-step verification"},
	{"not found", opener("/.frontdoor/no-such-page"), "Page not found"},
	{"method not allowed", opener("/.frontdoor/account/totp"), "Not allowed"},
	{"provider link, nothing pending", opener("/.frontdoor/oidc/link"), "Link your account"},
	{"store unreachable", func(s *a11yTour) {
		storeFailing.Store(true)
		defer storeFailing.Store(false)
		s.open("/.frontdoor/account")
	}, "Temporarily unavailable"},
	{"passkey-first sign-up: confirm", func(s *a11yTour) {
		s.open("/.frontdoor/logout")
		s.press("form[action$='/logout'] button[type=submit]")
		s.open("/.frontdoor/register")
		s.fill("#email", "pia@example.com")
		s.press("#passkey-signup")
		s.run(chromedp.Navigate(s.g.mailLink("pia@example.com", "/.frontdoor/verify?token=")))
	}, "Confirm your email"},
	{"account: create your passkey", func(s *a11yTour) { s.press("#confirm-email") }, "Your account"},
	{"account with a passkey", func(s *a11yTour) { s.press("#add-passkey") }, "Your account"},
	{"step-up with a passkey", func(s *a11yTour) {
		s.press("form[action$='/account/passkey/remove'] button[type=submit]")
	}, "Two-step verification"},
	{"step-up done: send again", func(s *a11yTour) { s.press("#use-passkey") }, "Verified"},
	{"remove the last passkey", func(s *a11yTour) {
		s.press("a.button")
		s.press("form[action$='/account/passkey/remove'] button[type=submit]")
	}, "Remove your last passkey?"},
	{"form expired", func(s *a11yTour) {
		s.open("/.frontdoor/reset")
		if _, err := chromedp.Call(s.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			s.t.Fatal(err)
		}
		s.fill("#email", s.email)
		s.press("form[action$='/reset'] button[type=submit]")
	}, "Please try again"},
	{"email-link sign-up sent", func(s *a11yTour) {
		s.open("/.frontdoor/register")
		s.fill("#email", "eli@example.com")
		s.press("#email-signup")
	}, "Check your email"},
	{"email-link sign-up confirmed in another browser", func(s *a11yTour) {
		if _, err := chromedp.Call(s.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			s.t.Fatal(err)
		}
		s.run(chromedp.Navigate(s.g.mailLink("eli@example.com", "/.frontdoor/verify?token=")))
		s.press("#confirm-email")
	}, "Email confirmed"},
	{"provider sign-up: every consent purpose", func(s *a11yTour) {
		s.provider.SetUser(oidctest.User{Subject: "neo-1", Email: "neo@example.com", EmailVerified: true})
		s.open("/.frontdoor/oidc/fake?rd=%2Fapp%2Fhome")
	}, "Before you continue"},
}

// TestBrowserAccessibility: every page in a11yPages passes axe-core with no
// violation in real Chromium at 320 and 1280 px, and fits 320 px without
// scrolling sideways.
func TestBrowserAccessibility(t *testing.T) {
	axe := axeSource(t)
	const email = "ada@example.com"
	provider := oidctest.NewFake(t, "fd", "secret")
	provider.SetUser(oidctest.User{Subject: "ada-1", Email: email, EmailVerified: true})
	g := startGateway(t, gatewayOpts{
		store: "store faulty {dir}/frontdoor.db",
		// Optional purposes only: the sign-up form and the provider
		// sign-up's prompt ask, and nothing stops the tour's customers.
		global: oidcBlock("fake", provider.Issuer, "fd", "secret", "\t\t\tlabel \"Continue with Fake\"\n") +
			"consent {\n\t\t\tpurpose news {\n\t\t\t\ttitle \"News by email\"\n\t\t\t\ttext \"At most one email a week.\"\n\t\t\t\tlink https://shop.example.com/news\n\t\t\t}\n\t\t}",
		site: "require /app/vault/* {\n\t\t\taal aal2\n\t\t}",
	})
	s := &a11yTour{t: t, g: g, ctx: newBrowser(t, g), clk: useClock(t), email: email, provider: provider}
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Minute)
	defer cancel()
	s.ctx = ctx
	// A platform authenticator for the passkey pages (as in
	// TestBrowserPasskey).
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	}); err != nil {
		t.Fatal(err)
	}
	s.tour(axe, a11yPages)
}

// TestBrowserAccessibilityDefence: the pages the edge defences show — a
// sign-in form that asks for a proof of work, the challenge page of a
// busy route, and too many attempts (429) — pass axe-core too. The
// solver script is blocked so the pages stay for the check (they say
// what they are waiting for).
func TestBrowserAccessibilityDefence(t *testing.T) {
	axe := axeSource(t)
	g := startGateway(t, gatewayOpts{limits: "limits {\n\t\t\tlogin ip 3/1m\n\t\t\tautomation challenge\n\t\t}\n\t\tchallenge /pub/sale /pub/sale/*"})
	s := &a11yTour{t: t, g: g, ctx: newBrowser(t, g), email: "bo@example.com"}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	s.ctx = ctx
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
		URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/.frontdoor/static/pow-*", Block: true}},
	}); err != nil {
		t.Fatal(err)
	}
	rows := []a11yPage{
		{"challenge page", opener("/pub/sale/item"), "Just a moment"},
		{"sign-in with a proof of work", func(s *a11yTour) {
			s.open("/.frontdoor/login")
			s.fill("#email", s.email)
			s.fill("#password", "wrong password")
			s.press("form[action$='/login'] button[type=submit]")
			if n, _ := chromedp.Run(s.ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-pow-challenge]").length`)); n != 1 {
				s.t.Fatal("the sign-in form asks for no proof of work")
			}
		}, "Sign in"},
		{"too many attempts", func(s *a11yTour) {
			// Another browser on the same address uses up its attempts.
			// The limit counts in one-minute windows: should one end
			// between the posts (a slow machine), the browser tries again.
			c := s.g.newClient()
			for range 5 {
				for range 3 {
					s.g.post(c, "/.frontdoor/login", loginForm(s.email, "wrong password"))
				}
				s.open("/.frontdoor/login")
				s.fill("#email", s.email)
				s.fill("#password", "wrong password")
				s.press("form[action$='/login'] button[type=submit]")
				if h1, _ := chromedp.Run(s.ctx, chromedp.Evaluate[string](`document.querySelector("h1")?.textContent ?? ""`)); h1 == "Too many attempts" {
					return
				}
			}
		}, "Too many attempts"},
	}
	s.tour(axe, rows)
}

// TestBrowserAccessibilityPrivacy: the pages of a branded site with
// consent purposes and profile fields — sign-up with its checkboxes,
// the consent and profile prompts, the account centre with consents and
// profile, email change, deletion — pass axe-core too.
func TestBrowserAccessibilityPrivacy(t *testing.T) {
	axe := axeSource(t)
	const email = "pat@example.com"
	g := startGateway(t, gatewayOpts{
		global: consentGlobal + "\n\t\t" + profileGlobal,
		site: "brand \"Shop\" {\n\t\t\tlogo /static/logo.svg\n\t\t\tcolour \"#7a1fa2\"\n\t\t}\n\t\tconsent terms marketing\n\t\tprofile name" +
			"\n\t\trequire /app/offers/* {\n\t\t\tconsent marketing\n\t\t}\n\t\trequire /app/checkout/* {\n\t\t\tprofile name phone\n\t\t}" +
			"\n\t\trequire /app/members/* {\n\t\t\trole member\n\t\t}\n\t\tprotect /api/* {\n\t\t\taccept session api_key\n\t\t}" +
			"\n\t\tprovider {\n\t\t\tclient partner {\n\t\t\t\tname \"Partner app\"\n\t\t\t\tredirect_uri https://shop.test:{port}/pub/cb\n\t\t\t\tsecret partner-secret\n\t\t\t}\n\t\t\tclient tv {\n\t\t\t\tname \"Living-room TV\"\n\t\t\t\tgrant device_code\n\t\t\t}" +
			"\n\t\t\tclient helper {\n\t\t\t\tname \"Order Helper\"\n\t\t\t\tagent\n\t\t\t\tredirect_uri https://shop.test:{port}/pub/cb\n\t\t\t\tsecret helper-secret\n\t\t\t}\n\t\t}",
	})
	s := &a11yTour{t: t, g: g, ctx: newBrowser(t, g), email: email}
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Minute)
	defer cancel()
	s.ctx = ctx
	rows := []a11yPage{
		{"branded sign-in", opener("/.frontdoor/login"), "Sign in to Shop"},
		{"branded sign-up with purposes", opener("/.frontdoor/register"), "Create your Shop account"},
		{"sign-up without the required purpose", func(s *a11yTour) {
			s.fill("#email", s.email)
			s.fill("#password", testPassword)
			s.press("form[action$='/register'] button[type=submit]:not([name])")
		}, "Create your Shop account"},
		{"sign-up with the purpose: check your email", func(s *a11yTour) {
			s.fill("#password", testPassword)
			s.run(chromedp.Click(chromedp.CSS("#consent-terms")))
			s.press("form[action$='/register'] button[type=submit]:not([name])")
		}, "Check your email"},
		{"email confirmed", func(s *a11yTour) {
			s.run(chromedp.Navigate(s.g.mailLink(s.email, "/.frontdoor/verify?token=")))
			s.press("#confirm-email")
		}, "Email confirmed"},
		{"consent prompt", func(s *a11yTour) {
			s.open("/.frontdoor/login?rd=%2Fapp%2Foffers%2Fweek")
			s.fill("#email", s.email)
			s.fill("#password", testPassword)
			s.press("form[action$='/login'] button[type=submit]")
		}, "Before you continue"},
		{"consent prompt with an error", func(s *a11yTour) {
			s.press("form[action$='/consent'] button[type=submit]")
		}, "Before you continue"},
		{"profile prompt", opener("/app/checkout/pay"), "A little more about you"},
		{"profile prompt with errors", func(s *a11yTour) {
			s.fill("#f-name", "Pat Example")
			s.fill("#f-phone", "call me")
			s.press("form[action$='/profile'] button[type=submit]")
		}, "A little more about you"},
		{"account centre with consents and profile", opener("/.frontdoor/account"), "Your account"},
		{"not open to your account (403)", opener("/app/members/news"), "This page is not open to your account"},
		{"API key created", func(s *a11yTour) {
			s.open("/.frontdoor/account")
			if _, err := chromedp.Run(s.ctx, chromedp.Evaluate[bool](`(document.querySelector("#key-name").closest("details").open = true)`)); err != nil {
				s.t.Fatal(err)
			}
			s.fill("#key-name", "nightly export")
			s.fill("#key-scope", "orders:read")
			s.press("#create-key")
		}, "Your new API key"},
		{"account centre with an API key", opener("/.frontdoor/account"), "Your account"},
		{"a third-party app asks", func(s *a11yTour) {
			q := url.Values{"client_id": {"partner"}, "redirect_uri": {s.g.url("/pub/cb")}, "response_type": {"code"}, "scope": {"openid email"},
				"state": {"s"}, "code_challenge": {s256("a11y-verifier-0123456789-0123456789-0123456789")}, "code_challenge_method": {"S256"}}
			s.open("/.frontdoor/oauth2/authorize?" + q.Encode())
		}, "Allow Partner app?"},
		{"account centre with an app", func(s *a11yTour) {
			s.press("form[action$='/apps/consent'] button[value=allow]")
			s.open("/.frontdoor/account")
		}, "Your account"},
		{"an agent asks", func(s *a11yTour) {
			q := url.Values{"client_id": {"helper"}, "redirect_uri": {s.g.url("/pub/cb")}, "response_type": {"code"}, "scope": {"openid email"},
				"state": {"s"}, "code_challenge": {s256("a11y-verifier-0123456789-0123456789-0123456789")}, "code_challenge_method": {"S256"}}
			s.open("/.frontdoor/oauth2/authorize?" + q.Encode())
		}, "Let Order Helper act for you?"},
		{"account centre with an agent", func(s *a11yTour) {
			s.press("form[action$='/apps/consent'] button[value=allow]")
			s.open("/.frontdoor/account")
		}, "Your account"},
		{"device page", opener("/.frontdoor/device"), "Connect a device"},
		{"device page with a wrong code", func(s *a11yTour) {
			s.fill("#user_code", "ZZZZ-ZZZZ")
			s.press("form[action$='/device'] button[type=submit]")
		}, "Connect a device"},
		{"a device asks", func(s *a11yTour) {
			a := askDevice(s.t, s.g, "tv", "", "openid email")
			s.fill("#user_code", a.UserCode)
			s.press("form[action$='/device'] button[type=submit]")
		}, "Connect Living-room TV?"},
		{"invitation", func(s *a11yTour) {
			if st, body := adminDo(s.t, s.g, http.MethodPost, "/frontdoor/invitations", `{"email":"pat@example.com","role":"member"}`); st != http.StatusCreated {
				s.t.Fatalf("invite: %d %s", st, body)
			}
			s.run(chromedp.Navigate(s.g.mailLink(s.email, "/.frontdoor/invite?token=")))
		}, "You are invited"},
		{"invitation accepted", func(s *a11yTour) { s.press("form[action$='/invite'] button[type=submit]") }, "Invitation accepted"},
		{"email change", opener("/.frontdoor/account/email"), "Change your email address"},
		{"email change sent", func(s *a11yTour) {
			s.fill("#new-email", "pat.new@example.com")
			s.press("form[action$='/account/email'] button[type=submit]")
		}, "Check your new address"},
		{"email change: confirm", func(s *a11yTour) {
			s.run(chromedp.Navigate(s.g.mailLink("pat.new@example.com", "/.frontdoor/account/email/confirm?token=")))
		}, "Confirm your new address"},
		{"email changed", func(s *a11yTour) {
			s.press("form[action$='/account/email/confirm'] button[type=submit]")
		}, "Email address changed"},
		{"deletion: confirm", func(s *a11yTour) {
			s.open("/.frontdoor/login?rd=%2Fapp%2Fhome")
			s.fill("#email", "pat.new@example.com")
			s.fill("#password", testPassword)
			s.press("form[action$='/login'] button[type=submit]")
			s.open("/.frontdoor/account/delete")
		}, "Delete your account"},
		{"account deleted", func(s *a11yTour) {
			s.run(chromedp.Click(chromedp.CSS("#confirm")))
			s.press("form[action$='/account/delete'] button[type=submit]")
		}, "Account deleted"},
	}
	s.tour(axe, rows)
}

// tour reaches each page in turn, checks its heading and runs axe-core on
// it.
func (s *a11yTour) tour(axe string, pages []a11yPage) {
	s.t.Helper()
	for _, p := range pages {
		p.reach(s)
		title, _ := chromedp.Run(s.ctx, chromedp.Evaluate[string](`document.querySelector("h1")?.textContent ?? ""`))
		loc, _ := chromedp.Run(s.ctx, chromedp.Location())
		s.t.Logf("%s: %q at %s", p.name, title, loc)
		if title != p.h1 {
			s.t.Errorf("%s: heading %q, want %q", p.name, title, p.h1)
		}
		checkA11y(s.t, s.ctx, axe, p.name)
	}
}
