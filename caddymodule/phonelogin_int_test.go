package caddymodule

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/webauthntest"
)

// phoneLoginOpts is phoneOpts with sign-in by phone on, and the edge
// defence on with its defaults — but for the number-as-typed limit of the
// text route, raised so that the text limits show behind it.
var phoneLoginOpts = gatewayOpts{global: phoneOpts.global, site: phoneOpts.site + "\n\t\tphone_login on\n\t\tsms_mfa on",
	limits: "limits {\n\t\t\ttext account 100/15m\n\t\t}"}

const phoneLoginPath = "/.frontdoor/phone"

// askLogin asks for a sign-in code for number in browser c, going to rd.
func (g *gateway) askLogin(c *http.Client, number, rd string) response {
	g.t.Helper()
	return g.postVia(c, phoneLoginPath, phoneLoginPath, url.Values{"phone": {number}, "rd": {rd}})
}

func (g *gateway) typeLoginCode(c *http.Client, code string) response {
	g.t.Helper()
	return g.postVia(c, phoneLoginPath, phoneLoginPath, url.Values{"code": {code}})
}

// sameAnswer strips what differs between two code pages by design: the
// CSRF token and the number texted.
var csrfValueRE = regexp.MustCompile(`name="csrf_token" value="[^"]+"`)

func sameAnswer(body, number string) string {
	return strings.ReplaceAll(csrfValueRE.ReplaceAllString(body, ""), number, "NUMBER")
}

