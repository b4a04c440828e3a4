package caddymodule

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/frontdoorhq/frontdoor/events"
)

// hookSecret signs the test webhooks (Standard Webhooks format).
const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hookReceiver is a webhook endpoint as a business system runs one: it
// checks every signature with the Standard Webhooks reference verifier and
// is idempotent on webhook-id. Its mode says how it answers: "ok", "fail"
// (503) or "hang" (no answer until the mode changes or the sender gives up).
type hookReceiver struct {
	t    testing.TB
	ref  *standardwebhooks.Webhook
	mu   sync.Mutex
	mode string
	// bodies are the raw bodies accepted; seen counts accepted posts per id;
	// order the accepted events, first delivery of each.
	bodies   []string
	seen     map[string]int
	order    []events.Event
	attempts int
	hanging  chan struct{} // closed when the mode leaves "hang"
	*httptest.Server
}

func newHookReceiver(t testing.TB) *hookReceiver {
	ref, err := standardwebhooks.NewWebhook(hookSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &hookReceiver{t: t, ref: ref, mode: "ok", seen: map[string]int{}, hanging: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() { r.setMode("ok"); r.Close() })
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err := r.ref.Verify(body, req.Header); err != nil {
		r.t.Errorf("webhook signature: %v (headers %v)", err, req.Header)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	r.attempts++
	mode, hanging := r.mode, r.hanging
	r.mu.Unlock()
	switch mode {
	case "fail":
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	case "hang":
		select {
		case <-hanging:
		case <-req.Context().Done():
			return
		}
		http.Error(w, "gave up", http.StatusServiceUnavailable)
		return
	}
	var e events.Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID == "" || e.ID != req.Header.Get("webhook-id") {
		r.t.Errorf("webhook body %s with webhook-id %q", body, req.Header.Get("webhook-id"))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, string(body))
	if r.seen[e.ID]++; r.seen[e.ID] == 1 {
		r.order = append(r.order, e)
	}
}

// forget drops what was accepted (a new gateway's run begins).
func (r *hookReceiver) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies, r.order, r.seen = nil, nil, map[string]int{}
}

func (r *hookReceiver) setMode(mode string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode == "hang" && mode != "hang" {
		close(r.hanging)
		r.hanging = make(chan struct{})
	}
	r.mode = mode
}

// got returns the distinct events accepted so far, in first-delivery order.
func (r *hookReceiver) got() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.order...)
}

func (r *hookReceiver) allBodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

func (r *hookReceiver) tries() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts
}

