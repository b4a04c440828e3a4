package caddymodule

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// keyboard drives a page with the keys a keyboard-only customer uses:
// Tab, Shift-Tab, Enter, Space, and typing into the focused field.
type keyboard struct {
	t   *testing.T
	ctx context.Context
}

func (k keyboard) keys(keys string, opts ...chromedp.KeyOption) {
	k.t.Helper()
	if err := chromedp.Do(k.ctx, chromedp.KeyEvent(keys, opts...)); err != nil {
		k.t.Fatal(err)
	}
}

func (k keyboard) tab() { k.t.Helper(); k.keys("\t") }
func (k keyboard) backTab() {
	k.t.Helper()
	k.keys("\t", chromedp.KeyModifiers(chromedp.ModifierShift))
}
func (k keyboard) enter()       { k.t.Helper(); k.keys("\r") }
func (k keyboard) space()       { k.t.Helper(); k.keys(" ") }
func (k keyboard) typ(s string) { k.t.Helper(); k.keys(s) }

// focused names the focused element: its id, else its name, else its tag
// and text.
func (k keyboard) focused() string {
	k.t.Helper()
	got, err := chromedp.Run(k.ctx, chromedp.Evaluate[string](`(() => {
		const e = document.activeElement;
		if (!e || e === document.body) return "";
		return e.id || e.getAttribute("name") || (e.tagName.toLowerCase() + ":" + e.textContent.trim());
	})()`))
	if err != nil {
		k.t.Fatal(err)
	}
	return got
}

// tabTo presses Tab until want has the focus (at most 20 presses).
func (k keyboard) tabTo(want string) {
	k.t.Helper()
	var seen []string
	for range 20 {
		k.tab()
		got := k.focused()
		if got == want {
			return
		}
		seen = append(seen, got)
	}
	k.t.Fatalf("Tab never reached %q; focus went %q", want, seen)
}

