package caddymodule

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/eml"
	"github.com/frontdoorhq/frontdoor/risk"
	"github.com/frontdoorhq/frontdoor/risk/risktest"
)

// riskPlaces are the test's places: loopback source addresses, bound per
// connection (clientFrom), mapped by a database the test writes.
var riskPlaces = []risktest.Entry{
	{CIDR: "127.10.0.0/16", Country: "DE", City: "Berlin", Lat: 52.52, Lon: 13.405, Exact: true, ASN: 3320, Org: "Telekom"},
	{CIDR: "127.11.0.0/16", Country: "DE", City: "Potsdam", Lat: 52.3906, Lon: 13.0645, Exact: true, ASN: 3320, Org: "Telekom"},
	{CIDR: "127.20.0.0/16", Country: "AU", ASN: 1221, Org: "Telstra"},
}

const riskSite = `risk {
			new_country stepup
			impossible_travel stepup notify
			new_device notify
		}`

// riskGeo writes the test's databases and returns the global geoip line.
func riskGeo(t *testing.T) string {
	dir := t.TempDir()
	return "geoip " + risktest.WritePlaces(t, dir, risktest.MaxMind, riskPlaces) + " " + risktest.WriteASN(t, dir, riskPlaces)
}

// browserAt is browser c (its cookies) connecting from ip.
func browserAt(g *gateway, c *http.Client, ip string) *http.Client {
	b := clientFrom(g, ip)
	b.Jar = c.Jar
	return b
}

// takeMails removes and returns the texts of the mails to `to` that hold
// needle, once the queues are idle.
func (g *gateway) takeMails(to, needle string) []string {
	g.t.Helper()
	squatMailIdle(g.t.(*testing.T))
	files, _ := filepath.Glob(filepath.Join(g.mailDir, "*.eml"))
	sort.Strings(files)
	var out []string
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), ".") {
			continue
		}
		text, rcpt := eml.Read(f)
		if strings.EqualFold(rcpt, to) && strings.Contains(text, needle) {
			out = append(out, text)
			os.Remove(f)
		}
	}
	return out
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// TestRiskSignIn (issue 19): through real Caddy, on both stores, with a
// place database mapping loopback addresses: the first sign-ins are
// allowed, a move under 100 km is nothing, Australia an hour after Berlin
// asks for a code mailed to the verified address (the customer has no
// second factor) and then tells the customer, a new browser is told once,
// and refusals and audit mode do what they say.
func TestRiskSignIn(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{global: riskGeo(t), site: riskSite}, []scenario{{"travel", func(t *testing.T, g *gateway) {
		const email = "traveller@example.com"
		clk := useClock(t)
		home := g.signUp(email) // from 127.0.0.1: no place
		g.takeMails(email, "")
		id := g.customerID(email)

		// Berlin, then Potsdam ten minutes later, the same browser.
		g.login(browserAt(g, home, "127.10.0.1"), email, testPassword, "/app/x")
		clk.advance(10 * time.Minute)
		g.login(browserAt(g, home, "127.11.0.1"), email, testPassword, "/app/x")
		if m := g.takeMails(email, ""); len(m) != 0 {
			t.Fatalf("mail after ordinary sign-ins: %q", m)
		}
		// Australia an hour later: a code by mail first.
		clk.advance(time.Hour)
		syd := browserAt(g, home, "127.20.0.1")
		r := g.post(syd, "/.frontdoor/login", url.Values{"email": {email}, "password": {testPassword}, "rd": {"/app/orders"}})
		if r.status != http.StatusOK || !strings.Contains(r.body, `name="email_code"`) || strings.Contains(r.body, `name="code"`) {
			t.Fatalf("sign-in from Australia: %d %s", r.status, r.body)
		}
		codes := g.takeMails(email, "type this code where you are signing in")
		if len(codes) != 1 {
			t.Fatalf("code mails: %d", len(codes))
		}
		code := sixDigits.FindString(codes[0])
		if r := g.post(syd, "/.frontdoor/mfa", url.Values{"email_code": {"000000"}}); r.status != http.StatusUnauthorized || code == "000000" {
			t.Fatalf("a wrong code: %d", r.status)
		}
		// The code is bound to this browser: another one cannot use it.
		if r := g.postVia(clientFrom(g, "127.20.0.2"), "/.frontdoor/login", "/.frontdoor/mfa", url.Values{"email_code": {code}}); r.status == http.StatusSeeOther {
			t.Fatal("another browser used the mailed code")
		}
		r = g.post(syd, "/.frontdoor/mfa", url.Values{"email_code": {code}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/orders" {
			t.Fatalf("the right code: %d %s", r.status, r.header.Get("Location"))
		}
		if r := g.get(syd, "/app/orders", nil); r.status != http.StatusOK {
			t.Fatalf("after the step-up: %d", r.status)
		}
		told := g.takeMails(email, "was just signed in to")
		if len(told) != 1 || !strings.Contains(told[0], "Firefox on Linux") || !strings.Contains(told[0], "AU") ||
			!strings.Contains(told[0], "sooner than anyone travels") {
			t.Fatalf("new sign-in mails: %q", told)
		}
		b := backendOf(t)
		c, err := b.identity.Customer(context.Background(), id)
		if err != nil || len(c.Sightings) != 4 || c.Sightings[3].Place.Country != "AU" || c.Sightings[1].Place.City != "Berlin" {
			t.Fatalf("history: %+v %v", c.Sightings, err)
		}
		// A new browser in Berlin a day later: told, once.
		clk.advance(24 * time.Hour)
		other := clientFrom(g, "127.10.0.9")
		g.login(other, email, testPassword, "/app/x")
		if m := g.takeMails(email, "this device is new to your account"); len(m) != 1 {
			t.Fatalf("new-device mails: %d", len(m))
		}
		g.login(other, email, testPassword, "/app/x")
		if m := g.takeMails(email, "was just signed in to"); len(m) != 0 {
			t.Fatalf("mail for a known device: %q", m)
		}
		evs, _ := b.identity.Events(context.Background(), id, 100)
		found := false
		for _, e := range evs {
			found = found || e.Kind == identity.EventRiskDecision && strings.Contains(e.Detail, "impossible_travel")
		}
		if !found {
			t.Fatalf("no risk decision in the trail: %+v", evs)
		}
	}}})
}

