package caddymodule

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// hasherRuns is how many argon2 computations the live config's hasher has
// started.
func hasherRuns() uint64 {
	liveMu.Lock()
	defer liveMu.Unlock()
	return live.hasher.Runs()
}

var powRE = regexp.MustCompile(`data-pow-challenge="([^"]+)" data-pow-bits="(\d+)"`)

// solveFrom solves the challenge on a page, as its script would.
func solveFrom(t *testing.T, body string) string {
	t.Helper()
	m := powRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no challenge on the page:\n%s", body)
	}
	bits, _ := strconv.Atoi(m[2])
	return botdefense.SolvePow(m[1], bits)
}

func loginForm(email, password string) url.Values {
	return url.Values{"email": {email}, "password": {password}, "rd": {"/app/home"}}
}

// TestDefenseLimits: through a real Caddy on both stores, each limit
// trips at its number with 429 and Retry-After, before any password
// hashing, mail or store write, and resets after its window (moved
// clock); a spoofed X-Forwarded-For from an untrusted peer does not
// change the key; an account over its limit asks for a challenge instead
// of refusing, so its owner still gets in.
func TestDefenseLimits(t *testing.T) {
	const limits = `limits {
			login ip 3/1m
			login account 2/15m
			register ip 2/1h
			magic ip 2/1h
			reset ip 2/1h
			automation ignore
		}`
	runOnBothStoresWith(t, gatewayOpts{limits: limits}, []scenario{
		{"login ip limit", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			clk.alignTo(time.Minute)
			c := g.newClient()
			for i := 1; i <= 3; i++ {
				if r := g.post(c, "/.frontdoor/login", loginForm("nobody"+strconv.Itoa(i)+"@example.com", "wrong password")); r.status != http.StatusUnauthorized {
					t.Fatalf("attempt %d: %d", i, r.status)
				}
			}
			runs := hasherRuns()
			// Spoofed forwarding headers from an untrusted peer change nothing.
			for _, xff := range []string{"203.0.113.9", "198.51.100.7, 203.0.113.10"} {
				form := loginForm("nobody9@example.com", "wrong password")
				form.Set("csrf_token", g.csrf(c, "/.frontdoor/login"))
				r := g.do(c, http.MethodPost, "/.frontdoor/login", form, map[string]string{"X-Forwarded-For": xff, "X-Real-IP": xff, "Accept": "text/html"})
				retry, _ := strconv.Atoi(r.header.Get("Retry-After"))
				if r.status != http.StatusTooManyRequests || retry < 1 || retry > 60 || !strings.Contains(r.body, "Too many attempts") {
					t.Fatalf("4th attempt (X-Forwarded-For %s): %d Retry-After %q", xff, r.status, r.header.Get("Retry-After"))
				}
			}
			// An API client gets JSON.
			form := loginForm("nobody9@example.com", "x")
			form.Set("csrf_token", g.csrf(c, "/.frontdoor/login"))
			if r := g.do(c, http.MethodPost, "/.frontdoor/login", form, map[string]string{"Accept": "application/json"}); r.status != http.StatusTooManyRequests ||
				!strings.Contains(r.body, `"error":"too_many_attempts"`) {
				t.Fatalf("JSON 429: %d %s", r.status, r.body)
			}
			if got := hasherRuns(); got != runs {
				t.Fatalf("limited logins ran the password hasher %d times", got-runs)
			}
			clk.advance(time.Minute)
			if r := g.post(c, "/.frontdoor/login", loginForm("nobody1@example.com", "wrong password")); r.status != http.StatusUnauthorized {
				t.Fatalf("after the window: %d", r.status)
			}
		}},
		{"register and mail limits write nothing", func(t *testing.T, g *gateway) {
			useClock(t).alignTo(time.Hour)
			c := g.newClient()
			for i := 1; i <= 2; i++ {
				g.post(c, "/.frontdoor/register", url.Values{"email": {"new" + strconv.Itoa(i) + "@example.com"}, "password": {testPassword}})
			}
			runs := hasherRuns()
			r := g.post(c, "/.frontdoor/register", url.Values{"email": {"new3@example.com"}, "password": {testPassword}})
			if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
				t.Fatalf("3rd sign-up: %d", r.status)
			}
			if _, err := backendOf(t).identity.CustomerByEmail(t.Context(), "new3@example.com"); err == nil {
				t.Fatal("a limited sign-up created an account")
			}
			if hasherRuns() != runs {
				t.Fatal("a limited sign-up hashed a password")
			}
			for _, page := range []string{"/.frontdoor/magic", "/.frontdoor/reset"} {
				for i := 1; i <= 2; i++ {
					g.post(c, page, url.Values{"email": {"new1@example.com"}})
				}
				squatMailIdle(t) // the allowed requests' mail is written
				before := mailCount(g)
				if r := g.post(c, page, url.Values{"email": {"new1@example.com"}}); r.status != http.StatusTooManyRequests {
					t.Fatalf("%s 3rd: %d", page, r.status)
				}
				// Mail is queued before the page is answered: once the
				// queues are idle, whatever the limited request sent is
				// in the directory.
				squatMailIdle(t)
				if mailCount(g) != before {
					t.Fatalf("%s: a limited request sent mail", page)
				}
			}
		}},
		{"account limit challenges, never locks out", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			clk.advance(2 * time.Hour) // past the earlier scenarios' windows
			clk.alignTo(time.Hour)     // and at the start of the next 15-minute windows
			owner := g.signUp("ann@example.com")
			logout(t, g, owner)
			attacker := g.newClient()
			// signUp signed in once; one more wrong guess reaches the limit (2).
			if r := g.post(attacker, "/.frontdoor/login", loginForm("ann@example.com", "guess one")); r.status != http.StatusUnauthorized {
				t.Fatalf("guess: %d", r.status)
			}
			runs := hasherRuns()
			r := g.post(attacker, "/.frontdoor/login", loginForm("ann@example.com", "guess two"))
			if r.status != http.StatusForbidden || !powRE.MatchString(r.body) || strings.Contains(r.body, "guess two") {
				t.Fatalf("over the account limit: %d %s", r.status, r.body)
			}
			if hasherRuns() != runs {
				t.Fatal("a challenged login ran the hasher")
			}
			clk.advance(time.Minute) // a new window for the address limit; the account's goes on
			// The owner solves the challenge (as the page's script does) and
			// signs in.
			page := g.post(owner, "/.frontdoor/login", loginForm("ann@example.com", testPassword))
			form := loginForm("ann@example.com", testPassword)
			form.Set("pow", solveFrom(t, page.body))
			if r := g.post(owner, "/.frontdoor/login", form); r.status != http.StatusSeeOther {
				t.Fatalf("owner with a solved challenge: %d", r.status)
			}
		}},
	})
}

