package caddymodule

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/browsertest"

	"github.com/chromedp/chromedp"
)

// newBrowser starts headless Chromium for the gateway. make test installs
// Chromium and sets FRONTDOOR_REQUIRE_BROWSER, so a missing browser fails
// there instead of skipping.
func newBrowser(t *testing.T, g *gateway) context.Context {
	t.Helper()
	ctx := browsertest.New(t,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("host-resolver-rules", "MAP shop.test 127.0.0.1"),
		// The gateway's CA is made fresh for each test; Chromium cannot be
		// told to trust it without touching the system store.
		chromedp.IgnoreCertErrors,
	)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(320, 640)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// fitsAndLabelled checks the page at 320 px: no horizontal scrolling, every
// visible input has a label, every error message is tied to its field.
const fitsAndLabelled = `(() => {
	const problems = [];
	if (document.documentElement.scrollWidth > window.innerWidth) problems.push("scrolls sideways: " + document.documentElement.scrollWidth);
	for (const i of document.querySelectorAll("input:not([type=hidden])")) {
		if (!i.labels || i.labels.length === 0) problems.push("unlabelled input " + i.name);
	}
	for (const e of document.querySelectorAll(".field-error")) {
		const f = document.querySelector("[aria-describedby~='" + e.id + "']");
		if (!f || f.getAttribute("aria-invalid") !== "true") problems.push("error not tied to a field: " + e.id);
	}
	return problems.join("; ");
})()`

// TestBrowserSignUpAndPages drives the forms in real Chromium at 320 px
// wide, without JavaScript of ours: sign up, a field error, verify, sign
// in, land on the protected page, account page.
func TestBrowserSignUpAndPages(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	ctx := newBrowser(t, g)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	check := func(page string) {
		t.Helper()
		problems, err := chromedp.Run(ctx, chromedp.Evaluate[string](fitsAndLabelled))
		if err != nil || problems != "" {
			t.Errorf("%s: %s %v", page, problems, err)
		}
	}
	// heading waits until the page's h1 reads want (navigation after a
	// form post completes asynchronously).
	heading := func(want string) {
		t.Helper()
		got := ""
		waitStatus(t, func() int {
			if got, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1"))); got == want {
				return 1
			}
			return 0
		}, 1)
	}
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}

	// A protected page sends the browser to sign in.
	run(chromedp.Navigate(g.url("/app/orders")), chromedp.WaitVisible(chromedp.CSS("#email")))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(loc, "/.frontdoor/login?rd=%2Fapp%2Forders") {
		t.Fatalf("redirected to %s", loc)
	}
	check("login")

	// Register with a password that is too short: the error is on the field.
	run(chromedp.Navigate(g.url("/.frontdoor/register")), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SetValue(chromedp.CSS("#email"), "ola@example.com"), chromedp.SetValue(chromedp.CSS("#password"), "too short"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#password-error")))
	check("register with an error")

	run(chromedp.SetValue(chromedp.CSS("#password"), testPassword), chromedp.Submit(chromedp.CSS("#password")))
	heading("Check your email")
	check("check your email")

	run(chromedp.Navigate(g.mailLink("ola@example.com", "/.frontdoor/verify?token=")))
	heading("Confirm your email")
	check("confirm your email")
	run(chromedp.Click(chromedp.CSS("#confirm-email")))
	heading("Email confirmed")

	run(chromedp.Navigate(g.url("/app/orders")), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SetValue(chromedp.CSS("#email"), "ola@example.com"), chromedp.SetValue(chromedp.CSS("#password"), testPassword),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitReady(chromedp.CSS("body")))
	waitStatus(t, func() int {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if strings.HasSuffix(loc, "/app/orders") {
			return 1
		}
		return 0
	}, 1)
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(body, "ola@example.com") {
		t.Fatalf("protected page: %s", body)
	}

	run(chromedp.Navigate(g.url("/.frontdoor/account")), chromedp.WaitVisible(chromedp.CSS("dl")))
	check("account")
}