// TestRiskPolicyModes: deny refuses (and the customer's session is not
// started), audit mode only records, a gateway without databases judges
// what it can and never fails a sign-in for the missing data.
func TestRiskPolicyModes(t *testing.T) {
	geo := riskGeo(t)
	t.Run("deny", func(t *testing.T) {
		g := startGateway(t, gatewayOpts{global: geo, site: "risk {\n\t\t\tnew_country deny\n\t\t}"})
		const email = "denied@example.com"
		home := g.signUp(email)
		g.login(browserAt(g, home, "127.10.0.1"), email, testPassword, "/app/x")
		au := browserAt(g, home, "127.20.0.1")
		r := g.post(au, "/.frontdoor/login", url.Values{"email": {email}, "password": {testPassword}, "rd": {"/app/x"}})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "this sign-in was blocked") {
			t.Fatalf("a denied sign-in: %d %s", r.status, r.body)
		}
	})
	t.Run("audit", func(t *testing.T) {
		g := startGateway(t, gatewayOpts{global: geo, site: "risk {\n\t\t\tnew_country deny\n\t\t\tmode audit\n\t\t}"})
		const email = "audited@example.com"
		home := g.signUp(email)
		g.login(browserAt(g, home, "127.10.0.1"), email, testPassword, "/app/x")
		g.login(browserAt(g, home, "127.20.0.1"), email, testPassword, "/app/x")
		evs, _ := backendOf(t).identity.Events(context.Background(), g.customerID(email), 50)
		found := false
		for _, e := range evs {
			found = found || e.Kind == identity.EventRiskDecision && strings.Contains(e.Detail, "[audit only]") && strings.Contains(e.Detail, "deny")
		}
		if !found {
			t.Fatalf("audit mode recorded nothing: %+v", evs)
		}
		// Not acted on, but told: the session from Australia carries its
		// sign-in's risk to the backend.
		// (Berlin to Australia at once: a new country, impossible travel.)
		if r := g.get(browserAt(g, home, "127.20.0.1"), "/app/x", nil); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Risk") != "high" {
			t.Fatalf("audit mode's header: %d %q", r.status, g.backend.lastHeaders().Get("X-Frontdoor-Risk"))
		}
		rc, _ := assertionClaims(t, g)["risk"].(map[string]any)
		if sigs, _ := rc["signals"].([]any); !slices.Contains(sigs, any("new_country")) || !slices.Contains(sigs, any("impossible_travel")) {
			t.Fatalf("audit mode's risk claim: %v", rc)
		}
	})
	t.Run("no database", func(t *testing.T) {
		g := startGateway(t, gatewayOpts{site: riskSite})
		const email = "nowhere@example.com"
		home := g.signUp(email)
		for _, ip := range []string{"127.10.0.1", "127.20.0.1", "127.11.0.1"} {
			g.login(browserAt(g, home, ip), email, testPassword, "/app/x")
		}
		if m := g.takeMails(email, "was just signed in to"); len(m) != 0 {
			t.Fatalf("mail without a database: %q", m)
		}
	})
}