func mailCount(g *gateway) int {
	files, _ := filepath.Glob(filepath.Join(g.mailDir, "*.eml"))
	return len(files)
}

// TestDefenseChallenges: proof-of-work solutions replayed, expired, for
// another client or with too few bits are refused; scripted clients are
// challenged; a `challenge` route lets a browser in once it solved one;
// disposable sign-ups can be refused; blocks from the admin API apply and
// lift; decisions show in the metrics.
func TestDefenseChallenges(t *testing.T) {
	const limits = `limits {
			disposable refuse
		}
		challenge /pub/sale /pub/sale/*`
	runOnBothStoresWith(t, gatewayOpts{limits: limits}, []scenario{
		{"solutions", func(t *testing.T, g *gateway) {
			clk := useClock(t)
			c := g.newClient()
			bot := map[string]string{"User-Agent": "python-requests/2.32", "Accept": "text/html"}
			post := func(form url.Values) response {
				form.Set("csrf_token", g.csrf(c, "/.frontdoor/login"))
				return g.do(c, http.MethodPost, "/.frontdoor/login", form, bot)
			}
			r := post(loginForm("bot@example.com", "x"))
			if r.status != http.StatusForbidden || !powRE.MatchString(r.body) {
				t.Fatalf("scripted client: %d", r.status)
			}
			m := powRE.FindStringSubmatch(r.body)
			bits, _ := strconv.Atoi(m[2])
			solved := botdefense.SolvePow(m[1], bits)
			form := loginForm("bot@example.com", "x")
			form.Set("pow", solved)
			if r := post(form); r.status != http.StatusUnauthorized {
				t.Fatalf("solved challenge: %d", r.status)
			}
			if r := post(form); r.status != http.StatusForbidden || !strings.Contains(r.body, "data-pow-challenge") {
				t.Fatalf("replayed solution: %d", r.status)
			}
			pow := backendOf(t).defense.Pow()
			for name, sol := range map[string]string{
				"another client": botdefense.SolvePow(pow.Issue("192.0.2.44", bits, time.Minute), bits),
				"too few bits":   botdefense.SolvePow(pow.Issue("127.0.0.1", bits-4, time.Minute), bits-4),
				"forged":         strings.Replace(solved, solved[:4], "AAAA", 1),
				"expired": func() string {
					s := botdefense.SolvePow(pow.Issue("127.0.0.1", bits, time.Minute), bits)
					clk.advance(2 * time.Minute)
					return s
				}(),
			} {
				form.Set("pow", sol)
				if r := post(form); r.status != http.StatusForbidden {
					t.Errorf("%s: %d", name, r.status)
				}
			}
		}},
		{"challenge route", func(t *testing.T, g *gateway) {
			c := g.newClient()
			r := g.get(c, "/pub/sale/item?x=1", navigate)
			if r.status != http.StatusForbidden || !powRE.MatchString(r.body) || !strings.Contains(r.body, "<noscript>") {
				t.Fatalf("challenge route: %d %s", r.status, r.body)
			}
			if api := g.get(g.newClient(), "/pub/sale", nil); api.status != http.StatusForbidden || !strings.Contains(api.body, "challenge_required") {
				t.Fatalf("challenge route, API: %d %s", api.status, api.body)
			}
			form := url.Values{"rd": {"/pub/sale/item?x=1"}, "pow": {solveFrom(t, r.body)}}
			r = g.postVia(c, "/.frontdoor/login", "/.frontdoor/challenge", form)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/pub/sale/item?x=1" {
				t.Fatalf("solved: %d %q", r.status, r.header.Get("Location"))
			}
			if r := g.get(c, "/pub/sale/item?x=1", navigate); r.status != http.StatusOK {
				t.Fatalf("with the pass: %d", r.status)
			}
			// The pass is bound to the client address and signed.
			other := g.withCookie("")
			u, _ := url.Parse(g.url("/"))
			other.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-frontdoor-pass", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Path: "/", Secure: true}})
			if r := g.get(other, "/pub/sale", navigate); r.status != http.StatusForbidden {
				t.Fatalf("forged pass: %d", r.status)
			}
		}},
		{"disposable sign-up refused", func(t *testing.T, g *gateway) {
			r := g.post(g.newClient(), "/.frontdoor/register", url.Values{"email": {"x@mailinator.com"}, "password": {testPassword}})
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, "permanent email address") {
				t.Fatalf("disposable: %d", r.status)
			}
		}},
		{"blocks and metrics", func(t *testing.T, g *gateway) {
			block := func(method, body, query string) int {
				req, _ := http.NewRequest(method, "http://"+g.admin+"/frontdoor/defense/blocks"+query, bytes.NewBufferString(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if s := block(http.MethodPost, `{"kind":"ip","value":"127.0.0.1","duration":"10m","reason":"test"}`, ""); s != http.StatusOK {
				t.Fatalf("block: %d", s)
			}
			if s := block(http.MethodPost, `{"kind":"prefix","value":"127.0.0.1/8","duration":"10m"}`, ""); s != http.StatusBadRequest {
				t.Fatalf("block of a /8: %d", s)
			}
			c := g.newClient()
			r := g.post(c, "/.frontdoor/login", loginForm("a@example.com", "x"))
			if r.status != http.StatusForbidden || r.header.Get("Retry-After") == "" {
				t.Fatalf("blocked client: %d", r.status)
			}
			if _, body := adminGet(t, g, "/frontdoor/defense/blocks"); !strings.Contains(body, `"value": "127.0.0.1"`) {
				t.Fatalf("blocks: %s", body)
			}
			if _, body := adminGet(t, g, "/frontdoor/defense/offenders"); !strings.Contains(body, `"key": "ip 127.0.0.1"`) {
				t.Fatalf("offenders: %s", body)
			}
			if s := block(http.MethodDelete, "", "?kind=ip&value=127.0.0.1"); s != http.StatusNoContent {
				t.Fatalf("unblock: %d", s)
			}
			if r := g.post(c, "/.frontdoor/login", loginForm("a@example.com", "x")); r.status != http.StatusUnauthorized {
				t.Fatalf("after unblock: %d", r.status)
			}
			_, body := adminGet(t, g, "/frontdoor/defense")
			if !strings.Contains(body, `"origin": "https://shop.test`) || !strings.Contains(body, "login ip 20/5m0s") {
				t.Fatalf("limits in force: %s", body)
			}
			_, metrics := adminGet(t, g, "/metrics")
			for _, want := range []string{`frontdoor_defense_decisions_total{decision="blocked",route="login"}`, `frontdoor_defense_decisions_total{decision="allowed",route="login"}`} {
				if !strings.Contains(metrics, want) {
					t.Fatalf("metrics lack %s", want)
				}
			}
		}},
	})
}

// TestDefenseSharedBetweenNodes: two gateway processes on one redis-server
// count against the same limits.
func TestDefenseSharedBetweenNodes(t *testing.T) {
	bin := buildBinary(t)
	r := redistest.Start(t)
	o := gatewayOpts{store: "store redis " + r.URL(), site: "origin https://shop.test", limits: "limits {\n\t\t\tlogin ip 4/24h\n\t\t}"} // a day: the test cannot straddle windows
	a := startProcess(t, bin, o)
	b := startProcess(t, bin, o)
	shareRoots(t, a, b)
	for i, g := range []*gateway{a, b, a, b} {
		if res := g.post(g.newClient(), "/.frontdoor/login", loginForm("x@example.com", "wrong")); res.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, res.status)
		}
	}
	for _, g := range []*gateway{a, b} {
		if res := g.post(g.newClient(), "/.frontdoor/login", loginForm("x@example.com", "wrong")); res.status != http.StatusTooManyRequests {
			t.Fatalf("5th attempt on %s: %d", g.url("/"), res.status)
		}
	}
}

