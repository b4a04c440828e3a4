package legacyauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var testSecret = []byte("test secret, 32 bytes long .....")

// service is a legacy service on loopback: it checks the request's
// signature and answers as answer says.
type service struct {
	srv   *httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	// answer writes the reply to a checked request.
	answer func(w http.ResponseWriter, req request)
}

func newService(t *testing.T) *service {
	s := &service{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		if err := Check(testSecret, r.Header.Get(TimestampHeader), r.Header.Get(SignatureHeader), body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var req request
		if err := json.Unmarshal(body, &req); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		answer := s.answer
		s.mu.Unlock()
		answer(w, req)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *service) set(answer func(w http.ResponseWriter, req request)) {
	s.mu.Lock()
	s.answer = answer
	s.mu.Unlock()
}

// reply signs body (with secret, at ts) and sends it.
func reply(w http.ResponseWriter, secret []byte, ts time.Time, body string) {
	stamp := Timestamp(ts)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(TimestampHeader, stamp)
	w.Header().Set(SignatureHeader, Sign(secret, stamp, []byte(body)))
	_, _ = io.WriteString(w, body)
}

func jsonAnswer(ok bool, nonce string) string {
	b, _ := json.Marshal(map[string]any{"ok": ok, "nonce": nonce, "email_verified": true, "name": "Ada", "created_at": "2019-03-04T05:06:07Z"})
	return string(b)
}

func newClient(t *testing.T, url string, onBreaker func(bool)) *Client {
	t.Helper()
	c, err := New(Config{URL: url, Secret: testSecret, Timeout: 300 * time.Millisecond, OnBreaker: onBreaker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestClientExchange(t *testing.T) {
	s := newService(t)
	c := newClient(t, s.srv.URL, nil)
	ctx := context.Background()
	s.set(func(w http.ResponseWriter, req request) {
		reply(w, testSecret, time.Now(), jsonAnswer(req.Email == "ada@example.com" && req.Password == "right", req.Nonce))
	})
	acct, res, err := c.Verify(ctx, time.Now, "ada@example.com", "right")
	if err != nil || res != Accepted || !acct.EmailVerified || acct.Name != "Ada" || !acct.CreatedAt.Equal(time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)) {
		t.Fatalf("good password: %+v %v %v", acct, res.Label(), err)
	}
	if _, res, err := c.Verify(ctx, time.Now, "bob@example.com", "x"); err != nil || res != Refused {
		t.Fatalf("unknown to the service: %v %v", res.Label(), err)
	}
	if _, res, _ := c.Verify(ctx, time.Now, "bob@example.com", "x"); res != SkippedRecent || s.calls.Load() != 2 {
		t.Fatalf("the same refusal again: %v after %d calls", res.Label(), s.calls.Load())
	}

	// Answers refused, each a failure (never a success).
	forged := []struct {
		name   string
		answer func(w http.ResponseWriter, req request)
		want   error
	}{
		{"other secret", func(w http.ResponseWriter, req request) {
			reply(w, []byte("not the shared secret, 32 bytes."), time.Now(), jsonAnswer(true, req.Nonce))
		}, ErrBadSignature},
		{"unsigned", func(w http.ResponseWriter, req request) {
			_, _ = io.WriteString(w, jsonAnswer(true, req.Nonce))
		}, ErrNoSignature},
		{"stale", func(w http.ResponseWriter, req request) {
			reply(w, testSecret, time.Now().Add(-MaxSkew-time.Minute), jsonAnswer(true, req.Nonce))
		}, ErrStale},
		{"another request's answer", func(w http.ResponseWriter, req request) {
			reply(w, testSecret, time.Now(), jsonAnswer(true, "replayed"))
		}, ErrWrongNonce},
		{"not 200", func(w http.ResponseWriter, req request) {
			w.WriteHeader(http.StatusInternalServerError)
		}, ErrStatus},
		{"a redirect", func(w http.ResponseWriter, req request) {
			w.Header().Set("Location", "https://elsewhere.example/verify")
			w.WriteHeader(http.StatusTemporaryRedirect)
		}, ErrStatus},
		{"too large", func(w http.ResponseWriter, req request) {
			reply(w, testSecret, time.Now(), `{"ok":true,"nonce":"`+req.Nonce+`","name":"`+strings.Repeat("a", MaxAnswerBytes)+`"}`)
		}, ErrTooLarge},
		{"not JSON", func(w http.ResponseWriter, req request) {
			reply(w, testSecret, time.Now(), `ok`)
		}, ErrMalformed},
	}
	for i, f := range forged {
		t.Run(f.name, func(t *testing.T) {
			s.set(f.answer)
			_, res, err := c.Verify(ctx, time.Now, "forged@example.com", "right")
			if res != Failed || !errors.Is(err, f.want) {
				t.Fatalf("result %s, error %v; want error %v", res.Label(), err, f.want)
			}
			if strings.Contains(err.Error(), "right") || strings.Contains(err.Error(), string(testSecret)) {
				t.Fatalf("the error tells a secret: %v", err)
			}
			// A good answer between keeps the breaker closed.
			if i%2 == 1 {
				s.set(func(w http.ResponseWriter, req request) {
					reply(w, testSecret, time.Now(), jsonAnswer(false, req.Nonce))
				})
				if _, res, _ := c.Verify(ctx, time.Now, "between"+f.name+"@example.com", "x"); res != Refused {
					t.Fatalf("a good answer after a failure: %s", res.Label())
				}
			}
		})
	}
}

// A service that hangs costs each call its timeout until the breaker
// opens; then it is not called at all until the cool-down ends, and one
// trial closes it again.
func TestClientBreaker(t *testing.T) {
	s := newService(t)
	var mu sync.Mutex
	var changes []bool
	c := newClient(t, s.srv.URL, func(open bool) {
		mu.Lock()
		changes = append(changes, open)
		mu.Unlock()
	})
	hang := make(chan struct{})
	s.set(func(w http.ResponseWriter, req request) {
		select {
		case <-hang:
		case <-time.After(5 * time.Second):
		}
	})
	now := time.Now()
	clock := func() time.Time { return now }
	for i := range BreakerThreshold {
		if _, res, err := c.Verify(context.Background(), clock, "hang@example.com", "x"); res != Failed || !errors.Is(err, ErrUnreachable) {
			t.Fatalf("call %d: %s %v", i, res.Label(), err)
		}
	}
	close(hang)
	for range 3 {
		if _, res, _ := c.Verify(context.Background(), clock, "other@example.com", "x"); res != SkippedOpen {
			t.Fatalf("open breaker: %s", res.Label())
		}
	}
	if n := s.calls.Load(); n != BreakerThreshold {
		t.Fatalf("%d calls, want %d", n, BreakerThreshold)
	}
	s.set(func(w http.ResponseWriter, req request) {
		reply(w, testSecret, time.Now(), jsonAnswer(false, req.Nonce))
	})
	now = now.Add(BreakerCooldown)
	if _, res, _ := c.Verify(context.Background(), clock, "trial@example.com", "x"); res != Refused {
		t.Fatalf("trial: %s", res.Label())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Fatalf("breaker changes %v, want [open, closed]", changes)
	}
}

// A caller that gives up says nothing about the service.
func TestClientAbandoned(t *testing.T) {
	s := newService(t)
	c := newClient(t, s.srv.URL, nil)
	s.set(func(w http.ResponseWriter, req request) { time.Sleep(100 * time.Millisecond) })
	for range BreakerThreshold + 2 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, res, _ := c.Verify(ctx, time.Now, "gone@example.com", "x"); res != Failed {
			t.Fatalf("cancelled: %s", res.Label())
		}
	}
	if ok, _ := c.breaker.allow(time.Now()); !ok {
		t.Fatal("callers giving up opened the breaker")
	}
}

func TestNewChecks(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"https", Config{URL: "https://legacy.internal/verify", Secret: testSecret}, ""},
		{"http loopback", Config{URL: "http://127.0.0.1:8080/verify", Secret: testSecret}, ""},
		{"http localhost", Config{URL: "http://localhost:8080/verify", Secret: testSecret}, ""},
		{"http ::1", Config{URL: "http://[::1]:8080/verify", Secret: testSecret}, ""},
		{"http elsewhere", Config{URL: "http://legacy.internal/verify", Secret: testSecret}, "plain http only to a loopback host"},
		{"http private address", Config{URL: "http://10.0.0.5/verify", Secret: testSecret}, "plain http only to a loopback host"},
		{"ftp", Config{URL: "ftp://legacy.internal/verify", Secret: testSecret}, "the scheme must be https"},
		{"relative", Config{URL: "/verify", Secret: testSecret}, "not an absolute URL"},
		{"user info", Config{URL: "https://u:p@legacy.internal/verify", Secret: testSecret}, "no user information"},
		{"no secret", Config{URL: "https://legacy.internal/verify"}, "at least 16 needed"},
		{"short secret", Config{URL: "https://legacy.internal/verify", Secret: []byte("short")}, "at least 16 needed"},
		{"timeout too long", Config{URL: "https://legacy.internal/verify", Secret: testSecret, Timeout: 11 * time.Second}, "between 100ms and 10s"},
		{"timeout too short", Config{URL: "https://legacy.internal/verify", Secret: testSecret, Timeout: time.Millisecond}, "between 100ms and 10s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want == "":
				if tc.cfg.Timeout == 0 && c.timeout != DefaultTimeout {
					t.Fatalf("default timeout %v", c.timeout)
				}
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// At most MaxInFlight calls are out at once; more are not made.
func TestClientBusy(t *testing.T) {
	s := newService(t)
	c, err := New(Config{URL: s.srv.URL, Secret: testSecret, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	release := make(chan struct{})
	s.set(func(w http.ResponseWriter, req request) {
		<-release
		reply(w, testSecret, time.Now(), jsonAnswer(false, req.Nonce))
	})
	var wg sync.WaitGroup
	results := make(chan Result, MaxInFlight)
	for i := range MaxInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, res, _ := c.Verify(context.Background(), time.Now, "busy"+string(rune('a'+i%26))+"@example.com", "x")
			results <- res
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); s.calls.Load() < MaxInFlight; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d calls reached the service", s.calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, res, _ := c.Verify(context.Background(), time.Now, "one-more@example.com", "x"); res != SkippedBusy {
		t.Fatalf("call beyond the bound: %s", res.Label())
	}
	close(release)
	wg.Wait()
	close(results)
	for res := range results {
		if res != Refused && res != SkippedRecent {
			t.Fatalf("a call within the bound: %s", res.Label())
		}
	}
	if n := s.calls.Load(); n != MaxInFlight {
		t.Fatalf("%d calls, want %d", n, MaxInFlight)
	}
}