// waitPage waits for the page whose h1 reads want (a form post or a
// navigation completes asynchronously).
func (k keyboard) waitPage(want string) {
	k.t.Helper()
	got := ""
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got, _ = chromedp.Run(k.ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? (document.querySelector("h1")?.textContent ?? "") : ""`))
		if got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	k.t.Fatalf("page %q, want %q", got, want)
}

// focusWalk marks the elements a keyboard should reach, in document order
// (visible, enabled, not hidden), and notes how each looks unfocused.
const focusWalkStart = `(() => {
	if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
	const all = [...document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])")]
		.filter(e => !e.disabled && !e.closest("[hidden]") && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden");
	const look = e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow].join(" "); };
	window.__walk = all.map((e, i) => { e.dataset.kbWalk = String(i); return {name: e.id || e.getAttribute("name") || e.tagName.toLowerCase() + ":" + e.textContent.trim(), look: look(e)}; });
	window.__look = look;
	return all.length;
})()`

// focusWalkStep tells which marked element has the focus, whether it
// looks different from unfocused (an outline or a shadow that was not
// there), and the contrast of an outline against what it is drawn on
// (WCAG 1.4.11 asks 3:1 of what shows focus).
const focusWalkStep = `(() => {
	const e = document.activeElement;
	const i = e && e.dataset ? e.dataset.kbWalk : undefined;
	if (i === undefined) return JSON.stringify({index: -1, name: e ? e.tagName : "", changed: false});
	const w = window.__walk[Number(i)];
	const s = getComputedStyle(e);
	const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2;
	const visible = outline || s.boxShadow !== "none";
	const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
	const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
	let bg = [255, 255, 255];
	for (let p = e.parentElement; p; p = p.parentElement) {
		const c = rgb(getComputedStyle(p).backgroundColor);
		if (c.length === 3 || c[3] > 0) { bg = c; break; }
	}
	let contrast = 21;
	if (outline) {
		const a = lum(rgb(s.outlineColor)), b = lum(bg);
		contrast = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
	}
	return JSON.stringify({index: Number(i), name: w.name, changed: visible && window.__look(e) !== w.look, contrast: contrast});
})()`

// checkFocusOrder presses Tab through the page from its top: every
// interactive element is reached, in document order (the order they are
// read and seen in, as the layout is one column), each with a visible
// focus indicator; Shift-Tab walks back.
func checkFocusOrder(t *testing.T, k keyboard, page string) {
	t.Helper()
	n, err := chromedp.Run(k.ctx, chromedp.Evaluate[int](focusWalkStart))
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s: nothing to focus", page)
	}
	type step struct {
		Index    int     `json:"index"`
		Name     string  `json:"name"`
		Changed  bool    `json:"changed"`
		Contrast float64 `json:"contrast"`
	}
	at := func() step {
		out, err := chromedp.Run(k.ctx, chromedp.Evaluate[string](focusWalkStep))
		if err != nil {
			t.Fatal(err)
		}
		var s step
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for i := range n {
		k.tab()
		s := at()
		if s.Index != i {
			t.Errorf("%s: Tab %d focused #%d %q, want element #%d", page, i+1, s.Index, s.Name, i)
			return
		}
		if !s.Changed {
			t.Errorf("%s: %q shows no focus indicator", page, s.Name)
		} else if s.Contrast < 3 {
			t.Errorf("%s: %q: focus ring contrast %.2f:1, want at least 3:1", page, s.Name, s.Contrast)
		}
	}
	for i := n - 2; i >= 0; i-- {
		k.backTab()
		if s := at(); s.Index != i {
			t.Errorf("%s: Shift-Tab focused #%d %q, want element #%d", page, s.Index, s.Name, i)
			return
		}
	}
}

// TestBrowserKeyboard: a customer with only a keyboard signs up, confirms
// the address and signs in, reaching the protected page, in real Chromium
// at 320 px — Tab, Shift-Tab, Enter and Space and typing, no clicks; and
// on the main pages Tab reaches every control in order, each visibly
// focused, the language switcher too.
func TestBrowserKeyboard(t *testing.T) {
	g := startGateway(t, gatewayOpts{})
	ctx, cancel := context.WithTimeout(newBrowser(t, g), 90*time.Second)
	defer cancel()
	k := keyboard{t: t, ctx: ctx}
	nav := func(u string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatal(err)
		}
	}
	const email = "kim@example.com"
	// The pages' own scripts are off: the journey works without JavaScript
	// (the test's probes run through DevTools, which this does not stop).
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}

	nav(g.url("/.frontdoor/register"))
	checkFocusOrder(t, k, "sign-up")
	nav(g.url("/.frontdoor/register"))
	k.tabTo("email")
	k.typ(email)
	k.tab()
	if got := k.focused(); got != "password" {
		t.Fatalf("Tab from the address went to %q, not the password", got)
	}
	k.typ(testPassword)
	k.tab()
	if got := k.focused(); got != "button:Create account" {
		t.Fatalf("Tab from the password went to %q, not the button", got)
	}
	k.enter()
	k.waitPage("Check your email")

	nav(g.mailLink(email, "/.frontdoor/verify?token="))
	k.waitPage("Confirm your email")
	k.tabTo("confirm-email")
	k.space()
	k.waitPage("Email confirmed")

	nav(g.url("/app/orders"))
	k.waitPage("Sign in")
	checkFocusOrder(t, k, "sign-in")
	nav(g.url("/app/orders"))
	k.waitPage("Sign in")
	k.tabTo("email")
	k.typ(email)
	k.tab()
	k.typ(testPassword)
	k.backTab()
	if got := k.focused(); got != "email" {
		t.Fatalf("Shift-Tab from the password went to %q", got)
	}
	k.tab()
	k.enter() // Enter in a field submits its form
	deadline := time.Now().Add(10 * time.Second)
	for {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.textContent : ""`))
		if strings.HasSuffix(loc, "/app/orders") && strings.Contains(body, email) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not signed in on the protected page: %s %q", loc, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	for _, p := range []struct{ path, h1 string }{
		{"/.frontdoor/account", "Your account"},
		{"/.frontdoor/magic", "Sign in with email"},
		{"/.frontdoor/reset", "Reset your password"},
		{"/.frontdoor/logout", "Sign out"},
	} {
		nav(g.url(p.path))
		k.waitPage(p.h1)
		if p.path == "/.frontdoor/account" {
			// Proof that the pages' scripts are off: passkey.js would
			// show the passkey form.
			if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector("form[data-passkey]").hidden`)); shown {
				t.Fatal("the page's script ran")
			}
		}
		checkFocusOrder(t, k, p.path)
	}

	// The language switcher, at the foot of every page, by keyboard and
	// without scripts: Tab to "Français", Enter, and the page is French.
	k.tabTo("a:Français")
	k.enter()
	k.waitPage("Déconnexion")
	checkFocusOrder(t, k, "sign out, in French")
	k.tabTo("a:English")
	k.enter()
	k.waitPage("Sign out")
}

// TestBrowserKeyboardPrivacy: the consent and profile journeys — sign-up
// with a required purpose, the consent prompt of a route, the profile
// prompt, deleting the account — can be done with the keyboard alone,
// without JavaScript.
func TestBrowserKeyboardPrivacy(t *testing.T) {
	g := startGateway(t, gatewayOpts{
		global: consentGlobal + "\n\t\t" + profileGlobal,
		site:   "require /app/offers/* {\n\t\t\tconsent marketing\n\t\t}\n\t\trequire /app/checkout/* {\n\t\t\tprofile name phone\n\t\t}",
	})
	ctx, cancel := context.WithTimeout(newBrowser(t, g), 90*time.Second)
	defer cancel()
	k := keyboard{t: t, ctx: ctx}
	nav := func(u string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatal(err)
		}
	}
	waitAt := func(suffix string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			if strings.HasSuffix(loc, suffix) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("at %s, want …%s", loc, suffix)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	const email = "kay@example.com"

	nav(g.url("/.frontdoor/register"))
	k.tabTo("email")
	k.typ(email)
	k.tabTo("password")
	k.typ(testPassword)
	k.tabTo("consent-terms")
	k.space()
	k.tabTo("button:Create account")
	k.enter()
	k.waitPage("Check your email")
	nav(g.mailLink(email, "/.frontdoor/verify?token="))
	k.waitPage("Confirm your email")
	k.tabTo("confirm-email")
	k.space()
	k.waitPage("Email confirmed")

	nav(g.url("/app/offers/week"))
	k.waitPage("Sign in")
	k.tabTo("email")
	k.typ(email)
	k.tab()
	k.typ(testPassword)
	k.enter()
	k.waitPage("Before you continue")
	k.tabTo("consent-marketing")
	k.space()
	k.tabTo("button:Agree and continue")
	k.enter()
	waitAt("/app/offers/week")

	nav(g.url("/app/checkout/pay"))
	k.waitPage("A little more about you")
	k.tabTo("f-name")
	k.typ("Kay Example")
	k.tabTo("f-phone")
	k.typ("+44 20 7946 0111")
	k.enter()
	waitAt("/app/checkout/pay")

	nav(g.url("/.frontdoor/account/delete"))
	k.waitPage("Delete your account")
	k.tabTo("confirm")
	k.space()
	k.tabTo("button:Delete my account")
	k.enter()
	k.waitPage("Account deleted")
}
