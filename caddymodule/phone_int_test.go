package caddymodule

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/sms"
)

// phoneOpts is a site that texts Great Britain and Ireland, reads national
// numbers as British, and writes its texts to files.
var phoneOpts = gatewayOpts{global: "sms dir {dir}/sms", site: "sms_countries GB IE\n\t\tsms_region GB"}

// text waits for a text message to `to` of kind, removes its file and
// returns it.
func (g *gateway) text(to, kind string) sms.DirRecord {
	g.t.Helper()
	dir := filepath.Join(g.dir, "sms")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		sort.Strings(files)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			var rec sms.DirRecord
			if json.Unmarshal(raw, &rec) == nil && rec.To == to && rec.Kind == kind {
				os.Remove(f)
				return rec
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatalf("no %s text to %s", kind, to)
	return sms.DirRecord{}
}

// textsTo counts the text files waiting for `to`.
func (g *gateway) textsTo(to string) int { return g.textsOfKind(to, "") }

// textsOfKind counts the text files of kind ("": any) waiting for `to`.
func (g *gateway) textsOfKind(to, kind string) int {
	files, _ := filepath.Glob(filepath.Join(g.dir, "sms", "*.json"))
	n := 0
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var rec sms.DirRecord
		if json.Unmarshal(raw, &rec) == nil && rec.To == to && (kind == "" || rec.Kind == kind) {
			n++
		}
	}
	return n
}

const phonePage = "/.frontdoor/account/phone"

func (g *gateway) askPhone(c *http.Client, number string) response {
	g.t.Helper()
	return g.postVia(c, phonePage, phonePage, url.Values{"phone": {number}})
}

func (g *gateway) typePhoneCode(c *http.Client, code string) response {
	g.t.Helper()
	return g.postVia(c, phonePage, phonePage+"/confirm", url.Values{"code": {code}})
}

// otherCode is a six-digit code that is not c.
func otherCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

