package caddymodule

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// statusWebhook is a webhook nobody answers (port 1 refuses), so what the
// gateway publishes stays in its backlog.
const statusWebhook = "webhook crm http://127.0.0.1:1/hook {\n\t\t\tsecret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\t\t}"

// statusPage fetches the status page.
func statusPage(t *testing.T, g *gateway) (http.Header, string) {
	t.Helper()
	return statusPageAt(t, g, "/frontdoor/status")
}

// statusPageAt fetches path, a status page, and fails on any answer but
// 200.
func statusPageAt(t *testing.T, g *gateway, path string) (http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+g.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status page: %d %s", resp.StatusCode, b)
	}
	return resp.Header, string(b)
}

// waitStatusPage polls the page until it holds every one of want (5 s).
func waitStatusPage(t *testing.T, g *gateway, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, page := statusPage(t, g)
		missing := ""
		for _, w := range want {
			if !strings.Contains(page, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return page
		}
		if time.Now().After(deadline) {
			t.Fatalf("status page lacks %q:\n%s", missing, page)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var backlogRE = regexp.MustCompile(`<th scope="row">crm</th><td>([0-9]+)</td>`)

// TestStatusPage: the status page on the admin endpoint shows this hour's
// sign-ins and failures (numbers in the charts' words and the table), a
// hostile offender key escaped, the webhook's backlog, and drops what is
// over an hour old; it runs no script, sends its strict headers and
// answers GET only.
func TestStatusPage(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{global: statusWebhook}, []scenario{{"page", func(t *testing.T, g *gateway) {
		clk := useClock(t)
		clk.alignTo(time.Minute)
		const email = "stat@example.com"
		g.signUp(email) // a sign-in
		g.login(g.newClient(), email, testPassword, "/app/home")
		c := g.newClient()
		for range 3 {
			if r := g.post(c, "/.frontdoor/login", loginForm(email, "wrong password")); r.status != http.StatusOK && r.status != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d", r.status)
			}
		}
		page := waitStatusPage(t, g,
			"Sign-ins per minute over the last hour: 2 in total, at most 2 a minute",
			"Failed sign-ins per minute over the last hour: 3 in total, at most 3 a minute",
			"In the last minute: 3.")
		if !strings.Contains(page, "<td>2</td><td>3</td>") {
			t.Errorf("table row of this minute missing:\n%s", page)
		}

		// Attacker-chosen text reaches the offender table: an address
		// the defences could not parse, and an address for an email.
		b := backendOf(t)
		pol := botdefense.Policy{Limits: []botdefense.Limit{{Route: botdefense.RouteLogin, Dimension: botdefense.DimIP, Count: 1, Period: time.Minute}}}
		for range 2 {
			if _, err := b.defense.Check(context.Background(), &pol, botdefense.Attempt{Route: botdefense.RouteLogin, IP: `<script>alert(1)</script>`}); err != nil {
				t.Fatal(err)
			}
		}
		g.post(g.newClient(), "/.frontdoor/login", loginForm(`<script>alert(1)</script>@x.test`, "wrong password"))
		hdr, page := statusPage(t, g)
		if !strings.Contains(page, "ip &lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("hostile offender key not shown escaped:\n%s", page)
		}
		if strings.Contains(strings.ToLower(page), "<script") {
			t.Errorf("the page holds a script element:\n%s", page)
		}
		for k, want := range map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Content-Security-Policy": "default-src 'none'; style-src 'sha256-",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-store",
		} {
			if !strings.HasPrefix(hdr.Get(k), want) {
				t.Errorf("%s: %q, want %q…", k, hdr.Get(k), want)
			}
		}
		if strings.Contains(hdr.Get("Content-Security-Policy"), "script-src") {
			t.Errorf("CSP allows scripts: %s", hdr.Get("Content-Security-Policy"))
		}

		// The webhook's receiver refuses: the events wait in its backlog.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, page := statusPage(t, g)
			if m := backlogRE.FindStringSubmatch(page); m != nil && m[1] != "0" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no backlog shown for webhook crm:\n%s", page)
			}
			time.Sleep(100 * time.Millisecond)
		}

		if _, page := statusPageAt(t, g, "/frontdoor/status?refresh=30"); !strings.Contains(page, `<meta http-equiv="refresh" content="30">`) {
			t.Error("?refresh=30 does not reload the page")
		}
		for _, bad := range []string{"5", "x", "99999"} {
			if st, _ := adminGet(t, g, "/frontdoor/status?refresh="+bad); st != http.StatusBadRequest {
				t.Errorf("refresh=%s: %d", bad, st)
			}
		}
		for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodPut} {
			if st, body := adminDo(t, g, m, "/frontdoor/status", ""); st != http.StatusMethodNotAllowed {
				t.Errorf("%s: %d %s", m, st, body)
			}
		}

		// An hour on, those sign-ins are history.
		clk.advance(61 * time.Minute)
		_, page = statusPage(t, g)
		for _, want := range []string{
			"Sign-ins per minute over the last hour: 0 in total, at most 0 a minute",
			"Failed sign-ins per minute over the last hour: 0 in total",
			"Nothing in the last hour.",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("an hour on, page lacks %q", want)
			}
		}
	}}})
}
