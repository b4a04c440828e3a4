package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
)

// newAgent signs a passkey customer up, signs them in with the passkey
// and makes them an agent; it returns their browser and a way to sign in
// again.
func newAgent(t *testing.T, g *gateway, email string) (*http.Client, func()) {
	t.Helper()
	c, a, _ := pkSignUp(t, g, email)
	signIn := func() {
		t.Helper()
		if _, r := pkLogin(t, g, c, a, "/app/x"); r.status != http.StatusSeeOther {
			t.Fatalf("agent sign-in: %d", r.status)
		}
	}
	pkLogout(t, g, c)
	signIn()
	if st, out := adminDo(t, g, http.MethodPost, "/frontdoor/agents/"+g.customerID(email), `{"reason": "support team"}`); st != http.StatusOK {
		t.Fatalf("grant: %d %s", st, out)
	}
	return c, signIn
}

// verifiedCase opens agent's case on the customer and verifies it with
// the support code the signed-in customer gets on their account page.
func verifiedCase(t *testing.T, g *gateway, agent, customer *http.Client, email string) {
	t.Helper()
	if r := g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/find", url.Values{"query": {email}}); r.status != http.StatusSeeOther {
		t.Fatalf("find: %d %s", r.status, r.body)
	}
	sc := g.postVia(customer, "/.frontdoor/account", "/.frontdoor/account/support-code", url.Values{})
	code := strings.ReplaceAll(regexpSupportCode.FindString(sc.body), " ", "")
	if r := g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/verify", url.Values{"code": {code}}); r.status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
}