// TestDefenseReloadUnderLoad: while clients keep sending requests, a limit
// is changed through the admin API (/load): no request fails other than
// the intended 429s, and the counters carry on — the new limit counts the
// requests made before the reload.
func TestDefenseReloadUnderLoad(t *testing.T) {
	limits := func(n int) string {
		return "limits {\n\t\t\tverify ip " + strconv.Itoa(n) + "/24h\n\t\t\tverify prefix off\n\t\t}" // a day: one window
	}
	g := startGateway(t, gatewayOpts{limits: limits(200)})
	const total, workers = 320, 8
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		sent     int
		reloaded = make(chan struct{})
	)
	next := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if sent == total {
			return sent, false
		}
		sent++
		if sent == 100 {
			go func() {
				defer close(reloaded)
				cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(g.caddyfile(gatewayOpts{limits: limits(250)})), map[string]any{"filename": "Caddyfile"})
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := http.Post("http://"+g.admin+"/load", "application/json", bytes.NewReader(cfg))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("/load: %d", resp.StatusCode)
				}
			}()
		}
		return sent, true
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			c := g.newClient()
			for {
				n, ok := next()
				if !ok {
					return
				}
				if n > 150 {
					<-reloaded // the rest after the new config is in
				}
				r := g.get(c, "/.frontdoor/verify?token=not-a-token", nil)
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if statuses[http.StatusBadRequest] != 250 || statuses[http.StatusTooManyRequests] != total-250 || len(statuses) != 2 {
		t.Fatalf("answers %v: want 250 × 400 (the malformed link) and %d × 429", statuses, total-250)
	}
	if _, body := adminGet(t, g, "/frontdoor/defense"); !strings.Contains(body, "verify ip 250/24h0m0s") {
		t.Fatalf("limits after reload: %s", body)
	}
}

