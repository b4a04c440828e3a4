package caddymodule

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/legacyauth"
)

// legacySecret is the secret the gateway and the test's legacy service
// share (through the environment, as an operator would).
const legacySecret = "test-legacy-secret-0123456789abcdef"

// legacyService is a legacy sign-in service on loopback, written as an
// operator's would be from the README: it checks the gateway's signature
// (HMAC computed here, not by the gateway's helper) and signs its
// answers. Its mode makes it misbehave.
type legacyService struct {
	srv      *httptest.Server
	mu       sync.Mutex
	accounts map[string]string // email → password
	calls    map[string]int
	total    int
	// unsigned counts requests whose signature did not check (none, ever).
	unsigned int
	mode     string // "" | hang | bad_signature | unsigned | stale | replay
}

func newLegacyService(t *testing.T) *legacyService {
	s := &legacyService{accounts: map[string]string{}, calls: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// gatewayNow is the running gateway's one clock, which the test moves
// (the service and the gateway share a world).
func gatewayNow() time.Time {
	now := time.Now()
	backends.Range(func(_, v any) bool {
		if b, ok := v.(*backend); ok {
			now = b.clock.Now()
			return false
		}
		return true
	})
	return now
}

func legacyMAC(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

func (s *legacyService) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	ts := r.Header.Get("X-Frontdoor-Timestamp")
	secs, err := strconv.ParseInt(ts, 10, 64)
	skew := gatewayNow().Sub(time.Unix(secs, 0))
	if err != nil || skew > 5*time.Minute || skew < -5*time.Minute ||
		!hmac.Equal([]byte(r.Header.Get("X-Frontdoor-Signature")), []byte(legacyMAC(legacySecret, ts, body))) {
		s.mu.Lock()
		s.unsigned++
		s.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var req struct{ Email, Password, Nonce string }
	if r.Method != http.MethodPost || json.Unmarshal(body, &req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.calls[req.Email]++
	s.total++
	want, known := s.accounts[req.Email]
	mode := s.mode
	s.mu.Unlock()
	if mode == "hang" {
		<-r.Context().Done() // until the gateway gives up
		return
	}
	ok := known && want == req.Password
	nonce := req.Nonce
	if mode == "replay" {
		nonce = "the nonce of an earlier request"
	}
	answer, _ := json.Marshal(map[string]any{"ok": ok, "nonce": nonce, "email_verified": true,
		"name": "Legacy " + strings.Split(req.Email, "@")[0], "created_at": "2016-05-04T03:02:01Z"})
	at, secret := gatewayNow(), legacySecret
	switch mode {
	case "stale":
		at = at.Add(-6 * time.Minute)
	case "bad_signature":
		secret = "not-the-shared-secret-0123456789ab"
	}
	stamp := strconv.FormatInt(at.Unix(), 10)
	w.Header().Set("Content-Type", "application/json")
	if mode != "unsigned" {
		w.Header().Set("X-Frontdoor-Timestamp", stamp)
		w.Header().Set("X-Frontdoor-Signature", legacyMAC(secret, stamp, answer))
	}
	_, _ = w.Write(answer)
}

// reset forgets the calls and accounts (each store's run starts afresh,
// with the same addresses).
func (s *legacyService) reset() {
	s.mu.Lock()
	s.accounts, s.calls, s.total, s.mode = map[string]string{}, map[string]int{}, 0, ""
	s.mu.Unlock()
}

func (s *legacyService) add(email, password string) {
	s.mu.Lock()
	s.accounts[email] = password
	s.mu.Unlock()
}

func (s *legacyService) setMode(m string) {
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
}

func (s *legacyService) count(email string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[email]
}

func (s *legacyService) all() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *legacyService) badRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unsigned
}

var legacyMetricRE = regexp.MustCompile(`(?m)^frontdoor_legacy_auth_total\{result="([a-z_]+)"\} (\d+)`)

// legacyMetrics reads frontdoor_legacy_auth_total by result.
func legacyMetrics(t *testing.T, g *gateway) map[string]int {
	t.Helper()
	_, body := adminGet(t, g, "/metrics")
	out := map[string]int{}
	for _, m := range legacyMetricRE.FindAllStringSubmatch(body, -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	if len(out) != 6 {
		t.Fatalf("frontdoor_legacy_auth_total has %d results, want 6: %v", len(out), out)
	}
	return out
}

// wantMetricsMoved checks the counts moved by want from before.
func wantMetricsMoved(t *testing.T, g *gateway, before map[string]int, want map[string]int) {
	t.Helper()
	now := legacyMetrics(t, g)
	for r, n := range want {
		if now[r]-before[r] != n {
			t.Errorf("frontdoor_legacy_auth_total{result=%q} moved by %d, want %d (before %v, now %v)", r, now[r]-before[r], n, before, now)
		}
	}
}

// wantWrong checks a sign-in got the one answer of a wrong password or an
// unknown address.
func wantWrong(t *testing.T, r response, what string) {
	t.Helper()
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "The email address or password is incorrect.") {
		t.Fatalf("%s: %d, want the wrong-credentials page\n%s", what, r.status, r.body)
	}
}

// loginPage is a login answer with what differs between any two (the CSRF
// token, the address typed) taken out.
func loginPage(r response, email string) string {
	return strings.ReplaceAll(csrfRE.ReplaceAllString(r.body, ""), email, "")
}

func notCreated(t *testing.T, email string) {
	t.Helper()
	if _, err := backendOf(t).identity.CustomerByEmail(context.Background(), email); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("%s exists (%v), want no customer", email, err)
	}
}

// TestLegacyAuth: lazy migration through a real Caddy on both stores,
// against a legacy service on loopback that checks the gateway's
// signatures and signs its answers.
func TestLegacyAuth(t *testing.T) {
	t.Setenv("FRONTDOOR_TEST_LEGACY_SECRET", legacySecret)
	svc := newLegacyService(t)
	site := fmt.Sprintf("legacy_auth %s/verify {\n\t\t\tsecret {env.FRONTDOOR_TEST_LEGACY_SECRET}\n\t\t\ttimeout 500ms\n\t\t}", svc.srv.URL)
	var passwords []string // every password typed, for the log check
	pw := func(p string) string { passwords = append(passwords, p); return p }
	runOnBothStoresWith(t, gatewayOpts{site: site}, []scenario{
		{"a known password moves the customer over, once", func(t *testing.T, g *gateway) {
			svc.reset()
			const email = "ada@legacy.example"
			password := pw("ada's password from the old shop")
			svc.add(email, password)
			before, calls := legacyMetrics(t, g), svc.count(email)
			c := g.newClient()
			if r := g.login(c, email, password, "/app/home"); r.header.Get("Location") != "/app/home" {
				t.Fatalf("sign-in went to %q", r.header.Get("Location"))
			}
			if r := g.get(c, "/app/home", nil); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Email") != email {
				t.Fatalf("signed in? %d %q", r.status, g.backend.lastHeaders().Get("X-Frontdoor-Email"))
			}
			if n := svc.count(email) - calls; n != 1 {
				t.Fatalf("the service was asked %d times, want once", n)
			}
			cust, err := backendOf(t).identity.CustomerByEmail(context.Background(), email)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(cust.PasswordHash, "$argon2id$") || strings.Contains(cust.PasswordHash, password) {
				t.Fatalf("stored %q, want Frontdoor's argon2id hash", cust.PasswordHash)
			}
			h, err := identity.NewHasher(identity.DefaultArgon2, 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.Verify(context.Background(), cust.PasswordHash, password); err != nil {
				t.Fatalf("the stored hash is not the password's: %v", err)
			}
			if !cust.EmailVerified || cust.Name != "Legacy ada" || cust.CreatedAt.Year() != 2016 {
				t.Fatalf("record: verified %v name %q created %v", cust.EmailVerified, cust.Name, cust.CreatedAt)
			}
			evs, _ := backendOf(t).identity.Events(context.Background(), cust.ID, 20)
			migrated := 0
			for _, e := range evs {
				if e.Kind == identity.EventMigrated && e.Detail == "legacy_auth" {
					migrated++
				}
			}
			if migrated != 1 {
				t.Fatalf("trail %+v, want one migrated event", evs)
			}
			if r := g.get(c, "/.frontdoor/account", navigate); !strings.Contains(r.body, "Account moved over from the previous sign-in system") {
				t.Fatalf("the account page does not show the migration: %d", r.status)
			}
			// Known now: a second sign-in, from another browser, asks
			// nobody but Frontdoor; nor does a wrong password.
			g.login(g.newClient(), email, password, "/app/home")
			wantWrong(t, g.post(g.newClient(), "/.frontdoor/login", loginForm(email, pw("not ada's password"))), "wrong password after migrating")
			if n := svc.count(email) - calls; n != 1 {
				t.Fatalf("the service was asked %d times, want once", n)
			}
			wantMetricsMoved(t, g, before, map[string]int{"migrated": 1, "error": 0, "refused": 0})
		}},
		{"forged answers are refused", func(t *testing.T, g *gateway) {
			before := legacyMetrics(t, g)
			for _, mode := range []string{"bad_signature", "unsigned", "stale", "replay"} {
				email := "forged-" + strings.ReplaceAll(mode, "_", "-") + "@legacy.example"
				password := pw("the right password of " + email)
				svc.add(email, password)
				svc.setMode(mode)
				r := g.post(g.newClient(), "/.frontdoor/login", loginForm(email, password))
				svc.setMode("")
				wantWrong(t, r, mode)
				if n := svc.count(email); n != 1 {
					t.Fatalf("%s: asked %d times", mode, n)
				}
				notCreated(t, email)
			}
			// A genuine answer after them still counts (four failures in
			// a row leave the breaker closed).
			const email = "after-forgeries@legacy.example"
			password := pw("a genuine answer's password")
			svc.add(email, password)
			g.login(g.newClient(), email, password, "/app/home")
			wantMetricsMoved(t, g, before, map[string]int{"error": 4, "migrated": 1, "skipped_open_breaker": 0})
		}},
		{"a wrong password answers as an unknown address, and asks once", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			const email, stranger = "bob@legacy.example", "nobody-at-all@legacy.example"
			right := pw("bob's right password")
			svc.add(email, right)
			before := legacyMetrics(t, g)
			c := g.newClient()
			unknown := g.post(c, "/.frontdoor/login", loginForm(stranger, pw("whatever")))
			wrong := g.post(c, "/.frontdoor/login", loginForm(email, pw("bob's wrong password")))
			wantWrong(t, unknown, "unknown everywhere")
			wantWrong(t, wrong, "wrong password")
			if loginPage(unknown, stranger) != loginPage(wrong, email) || unknown.header.Get("Content-Type") != wrong.header.Get("Content-Type") {
				t.Fatal("a wrong legacy password answers differently from an unknown address")
			}
			if n := svc.count(email); n != 1 {
				t.Fatalf("asked %d times, want once", n)
			}
			// The same wrong password again: not asked.
			for range 3 {
				wantWrong(t, g.post(c, "/.frontdoor/login", loginForm(email, "bob's wrong password")), "the same wrong password")
			}
			if n := svc.count(email); n != 1 {
				t.Fatalf("a repeated wrong password was asked about: %d calls", n)
			}
			// Other passwords: asked until the address's asks are spent
			// for the window, then not even the right one is.
			for i := 2; i <= legacyauth.RefusalAsks+2; i++ {
				wantWrong(t, g.post(c, "/.frontdoor/login", loginForm(email, pw(fmt.Sprint("guess ", i)))), "a guess")
			}
			wantWrong(t, g.post(c, "/.frontdoor/login", loginForm(email, right)), "the right password with the asks spent")
			if n := svc.count(email); n != legacyauth.RefusalAsks {
				t.Fatalf("asked %d times in the window, want %d", n, legacyauth.RefusalAsks)
			}
			notCreated(t, email)
			// After the window the right password moves the customer over.
			clk.advance(legacyauth.RefusalTTL + time.Second)
			g.login(g.newClient(), email, right, "/app/home")
			if n := svc.count(email); n != legacyauth.RefusalAsks+1 {
				t.Fatalf("asked %d times, want %d", n, legacyauth.RefusalAsks+1)
			}
			// One typo does not keep the owner out.
			const typo = "carol@legacy.example"
			carol := pw("carol's password")
			svc.add(typo, carol)
			wantWrong(t, g.post(c, "/.frontdoor/login", loginForm(typo, pw("carol's pasword"))), "a typo")
			g.login(g.newClient(), typo, carol, "/app/home")
			wantMetricsMoved(t, g, before, map[string]int{"refused": 1 + legacyauth.RefusalAsks + 1, "skipped_recent": 3 + 2 + 1, "migrated": 2, "error": 0})
		}},
		{"a hanging service opens the breaker; other sign-ins go on", func(t *testing.T, g *gateway) {
			const existing = "regular@legacy.example"
			g.signUp(existing) // a Frontdoor customer: never asked about
			before, calls := legacyMetrics(t, g), svc.all()
			svc.setMode("hang")
			for i := range legacyauth.BreakerThreshold + 3 {
				email := fmt.Sprintf("hang%d@legacy.example", i)
				svc.add(email, "hang password")
				wantWrong(t, g.post(g.newClient(), "/.frontdoor/login", loginForm(email, "hang password")), email)
				notCreated(t, email)
			}
			if n := svc.all() - calls; n != legacyauth.BreakerThreshold {
				t.Fatalf("the service was called %d times, want %d: the breaker did not open", n, legacyauth.BreakerThreshold)
			}
			g.login(g.newClient(), existing, testPassword, "/app/home")
			wantMetricsMoved(t, g, before, map[string]int{"error": legacyauth.BreakerThreshold, "skipped_open_breaker": 3, "migrated": 0})
			// After the cool-down, one trial call; a good answer closes
			// the breaker.
			svc.setMode("")
			clk := useClock(t)
			clk.advance(legacyauth.BreakerCooldown + time.Second)
			const back = "back@legacy.example"
			password := pw("the service is back")
			svc.add(back, password)
			g.login(g.newClient(), back, password, "/app/home")
			if n := svc.all() - calls; n != legacyauth.BreakerThreshold+1 {
				t.Fatalf("%d calls, want %d", n, legacyauth.BreakerThreshold+1)
			}
			logged, _ := os.ReadFile(g.logFile)
			if !strings.Contains(string(logged), "legacy_auth: the legacy service failed repeatedly") ||
				!strings.Contains(string(logged), "legacy_auth: the legacy service answers again") {
				t.Fatal("the breaker's changes are not in the log")
			}
		}},
		{"nothing secret reaches the log", func(t *testing.T, g *gateway) {
			logged, err := os.ReadFile(g.logFile)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(logged), "legacy_auth: no valid answer") {
				t.Fatal("refused answers are not logged")
			}
			for _, secret := range append([]string{legacySecret, "hang password"}, passwords...) {
				if strings.Contains(string(logged), secret) {
					t.Errorf("the log holds %q", secret)
				}
			}
			if n := svc.badRequests(); n != 0 {
				t.Fatalf("%d requests reached the service unsigned or badly signed", n)
			}
		}},
	})
}