// TestAgentFactorRemoval (issue 20 §3): an agent removes a customer's
// second factors only after a cooling-off during which the customer is
// told and can cancel with one click — or at once with a second agent's
// approval, never the same agent's; a high-risk account always needs the
// second agent.
func TestAgentFactorRemoval(t *testing.T) {
	o := gatewayOpts{site: "agents on", global: "session {\n\t\t\tidle 96h\n\t\t\tabsolute 120h\n\t\t}"}
	runOnBothStoresWith(t, o, []scenario{{"removal", func(t *testing.T, g *gateway) {
		clk := useClock(t)
		const email = "lost-phone@example.com"
		customer := g.signUp(email)
		enrolTOTP(t, g, customer, clk)
		g.takeMails(email, "")
		agent1, signIn1 := newAgent(t, g, "agent-one@example.com")
		agent2, signIn2 := newAgent(t, g, "agent-two@example.com")
		act := func(agent *http.Client, action string) response {
			t.Helper()
			return g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/act", url.Values{"action": {action}, "reason": {"lost their phone"}, "ticket": {"T-7"}})
		}
		passwordSignIn := func() response {
			t.Helper()
			return g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {email}, "password": {testPassword}, "rd": {"/app/x"}})
		}
		// After the cooling-off, unless cancelled.
		verifiedCase(t, g, agent1, customer, email)
		if r := act(agent1, authflow.ActRemoveFactors); r.status != http.StatusOK {
			t.Fatalf("remove factors: %d %s", r.status, r.body)
		}
		link := g.mailLink(email, "/.frontdoor/factor-removal/cancel?token=")
		if r := passwordSignIn(); r.status != http.StatusOK || !strings.Contains(r.body, `name="code"`) {
			t.Fatalf("during the cooling-off the second factor is still asked: %d", r.status)
		}
		if acct := g.get(customer, "/.frontdoor/account", nil).body; !strings.Contains(acct, `id="cancel-removal"`) {
			t.Fatalf("the account page does not offer to cancel:\n%s", acct)
		}
		u, _ := url.Parse(link)
		scanner := g.newClient()
		if r := g.get(scanner, u.RequestURI(), nil); r.status != http.StatusOK {
			t.Fatalf("cancel page: %d", r.status)
		}
		if r := g.postVia(scanner, u.RequestURI(), "/.frontdoor/factor-removal/cancel", url.Values{"token": {u.Query().Get("token")}}); r.status != http.StatusOK || !strings.Contains(r.body, "stay as they are") {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		clk.advance(25 * time.Hour)
		if r := passwordSignIn(); r.status != http.StatusOK || !strings.Contains(r.body, `name="code"`) {
			t.Fatalf("a cancelled removal removed the factor: %d", r.status)
		}
		// Asked again and not cancelled: gone at the first sign-in after.
		signIn1()
		verifiedCase(t, g, agent1, customer, email)
		if r := act(agent1, authflow.ActRemoveFactors); r.status != http.StatusOK {
			t.Fatalf("remove factors again: %d", r.status)
		}
		clk.advance(25 * time.Hour)
		if r := passwordSignIn(); r.status != http.StatusSeeOther {
			t.Fatalf("after the cooling-off: %d %s", r.status, r.body)
		}
		if c, _ := backendOf(t).identity.CustomerByEmail(context.Background(), email); c.TOTP != nil || len(c.RecoveryCodes) != 0 {
			t.Fatalf("factors after the removal: %+v", c)
		}
		if m := g.takeMails(email, "were removed"); len(m) != 1 {
			t.Fatalf("removed mails: %d", len(m))
		}
		// At once, with a second agent — not the same one.
		g.login(customer, email, testPassword, "/app/x")
		enrolTOTP(t, g, customer, clk)
		signIn1()
		verifiedCase(t, g, agent1, customer, email)
		if r := act(agent1, authflow.ActRemoveFactorsNow); r.status != http.StatusOK {
			t.Fatalf("remove now: %d %s", r.status, r.body)
		}
		if r := act(agent1, authflow.ActApproveRemoval); r.status != http.StatusForbidden {
			t.Fatalf("the same agent approving: %d", r.status)
		}
		if r := passwordSignIn(); r.status != http.StatusOK || !strings.Contains(r.body, `name="code"`) {
			t.Fatalf("before approval the factor is still asked: %d", r.status)
		}
		signIn2()
		verifiedCase(t, g, agent2, customer, email)
		if r := act(agent2, authflow.ActApproveRemoval); r.status != http.StatusOK {
			t.Fatalf("the second agent's approval: %d %s", r.status, r.body)
		}
		if c, _ := backendOf(t).identity.CustomerByEmail(context.Background(), email); c.TOTP != nil {
			t.Fatal("the factor after the second agent's approval")
		}
		// A high-risk account: only with a second agent.
		enrolTOTP(t, g, customer, clk)
		if st, out := adminDo(t, g, http.MethodPut, "/frontdoor/customers/"+g.customerID(email)+"/roles/"+authflow.HighRiskRole, `{"reason": "VIP"}`); st >= 400 {
			t.Fatalf("high-risk role: %d %s", st, out)
		}
		verifiedCase(t, g, agent1, customer, email)
		if r := act(agent1, authflow.ActRemoveFactors); r.status != http.StatusBadRequest || !strings.Contains(r.body, "high-risk") {
			t.Fatalf("cooling-off removal of a high-risk account: %d", r.status)
		}
		if r := act(agent1, authflow.ActRemoveFactorsNow); r.status != http.StatusOK {
			t.Fatalf("asking approval for a high-risk account: %d", r.status)
		}
		acct := g.get(customer, "/.frontdoor/account", nil).body
		for _, want := range []string{"A second support agent must approve it first", "You cancelled the removal of your second factors",
			"Your second factors were removed at a support agent’s request", "A second support agent approved removing your second factors"} {
			if !strings.Contains(acct, want) {
				t.Errorf("account page lacks %q", want)
			}
		}
	}}})
}

