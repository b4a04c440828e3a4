package caddymodule

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
)

var regexpSupportCode = regexp.MustCompile(`\b\d{3} \d{3}\b`)

// TestAgentConsole (issue 20 §1–4): the support console, through real
// Caddy on both stores. The agent role comes only through the admin API's
// agents endpoint; the console wants a passkey sign-in (aal2) of the last
// 12 hours; until the caller reads back a code sent to the customer's
// verified address (or the support code of their account page) the case
// is masked and no action works; five wrong codes close it; a reset link
// goes to the customer's verified address and never to the agent; the
// customer's account page and export show everything the agent did, and
// the agent's own trail is on the admin API.
func TestAgentConsole(t *testing.T) {
	html := map[string]string{"Accept": "text/html"}
	o := gatewayOpts{site: "agents on\n\t\trequire /app/pay/* {\n\t\t\tactor customer\n\t\t}", global: "session {\n\t\t\tidle 48h\n\t\t\tabsolute 72h\n\t\t}"}
	runOnBothStoresWith(t, o, []scenario{{"console", func(t *testing.T, g *gateway) {
		const callerEmail = "caller@example.com"
		caller := g.signUp(callerEmail)
		callerID := g.customerID(callerEmail)
		g.takeMails(callerEmail, "")

		// The agent signs in with a passkey.
		agent, a, _ := pkSignUp(t, g, "agent@example.com")
		pkLogout(t, g, agent)
		if _, r := pkLogin(t, g, agent, a, "/app/x"); r.status != http.StatusSeeOther {
			t.Fatalf("agent's passkey sign-in: %d %s", r.status, r.body)
		}
		agentID := g.customerID("agent@example.com")
		if r := g.get(agent, "/.frontdoor/agent", html); r.status != http.StatusForbidden {
			t.Fatalf("console before the role: %d", r.status)
		}
		// The role comes only through /frontdoor/agents.
		if st, out := adminDo(t, g, http.MethodPut, "/frontdoor/customers/"+agentID+"/roles/agent", `{"reason": "sneaky"}`); st < 400 {
			t.Fatalf("the generic roles API gave the agent role: %d %s", st, out)
		}
		if st, out := adminDo(t, g, http.MethodPost, "/frontdoor/agents/"+agentID, `{}`); st != http.StatusBadRequest {
			t.Fatalf("no reason: %d %s", st, out)
		}
		if st, out := adminDo(t, g, http.MethodPost, "/frontdoor/agents/"+agentID, `{"reason": "joined the support team"}`); st != http.StatusOK || !strings.Contains(out, `"agent": true`) {
			t.Fatalf("grant: %d %s", st, out)
		}
		// A password-only agent is sent to step up.
		pw := g.signUp("pw-agent@example.com")
		if st, _ := adminDo(t, g, http.MethodPost, "/frontdoor/agents/"+g.customerID("pw-agent@example.com"), `{"reason": "test"}`); st != http.StatusOK {
			t.Fatal("grant pw agent")
		}
		if r := g.get(pw, "/.frontdoor/agent", html); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/.frontdoor/stepup?rd=") {
			t.Fatalf("password-only agent: %d %q", r.status, r.header.Get("Location"))
		}
		// The passkey agent gets in.
		if r := g.get(agent, "/.frontdoor/agent", html); r.status != http.StatusOK || !strings.Contains(r.body, `id="agent-find"`) {
			t.Fatalf("console: %d %s", r.status, r.body)
		}
		find := func(q string) {
			t.Helper()
			if r := g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/find", url.Values{"query": {q}}); r.status != http.StatusSeeOther {
				t.Fatalf("find %s: %d %s", q, r.status, r.body)
			}
		}
		act := func(action string) response {
			t.Helper()
			return g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/act", url.Values{"action": {action}, "reason": {"caller locked out"}, "ticket": {"T-42"}})
		}
		verify := func(code string) response {
			t.Helper()
			return g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/verify", url.Values{"code": {code}})
		}
		find(callerEmail)
		page := g.get(agent, "/.frontdoor/agent", html).body
		if !strings.Contains(page, "c***@example.com") || strings.Contains(page, callerEmail) || strings.Contains(page, `id="agent-act"`) {
			t.Fatalf("unverified case shows more than masked data:\n%s", page)
		}
		// Before the caller is verified no action works.
		for _, action := range authflow.AgentActions {
			if r := act(action); r.status != http.StatusForbidden {
				t.Errorf("%s before verification: %d", action, r.status)
			}
		}
		if m := g.takeMails(callerEmail, ""); len(m) != 0 {
			t.Fatalf("mail before verification: %d", len(m))
		}
		// Five wrong codes close the case.
		for i := range authflow.CaseMaxTries {
			r := verify("000000")
			if want := map[bool]int{true: http.StatusForbidden, false: http.StatusUnauthorized}[i == authflow.CaseMaxTries-1]; r.status != want {
				t.Fatalf("wrong code %d: %d", i+1, r.status)
			}
		}
		if r := act(authflow.ActSendReset); r.status == http.StatusOK {
			t.Fatal("an action on a closed case")
		}
		// A new case: the code goes to the customer, the caller reads it.
		find(callerEmail)
		if r := g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/code", url.Values{}); r.status != http.StatusOK || sixDigits.MatchString(r.body) {
			t.Fatalf("send code: %d", r.status)
		}
		mails := g.takeMails(callerEmail, "support team")
		if len(mails) != 1 {
			t.Fatalf("code mails: %d", len(mails))
		}
		if r := verify(sixDigits.FindString(mails[0])); r.status != http.StatusOK || !strings.Contains(r.body, callerEmail) {
			t.Fatalf("the right code: %d %s", r.status, r.body)
		}
		// A reset link: to the verified address, never in the agent's answer.
		r := act(authflow.ActSendReset)
		if r.status != http.StatusOK || strings.Contains(r.body, "reset/confirm") {
			t.Fatalf("send reset: %d %s", r.status, r.body)
		}
		link := g.mailLink(callerEmail, "/.frontdoor/reset/confirm?token=")
		if u, err := url.Parse(link); err != nil || strings.Contains(r.body, u.Query().Get("token")) {
			t.Fatalf("reset link %q", link)
		}
		if r := g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/act", url.Values{"action": {authflow.ActRevokeSessions}}); r.status != http.StatusBadRequest {
			t.Fatalf("an action without a reason: %d", r.status)
		}
		if r := act(authflow.ActRevokeSessions); r.status != http.StatusOK {
			t.Fatalf("revoke sessions: %d", r.status)
		}
		if r := g.get(caller, "/app/x", map[string]string{"Accept": "application/json"}); r.status != http.StatusUnauthorized {
			t.Fatalf("the caller's session after the agent revoked it: %d", r.status)
		}
		// The support code of the account page verifies a case too.
		g.login(caller, callerEmail, testPassword, "/app/x")
		sc := g.postVia(caller, "/.frontdoor/account", "/.frontdoor/account/support-code", url.Values{})
		code := strings.ReplaceAll(regexpSupportCode.FindString(sc.body), " ", "")
		if sc.status != http.StatusOK || len(code) != 6 {
			t.Fatalf("support code: %d %s", sc.status, sc.body)
		}
		g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/close", url.Values{})
		find(callerID)
		if r := verify(code); r.status != http.StatusOK {
			t.Fatalf("the support code: %d %s", r.status, r.body)
		}
		// The customer sees it all, on the page and in the export.
		acct := g.get(caller, "/.frontdoor/account", nil).body
		for _, want := range []string{"A support agent opened your account", "Someone failed to prove to a support agent that they were you",
			"You confirmed who you are to a support agent", "A support agent sent you a password reset link", "A support agent signed you out everywhere"} {
			if !strings.Contains(acct, want) {
				t.Errorf("account page lacks %q", want)
			}
		}
		if export := g.get(caller, "/.frontdoor/account/export", nil).body; !strings.Contains(export, "send_reset agent="+agentID) {
			t.Errorf("export lacks the agent's action")
		}
		// The agent's own trail.
		if st, out := adminDo(t, g, http.MethodGet, "/frontdoor/agents/"+agentID+"/trail", ""); st != http.StatusOK ||
			!strings.Contains(out, "send_reset customer="+callerID) || !strings.Contains(out, "revoke_sessions customer="+callerID) {
			t.Fatalf("agent trail: %d %s", st, out)
		}
		// View as the customer, with the code the customer gives: the
		// backend sees the customer and the agent acting; only-the-customer
		// routes and pages refuse it; the customer ends it at once.
		vc := g.postVia(caller, "/.frontdoor/account", "/.frontdoor/account/view-code", url.Values{})
		viewCode := strings.ReplaceAll(regexpSupportCode.FindString(vc.body), " ", "")
		if vc.status != http.StatusOK || len(viewCode) != 6 {
			t.Fatalf("view code: %d %s", vc.status, vc.body)
		}
		if r := g.postVia(agent, "/.frontdoor/agent", "/.frontdoor/agent/view", url.Values{"view_code": {"000000"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("a wrong view code: %d", r.status)
		}
		viewer := g.newClient()
		viewer.Jar = agent.Jar
		if r := g.postVia(viewer, "/.frontdoor/agent", "/.frontdoor/agent/view", url.Values{"view_code": {viewCode}}); r.status != http.StatusSeeOther {
			t.Fatalf("view as: %d %s", r.status, r.body)
		}
		if r := g.get(viewer, "/app/orders", html); r.status != http.StatusOK {
			t.Fatalf("the agent viewing as the customer: %d", r.status)
		}
		hdr := g.backend.lastHeaders()
		if hdr.Get("X-Frontdoor-User") != callerID || hdr.Get("X-Frontdoor-Actor") != agentID {
			t.Fatalf("view-as headers: %v", hdr)
		}
		if act, _ := assertionClaims(t, g)["act"].(map[string]any); act == nil || act["sub"] != agentID {
			t.Fatalf("view-as assertion: %v", assertionClaims(t, g))
		}
		if r := g.get(viewer, "/app/pay/now", map[string]string{"Accept": "application/json"}); r.status != http.StatusForbidden || !strings.Contains(r.body, `"missing":"actor"`) {
			t.Fatalf("actor customer route: %d %s", r.status, r.body)
		}
		if r := g.get(viewer, "/.frontdoor/account", html); r.status != http.StatusForbidden {
			t.Fatalf("the customer's account page to a viewing agent: %d", r.status)
		}
		if r := g.postVia(caller, "/.frontdoor/account", "/.frontdoor/account/view-code", url.Values{}); r.status != http.StatusOK {
			t.Fatal("a second view code")
		}
		acct = g.get(caller, "/.frontdoor/account", nil).body
		i := strings.Index(acct, "A support agent viewing as you")
		m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(acct[max(i, 0):])
		if i < 0 || m == nil || !strings.Contains(acct, "A support agent saw your account as you do") {
			t.Fatalf("account page lacks the agent's view:\n%s", acct)
		}
		if r := g.postVia(caller, "/.frontdoor/account", "/.frontdoor/account/sessions/revoke", url.Values{"id": {m[1]}}); r.status >= 400 {
			t.Fatalf("ending the view: %d", r.status)
		}
		if r := g.get(viewer, "/app/orders", map[string]string{"Accept": "application/json"}); r.status != http.StatusUnauthorized {
			t.Fatalf("the view after the customer ended it: %d", r.status)
		}
		// The agent signs in again for the console.
		if _, r := pkLogin(t, g, agent, a, "/app/x"); r.status != http.StatusSeeOther {
			t.Fatalf("agent sign-in again: %d", r.status)
		}
		// Thirteen hours on, the agent's sign-in is stale: step up.
		clk := useClock(t)
		clk.advance(13 * time.Hour)
		if r := g.get(agent, "/.frontdoor/agent", html); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/stepup") {
			t.Fatalf("stale agent sign-in: %d %q", r.status, r.header.Get("Location"))
		}
		// The role taken away: refused.
		clk.advance(-13 * time.Hour)
		if st, _ := adminDo(t, g, http.MethodDelete, "/frontdoor/agents/"+agentID+"?reason=left", ""); st != http.StatusOK {
			t.Fatal("remove agent")
		}
		if r := g.get(agent, "/.frontdoor/agent", html); r.status != http.StatusForbidden {
			t.Fatalf("console after the role was taken away: %d", r.status)
		}
	}}})
}
