package caddymodule

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// twilioReceiver is a Twilio-compatible Messages endpoint: it keeps the
// form of each post that carries the account's basic auth.
type twilioReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	forms []url.Values
	bad   int
}

const twilioSID, twilioToken = "AC0123456789abcdef0123456789abcdef", "twilio-test-auth-token"

func newTwilioReceiver(t *testing.T) *twilioReceiver {
	t.Helper()
	r := &twilioReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user, pass, ok := req.BasicAuth()
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<16))
		form, err := url.ParseQuery(string(body))
		r.mu.Lock()
		defer r.mu.Unlock()
		if req.Method != http.MethodPost || req.URL.Path != "/2010-04-01/Accounts/"+twilioSID+"/Messages.json" || !ok ||
			user != twilioSID || pass != twilioToken || err != nil || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.forms = append(r.forms, form)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"sid":"SM123","status":"queued"}`)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// waitBody polls bodies (the texts a provider received so far) for up to
// 10 s until there are n, and returns the last.
func waitBody(t *testing.T, n int, bodies func() ([]string, int)) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, bad := bodies()
		if bad != 0 {
			t.Fatalf("%d requests the provider refused", bad)
		}
		if len(got) >= n {
			return got[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the provider got %d texts, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPhoneSignInProviders: through real Caddy on both stores, a phone
// sign-up whose code reaches the customer through a provider's HTTP API —
// a Twilio-style form post with basic auth, and a JSON webhook whose
// Standard Webhooks signature the receiver verifies — and is typed back.
func TestPhoneSignInProviders(t *testing.T) {
	site := phoneOpts.site + "\n\t\tphone_login on"
	tw := newTwilioReceiver(t)
	twilio := gatewayOpts{site: site, global: "sms http " + tw.srv.URL + "/2010-04-01/Accounts/" + twilioSID + "/Messages.json {\n" +
		"\t\t\tformat twilio\n\t\t\tusername " + twilioSID + "\n\t\t\tpassword " + twilioToken + "\n\t\t\tfrom +15005550006\n\t\t}"}
	sent := 0
	runOnBothStoresWith(t, twilio, []scenario{{"twilio", func(t *testing.T, g *gateway) {
		c := g.newClient()
		if r := g.askLogin(c, "07400 123451", "/app/x"); r.status != http.StatusOK {
			t.Fatalf("ask: %d %s", r.status, r.body)
		}
		sent++
		body := waitBody(t, sent, func() ([]string, int) {
			tw.mu.Lock()
			defer tw.mu.Unlock()
			var out []string
			for _, f := range tw.forms {
				if f.Get("To") != "+447400123451" || f.Get("From") != "+15005550006" || len(f) != 3 {
					t.Errorf("form %v", f)
				}
				out = append(out, f.Get("Body"))
			}
			return out, tw.bad
		})
		if r := g.typeLoginCode(c, sixDigits.FindString(body)); r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/x" {
			t.Fatalf("the code from the provider: %d %s", r.status, r.body)
		}
	}}})

	wh := newSMSReceiver(t)
	webhook := gatewayOpts{site: site, global: "sms http " + wh.srv.URL + " {\n\t\t\tformat webhook\n\t\t\tsecret " + smsTestSecret + "\n\t\t}"}
	sent = 0
	runOnBothStoresWith(t, webhook, []scenario{{"webhook", func(t *testing.T, g *gateway) {
		c := g.newClient()
		if r := g.askLogin(c, "07400 123452", "/app/x"); r.status != http.StatusOK {
			t.Fatalf("ask: %d %s", r.status, r.body)
		}
		sent++
		body := waitBody(t, sent, func() ([]string, int) {
			got, bad := wh.received()
			var out []string
			for _, m := range got {
				if m["to"] != "+447400123452" || m["kind"] != "signin" {
					t.Errorf("webhook %v", m)
				}
				out = append(out, m["text"])
			}
			return out, bad
		})
		if r := g.typeLoginCode(c, sixDigits.FindString(body)); r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/x" {
			t.Fatalf("the code from the provider: %d %s", r.status, r.body)
		}
	}}})
}