// TestRiskSessionMoved (issue 19 §4, §5): a session is held to the place
// it signed in from. Backends learn the risk of every request
// (X-Frontdoor-Risk, the assertion's risk claim); the cookie replayed from
// another country mid-session is asked to prove itself again (a browser:
// the mailed code, then a session of the new place; an API call: RFC
// 9470's 401) and never reaches the backend before; another network in
// the same country is only told; a public page serves it anonymously.
func TestRiskSessionMoved(t *testing.T) {
	html := map[string]string{"Accept": "text/html"}
	runOnBothStoresWith(t, gatewayOpts{global: riskGeo(t), site: riskSite}, []scenario{{"moved", func(t *testing.T, g *gateway) {
		const email = "mover@example.com"
		home := g.signUp(email)
		berlin := browserAt(g, home, "127.10.0.1")
		g.login(berlin, email, testPassword, "/app/x")
		g.takeMails(email, "")
		if r := g.get(berlin, "/app/x", map[string]string{"X-Frontdoor-Risk": "low-forged"}); r.status != http.StatusOK {
			t.Fatalf("at home: %d", r.status)
		}
		h := g.backend.lastHeaders()
		level := h.Get("X-Frontdoor-Risk")
		if level != "low" && level != "medium" || len(h.Values("X-Frontdoor-Risk")) != 1 {
			t.Fatalf("risk header at home: %q", h.Values("X-Frontdoor-Risk"))
		}
		if rc, _ := assertionClaims(t, g)["risk"].(map[string]any); rc == nil || rc["level"] != level {
			t.Fatalf("assertion's risk claim: %v", assertionClaims(t, g))
		}
		// Potsdam: the same country and network.
		if r := g.get(browserAt(g, home, "127.11.0.1"), "/app/x", html); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Risk") != level {
			t.Fatalf("from Potsdam: %d %q", r.status, g.backend.lastHeaders().Get("X-Frontdoor-Risk"))
		}
		// The cookie in Australia: the backend never sees it.
		au := browserAt(g, home, "127.20.0.1")
		before := g.backend.count()
		r := g.get(au, "/app/api", map[string]string{"Accept": "application/json"})
		if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_user_authentication"`) {
			t.Fatalf("API call from Australia: %d %v", r.status, r.header)
		}
		if r := g.get(au, "/pub/page", nil); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-User") != "" {
			t.Fatalf("public page from Australia: %d, user %q", r.status, g.backend.lastHeaders().Get("X-Frontdoor-User"))
		}
		r = g.get(au, "/app/orders", html)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/.frontdoor/stepup?rd=%2Fapp%2Forders" {
			t.Fatalf("page from Australia: %d %q", r.status, r.header.Get("Location"))
		}
		if n := g.backend.count(); n != before+1 { // the public page only
			t.Fatalf("the backend saw %d requests of the moved session", n-before-1)
		}
		// The account page too: a stolen cookie reads nothing there.
		if r := g.get(au, "/.frontdoor/account", html); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/stepup") {
			t.Fatalf("account page from Australia: %d %q", r.status, r.header.Get("Location"))
		}
		page := g.get(au, "/.frontdoor/stepup?rd=%2Fapp%2Forders", html)
		if page.status != http.StatusOK || !strings.Contains(page.body, `name="email_code"`) {
			t.Fatalf("step-up page: %d %s", page.status, page.body)
		}
		codes := g.takeMails(email, "type this code where you are signing in")
		if len(codes) != 1 {
			t.Fatalf("code mails: %d", len(codes))
		}
		r = g.post(au, "/.frontdoor/mfa", url.Values{"email_code": {sixDigits.FindString(codes[0])}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/orders" {
			t.Fatalf("the code: %d %q %s", r.status, r.header.Get("Location"), r.body)
		}
		// Proven again: a session of Australia, which the backend now sees.
		if r := g.get(au, "/app/orders", html); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-User") != g.customerID(email) {
			t.Fatalf("after proving again: %d", r.status)
		}
		evs, _ := backendOf(t).identity.Events(context.Background(), g.customerID(email), 100)
		found := false
		for _, e := range evs {
			found = found || e.Kind == identity.EventRiskDecision && strings.Contains(e.Detail, "session_moved (DE to AU)")
		}
		if !found {
			t.Fatalf("no session_moved decision in the trail: %+v", evs)
		}
		// The decision counts on the admin API.
		if st, out := adminDo(t, g, http.MethodGet, "/frontdoor/risk/decisions", ""); st != http.StatusOK || !strings.Contains(out, `"session_moved": 1`) {
			t.Fatalf("admin API: %d %s", st, out)
		}
		_, metrics := adminGet(t, g, "/metrics")
		for _, want := range []string{`frontdoor_risk_signals_total{signal="session_moved"} 1`, `frontdoor_risk_decisions_total{action="stepup",level="high",mode="enforce"} 1`} {
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	}}})
	t.Run("audit", func(t *testing.T) {
		g := startGateway(t, gatewayOpts{global: riskGeo(t), site: "risk {\n\t\t\tsession_moved deny\n\t\t\tmode audit\n\t\t}"})
		const email = "audit-mover@example.com"
		home := g.signUp(email)
		g.login(browserAt(g, home, "127.10.0.1"), email, testPassword, "/app/x")
		if r := g.get(browserAt(g, home, "127.20.0.1"), "/app/x", html); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Risk") != "high" {
			t.Fatalf("audit mode: %d %q", r.status, g.backend.lastHeaders().Get("X-Frontdoor-Risk"))
		}
		rc, _ := assertionClaims(t, g)["risk"].(map[string]any)
		if sigs, _ := rc["signals"].([]any); rc["level"] != "high" || !slices.Contains(sigs, any("session_moved")) {
			t.Fatalf("risk claim in audit mode: %v", rc)
		}
	})
	t.Run("no database", func(t *testing.T) {
		g := startGateway(t, gatewayOpts{site: riskSite})
		const email = "nowhere-mover@example.com"
		home := g.signUp(email)
		g.login(browserAt(g, home, "127.10.0.1"), email, testPassword, "/app/x")
		for _, ip := range []string{"127.20.0.1", "127.11.0.1"} {
			if r := g.get(browserAt(g, home, ip), "/app/x", html); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Risk") == "" {
				t.Fatalf("without a database, from %s: %d", ip, r.status)
			}
		}
		// Nothing was looked up or guessed: no locator, and every verdict
		// on the moved addresses is empty (kept, so never made again).
		b := backendOf(t)
		if liveLocator(t) != nil {
			t.Fatal("a locator without a geoip line")
		}
		b.moves.mu.Lock()
		defer b.moves.mu.Unlock()
		if len(b.moves.m) != 2 {
			t.Fatalf("verdicts: %d", len(b.moves.m))
		}
		for k, v := range b.moves.m {
			if v.moved() {
				t.Fatalf("a move guessed without a database: %v %+v", k, v.decision)
			}
		}
	})
}

