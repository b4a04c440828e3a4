package botdefense

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/browsertest"

	"github.com/chromedp/chromedp"
)

// newPowBrowser starts headless Chromium.
func newPowBrowser(t *testing.T) context.Context {
	t.Helper()
	ctx := browsertest.New(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// powConsole records what pages write to the console, CSP violations
// included.
func powConsole(ctx context.Context) func() []chromedp.ConsoleMessage {
	var mu sync.Mutex
	var msgs []chromedp.ConsoleMessage
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	}()
	return func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(msgs)
	}
}

const powTestCSP = "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; style-src 'self'; form-action 'self'"

// powSite serves a form guarded by a challenge and verifies what it posts.
type powSite struct {
	url    string
	issuer *PowIssuer
	posts  chan powPost

	mu     sync.Mutex
	issued map[string]powIssued // challenge → page
}

type powIssued struct {
	at   time.Time
	bits int
}

// powPost is what the server made of one form post.
type powPost struct {
	err      error
	took     time.Duration // from serving the page to the post
	solution string
	button   string // the value of the button named "go", if it was sent
}

func newPowSite(t *testing.T) *powSite {
	t.Helper()
	s := &powSite{
		issuer: NewPowIssuer([]byte("browser-test-key-browser-test-key"), NewMemorySeen(), nil),
		posts:  make(chan powPost, 16),
		issued: make(map[string]powIssued),
	}
	client := func(r *http.Request) string {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		return host
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pow.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(SolverJS)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	// /form?bits=18&workers=1&auto=1&ready=1&noworker=1: ready leaves the
	// button enabled; noworker forbids workers in the page's CSP.
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		bits, _ := strconv.Atoi(q.Get("bits"))
		ch := s.issuer.Issue(client(r), bits, time.Minute)
		s.mu.Lock()
		s.issued[ch] = powIssued{at: time.Now(), bits: bits}
		s.mu.Unlock()
		csp := powTestCSP
		if q.Get("noworker") != "" {
			csp = strings.Replace(csp, "worker-src 'self'", "worker-src 'none'", 1)
		}
		var formAttr, workers, disabled string
		if q.Get("auto") != "" {
			formAttr = " data-pow-autosubmit"
		}
		if n := q.Get("workers"); n != "" {
			workers = ` data-pow-workers="` + html.EscapeString(n) + `"`
		}
		if q.Get("ready") == "" {
			disabled = " disabled"
		}
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Check</title>
<script src="/pow.js" defer></script></head>
<body><form method="post" action="/submit"%s>
<div data-pow-challenge="%s" data-pow-bits="%d" data-pow-worker="/pow.js"%s></div>
<input type="hidden" name="pow">
<p class="pow-status">This form needs JavaScript.</p>
<noscript><p>This page checks your browser with a short computation before the form can be sent.</p></noscript>
<button type="submit" name="go" value="clicked"%s>Continue</button>
</form></body></html>`, formAttr, html.EscapeString(ch), bits, workers, disabled)
	})
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		sol := r.PostFormValue("pow")
		ch, _, _ := strings.Cut(sol, "~")
		s.mu.Lock()
		page, ok := s.issued[ch]
		s.mu.Unlock()
		p := powPost{solution: sol, took: arrived.Sub(page.at), button: r.PostFormValue("go"), err: errors.New("challenge not issued by this test")}
		if ok {
			p.err = s.issuer.Verify(r.Context(), sol, client(r), page.bits)
		}
		s.posts <- p
		w.Header().Set("Content-Security-Policy", powTestCSP)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if p.err != nil {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<!doctype html><title>No</title><p id="t">%s</p>`, html.EscapeString(p.err.Error()))
			return
		}
		fmt.Fprint(w, `<!doctype html><title>OK</title><p id="t">ok</p>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// wait returns the next form post, or fails after d. It returns once the
// browser shows the answer page too: a navigation started while the
// browser still loads it would be aborted (net::ERR_ABORTED).
func (s *powSite) wait(t *testing.T, ctx context.Context, d time.Duration) powPost {
	t.Helper()
	select {
	case p := <-s.posts:
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#t"))); err != nil {
			t.Fatalf("answer page: %v", err)
		}
		return p
	case <-time.After(d):
		t.Fatalf("no form post within %v", d)
		return powPost{}
	}
}

// open starts loading a page and returns at once: a page that submits
// itself may leave before its load event, which chromedp.Navigate awaits.
func (s *powSite) open(t *testing.T, ctx context.Context, query string) {
	t.Helper()
	js := "location.href = " + strconv.Quote(s.url+"/form?"+query) + "; true"
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
		t.Fatalf("open %s: %v", query, err)
	}
}

// solve loads an autosubmitting form and returns its verified post.
func (s *powSite) solve(t *testing.T, ctx context.Context, query string, limit time.Duration) powPost {
	t.Helper()
	s.open(t, ctx, "auto=1&"+query)
	p := s.wait(t, ctx, limit)
	if p.err != nil {
		t.Fatalf("%s: solution %q refused: %v", query, p.solution, p.err)
	}
	return p
}

// checkConsole fails on a script error or a CSP violation.
func checkConsole(t *testing.T, msgs []chromedp.ConsoleMessage) {
	t.Helper()
	for _, m := range msgs {
		if m.IsException() || m.Type == chromedp.ConsoleError || strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("console: %s (%s:%d)", m, m.URL, m.Line)
		}
	}
}

func powMedian(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestPowBrowser solves challenges in real Chromium under a strict CSP and
// verifies the answers on the server.
func TestPowBrowser(t *testing.T) {
	ctx := newPowBrowser(t)
	console := powConsole(ctx)
	site := newPowSite(t)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	t.Run("default difficulty in workers", func(t *testing.T) {
		var took []time.Duration
		for range 5 {
			took = append(took, site.solve(t, ctx, fmt.Sprintf("bits=%d", DefaultPowBits), 30*time.Second).took)
		}
		t.Logf("%d bits: page served to post %v, median %v", DefaultPowBits, took, powMedian(took))
	})

	t.Run("button enabled when solved", func(t *testing.T) {
		if err := chromedp.Do(ctx,
			chromedp.Navigate(site.url+"/form?bits=10"),
			chromedp.WaitEnabled(chromedp.CSS("button")),
		); err != nil {
			t.Fatal(err)
		}
		status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".pow-status")))
		if err != nil || status != "Done" {
			t.Fatalf("status %q, %v", status, err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("button"))); err != nil {
			t.Fatal(err)
		}
		if p := site.wait(t, ctx, 10*time.Second); p.err != nil || p.button != "clicked" {
			t.Fatalf("%v, button %q", p.err, p.button)
		}
	})

	t.Run("early submit waits for the answer", func(t *testing.T) {
		// The button is enabled from the start: a click before the
		// answer is found is held back, then sent with it, as if the
		// button had been pressed then.
		if err := chromedp.Do(ctx,
			chromedp.Navigate(site.url+fmt.Sprintf("/form?bits=%d&ready=1", DefaultPowBits+2)),
			chromedp.Click(chromedp.CSS("button")),
		); err != nil {
			t.Fatal(err)
		}
		status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".pow-status")))
		t.Logf("status just after the click: %q", status)
		if p := site.wait(t, ctx, 60*time.Second); p.err != nil || p.button != "clicked" {
			t.Fatalf("%v, button %q", p.err, p.button)
		}
	})

	checkConsole(t, console())

	t.Run("on the page when workers are forbidden", func(t *testing.T) {
		p := site.solve(t, ctx, fmt.Sprintf("bits=%d&noworker=1", DefaultPowBits), 60*time.Second)
		t.Logf("%d bits without workers: %v", DefaultPowBits, p.took)
	})

	t.Run("harder", func(t *testing.T) {
		bits := DefaultPowBits + 2
		p := site.solve(t, ctx, fmt.Sprintf("bits=%d", bits), 2*time.Minute)
		t.Logf("%d bits: %v", bits, p.took)
	})
}

// TestPowBrowserSolverLengths checks solver.js's SHA-256 against Go's for
// messages from 1 to 3 blocks and counters that gain a digit.
func TestPowBrowserSolverLengths(t *testing.T) {
	ctx := newPowBrowser(t)
	site := newPowSite(t)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(site.url+"/form?bits=1&ready=1")); err != nil {
		t.Fatal(err)
	}
	const bits = 12
	type job struct {
		Challenge string `json:"challenge"`
		Bits      int    `json:"bits"`
		Start     string `json:"start"`
	}
	var jobs []job
	const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	for n := range 200 {
		var b strings.Builder
		for i := range n {
			b.WriteByte(abc[(i*7+n)%len(abc)])
		}
		jobs = append(jobs, job{b.String(), bits, "0"})
	}
	for _, start := range []string{"9", "99999", "999999999999999999", "1000000000000"} {
		jobs = append(jobs, job{strings.Repeat("c", 100), bits, start}, job{strings.Repeat("c", 40), bits, start})
	}
	jobs = append(jobs, job{"x", 32, "99999999999999999999"}, job{"é", 4, "0"})

	jobsJSON, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`new Promise(function (resolve) {
		var jobs = `+string(jobsJSON)+`, w = new Worker("/pow.js"), out = [];
		w.onmessage = function (ev) {
			out.push(ev.data.counter !== undefined ? ev.data.counter : "error: " + ev.data.error);
			if (out.length === jobs.length) resolve(out); else w.postMessage(jobs[out.length]);
		};
		w.postMessage(jobs[0]);
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(jobs) {
		t.Fatalf("%d answers for %d jobs", len(out), len(jobs))
	}
	for i, j := range jobs[:len(jobs)-2] {
		start, _ := strconv.ParseUint(j.Start, 10, 64)
		got, err := strconv.ParseUint(out[i], 10, 64)
		if err != nil || got < start || powZeroBits(j.Challenge+"~"+out[i]) < bits {
			t.Errorf("challenge of %d bytes from %s: counter %q is wrong", len(j.Challenge), j.Start, out[i])
		}
	}
	for _, got := range out[len(out)-2:] {
		if !strings.HasPrefix(got, "error: ") {
			t.Errorf("bad job answered %q", got)
		}
	}
}

// TestPowBrowserCalibrate measures how long Chromium takes, from serving
// the page to the form post, at each difficulty: FRONTDOOR_POW_CALIBRATE=n
// runs each n times.
func TestPowBrowserCalibrate(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("FRONTDOOR_POW_CALIBRATE"))
	if runs <= 0 {
		t.Skip("set FRONTDOOR_POW_CALIBRATE=<runs> to measure solve times")
	}
	ctx := newPowBrowser(t)
	site := newPowSite(t)
	hc, err := chromedp.Run(ctx, chromedp.Evaluate[int]("navigator.hardwareConcurrency"))
	if err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		name, query string
		workers     int
	}{
		{"workers=auto", "", min(hc, 4)},
		{"workers=1", "&workers=1", 1},
		{"page", "&noworker=1", 1},
	}
	for bits := 12; bits <= 22; bits++ {
		for _, m := range modes {
			if m.name == "page" && bits > 20 {
				continue
			}
			var took []time.Duration
			var sum time.Duration
			var tries float64
			for range runs {
				p := site.solve(t, ctx, fmt.Sprintf("bits=%d%s", bits, m.query), 2*time.Minute)
				took = append(took, p.took)
				sum += p.took
				_, c, _ := strings.Cut(p.solution, "~")
				n, _ := strconv.ParseUint(c, 10, 64)
				// Worker i counts up from i·10^12; they run side by side.
				tries += float64(n%1_000_000_000_000+1) * float64(m.workers)
			}
			slices.Sort(took)
			t.Logf("%2d bits %-12s median %6v  mean %6v  min %6v  max %6v  %4.1f M tries/s with start-up", bits, m.name,
				powMedian(took).Round(time.Millisecond), (sum / time.Duration(runs)).Round(time.Millisecond),
				took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), tries/sum.Seconds()/1e6)
		}
	}
}
