package caddymodule

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// TestBrowserProofOfWork: the gateway's own challenge pages are solved by
// their own script in real headless Chromium — a `challenge` route (the
// page solves, posts and lands on the route) and the sign-in form of a
// scripted-looking browser (HeadlessChrome is challenged: the page
// solves, the customer types the password again and signs in). The solve
// time at the default difficulty is logged.
func TestBrowserProofOfWork(t *testing.T) {
	g := startGateway(t, gatewayOpts{limits: "limits {\n\t\t\tautomation challenge\n\t\t}\n\t\tchallenge /pub/sale /pub/sale/*"})
	ctx := newBrowser(t, g)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	waitPath := func(suffix string) {
		t.Helper()
		waitStatus(t, func() int {
			if loc, _ := chromedp.Run(ctx, chromedp.Location()); strings.HasSuffix(loc, suffix) {
				return 1
			}
			return 0
		}, 1)
	}

	start := time.Now()
	run(chromedp.Navigate(g.url("/pub/sale/item?x=1")))
	waitPath("/pub/sale/item?x=1")
	waitStatus(t, func() int {
		if body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); strings.Contains(body, "/pub/sale/item") {
			return 1 // the backend's echo page, not the challenge page
		}
		return 0
	}, 1)
	t.Logf("challenge route at the default difficulty (%d bits): solved and through in %v", botdefense.SitePowBits, time.Since(start).Round(time.Millisecond))
	if title, _ := chromedp.Run(ctx, chromedp.Title()); title == "Just a moment" {
		t.Fatal("still on the challenge page")
	}

	// Sign-in from a browser that looks scripted (HeadlessChrome).
	g.signUpQuiet("hana@example.com")
	run(chromedp.Navigate(g.url("/.frontdoor/login?rd=%2Fapp%2Fhome")), chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SetValue(chromedp.CSS("#email"), "hana@example.com"), chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Submit(chromedp.CSS("#password")))
	waitStatus(t, func() int {
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-pow-challenge]").length`)); n == 1 {
			return 1
		}
		return 0
	}, 1)
	start = time.Now()
	waitStatus(t, func() int {
		if v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("input[name=pow]").value`)); v != "" {
			return 1
		}
		return 0
	}, 1)
	t.Logf("sign-in challenge solved in %v", time.Since(start).Round(time.Millisecond))
	run(chromedp.SetValue(chromedp.CSS("#password"), testPassword), chromedp.Click(chromedp.CSS("form[action$='/login'] button[type=submit]")))
	waitPath("/app/home")
}

// signUpQuiet registers and verifies a customer without signing in.
func (g *gateway) signUpQuiet(email string) {
	g.t.Helper()
	c := g.newClient()
	g.post(c, "/.frontdoor/register", urlValues("email", email, "password", testPassword))
	g.confirmLink(c, g.mailLink(email, "/.frontdoor/verify?token="))
}