// TestPhoneNumber: through real Caddy on both stores, a number becomes
// the account's only once the code texted to it is typed back, in the
// browser that asked, within ten minutes and five tries; a change keeps
// the old number until the new one is confirmed, then texts the old one
// and mails the address; a country off the allow-list is refused before
// anything is texted; a number another account has gets the same answer
// as a free one; removal; the export carries the number; no code reaches
// the Caddy log.
func TestPhoneNumber(t *testing.T) {
	var codes []string
	runOnBothStoresWith(t, phoneOpts, []scenario{
		{name: "add change remove", run: func(t *testing.T, g *gateway) {
			const email, first, second = "phone-a@example.com", "+447400123401", "+353850123456"
			c := g.signUp(email)
			if r := g.get(c, "/.frontdoor/account", nil); r.status != http.StatusOK || !strings.Contains(r.body, "Phone number") || !strings.Contains(r.body, `href="/.frontdoor/account/phone"`) {
				t.Fatalf("account page: %d %s", r.status, r.body)
			}
			// Off the allow-list, or not a number: refused, nothing texted.
			for _, bad := range []string{"+33 6 12 34 56 78", "+1 201-555-0123", "call me", "0740012"} {
				r := g.askPhone(c, bad)
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, `aria-invalid="true"`) {
					t.Fatalf("%q: %d %s", bad, r.status, r.body)
				}
			}
			if r := g.askPhone(c, "+33612345678"); !strings.Contains(r.body, "We can only text numbers in: GB, IE") {
				t.Fatalf("France: %s", r.body)
			}
			if files, _ := filepath.Glob(filepath.Join(g.dir, "sms", "*.json")); len(files) != 0 {
				t.Fatalf("texted for a refused number: %v", files)
			}

			// National form, the site's region: a code page; nothing set yet.
			r := g.askPhone(c, "07400 123401")
			if r.status != http.StatusOK || !strings.Contains(r.body, "44 7400 123401") || !strings.Contains(r.body, `autocomplete="one-time-code"`) {
				t.Fatalf("ask: %d %s", r.status, r.body)
			}
			msg := g.text(first, "verify_phone")
			codes = append(codes, msg.Code)
			if len(msg.Code) != 6 || !strings.Contains(msg.Text, msg.Code) {
				t.Fatalf("text: %+v", msg)
			}
			if got, _ := backendOf(t).identity.CustomerByPhone(t.Context(), first); got != nil {
				t.Fatal("the number is the account's before its code came back")
			}
			// Another browser of the same customer cannot use the code.
			there := g.newClient()
			g.login(there, email, testPassword, "/app/x")
			if r := g.typePhoneCode(there, msg.Code); r.status != http.StatusBadRequest || !strings.Contains(r.body, "another browser") {
				t.Fatalf("another browser: %d %s", r.status, r.body)
			}
			if r := g.typePhoneCode(c, msg.Code); r.status != http.StatusOK || !strings.Contains(r.body, "44 7400 123401") {
				t.Fatalf("confirm: %d %s", r.status, r.body)
			}
			// Single use.
			if r := g.typePhoneCode(c, msg.Code); r.status != http.StatusBadRequest {
				t.Fatalf("the code again: %d", r.status)
			}
			if r := g.get(c, "/.frontdoor/account", nil); !strings.Contains(r.body, "44 7400 123401") || !strings.Contains(r.body, "Phone number added") {
				t.Fatalf("account page after: %s", r.body)
			}
			g.mailLink(email, "/.frontdoor/account")

			// A change keeps the old number until the new one is confirmed.
			if r := g.askPhone(c, "+353 85 012 3456"); r.status != http.StatusOK {
				t.Fatalf("change: %d %s", r.status, r.body)
			}
			msg = g.text(second, "verify_phone")
			codes = append(codes, msg.Code)
			if got := customerOf(t, email); got.Phone != first {
				t.Fatalf("before the code: %q", got.Phone)
			}
			if r := g.typePhoneCode(c, msg.Code); r.status != http.StatusOK {
				t.Fatalf("change confirmed: %d %s", r.status, r.body)
			}
			if told := g.text(first, "phone_replaced"); told.Code != "" || strings.Contains(told.Text, "353") {
				t.Fatalf("the old number was told: %+v", told)
			}
			g.mailLink(email, "/.frontdoor/account")
			if got := customerOf(t, email); got.Phone != second || !got.PhoneVerified {
				t.Fatalf("after the change: %+v", got)
			}
			// Backends are told the new number at once (header and claim).
			phoneSeen := func() string {
				t.Helper()
				if r := g.get(c, "/app/x", navigate); r.status != http.StatusOK {
					t.Fatalf("protected route: %d", r.status)
				}
				h := g.backend.lastHeaders()
				claims := verifyAssertion(t, g.get(g.newClient(), "/.well-known/frontdoor/jwks.json", nil).body, h.Get("X-Frontdoor-Assertion"), g.aud())
				if claims.PhoneNumber != h.Get("X-Frontdoor-Phone-Number") {
					t.Fatalf("header %q, claim %q", h.Get("X-Frontdoor-Phone-Number"), claims.PhoneNumber)
				}
				return claims.PhoneNumber
			}
			if got := phoneSeen(); got != second {
				t.Fatalf("backend saw %q after the change", got)
			}

			// The export carries the number and follows the schema.
			x := validExport(t, g.get(c, "/.frontdoor/account/export", nil).body)
			if ph := section(x, "phone_numbers"); len(ph) != 1 || ph[0].(map[string]any)["phone"] != second || ph[0].(map[string]any)["verified"] != true {
				t.Fatalf("export: %v", x["phone_numbers"])
			}

			// Removal: the number is texted, the address mailed, the index freed.
			if r := g.postVia(c, phonePage, phonePage+"/remove", url.Values{}); r.status != http.StatusOK || !strings.Contains(r.body, "no longer has a phone number") {
				t.Fatalf("remove: %d %s", r.status, r.body)
			}
			g.text(second, "phone_replaced")
			g.mailLink(email, "/.frontdoor/account")
			if _, err := backendOf(t).identity.CustomerByPhone(t.Context(), second); err != identity.ErrNotFound {
				t.Fatalf("removed number: %v", err)
			}
			if r := g.get(c, "/.frontdoor/account", nil); !strings.Contains(r.body, "Phone number removed") {
				t.Fatalf("account page after removal: %s", r.body)
			}
			if got := phoneSeen(); got != "" {
				t.Fatalf("backend saw %q after the removal", got)
			}
		}},
		{name: "five wrong tries", run: func(t *testing.T, g *gateway) {
			const number = "+447400123402"
			c := g.signUp("phone-b@example.com")
			g.askPhone(c, number)
			code := g.text(number, "verify_phone").Code
			codes = append(codes, code)
			for i := 1; i < identity.PhoneCodeMaxTries; i++ {
				if r := g.typePhoneCode(c, otherCode(code)); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Tries left") {
					t.Fatalf("wrong %d: %d %s", i, r.status, r.body)
				}
			}
			if r := g.typePhoneCode(c, otherCode(code)); r.status != http.StatusBadRequest || !strings.Contains(r.body, "too many times") {
				t.Fatalf("fifth wrong: %d %s", r.status, r.body)
			}
			if r := g.typePhoneCode(c, code); r.status != http.StatusBadRequest || customerOf(t, "phone-b@example.com").Phone != "" {
				t.Fatalf("the right code after the lock: %d", r.status)
			}
		}},
		{name: "expiry", run: func(t *testing.T, g *gateway) {
			const number = "+447400123403"
			c := g.signUp("phone-c@example.com")
			clk := useClock(t)
			g.askPhone(c, number)
			code := g.text(number, "verify_phone").Code
			codes = append(codes, code)
			clk.advance(identity.PhoneCodeTTL + time.Second)
			if r := g.typePhoneCode(c, code); r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired") {
				t.Fatalf("expired code: %d %s", r.status, r.body)
			}
			if customerOf(t, "phone-c@example.com").Phone != "" {
				t.Fatal("an expired code set the number")
			}
		}},
		{name: "taken number", run: func(t *testing.T, g *gateway) {
			const taken, free = "+447400123404", "+447400123405"
			owner := g.signUp("phone-owner@example.com")
			g.askPhone(owner, taken)
			code := g.text(taken, "verify_phone").Code
			codes = append(codes, code)
			if r := g.typePhoneCode(owner, code); r.status != http.StatusOK {
				t.Fatalf("owner: %d", r.status)
			}
			g.mailLink("phone-owner@example.com", "/.frontdoor/account")
			c := g.signUp("phone-d@example.com")
			a, b := g.askPhone(c, taken), g.askPhone(c, free)
			if a.status != http.StatusOK || b.status != http.StatusOK ||
				strings.ReplaceAll(a.body, "44 7400 123404", "X") != strings.ReplaceAll(b.body, "44 7400 123405", "X") {
				t.Fatalf("taken and free answers differ:\n%s\n---\n%s", a.body, b.body)
			}
			// Both were texted; the second request replaced the first.
			codes = append(codes, g.text(taken, "verify_phone").Code, g.text(free, "verify_phone").Code)
			g.askPhone(c, taken)
			code = g.text(taken, "verify_phone").Code
			codes = append(codes, code)
			if r := g.typePhoneCode(c, code); r.status != http.StatusConflict || !strings.Contains(r.body, "cannot be added to this account") {
				t.Fatalf("a taken number confirmed: %d %s", r.status, r.body)
			}
			if got := customerOf(t, "phone-owner@example.com"); got.Phone != taken {
				t.Fatalf("the owner lost the number: %+v", got)
			}
		}},
		{name: "no code in the log", run: func(t *testing.T, g *gateway) {
			log, err := os.ReadFile(g.logFile)
			if err != nil {
				t.Fatal(err)
			}
			if len(codes) < 6 {
				t.Fatalf("only %d codes seen", len(codes))
			}
			for _, code := range codes {
				if strings.Contains(string(log), code) {
					t.Errorf("the Caddy log holds the code %s", code)
				}
			}
		}},
	})
}