// waitFor waits until an accepted event passes match, and returns it.
func (r *hookReceiver) waitFor(what string, match func(events.Event) bool) events.Event {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range r.got() {
			if match(e) {
				return e
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	r.t.Fatalf("no %s delivered; got %v", what, typesOf(r.got()))
	return events.Event{}
}

func typesOf(es []events.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Type + "/" + e.Customer
	}
	return out
}

func ofType(typ, customer string) func(events.Event) bool {
	return func(e events.Event) bool { return e.Type == typ && (customer == "" || e.Customer == customer) }
}

// webhookGlobal declares a webhook in the global frontdoor block.
func webhookGlobal(name, url string, opts ...string) string {
	s := fmt.Sprintf("webhook %s %s {\n\t\t\tsecret %s\n", name, url, hookSecret)
	for _, o := range opts {
		s += "\t\t\t" + o + "\n"
	}
	return s + "\t\t}\n\t\t"
}

// auditLines returns the frontdoor.audit lines of a log file, decoded.
func auditLines(t testing.TB, logFile string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.Contains(line, `"logger":"frontdoor.audit"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line is not one JSON object: %v\n%s", err, line)
		}
		out = append(out, m)
	}
	return out
}

func customerIDOf(t *testing.T, email string) string {
	t.Helper()
	c, err := backendOf(t).identity.CustomerByEmail(t.Context(), email)
	if err != nil {
		t.Fatalf("customer %s: %v", email, err)
	}
	return c.ID
}

// TestWebhooks: events reach business systems signed by the Standard
// Webhooks spec, filtered per webhook, addresses only where asked; the
// audit stream carries the same events; a receiver down for a while gets
// everything in order once back; three days of failures end in the dead
// letters, which the admin API shows and redelivers.
func TestWebhooks(t *testing.T) {
	crm, siem := newHookReceiver(t), newHookReceiver(t)
	o := gatewayOpts{
		global: webhookGlobal("crm", crm.URL+"/hooks/frontdoor", "events customer.* consent.changed", "include_email") +
			webhookGlobal("siem", siem.URL) + consentGlobal,
		site: "consent terms marketing",
	}
	runOnBothStoresWith(t, o, []scenario{
		{"delivered, signed and filtered", func(t *testing.T, g *gateway) {
			crm.forget()
			siem.forget()
			c := g.signUpConsenting("ada@example.com", "terms", "marketing")
			id := customerIDOf(t, "ada@example.com")
			created := crm.waitFor("customer.created to the CRM", ofType(events.CustomerCreated, id))
			if created.Email != "ada@example.com" || created.Site != "shop.test" || created.Data["source"] != "signup" {
				t.Fatalf("customer.created = %+v", created)
			}
			crm.waitFor("consent.changed to the CRM", ofType(events.ConsentChanged, id))
			if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/consent", url.Values{"purpose": {"marketing"}, "answer": {"withdraw"}}); r.status >= 400 {
				t.Fatalf("withdraw: %d", r.status)
			}
			crm.waitFor("the withdrawal", func(e events.Event) bool {
				return e.Type == events.ConsentChanged && e.Customer == id && e.Data["purpose"] == "marketing" && e.Data["granted"] == "false"
			})
			// The SIEM takes everything; the CRM only what it asked for.
			siem.waitFor("email.verified", ofType(events.EmailVerified, id))
			in := siem.waitFor("signin.succeeded", ofType(events.SignInSucceeded, id))
			if in.Data["method"] != "password" || in.IP == "" || in.Email != "" {
				t.Fatalf("signin.succeeded = %+v (no address unless asked for)", in)
			}
			g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {"ada@example.com"}, "password": {"not the password at all"}})
			siem.waitFor("signin.failed", ofType(events.SignInFailed, id))
			g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {"nobody-here@example.com"}, "password": {"not the password at all"}})
			unknown := siem.waitFor("signin.failed of an unknown address", func(e events.Event) bool {
				return e.Type == events.SignInFailed && e.Data["account"] == "unknown"
			})
			if unknown.Customer != "" {
				t.Fatalf("unknown-account failure names a customer: %+v", unknown)
			}
			for _, e := range crm.got() {
				if !strings.HasPrefix(e.Type, "customer.") && e.Type != events.ConsentChanged {
					t.Errorf("the CRM got %s", e.Type)
				}
			}
			for _, b := range siem.allBodies() {
				if strings.Contains(b, "nobody-here@example.com") || strings.Contains(b, "ada@example.com") {
					t.Errorf("a SIEM body holds an address: %s", b)
				}
			}

			// The audit stream: the same events, one JSON object per line.
			lines := auditLines(t, g.logFile)
			ids := map[string]bool{}
			for _, l := range lines {
				ids[fmt.Sprint(l["id"])] = true
				if l["msg"] != "event" || l["type"] == nil {
					t.Errorf("audit line %v", l)
				}
			}
			for _, e := range siem.got() {
				if !ids[e.ID] {
					t.Errorf("%s %s delivered but not in the audit stream", e.Type, e.ID)
				}
			}

			// The admin API: both webhooks, nothing waiting, never the secret.
			waitUntil(t, "an empty backlog", func() bool {
				_, body := adminGet(t, g, "/frontdoor/webhooks")
				return strings.Contains(body, `"backlog": 0`) && !strings.Contains(body, `"backlog": 1`)
			})
			st, body := adminGet(t, g, "/frontdoor/webhooks")
			if st != http.StatusOK || !strings.Contains(body, `"name": "crm"`) || !strings.Contains(body, `"name": "siem"`) || strings.Contains(body, "MfKQ9r8") {
				t.Fatalf("GET /frontdoor/webhooks: %d %s", st, body)
			}
		}},
		{"a receiver down for a while gets everything in order", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			crm.setMode("fail")
			before := crm.tries()
			emails := []string{"bo@example.com", "cy@example.com", "di@example.com"}
			for _, e := range emails {
				g.signUpConsenting(e, "terms", "marketing")
			}
			waitUntil(t, "failed attempts", func() bool { return crm.tries() > before })
			_, body := adminGet(t, g, "/frontdoor/webhooks")
			if !strings.Contains(body, "the receiver answered 503") {
				t.Fatalf("the admin API does not tell why: %s", body)
			}
			for range 3 {
				clk.advance(30 * time.Second)
				time.Sleep(600 * time.Millisecond)
			}
			crm.setMode("ok")
			clk.advance(2 * time.Hour)
			for _, e := range emails {
				id := customerIDOf(t, e)
				crm.waitFor("the consents of "+e, func(ev events.Event) bool {
					return ev.Type == events.ConsentChanged && ev.Customer == id && ev.Data["purpose"] == "marketing"
				})
				// In order per customer: created before its consents.
				var seq []string
				for _, ev := range crm.got() {
					if ev.Customer == id {
						seq = append(seq, ev.Type)
					}
				}
				if len(seq) < 3 || seq[0] != events.CustomerCreated {
					t.Fatalf("%s: events %v, want customer.created first", e, seq)
				}
			}
		}},
		{"dead letters after three days, redelivered by the operator", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			crm.setMode("fail")
			g.signUpConsenting("ed@example.com", "terms")
			id := customerIDOf(t, "ed@example.com")
			for i := 0; i < 120; i++ {
				if _, body := adminGet(t, g, "/frontdoor/webhooks/crm/dead"); strings.Contains(body, id) {
					break
				}
				clk.advance(time.Hour)
				time.Sleep(40 * time.Millisecond)
			}
			st, body := adminGet(t, g, "/frontdoor/webhooks/crm/dead")
			if st != http.StatusOK || !strings.Contains(body, id) || !strings.Contains(body, `"last_error": "the receiver answered 503"`) {
				t.Fatalf("dead letters: %d %s", st, body)
			}
			crm.setMode("ok")
			if st, body := adminDo(t, g, http.MethodPost, "/frontdoor/webhooks/crm/redeliver", `{"ids": ["evt_not_one"]}`); st != http.StatusOK || !strings.Contains(body, `"requeued": 0`) {
				t.Fatalf("redeliver of an unknown id: %d %s", st, body)
			}
			if st, body := adminDo(t, g, http.MethodPost, "/frontdoor/webhooks/crm/redeliver", `{}`); st != http.StatusOK || strings.Contains(body, `"requeued": 0`) {
				t.Fatalf("redeliver: %d %s", st, body)
			}
			crm.waitFor("the redelivered customer.created", ofType(events.CustomerCreated, id))
			for path, want := range map[string]int{
				"/frontdoor/webhooks/nope/dead":   http.StatusNotFound,
				"/frontdoor/webhooks/crm/nothing": http.StatusNotFound,
			} {
				if st, _ := adminGet(t, g, path); st != want {
					t.Errorf("GET %s: %d, want %d", path, st, want)
				}
			}
			if st, _ := adminDo(t, g, http.MethodPost, "/frontdoor/webhooks/crm/redeliver", `{"ids": 5}`); st != http.StatusBadRequest {
				t.Errorf("malformed redeliver body: %d", st)
			}
		}},
	})
}

// waitUntil polls cond for up to 20 s (deliveries back off in seconds).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
