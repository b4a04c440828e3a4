package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/frontdoorhq/frontdoor/authflow"
)

// pageEvents keeps what the page said (console, uncaught exceptions, the
// browser's log: CSP refusals land there) and the passkey options requests
// it made, for assertions and for the failure report.
type pageEvents struct {
	mu      sync.Mutex
	lines   []string
	options []string // form bodies posted to /passkey/options, in order
}

func (p *pageEvents) listen(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		p.lines = append(p.lines, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		p.lines = append(p.lines, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *log.EventEntryAdded:
		p.lines = append(p.lines, fmt.Sprintf("log %s/%s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
	case *network.EventRequestWillBeSent:
		if ev.Request.Method == http.MethodPost && strings.HasSuffix(ev.Request.URL, "/.frontdoor/passkey/options") {
			var body []byte
			for _, e := range ev.Request.PostDataEntries {
				body = append(body, e.Bytes...)
			}
			p.options = append(p.options, string(body))
		}
	}
}

func (p *pageEvents) snapshot() (lines, options []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...), append([]string(nil), p.options...)
}

// TestBrowserPasskey drives a passkey-first customer through real Chromium
// with the DevTools virtual authenticator (a platform authenticator that
// holds discoverable credentials and verifies the user without asking):
// sign up without a password, confirm the email, create the passkey, sign
// out, then sign in with the passkey alone — no email typed — and reach a
// route that demands aal2 with no further prompt. passkey.js does every
// WebAuthn call; the test only clicks.
func TestBrowserPasskey(t *testing.T) {
	g := startGateway(t, gatewayOpts{site: "require /app/vault/* {\n\t\t\taal aal2\n\t\t}"})
	bctx := newBrowser(t, g)
	const email = "pia@example.com"

	events := &pageEvents{}
	if err := chromedp.Listen(bctx, events.listen); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		lines, options := events.snapshot()
		for _, l := range lines {
			t.Logf("page: %s", l)
		}
		t.Logf("passkey options requests: %q", options)
		// The gateway's own lines (Caddy's TLS and proxy chatter left out).
		if b, err := os.ReadFile(g.logFile); err == nil {
			var own []string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, `"logger":"frontdoor`) || strings.Contains(l, `"level":"error"`) {
					own = append(own, l)
				}
			}
			t.Logf("gateway log:\n%s", strings.Join(own, "\n"))
		}
	})

	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()

	// The virtual authenticator: a built-in (internal) CTAP2 authenticator
	// with resident keys, whose user verification always succeeds and
	// whose presence check needs no touch.
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	added, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	authenticator := added.AuthenticatorID
	// Every page records its navigator.credentials.get calls (see
	// watchCredentialGets), so the test waits for a request to start
	// instead of guessing how long that takes.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: watchCredentialGets}); err != nil {
		t.Fatalf("Page.addScriptToEvaluateOnNewDocument: %v", err)
	}

	// run runs actions with 10 s to spare, so that a wait for something
	// that never shows fails the step rather than the whole test's budget.
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("at %s: %v", loc, err)
		}
	}
	// waitFor polls until the page's location and body satisfy ok (a form
	// post or a script navigates asynchronously); it fails with what the
	// page shows.
	waitFor := func(what string, ok func(loc, body string) bool) (string, string) {
		t.Helper()
		var loc, body string
		deadline := time.Now().Add(10 * time.Second)
		for {
			// Location and text read together, from one document: read
			// apart, a navigation between them paired the old address
			// with the new page's text.
			both, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[location.href, document.body ? document.body.innerText : ""]`))
			loc, body = "", ""
			if len(both) == 2 {
				loc, body = both[0], both[1]
			}
			if ok(loc, body) {
				return loc, body
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: at %s showing %q", what, loc, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	path := func(loc string) string {
		u, err := url.Parse(loc)
		if err != nil {
			return loc
		}
		return u.RequestURI()
	}
	var timings []string
	step := func(name string, f func()) {
		t.Helper()
		start := time.Now()
		f()
		d := time.Since(start).Round(time.Millisecond)
		timings = append(timings, fmt.Sprintf("%s %v", name, d))
		t.Logf("step %-28s %v", name, d)
	}

	step("1 sign up with a passkey", func() {
		run(chromedp.Navigate(g.url("/.frontdoor/register")), chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.Click(chromedp.CSS("#passkey-signup")))
		waitFor("the check-your-email page", func(_, body string) bool { return strings.Contains(body, "Check your email") })
	})

	var customerID string
	step("2 confirm the email", func() {
		link := g.mailLink(email, "/.frontdoor/verify?token=")
		if !strings.HasSuffix(link, "&passkey=1") {
			t.Fatalf("the link of a passkey-first sign-up: %s", link)
		}
		run(chromedp.Navigate(link), chromedp.Click(chromedp.CSS("#confirm-email")))
		loc, _ := waitFor("the welcome page", func(loc, _ string) bool { return strings.Contains(loc, "/.frontdoor/account") })
		if p := path(loc); p != "/.frontdoor/account?welcome=passkey" {
			t.Fatalf("after confirming, at %s", p)
		}
		run(chromedp.WaitVisible(chromedp.CSS("#add-passkey"))) // passkey.js shows the form
		label, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#add-passkey")))
		if err != nil || label != "Create your passkey" {
			t.Fatalf("the welcome button reads %q (%v)", label, err)
		}
		if customerID, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("dl code"))); err != nil || customerID == "" {
			t.Fatalf("customer id on the account page: %q %v", customerID, err)
		}
	})

	step("3 create the passkey", func() {
		run(chromedp.Click(chromedp.CSS("#add-passkey")))
		loc, body := waitFor("the passkey on the account page", func(_, body string) bool {
			return strings.Contains(body, "Passkey on") || strings.Contains(body, "Passkey not added")
		})
		if p := path(loc); p != "/.frontdoor/account" || strings.Contains(body, "Passkey not added") {
			t.Fatalf("after creating the passkey, at %s showing %q", p, body)
		}
		if strings.Contains(body, "Create your passkey") {
			t.Error("the account page still greets as if there were no passkey")
		}
		creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: authenticator})
		if err != nil {
			t.Fatalf("WebAuthn.getCredentials: %v", err)
		}
		if len(creds.Credentials) != 1 {
			t.Fatalf("the authenticator holds %d credentials, want 1", len(creds.Credentials))
		}
		c := creds.Credentials[0]
		if !c.IsResidentCredential || c.RpID != "shop.test" || string(c.UserHandle) != customerID || c.UserName != email {
			t.Fatalf("credential: resident %v, rp %q, user handle %q (customer %q), user name %q",
				c.IsResidentCredential, c.RpID, c.UserHandle, customerID, c.UserName)
		}
	})

	presence := func(on bool) {
		t.Helper()
		if _, err := chromedp.Call(ctx, webauthn.SetAutomaticPresenceSimulation,
			webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: authenticator, Enabled: on}); err != nil {
			t.Fatalf("WebAuthn.setAutomaticPresenceSimulation: %v", err)
		}
	}

	step("4 sign out", func() {
		run(chromedp.Click(chromedp.CSS(`form[action="/.frontdoor/logout"] button`)))
		waitFor("the signed-out page", func(_, body string) bool { return strings.Contains(body, "You are signed out.") })
		cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{g.url("/")}})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cookies.Cookies {
			if c.Name == "__Host-frontdoor" {
				t.Fatalf("after signing out, the browser keeps its session cookie")
			}
		}
	})

	var conditional bool
	var conditionalGet string // the id watchCredentialGets gave the pending conditional request
	step("5 sign in with the passkey", func() {
		// The virtual authenticator answers a conditional request at once,
		// as if the customer had picked the passkey from autofill. Without
		// presence it cannot, so the request stays pending — as it does for
		// a customer who has not touched the email field — until the click
		// aborts it.
		presence(false)
		run(chromedp.Navigate(g.url("/app/vault/x")))
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if p := path(loc); p != "/.frontdoor/login?rd=%2Fapp%2Fvault%2Fx" {
			t.Fatalf("signed out, the vault sends to %s", p)
		}
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script[src*='/static/passkey-']").length`)); err != nil || n != 1 {
			t.Fatalf("the login page loads %d passkey scripts (%v): its passkey form stays hidden", n, err)
		}
		run(chromedp.WaitVisible(chromedp.CSS("#passkey-login")))
		var err error
		conditional, err = chromedp.Run(ctx, chromedp.Evaluate[bool](
			`PublicKeyCredential.isConditionalMediationAvailable ? PublicKeyCredential.isConditionalMediationAvailable() : false`,
			chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("isConditionalMediationAvailable: %v", err)
		}
		if conditional {
			// Wait for the conditional request's options, so that the
			// click below has a pending request to abort.
			waitStatus(t, func() int {
				_, options := events.snapshot()
				for _, o := range options {
					if v, _ := url.ParseQuery(o); v.Get("mediation") == "conditional" {
						return 1
					}
				}
				return 0
			}, 1)
			// Then for the page to ask the browser with those options.
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			conditionalGet, err = chromedp.Run(wctx, chromedp.Poll[string](
				`(window.__credentialGets || []).filter(c => c.mediation === "conditional" && c.outcome === "pending").map(c => c.id).pop() || ""`,
				chromedp.WithPollingInterval(20*time.Millisecond)))
			cancel()
			if err != nil {
				t.Fatalf("waiting for the conditional navigator.credentials.get: %v", err)
			}
			if loc, _ := chromedp.Run(ctx, chromedp.Location()); path(loc) != "/.frontdoor/login?rd=%2Fapp%2Fvault%2Fx" {
				t.Fatalf("the conditional request finished on its own: at %s", loc)
			}
		}
		presence(true)
		_, before := events.snapshot()
		run(chromedp.Click(chromedp.CSS("#passkey-login")))
		// The vault, or a page that gave up: the script's message, or the
		// gateway's answer to the post.
		loc, body := waitFor("the vault", func(loc, body string) bool {
			status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(".passkey-status") || {}).textContent || ""`))
			return status != "" || !strings.HasPrefix(path(loc), "/.frontdoor/login")
		})
		if path(loc) != "/app/vault/x" {
			t.Fatalf("after the passkey, at %s showing %q", loc, body)
		}
		var echoed struct {
			Backend bool                `json:"backend"`
			Headers map[string][]string `json:"headers"`
		}
		if err := json.Unmarshal([]byte(body), &echoed); err != nil || !echoed.Backend {
			t.Fatalf("the vault shows %q (%v)", body, err)
		}
		h := http.Header(echoed.Headers)
		if h.Get("X-Frontdoor-Email") != email || h.Get("X-Frontdoor-User") != customerID {
			t.Fatalf("backend saw email %q, user %q", h.Get("X-Frontdoor-Email"), h.Get("X-Frontdoor-User"))
		}
		if amr := strings.Split(h.Get("X-Frontdoor-Amr"), " "); !containsFold(amr, "mfa") || !containsFold(amr, "hwk") {
			t.Fatalf("X-Frontdoor-Amr %q: want hwk and mfa", h.Get("X-Frontdoor-Amr"))
		}
		// No page between the sign-in page and the vault: no second
		// step, no step-up.
		if history := pathsSince(t, ctx, "/.frontdoor/login?rd=%2Fapp%2Fvault%2Fx"); fmt.Sprint(history) != "[/app/vault/x]" {
			t.Fatalf("pages after signing in: %q", history)
		}
		// The conditional request was aborted for the modal one, which
		// alone was answered.
		_, options := events.snapshot()
		if got := loginMediations(options[len(before):]); fmt.Sprint(got) != "[modal]" {
			t.Fatalf("options requested after the click: %q", got)
		}
		if conditional {
			if got := loginMediations(before); len(got) == 0 || got[len(got)-1] != "conditional" {
				t.Fatalf("options requested before the click: %q", got)
			}
			// It was still pending at the click, which aborted it.
			outcome, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`sessionStorage.getItem(%q) || ""`, conditionalGet)))
			if err != nil || outcome != "AbortError" {
				t.Fatalf("the conditional request ended with %q (%v), want AbortError", outcome, err)
			}
		}
	})

	// Where the browser offers passkeys in autofill, picking the passkey
	// there (the virtual authenticator picks it at once) signs in too.
	if conditional {
		step("6 sign in through autofill", func() {
			run(chromedp.Navigate(g.url("/.frontdoor/logout")), chromedp.Click(chromedp.CSS(`form[action="/.frontdoor/logout"] button`)))
			waitFor("the signed-out page", func(_, body string) bool { return strings.Contains(body, "You are signed out.") })
			_, before := events.snapshot()
			run(chromedp.Navigate(g.url("/app/vault/y")))
			loc, body := waitFor("the vault", func(loc, _ string) bool { return !strings.HasPrefix(path(loc), "/.frontdoor/login") })
			if path(loc) != "/app/vault/y" || !strings.Contains(body, `"X-Frontdoor-Amr":["hwk mfa"]`) {
				t.Fatalf("after autofill, at %s showing %q", loc, body)
			}
			_, options := events.snapshot()
			if got := loginMediations(options[len(before):]); fmt.Sprint(got) != "[conditional]" {
				t.Fatalf("options requested for autofill: %q", got)
			}
		})
	}

	lines, _ := events.snapshot()
	for _, l := range lines {
		if strings.Contains(l, "favicon.ico") { // protected, like every path but the public ones
			continue
		}
		if strings.HasPrefix(l, "exception") || strings.Contains(l, "/error:") || strings.Contains(l, "console.error") {
			t.Errorf("page: %s", l)
		}
	}
	t.Logf("conditional mediation available: %v; timings: %s", conditional, strings.Join(timings, ", "))
}

// watchCredentialGets runs in every page before its scripts: it wraps
// navigator.credentials.get so that the page's calls are listed in
// window.__credentialGets (mediation, outcome: "pending" until the
// promise settles), and each call's outcome ("resolved", or the error's
// name) is kept in sessionStorage under its id, where it survives the
// navigation the page makes once signed in. The page's own call goes
// through unchanged.
const watchCredentialGets = `(() => {
	const creds = navigator.credentials;
	if (!creds) return;
	const get = creds.get.bind(creds);
	const calls = window.__credentialGets = [];
	creds.get = function (req) {
		const call = {id: "credential-get-" + Math.random().toString(36).slice(2),
			mediation: (req && req.mediation) || "modal", outcome: "pending"};
		calls.push(call);
		const settle = outcome => {
			call.outcome = outcome;
			try { sessionStorage.setItem(call.id, outcome); } catch (e) {}
		};
		const p = get(req);
		p.then(() => settle("resolved"), err => settle((err && err.name) || "rejected"));
		return p;
	};
})();`

// loginMediations lists the mediation of each sign-in options request
// ("modal" for none).
func loginMediations(bodies []string) []string {
	var out []string
	for _, b := range bodies {
		v, _ := url.ParseQuery(b)
		if authflow.CeremonyPurpose(v.Get("purpose")) != authflow.CeremonySignIn {
			continue
		}
		m := v.Get("mediation")
		if m == "" {
			m = "modal"
		}
		out = append(out, m)
	}
	return out
}

// pathsSince returns the paths of the tab's history after the last entry
// whose path is from.
func pathsSince(t *testing.T, ctx context.Context, from string) []string {
	t.Helper()
	h, err := chromedp.Run(ctx, chromedp.NavigationEntries())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range h.Entries[:h.CurrentIndex+1] {
		u, _ := url.Parse(e.URL)
		if u.RequestURI() == from {
			out = nil
			continue
		}
		out = append(out, u.RequestURI())
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