// TestPhoneOffByDefault: without sms_countries the account page offers no
// phone number and the pages answer 404, before anything is texted.
func TestPhoneOffByDefault(t *testing.T) {
	g := startGateway(t, gatewayOpts{global: "sms dir {dir}/sms"})
	c := g.signUp("phone-off@example.com")
	if r := g.get(c, "/.frontdoor/account", nil); strings.Contains(r.body, "/account/phone") {
		t.Fatal("the account page offers a phone number")
	}
	if r := g.get(c, phonePage, nil); r.status != http.StatusNotFound {
		t.Fatalf("phone page: %d", r.status)
	}
	r := g.do(c, http.MethodPost, phonePage, url.Values{"phone": {"+447400123406"}, "csrf_token": {g.csrf(c, "/.frontdoor/account")}}, nil)
	if r.status != http.StatusNotFound || g.textsTo("+447400123406") != 0 {
		t.Fatalf("post: %d", r.status)
	}
}

// customerOf reads a customer from the live backend's store.
func customerOf(t *testing.T, email string) *identity.Customer {
	t.Helper()
	c, err := backendOf(t).identity.CustomerByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPhoneTextLimits: through real Caddy on both stores, each bound of
// the text messages holds — three to one number in 15 minutes, then the
// number range, the country (calling code) and the site's daily cap, as
// `sms_limits` and `sms_daily_cap` set them — each refusal a 429 with
// Retry-After and nothing texted, and a refused text spends nothing.
func TestPhoneTextLimits(t *testing.T) {
	o := phoneOpts
	o.site += "\n\t\tsms_daily_cap 7\n\t\tsms_limits {\n\t\t\trange 4/1h\n\t\t\tcountry 5/1h\n\t\t}"
	runOnBothStoresWith(t, o, []scenario{{"limits", func(t *testing.T, g *gateway) {
		c := g.signUp("tess@example.com")
		ask := func(number string, want int, what string) {
			t.Helper()
			r := g.askPhone(c, number)
			if r.status != want || want == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
				t.Fatalf("%s (%s): %d %v, want %d", what, number, r.status, r.header, want)
			}
		}
		// One number: three texts, then 429 (and the refusals spend nothing).
		for i := range 3 {
			ask("07400 123501", http.StatusOK, fmt.Sprintf("text %d to one number", i+1))
		}
		for range 3 {
			ask("07400 123501", http.StatusTooManyRequests, "a fourth to one number")
		}
		waitUntil(t, "three texts", func() bool { return g.textsTo("+447400123501") == 3 })
		// The range +44 7400 1…: one more (4 an hour), then 429.
		ask("07400 123502", http.StatusOK, "the range's fourth")
		ask("07400 123503", http.StatusTooManyRequests, "the range's fifth")
		// The country +44: one more in another range (5 an hour), then 429.
		ask("07400 223504", http.StatusOK, "the country's fifth")
		ask("07400 323505", http.StatusTooManyRequests, "the country's sixth")
		// Another country: the day's sixth and seventh, then the cap.
		ask("+353 85 012 3499", http.StatusOK, "the day's sixth")
		ask("+353 85 112 3498", http.StatusOK, "the day's seventh")
		ask("+353 86 012 3497", http.StatusTooManyRequests, "past the daily cap")
		time.Sleep(300 * time.Millisecond)
		for _, n := range []string{"+447400123503", "+447400323505", "+353860123497"} {
			if got := g.textsTo(n); got != 0 {
				t.Fatalf("%d texts to %s past a bound", got, n)
			}
		}
	}}})
}