// TestPhoneSignIn: through real Caddy on both stores, sign-up and sign-in
// by phone alone (`phone_login on`): the sign-in page offers it; a
// country off the allow-list is refused before anything is texted; a
// known and an unknown number get the same page and the same text; the
// code works once, only in the browser that asked, and signs up a
// customer without an address (amr sms, no email header, account page
// offering to add one, an export that follows the schema) or signs in the
// number's account; an account whose only second factor is that phone is
// not signed in by it; the per-number text limit and the edge defence's
// per-address limit on the "text" route hold; no code reaches the log.
func TestPhoneSignIn(t *testing.T) {
	var codes []string
	runOnBothStoresWith(t, phoneLoginOpts, []scenario{
		{name: "sign up and sign in", run: func(t *testing.T, g *gateway) {
			if r := g.get(g.newClient(), "/.frontdoor/login", nil); !strings.Contains(r.body, `href="/.frontdoor/phone?rd=`) {
				t.Fatalf("the sign-in page does not offer the phone: %s", r.body)
			}
			c := g.newClient()
			if r := g.get(c, phoneLoginPath, nil); r.status != http.StatusOK || !strings.Contains(r.body, `type="tel"`) {
				t.Fatalf("phone page: %d %s", r.status, r.body)
			}
			// Off the allow-list: refused, nothing texted or stored.
			if r := g.askLogin(c, "+33 6 12 34 56 78", "/app/x"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "We can only text numbers in: GB, IE") {
				t.Fatalf("France: %d %s", r.status, r.body)
			}
			if files, _ := filepath.Glob(filepath.Join(g.dir, "sms", "*.json")); len(files) != 0 {
				t.Fatalf("texted for a refused number: %v", files)
			}

			// A known number and an unknown one: the same page and text.
			const known, unknown = "+447400123421", "+447400123422"
			g.signUp("phone-known@example.com")
			knownID := customerIDOf(t, "phone-known@example.com")
			if _, err := backendOf(t).identity.SetPhone(t.Context(), knownID, known, true); err != nil {
				t.Fatal(err)
			}
			ck := g.newClient()
			rk := g.askLogin(ck, "07400 123421", "/app/x")
			ru := g.askLogin(c, "07400 123422", "/app/x")
			if rk.status != http.StatusOK || ru.status != rk.status ||
				sameAnswer(rk.body, "+44 7400 123421") != sameAnswer(ru.body, "+44 7400 123422") {
				t.Fatalf("known %d, unknown %d:\n%s\n---\n%s", rk.status, ru.status, rk.body, ru.body)
			}
			tk, tu := g.text(known, "signin"), g.text(unknown, "signin")
			codes = append(codes, tk.Code, tu.Code)
			if strings.ReplaceAll(tk.Text, tk.Code, "C") != strings.ReplaceAll(tu.Text, tu.Code, "C") {
				t.Fatalf("texts differ: %q / %q", tk.Text, tu.Text)
			}

			// Another browser cannot use the code; the one that asked can, once.
			if r := g.typeLoginCode(g.newClient(), tu.Code); r.status != http.StatusBadRequest || !strings.Contains(r.body, "another browser") {
				t.Fatalf("another browser: %d %s", r.status, r.body)
			}
			if r := g.typeLoginCode(c, otherCode(tu.Code)); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Tries left: 4") {
				t.Fatalf("wrong code: %d %s", r.status, r.body)
			}
			r := g.typeLoginCode(c, tu.Code)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/x" || g.sessionCookie(c) == "" {
				t.Fatalf("sign-up: %d %q %s", r.status, r.header.Get("Location"), r.body)
			}
			if r := g.typeLoginCode(c, tu.Code); r.status != http.StatusBadRequest {
				t.Fatalf("the code again: %d", r.status)
			}
			if r := g.get(c, "/app/x", navigate); r.status != http.StatusOK {
				t.Fatalf("protected route: %d", r.status)
			}
			h := g.backend.lastHeaders()
			created, err := backendOf(t).identity.CustomerByPhone(t.Context(), unknown)
			if err != nil || !created.PhoneVerified || created.Email != "" || h.Get("X-Frontdoor-User") != created.ID {
				t.Fatalf("created %+v (%v), backend saw user %q", created, err, h.Get("X-Frontdoor-User"))
			}
			if h.Get("X-Frontdoor-AMR") != "sms" || h.Get("X-Frontdoor-Email") != "" || h.Get("X-Frontdoor-Phone-Number") != unknown {
				t.Fatalf("backend saw amr %q email %q phone %q", h.Get("X-Frontdoor-AMR"), h.Get("X-Frontdoor-Email"), h.Get("X-Frontdoor-Phone-Number"))
			}
			claims := verifyAssertion(t, g.get(g.newClient(), "/.well-known/frontdoor/jwks.json", nil).body, h.Get("X-Frontdoor-Assertion"), g.aud())
			if claims.PhoneNumber != unknown || !claims.PhoneNumberVerified || claims.Email != "" {
				t.Fatalf("assertion: %+v", claims)
			}
			// A client's own copy of the header never reaches the backend.
			g.get(c, "/app/x", map[string]string{"X-Frontdoor-Phone-Number": "+15005550006", "X-Frontdoor_Phone_Number": "+15005550006"})
			seen := g.backend.lastHeaders()
			if got := seen.Values("X-Frontdoor-Phone-Number"); len(got) != 1 || got[0] != unknown {
				t.Fatalf("backend saw phone %q", got)
			}
			for k := range seen {
				if k != "X-Frontdoor-Phone-Number" && strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "X-Frontdoor-Phone-Number") {
					t.Fatalf("backend saw the forged %s", k)
				}
			}
			if r := g.get(c, "/.frontdoor/account", nil); r.status != http.StatusOK || !strings.Contains(r.body, "No email address.") ||
				!strings.Contains(r.body, "44 7400 123422") {
				t.Fatalf("account page: %d %s", r.status, r.body)
			}
			x := validExport(t, g.get(c, "/.frontdoor/account/export", nil).body)
			if addrs := x["addresses"].([]any); len(addrs) != 0 {
				t.Fatalf("export addresses: %v", addrs)
			}

			// Operators find the customer by number, and erasure frees it.
			if st, body := adminGet(t, g, "/frontdoor/customers?phone=%2B447400123422&reason=ticket"); st != http.StatusOK || !strings.Contains(body, created.ID) {
				t.Fatalf("admin lookup by phone: %d %s", st, body)
			}
			if st, _ := adminGet(t, g, "/frontdoor/customers?phone=not-a-number"); st != http.StatusBadRequest {
				t.Fatalf("admin lookup by a bad number: %d", st)
			}
			if st, body := adminDo(t, g, http.MethodDelete, "/frontdoor/customers/"+created.ID, `{"reason":"asked by phone"}`); st != http.StatusOK {
				t.Fatalf("erasure: %d %s", st, body)
			}
			if _, err := backendOf(t).identity.CustomerByPhone(t.Context(), unknown); err != identity.ErrNotFound {
				t.Fatalf("the number after erasure: %v", err)
			}

			// The known number signs in its own account.
			r = g.typeLoginCode(ck, tk.Code)
			if r.status != http.StatusSeeOther || g.sessionCookie(ck) == "" {
				t.Fatalf("known sign-in: %d %s", r.status, r.body)
			}
			g.get(ck, "/app/x", navigate)
			if got := g.backend.lastHeaders().Get("X-Frontdoor-User"); got != knownID {
				t.Fatalf("signed in %q, want %q", got, knownID)
			}

			// The phone as the account's only second factor: not both at once.
			if _, err := backendOf(t).identity.UpdateCustomer(t.Context(), knownID, func(c *identity.Customer) error {
				c.SMSFactor = true
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			c2 := g.newClient()
			g.askLogin(c2, known, "")
			code := g.text(known, "signin").Code
			codes = append(codes, code)
			if r := g.typeLoginCode(c2, code); r.status != http.StatusForbidden || g.sessionCookie(c2) != "" {
				t.Fatalf("sms-only account: %d %s", r.status, r.body)
			}
		}},
		{name: "a passkey for a customer without an address", run: func(t *testing.T, g *gateway) {
			const number = "+447400123461"
			c := clientFrom(g, "127.0.11.1") // the text route allows five requests an hour per address
			g.askLogin(c, number, "/app/x")
			code := g.text(number, "signin").Code
			codes = append(codes, code)
			if r := g.typeLoginCode(c, code); r.status != http.StatusSeeOther {
				t.Fatalf("sign-up: %d %s", r.status, r.body)
			}
			a := webauthntest.New(g.url(""))
			cred, r := pkCreate(t, g, c, a)
			if r.status != http.StatusSeeOther {
				t.Fatalf("adding a passkey: %d %s", r.status, r.body)
			}
			pkLogout(t, g, c)
			if _, r := pkLogin(t, g, c, a, "/app/x"); r.status != http.StatusSeeOther || g.sessionCookie(c) == "" {
				t.Fatalf("passkey sign-in: %d %s", r.status, r.body)
			}
			// Removing it warns of the number, not an address.
			if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/passkey/remove", url.Values{"id": {b64(cred.ID)}}); r.status != http.StatusOK ||
				!strings.Contains(r.body, "besides a code texted to") {
				t.Fatalf("removing the only passkey: %d %s", r.status, r.body)
			}
			// The passkey is now the second factor of a phone sign-in.
			pkLogout(t, g, c)
			g.askLogin(c, number, "/app/x")
			code = g.text(number, "signin").Code
			codes = append(codes, code)
			if r := g.typeLoginCode(c, code); r.status != http.StatusOK || !strings.Contains(r.body, "Two-step verification") || g.sessionCookie(c) != "" {
				t.Fatalf("phone sign-in with a passkey on the account: %d %s", r.status, r.body)
			}
		}},
		{name: "limits", run: func(t *testing.T, g *gateway) {
			// Three texts per number in 15 minutes, then 429 and no text.
			const number = "+353850123431"
			for i := range 3 {
				c := clientFrom(g, "127.0.9."+string(rune('1'+i)))
				if r := g.askLogin(c, number, ""); r.status != http.StatusOK {
					t.Fatalf("ask %d: %d %s", i+1, r.status, r.body)
				}
				codes = append(codes, g.text(number, "signin").Code)
			}
			if r := g.askLogin(clientFrom(g, "127.0.9.9"), number, ""); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
				t.Fatalf("fourth text: %d %s", r.status, r.body)
			}
			// The edge defence: five requests an hour from one address,
			// whatever the numbers.
			c := clientFrom(g, "127.0.10.1")
			for i := range 5 {
				n := "+44740012344" + string(rune('0'+i))
				if r := g.askLogin(c, n, ""); r.status != http.StatusOK {
					t.Fatalf("ask %d: %d %s", i+1, r.status, r.body)
				}
				codes = append(codes, g.text(n, "signin").Code)
			}
			if r := g.askLogin(c, "+447400123449", ""); r.status != http.StatusTooManyRequests {
				t.Fatalf("sixth request from one address: %d %s", r.status, r.body)
			}
			if n := g.textsTo("+447400123449"); n != 0 {
				t.Fatalf("texted %d after the limit", n)
			}
		}},
		{name: "no code in the log", run: func(t *testing.T, g *gateway) {
			log, err := os.ReadFile(g.logFile)
			if err != nil {
				t.Fatal(err)
			}
			if len(codes) < 10 {
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

// TestPhoneSignInRisk: through real Caddy on both stores, with the risk
// policy on, a customer who signed up by phone is told of a sign-in from
// a new device by text (no address to mail; no link in it), and a sign-in
// the policy would step up is refused — the texted code was the only
// proof they have.
func TestPhoneSignInRisk(t *testing.T) {
	o := gatewayOpts{global: phoneOpts.global + "\n\t" + riskGeo(t), site: phoneLoginOpts.site + "\n\t\t" + riskSite}
	runOnBothStoresWith(t, o, []scenario{{"notify and refuse", func(t *testing.T, g *gateway) {
		const number = "+447400123471"
		clk := useClock(t)
		signIn := func(c *http.Client) response {
			t.Helper()
			if r := g.askLogin(c, number, "/app/x"); r.status != http.StatusOK {
				t.Fatalf("ask: %d %s", r.status, r.body)
			}
			return g.typeLoginCode(c, g.text(number, "signin").Code)
		}
		if r := signIn(clientFrom(g, "127.10.0.1")); r.status != http.StatusSeeOther {
			t.Fatalf("sign-up in Berlin: %d %s", r.status, r.body)
		}
		if r := signIn(clientFrom(g, "127.11.0.1")); r.status != http.StatusSeeOther {
			t.Fatalf("a new device in Potsdam: %d %s", r.status, r.body)
		}
		notice := g.text(number, "new_sign_in")
		if !strings.Contains(notice.Text, "Potsdam") || strings.Contains(notice.Text, "http") || notice.Code != "" {
			t.Fatalf("notice: %+v", notice)
		}
		// The notice was the number's third text in 15 minutes.
		clk.advance(20 * time.Minute)
		if r := signIn(clientFrom(g, "127.20.0.1")); r.status != http.StatusForbidden || !strings.Contains(r.body, "this sign-in was blocked") {
			t.Fatalf("Australia minutes after Berlin: %d %s", r.status, r.body)
		}
	}}})
}

// TestAgentConsolePhoneOnly: through real Caddy on both stores, a support
// agent finds a customer who signed up by phone by their number (its
// hint only until verified), the case code goes to them by text (the
// agent never sees it), and the caller who reads it back is verified.
func TestAgentConsolePhoneOnly(t *testing.T) {
	html := map[string]string{"Accept": "text/html"}
	o := gatewayOpts{global: phoneOpts.global, site: phoneLoginOpts.site + "\n\t\tagents on"}
	runOnBothStoresWith(t, o, []scenario{{"phone-only caller", func(t *testing.T, g *gateway) {
		const number = "+447400123481"
		c := g.newClient()
		g.askLogin(c, number, "/app/x")
		if r := g.typeLoginCode(c, g.text(number, "signin").Code); r.status != http.StatusSeeOther {
			t.Fatalf("phone sign-up: %d %s", r.status, r.body)
		}
		agent, a, _ := pkSignUp(t, g, "phone-agent@example.com")
		pkLogout(t, g, agent)
		if _, r := pkLogin(t, g, agent, a, "/app/x"); r.status != http.StatusSeeOther {
			t.Fatalf("agent's passkey sign-in: %d %s", r.status, r.body)
		}
		if st, out := adminDo(t, g, http.MethodPost, "/frontdoor/agents/"+g.customerID("phone-agent@example.com"), `{"reason": "support team"}`); st != http.StatusOK {
			t.Fatalf("grant: %d %s", st, out)
		}
		if r := g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/find", url.Values{"query": {"+44 7400 123481"}}); r.status != http.StatusSeeOther {
			t.Fatalf("find by number: %d %s", r.status, r.body)
		}
		if page := g.get(agent, "/.frontdoor/agent", html).body; strings.Contains(page, "7400 123481") || !strings.Contains(page, "81") {
			t.Fatalf("unverified case shows the whole number:\n%s", page)
		}
		r := g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/code", url.Values{})
		if r.status != http.StatusOK || !strings.Contains(r.body, "by text") || sixDigits.MatchString(r.body) {
			t.Fatalf("case code: %d %s", r.status, r.body)
		}
		code := g.text(number, "support_code").Code
		if r := g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/verify", url.Values{"code": {code}}); r.status != http.StatusOK || !strings.Contains(r.body, "44 7400 123481") {
			t.Fatalf("the right code: %d %s", r.status, r.body)
		}
	}}})
}