var notMeLink = regexp.MustCompile(`https://[^\s"]+/\.frontdoor/not-me\?token=[A-Za-z0-9_%-]+`)

// TestRiskNotMe (issue 19 §6): the mail telling of a new device carries a
// "this wasn't me" link. Following it changes nothing (a mail scanner
// does that); its button ends every session, forgets remembered devices,
// mails a password reset, and works once. The account page's activity
// says what was checked, in words.
func TestRiskNotMe(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{global: riskGeo(t), site: riskSite}, []scenario{{"not me", func(t *testing.T, g *gateway) {
		const email = "notme@example.com"
		home := g.signUp(email)
		g.login(browserAt(g, home, "127.10.0.1"), email, testPassword, "/app/x")
		g.takeMails(email, "")
		intruder := clientFrom(g, "127.10.0.7")
		g.login(intruder, email, testPassword, "/app/x")
		mails := g.takeMails(email, "this device is new to your account")
		if len(mails) != 1 {
			t.Fatalf("new-device mails: %d", len(mails))
		}
		link := notMeLink.FindString(strings.ReplaceAll(mails[0], "=\r\n", ""))
		if link == "" {
			t.Fatalf("no \"this wasn't me\" link:\n%s", mails[0])
		}
		u, _ := url.Parse(link)
		// A scanner follows the link: a page with a button, no change.
		scanner := g.newClient()
		page := g.get(scanner, u.RequestURI(), nil)
		if page.status != http.StatusOK || !strings.Contains(page.body, `id="not-me"`) {
			t.Fatalf("link page: %d %s", page.status, page.body)
		}
		if r := g.get(intruder, "/app/x", nil); r.status != http.StatusOK {
			t.Fatalf("the link's page ended a session: %d", r.status)
		}
		// The customer presses it (in any browser).
		r := g.postVia(scanner, u.RequestURI(), "/.frontdoor/not-me", url.Values{"token": {u.Query().Get("token")}})
		if r.status != http.StatusOK || !strings.Contains(r.body, "Your account is secured") {
			t.Fatalf("not me: %d %s", r.status, r.body)
		}
		for name, c := range map[string]*http.Client{"the intruder's": intruder, "the customer's": home} {
			if r := g.get(c, "/app/x", map[string]string{"Accept": "application/json"}); r.status != http.StatusUnauthorized {
				t.Errorf("%s session after \"not me\": %d", name, r.status)
			}
		}
		if m := g.takeMails(email, "/.frontdoor/reset/confirm?token="); len(m) != 1 {
			t.Fatalf("reset mails: %d", len(m))
		}
		// Once only.
		if r := g.postVia(scanner, u.RequestURI(), "/.frontdoor/not-me", url.Values{"token": {u.Query().Get("token")}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired or was already used") {
			t.Fatalf("the link again: %d %s", r.status, r.body)
		}
		// The activity says it, in words.
		c := g.newClient()
		g.login(c, email, testPassword, "/app/x")
		acct := g.get(c, "/.frontdoor/account", nil).body
		for _, want := range []string{"A sign-in was checked more closely: a new device", "You reported a sign-in that was not you"} {
			if !strings.Contains(acct, want) {
				t.Fatalf("account page lacks %q:\n%s", want, acct)
			}
		}
		evs, _ := backendOf(t).identity.Events(context.Background(), g.customerID(email), 100)
		if !slices.ContainsFunc(evs, func(e identity.Event) bool { return e.Kind == identity.EventNotMe }) {
			t.Fatalf("trail: %+v", evs)
		}
	}}})
}