// TestAgentsCaddyfile: `agents on` and its block adapt; mistakes name the
// option and the line.
func TestAgentsCaddyfile(t *testing.T) {
	site := func(lines string) string {
		return "shop.example.com {\n\tfrontdoor {\n" + lines + "\t}\n}\n"
	}
	out, err := adapt(t, site("\t\tagents on {\n\t\t\tmax_age 4h\n\t\t\tlookups 20\n\t\t\tcooling_off 48h\n\t\t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"agents":{"cooling_off":172800000000000,"lookups_per_hour":20,"max_age":14400000000000}`; !strings.Contains(string(out), want) {
		t.Errorf("adapted JSON lacks %s:\n%s", want, out)
	}
	if out, err := adapt(t, site("\t\tagents off\n")); err != nil || strings.Contains(string(out), `"agents"`) {
		t.Errorf("agents off: %v %s", err, out)
	}
	for _, tc := range []struct {
		name, lines string
		line        int
		want        string
	}{
		{"no value", "\t\tagents\n", 3, "agents needs on or off"},
		{"bad value", "\t\tagents maybe\n", 3, `agents "maybe": on or off`},
		{"max_age", "\t\tagents on {\n\t\t\tmax_age 30s\n\t\t}\n", 4, `max_age "30s": 1m to 168h`},
		{"lookups", "\t\tagents on {\n\t\t\tlookups lots\n\t\t}\n", 4, `lookups "lots"`},
		{"cooling_off", "\t\tagents on {\n\t\t\tcooling_off 5m\n\t\t}\n", 4, `cooling_off "5m": 1h to 720h`},
		{"unknown", "\t\tagents on {\n\t\t\tvip_list a\n\t\t}\n", 4, `unknown option "vip_list"`},
		{"twice", "\t\tagents on\n\t\tagents on\n", 4, "agents is set twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, site(tc.lines), tc.line, tc.want)
		})
	}
}

// TestAgentLookupLimit: an agent opens at most `lookups` cases an hour;
// the next hour they may again.
func TestAgentLookupLimit(t *testing.T) {
	g := startGateway(t, gatewayOpts{site: "agents on {\n\t\t\tlookups 2\n\t\t}", global: "session {\n\t\t\tidle 4h\n\t\t}"})
	clk := useClock(t)
	clk.alignTo(time.Hour)
	g.signUp("looked-up@example.com")
	agent, _ := newAgent(t, g, "busy-agent@example.com")
	find := func() int {
		return g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/find", url.Values{"query": {"looked-up@example.com"}}).status
	}
	for i := range 2 {
		if st := find(); st != http.StatusSeeOther {
			t.Fatalf("lookup %d: %d", i+1, st)
		}
	}
	if st := find(); st != http.StatusTooManyRequests {
		t.Fatalf("a third lookup in the hour: %d", st)
	}
	clk.advance(time.Hour)
	if st := find(); st == http.StatusTooManyRequests {
		t.Fatalf("the next hour: %d", st)
	}
}

// TestAgentLiftChallenge: a customer locked out by the sign-in limits of
// their account (someone guessing, or themself) is let in again by an
// agent, once the caller is verified.
func TestAgentLiftChallenge(t *testing.T) {
	g := startGateway(t, gatewayOpts{site: "agents on", limits: "limits {\n\t\t\tlogin account 3/15m\n\t\t}"})
	const email = "locked@example.com"
	customer := g.signUp(email)
	for range 4 {
		g.post(clientFrom(g, "127.0.9.9"), "/.frontdoor/login", url.Values{"email": {email}, "password": {"guess"}})
	}
	signIn := func() int {
		return g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {email}, "password": {testPassword}, "rd": {"/app/x"}}).status
	}
	if st := signIn(); st != http.StatusTooManyRequests && st != http.StatusForbidden {
		t.Fatalf("the locked account's sign-in: %d", st) // 403: asked to prove it is no bot first
	}
	agent, _ := newAgent(t, g, "lifter@example.com")
	verifiedCase(t, g, agent, customer, email)
	if r := g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/act", url.Values{"action": {authflow.ActLiftChallenge}, "reason": {"customer locked out"}}); r.status != http.StatusOK {
		t.Fatalf("lift: %d %s", r.status, r.body)
	}
	if st := signIn(); st != http.StatusSeeOther {
		t.Fatalf("after the agent lifted the limits: %d", st)
	}
}
