package sms_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/sms"
)

const (
	testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	testSID    = "AC0123456789abcdef0123456789abcdef"
	testToken  = "tok-s3cr3t-auth-token"
	testCode   = "482913"
)

func testMessage() sms.Message {
	return sms.Message{To: "+447400123456", Text: "Your Shop code is " + testCode + ". It expires in 10 minutes.", Code: testCode, Kind: "verify_phone", ID: "sms_0001"}
}

func twilioSender(t *testing.T, url string, timeout time.Duration) *sms.HTTPSender {
	t.Helper()
	s, err := sms.NewHTTPSender(sms.HTTPConfig{URL: url, Format: sms.FormatTwilio, Username: testSID, Password: testToken, From: "+15005550006", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func webhookSender(t *testing.T, url string) *sms.HTTPSender {
	t.Helper()
	secret, err := events.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sms.NewHTTPSender(sms.HTTPConfig{URL: url, Format: sms.FormatWebhook, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// leaks reports which secrets an error text repeats.
func leaks(err error) []string {
	var out []string
	if err == nil {
		return nil
	}
	for _, s := range []string{testToken, testCode, "Your Shop code", "7400123456", testSecret} {
		if strings.Contains(err.Error(), s) {
			out = append(out, s)
		}
	}
	return out
}

// TestHTTPTwilioForm: a real receiver gets Twilio's form with basic auth.
func TestHTTPTwilioForm(t *testing.T) {
	m := testMessage()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		user, pass, ok := r.BasicAuth()
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+testSID+"/Messages.json":
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		case r.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		case !ok || user != testSID || pass != testToken:
			t.Errorf("basic auth %q %q %v", user, pass, ok)
		}
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if got := r.PostForm; got.Get("To") != m.To || got.Get("From") != "+15005550006" || got.Get("Body") != m.Text || len(got) != 3 {
			t.Errorf("form %v", got)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"sid":"SM123","status":"queued"}`)
	}))
	t.Cleanup(srv.Close)
	s := twilioSender(t, srv.URL+"/2010-04-01/Accounts/"+testSID+"/Messages.json", 0)
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 1 {
		t.Fatalf("%d requests", hits.Load())
	}
}

// TestHTTPWebhookSigned: the webhook JSON verifies with the Standard
// Webhooks reference library, and its id is the message's.
func TestHTTPWebhookSigned(t *testing.T) {
	m := testMessage()
	ref, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Pointer[map[string]string]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := ref.Verify(body, r.Header); err != nil {
			t.Errorf("signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var v map[string]string
		if err := json.Unmarshal(body, &v); err != nil {
			t.Error(err)
		}
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("webhook-id") != v["id"] {
			t.Errorf("headers %v", r.Header)
		}
		got.Store(&v)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	if err := webhookSender(t, srv.URL).Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	v := got.Load()
	if v == nil || len(*v) != 4 || (*v)["id"] != m.ID || (*v)["to"] != m.To || (*v)["text"] != m.Text || (*v)["kind"] != m.Kind {
		t.Fatalf("body %v", v)
	}

	// A message without an id gets one, so the signature has one to sign.
	m.ID = ""
	if err := webhookSender(t, srv.URL).Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if v := got.Load(); !strings.HasPrefix((*v)["id"], "sms_") {
		t.Fatalf("id %q", (*v)["id"])
	}
}

// TestHTTPStatuses: 2xx is success; 429 and 5xx may be retried; other
// answers are permanent. No error repeats the token, text or number.
func TestHTTPStatuses(t *testing.T) {
	for _, c := range []struct {
		status    int
		body      string
		permanent bool
		want      string
	}{
		{400, `{"code":21211,"message":"The 'To' number +447400123456 is not a valid phone number."}`, true, "answered 400 (provider error 21211)"},
		{401, `{"code":20003,"message":"Authenticate"}`, true, "answered 401"},
		{404, `not json ` + testToken, true, "answered 404"},
		{429, ``, false, "answered 429"},
		{500, ``, false, "answered 500"},
		{503, `{"code":"x"}`, false, "answered 503"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			_, _ = io.WriteString(w, c.body)
		}))
		err := twilioSender(t, srv.URL, 0).Send(t.Context(), testMessage())
		srv.Close()
		if err == nil || errors.Is(err, sms.ErrPermanent) != c.permanent || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d: %v (permanent %v)", c.status, err, errors.Is(err, sms.ErrPermanent))
		}
		if l := leaks(err); l != nil {
			t.Errorf("%d: error %q repeats %q", c.status, err, l)
		}
	}
}

// TestHTTPTimeout: a provider that does not answer costs one timeout, and
// the failure is worth a retry.
func TestHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	err := twilioSender(t, srv.URL, 50*time.Millisecond).Send(t.Context(), testMessage())
	if err == nil || errors.Is(err, sms.ErrPermanent) || !strings.Contains(err.Error(), "did not answer within 50ms") {
		t.Fatalf("%v", err)
	}
	if l := leaks(err); l != nil {
		t.Errorf("error %q repeats %q", err, l)
	}
}

// TestHTTPNoRedirect: a redirect is a permanent failure; the credentials
// and the text never reach its target.
func TestHTTPNoRedirect(t *testing.T) {
	var target atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { target.Add(1) }))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	for name, s := range map[string]*sms.HTTPSender{"twilio": twilioSender(t, srv.URL, 0), "webhook": webhookSender(t, srv.URL)} {
		err := s.Send(t.Context(), testMessage())
		if err == nil || !errors.Is(err, sms.ErrPermanent) || !strings.Contains(err.Error(), "answered 307") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if target.Load() != 0 {
		t.Fatalf("the redirect was followed %d times", target.Load())
	}
}

// TestHTTPUnreachable: a refused connection may be retried; the error
// names the host, not the request.
func TestHTTPUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/Accounts/" + testSID
	srv.Close()
	err := twilioSender(t, url, 0).Send(context.Background(), testMessage())
	if err == nil || errors.Is(err, sms.ErrPermanent) || !strings.Contains(err.Error(), "could not be reached") || leaks(err) != nil {
		t.Fatalf("%v", err)
	}
}

// TestHTTPConfig: each mistake is refused, without repeating the token.
func TestHTTPConfig(t *testing.T) {
	secret, _ := events.ParseSecret(testSecret)
	ok := sms.HTTPConfig{URL: "https://api.twilio.com/2010-04-01/Accounts/" + testSID + "/Messages.json", Format: sms.FormatTwilio, Username: testSID, Password: testToken, From: "Shop"}
	if _, err := sms.NewHTTPSender(ok); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		edit func(*sms.HTTPConfig)
		want string
	}{
		"plain http":        {func(c *sms.HTTPConfig) { c.URL = "http://api.twilio.com/x" }, "use https"},
		"credentials inurl": {func(c *sms.HTTPConfig) { c.URL = "https://" + testSID + ":" + testToken + "@api.twilio.com/x" }, "must not hold credentials"},
		"relative":          {func(c *sms.HTTPConfig) { c.URL = "/x" }, "not absolute"},
		"no username":       {func(c *sms.HTTPConfig) { c.Username = "" }, "needs username, password and from"},
		"no password":       {func(c *sms.HTTPConfig) { c.Password = "" }, "needs username, password and from"},
		"no from":           {func(c *sms.HTTPConfig) { c.From = "" }, "needs username, password and from"},
		"from newline":      {func(c *sms.HTTPConfig) { c.From = "Shop\r\nX: y" }, "printable"},
		"twilio secret":     {func(c *sms.HTTPConfig) { c.Secret = secret }, "takes no secret"},
		"webhook no secret": {func(c *sms.HTTPConfig) { c.Format, c.Username, c.Password, c.From = sms.FormatWebhook, "", "", "" }, "needs a secret"},
		"webhook password":  {func(c *sms.HTTPConfig) { c.Format, c.Secret = sms.FormatWebhook, secret }, "not username, password or from"},
		"format":            {func(c *sms.HTTPConfig) { c.Format = "vonage" }, "want twilio or webhook"},
		"timeout":           {func(c *sms.HTTPConfig) { c.Timeout = 2 * time.Minute }, "at most 1m0s"},
	} {
		c2 := ok
		c.edit(&c2)
		_, err := sms.NewHTTPSender(c2)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), testToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// http to this machine is fine, for development and tests.
	loop := ok
	loop.URL = "http://127.0.0.1:8080/sms"
	if _, err := sms.NewHTTPSender(loop); err != nil {
		t.Error(err)
	}
}
