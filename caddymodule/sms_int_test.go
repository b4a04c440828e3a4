package caddymodule

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/frontdoorhq/frontdoor/sms"
)

const smsTestSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// smsReceiver is a provider's endpoint: it keeps the bodies whose
// Standard Webhooks signature verifies with the reference library.
type smsReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []map[string]string
	bad    int
}

func newSMSReceiver(t *testing.T) *smsReceiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(smsTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &smsReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<16))
		r.mu.Lock()
		defer r.mu.Unlock()
		var v map[string]string
		if wh.Verify(body, req.Header) != nil || json.Unmarshal(body, &v) != nil || req.Header.Get("webhook-id") != v["id"] {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.bodies = append(r.bodies, v)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *smsReceiver) received() ([]map[string]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]string(nil), r.bodies...), r.bad
}

// liveApp returns the frontdoor app of the running config.
func liveApp(t *testing.T) *App {
	t.Helper()
	liveMu.Lock()
	defer liveMu.Unlock()
	if live == nil {
		t.Fatal("no live frontdoor app")
	}
	return live
}

// waitSMS polls cond for up to 10 s.
func waitSMS(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSMSGateway: through a real Caddy, the configured http sender
// delivers a signed webhook to a real receiver; a reload to `sms dir`
// and then to `sms log` switches the one queue's sender; the Caddy log
// never holds the code, whichever sender ran.
func TestSMSGateway(t *testing.T) {
	rcv := newSMSReceiver(t)
	opts := gatewayOpts{global: "sms http " + rcv.srv.URL + " {\n\t\t\tformat webhook\n\t\t\tsecret " + smsTestSecret + "\n\t\t}"}
	g := startGateway(t, opts)
	codes := []string{"482913", "730215", "118406"}
	text := func(code string) string { return "Your Shop code is " + code + ". It expires in 10 minutes." }
	msg := func(code string) sms.Message {
		return sms.Message{To: "+447400123456", Text: text(code), Code: code, Kind: "verify_phone"}
	}

	if err := liveApp(t).sendText(t.Context(), msg(codes[0])); err != nil {
		t.Fatal(err)
	}
	waitSMS(t, "the signed webhook", func() bool { got, _ := rcv.received(); return len(got) == 1 })
	got, bad := rcv.received()
	if bad != 0 || got[0]["to"] != "+447400123456" || got[0]["text"] != text(codes[0]) || got[0]["kind"] != "verify_phone" || !strings.HasPrefix(got[0]["id"], "sms_") {
		t.Fatalf("received %v (%d unverified)", got, bad)
	}
	// A malformed message is refused at once, on the request path.
	if err := liveApp(t).sendText(t.Context(), sms.Message{To: "07400123456", Text: "x"}); err == nil {
		t.Fatal("a national number was queued")
	}

	// The queue is the process's: a reload keeps it and hands it the new
	// sender.
	dir := filepath.Join(g.dir, "texts")
	opts.global = "sms dir " + dir
	g.load(opts)
	if err := liveApp(t).sendText(t.Context(), msg(codes[1])); err != nil {
		t.Fatal(err)
	}
	var files []os.DirEntry
	waitSMS(t, "the text file", func() bool { files, _ = os.ReadDir(dir); return len(files) == 1 })
	raw, err := os.ReadFile(filepath.Join(dir, files[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	var rec sms.DirRecord
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Code != codes[1] || rec.Text != text(codes[1]) {
		t.Fatalf("file %s: %v", raw, err)
	}
	queues := 0
	smsQueues.Range(func(_, _ any) bool { queues++; return true })
	if queues != 1 {
		t.Fatalf("%d text-message queues after a reload, want 1", queues)
	}

	// No sms line: the log sender, which withholds the code.
	opts.global = ""
	g.load(opts)
	if err := liveApp(t).sendText(t.Context(), msg(codes[2])); err != nil {
		t.Fatal(err)
	}
	waitSMS(t, "the log sender's line", func() bool {
		log, _ := os.ReadFile(g.logFile)
		return strings.Contains(string(log), "Your Shop code is "+sms.CodePlaceholder)
	})
	if got, _ := rcv.received(); len(got) != 1 {
		t.Fatalf("the receiver got %d messages, want 1 (the others went elsewhere)", len(got))
	}

	log, err := os.ReadFile(g.logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"text message sent", "+44******3456"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	// The default warns of nothing: a config without an sms line may send
	// no text at all (an explicit `sms log` warns; sms/log_test.go).
	if strings.Contains(string(log), "log text-message sender in use") {
		t.Error("a config without an sms line warns about the log sender")
	}
	for _, secret := range append(codes, "7400123456", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
		if strings.Contains(string(log), secret) {
			t.Errorf("the Caddy log holds %q", secret)
		}
	}
}
