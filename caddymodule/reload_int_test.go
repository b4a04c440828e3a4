package caddymodule

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// loadFails adapts and loads a Caddyfile that must be refused, and returns
// Caddy's error. The running config stays in place.
func (g *gateway) loadFails(o gatewayOpts) error {
	g.t.Helper()
	cfg, warn, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(g.caddyfile(o)), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		g.t.Fatalf("adapt: %v (warnings %v)", err, warn)
	}
	err = caddy.Load(cfg, true)
	if err == nil {
		g.t.Fatal("load succeeded; want it refused")
	}
	return err
}

// logLine waits for a line of the log file holding every one of want.
func logLine(t *testing.T, file string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if line := findLine(file, want...); line != "" {
			return line
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no line with %q in %s", want, file)
	return ""
}

func findLine(file string, want ...string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
lines:
	for sc.Scan() {
		for _, w := range want {
			if !strings.Contains(sc.Text(), w) {
				continue lines
			}
		}
		return sc.Text()
	}
	return ""
}

func register(t *testing.T, g *gateway, email string) {
	t.Helper()
	r := g.post(g.newClient(), "/.frontdoor/register", url.Values{"email": {email}, "password": {testPassword}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") {
		t.Fatalf("register %s: %d", email, r.status)
	}
}

// TestReloadLogOutputFollowsConfig: after a reload that moves the log to
// another file, what pooled state logs — the log mailer, the mail queue,
// the store's health — goes to the new file, not the old one.
func TestReloadLogOutputFollowsConfig(t *testing.T) {
	o := gatewayOpts{global: "mailer log"}
	g := startGateway(t, o)
	oldLog := g.logFile
	register(t, g, "lou@example.com")
	logLine(t, oldLog, `"msg":"email (log mailer)"`, "lou@example.com")

	g.logFile = filepath.Join(g.dir, "caddy-new.log")
	g.load(o)
	register(t, g, "max@example.com")
	logLine(t, g.logFile, `"msg":"email (log mailer)"`, "max@example.com")
	logLine(t, g.logFile, `"logger":"frontdoor.mail"`, `"msg":"mail sent"`, "m***@example.com")
	b := backendOf(t)
	b.noteStore(errors.New("health probe from the test"))
	b.noteStore(nil)
	logLine(t, g.logFile, "store failing", "health probe from the test")
	logLine(t, g.logFile, "store recovered")
	for _, leaked := range []string{"max@example.com", "m***@example.com", "health probe from the test"} {
		if line := findLine(oldLog, leaked); line != "" {
			t.Errorf("the old log file still receives pooled state's lines: %s", line)
		}
	}
}

// TestReloadSettingsOnlyOnCommit: a reload refused during provisioning
// leaves the running config's session lifetimes, key rotation and mailer
// alone; a reload that succeeds puts its own in force.
func TestReloadSettingsOnlyOnCommit(t *testing.T) {
	g := startGateway(t, gatewayOpts{global: "session {\n\t\t\tidle 30m\n\t\t}\n\t\tkeys {\n\t\t\tassertion_rotate 48h\n\t\t}"})
	b := backendOf(t)
	check := func(when string, idle, rotate time.Duration) {
		t.Helper()
		if got := b.sessions.Config().Idle; got != idle {
			t.Errorf("%s: session idle %s, want %s", when, got, idle)
		}
		if got := b.assertions.Ring().Rotate(); got != rotate {
			t.Errorf("%s: assertion_rotate %s, want %s", when, got, rotate)
		}
	}
	check("at start", 30*time.Minute, 48*time.Hour)

	// The cookie key is checked after the store is opened, the point past
	// which the session lifetimes used to be applied.
	err := g.loadFails(gatewayOpts{global: "mailer log\n\t\tsession {\n\t\t\tidle 2m\n\t\t}\n\t\tkeys {\n\t\t\tassertion_rotate 1h\n\t\t\tcookie !!!not-base64 !!!not-base64\n\t\t}"})
	if !strings.Contains(err.Error(), "not base64") {
		t.Fatalf("refused for another reason: %v", err)
	}
	g.waitReady()
	check("after a refused reload", 30*time.Minute, 48*time.Hour)
	g.signUp("ned@example.com") // mail still goes to the running config's directory

	g.load(gatewayOpts{global: "session {\n\t\t\tidle 45m\n\t\t}\n\t\tkeys {\n\t\t\tassertion_rotate 1h\n\t\t}"})
	if backendOf(t) != b {
		t.Fatal("the reload opened another backend for the same store")
	}
	check("after a reload", 45*time.Minute, time.Hour)
}

// TestReloadFailedStartChangesNothing: when another app of the new config
// fails to start (here the HTTP server, on a port already taken), Caddy
// keeps the old config running, and it gets its settings and logger back.
// Caddy starts apps in map order, so a few attempts make it likely that
// ours starts before the HTTP app fails.
func TestReloadFailedStartChangesNothing(t *testing.T) {
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	g := startGateway(t, gatewayOpts{})
	logFile := g.logFile
	for i := range 4 {
		g.logFile = filepath.Join(g.dir, fmt.Sprintf("caddy-failed-%d.log", i))
		g.loadFails(gatewayOpts{
			global: "session {\n\t\t\tidle 2m\n\t\t}\n\t\tkeys {\n\t\t\tassertion_rotate 1h\n\t\t}",
			extra:  fmt.Sprintf("http://shop.test:%d {\n\trespond ok\n}\n", busy.Addr().(*net.TCPAddr).Port),
		})
	}
	g.logFile = logFile
	g.waitReady()
	b := backendOf(t)
	if got := b.sessions.Config().Idle; got != 30*time.Minute {
		t.Errorf("session idle %s after refused reloads, want 30m", got)
	}
	if got := b.assertions.Ring().Rotate(); got != defaultAssertionRotate {
		t.Errorf("assertion_rotate %s after refused reloads, want %s", got, defaultAssertionRotate)
	}
	b.noteStore(errors.New("probe after a failed start"))
	b.noteStore(nil)
	logLine(t, logFile, "store failing", "probe after a failed start")
	g.signUp("ora@example.com")
}

// TestReloadMailerChangeKeepsPendingMail: changing the mailer while a
// message is stuck on its way out neither holds the reload up (the old
// queue used to be drained for up to 10 s, then dropped) nor loses the
// message: the new mailer delivers it.
func TestReloadMailerChangeKeepsPendingMail(t *testing.T) {
	smtpAddr, accepted, release := silentSMTP(t)
	g := startGateway(t, gatewayOpts{global: "mailer smtp " + smtpAddr + " {\n\t\t\ttls none\n\t\t\ttimeout 30s\n\t\t}"})
	t.Cleanup(release) // registered after Caddy's stop, so it runs first
	register(t, g, "pia@example.com")
	var stuck net.Conn
	select {
	case stuck = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the mailer never tried the SMTP server")
	}
	defer stuck.Close()

	g.mailDir = filepath.Join(g.dir, "mail-b")
	g.load(gatewayOpts{}) // mailer dir <mail-b>

	// The reload is done and the mailer is still waiting for a greeting on
	// the same connection: nothing waited for the send or cut it off.
	if err := stuck.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if _, err := stuck.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the stuck SMTP connection was closed by the reload: %v", err)
	}
	if q := currentQueue(t); q.Pending() != 1 {
		t.Fatalf("pending mail after the reload: %d, want 1", q.Pending())
	}
	// The server gives up on the conversation; the retry goes through the
	// new mailer.
	stuck.Close()
	if link := g.mailLink("pia@example.com", "/.frontdoor/verify?token="); link == "" {
		t.Fatal("no verification mail in the new directory")
	}
}

// currentQueue returns the process's mail queue.
func currentQueue(t *testing.T) *mailQueue {
	t.Helper()
	var q *mailQueue
	mailQueues.Range(func(_, v any) bool {
		if mq, ok := v.(mailQueue); ok {
			q = &mq
		}
		return q == nil
	})
	if q == nil {
		t.Fatal("no mail queue in the pool")
	}
	return q
}