// TestRiskRecentFailures (issue 19 §2): failed sign-ins against an
// address — counted by the edge's shared counters, from any address, for
// known and unknown accounts alike — make the next good one prove itself
// (recent_failures stepup, the default).
func TestRiskRecentFailures(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{global: riskGeo(t), site: riskSite}, []scenario{{"failures", func(t *testing.T, g *gateway) {
		const email = "stuffed@example.com"
		home := g.signUp(email)
		berlin := browserAt(g, home, "127.10.0.1")
		g.login(berlin, email, testPassword, "/app/x")
		attacker := clientFrom(g, "127.20.0.9")
		for range 5 {
			if r := g.post(attacker, "/.frontdoor/login", url.Values{"email": {email}, "password": {"not the password"}}); r.status != http.StatusUnauthorized {
				t.Fatalf("a wrong password: %d", r.status)
			}
		}
		squatMailIdle(t) // the failures are counted off the response path
		r := g.post(berlin, "/.frontdoor/login", url.Values{"email": {email}, "password": {testPassword}, "rd": {"/app/orders"}})
		if r.status != http.StatusOK || !strings.Contains(r.body, `name="email_code"`) {
			t.Fatalf("a good sign-in after five failures: %d %s", r.status, r.body)
		}
		evs, _ := backendOf(t).identity.Events(context.Background(), g.customerID(email), 100)
		if !slices.ContainsFunc(evs, func(e identity.Event) bool {
			return e.Kind == identity.EventRiskDecision && strings.Contains(e.Detail, "recent_failures (5 failed sign-ins lately)")
		}) {
			t.Fatalf("trail: %+v", evs)
		}
	}}})
}

// liveLocator is the running config's place locator (nil: none).
func liveLocator(t *testing.T) *risk.Locator {
	t.Helper()
	sitesMu.Lock()
	defer sitesMu.Unlock()
	for _, h := range liveSites {
		return h.app.locator
	}
	t.Fatal("no live site")
	return nil
}