// TestHashingBacklogChallenges: once password hashing is queued past half
// a second, a further sign-in is asked to solve a challenge before it may
// join the queue (the first seconds of a flood).
func TestHashingBacklogChallenges(t *testing.T) {
	// One slot and a slow hash (t=8): a handful of sign-ins is a backlog.
	g := startGateway(t, gatewayOpts{
		global: "password {\n\t\t\tconcurrency 1\n\t\t\targon2 19456 8 1\n\t\t\tqueue_wait 60s\n\t\t}",
		// No other reason to challenge: one account, limits far away.
		limits: "limits {\n\t\t\tlogin ip 1000/1m\n\t\t\tlogin prefix 1000/1m\n\t\t\tlogin account 1000/1m\n\t\t}",
	})
	login := func(c *http.Client, tok string, i int) response {
		form := url.Values{"csrf_token": {tok}, "email": {"nobody@example.com"}, "password": {fmt.Sprintf("wrong password %d", i)}}
		return g.do(c, http.MethodPost, "/.frontdoor/login", form, nil)
	}
	const queued = 12
	clients := make([]*http.Client, queued+1)
	tokens := make([]string, queued+1)
	for i := range clients {
		clients[i] = g.newClient()
		tokens[i] = g.csrf(clients[i], "/.frontdoor/login")
	}
	answers := make(chan response, queued)
	for i := range queued {
		go func() { answers <- login(clients[i], tokens[i], i) }()
	}
	v, err := caddy.ActiveContext().App("frontdoor")
	if err != nil {
		t.Fatal(err)
	}
	hasher := v.(*App).hasher
	for deadline := time.Now().Add(30 * time.Second); hasher.Backlog() <= hashBacklogChallenge; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no hashing backlog: %v", hasher.Backlog())
		}
	}
	r := login(clients[queued], tokens[queued], queued)
	if r.status != http.StatusForbidden || !powRE.MatchString(r.body) {
		t.Errorf("sign-in behind a %v hashing backlog: %d, want a challenge", hasher.Backlog(), r.status)
	}
	for range queued {
		// Checked before the backlog built: hashed (401); after: challenged.
		if a := <-answers; a.status != http.StatusUnauthorized && (a.status != http.StatusForbidden || !powRE.MatchString(a.body)) {
			t.Errorf("queued sign-in answered %d", a.status)
		}
	}
}
