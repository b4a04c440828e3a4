package caddymodule

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runProcess starts a program in dir with env, stops it (SIGINT, then
// waits) when the test ends, and shows its output if the test failed.
func runProcess(t testing.TB, env []string, dir, name string, args ...string) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, out, out, dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s %s output:\n%s", filepath.Base(name), strings.Join(args, " "), out.String())
		}
	})
	return out
}

// TestDemoCaddyfileExample is the README's first command, end to end: the
// gateway with Caddyfile.example on the embedded store and the log mailer,
// plus the example legacy backend. A new customer registers, follows the
// link from the log, signs in and sees their identity on the legacy page,
// with the assertion verified against the JWKS. It uses the demo's fixed
// ports (8443, 8081, 9000).
func TestDemoCaddyfileExample(t *testing.T) {
	bin := buildBinary(t)
	legacyBin := filepath.Join(t.TempDir(), "legacy")
	if out, err := exec.Command("go", "build", "-o", legacyBin, "github.com/frontdoorhq/frontdoor/examples/legacy").CombinedOutput(); err != nil {
		t.Fatalf("build legacy: %v\n%s", err, out)
	}
	dir := t.TempDir()
	env := append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	start := func(name string, args ...string) *syncBuffer {
		out := &syncBuffer{}
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, out, out, ".."
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
			if t.Failed() {
				t.Logf("%s output:\n%s", filepath.Base(name), out.String())
			}
		})
		return out
	}
	start(legacyBin, "-listen", "127.0.0.1:9000", "-jwks", "http://127.0.0.1:8081/.well-known/frontdoor/jwks.json")
	logs := start(bin, "run", "--config", "Caddyfile.example", "--adapter", "caddyfile")

	g := &gateway{t: t, host: "localhost", port: 8443, dir: filepath.Join(dir, "data")}
	g.waitReadyAt("/health")
	c := g.newClient()
	email := "demo@example.com"
	if r := g.get(c, "/", navigate); r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), "/.frontdoor/login") {
		t.Fatalf("demo home for a visitor: %d %q", r.status, r.header.Get("Location"))
	}
	g.post(c, "/.frontdoor/register", urlValues("email", email, "password", testPassword))
	linkRE := regexp.MustCompile(`https://localhost:8443/\.frontdoor/verify\?token=[A-Za-z0-9_-]+`)
	var link string
	waitStatus(t, func() int {
		if link = linkRE.FindString(logs.String()); link != "" {
			return 1
		}
		return 0
	}, 1)
	if r := g.confirmLink(c, link); r.status != http.StatusOK {
		t.Fatalf("verify: %d", r.status)
	}
	g.login(c, email, testPassword, "/?format=json")
	r := g.get(c, "/?format=json", nil)
	var page struct {
		Headers   map[string]string `json:"headers"`
		Assertion struct {
			Valid  bool           `json:"valid"`
			Error  string         `json:"error"`
			Claims map[string]any `json:"claims"`
		} `json:"assertion"`
	}
	if err := json.Unmarshal([]byte(r.body), &page); err != nil {
		t.Fatalf("legacy page: %d %v %s", r.status, err, r.body)
	}
	if page.Headers["X-Frontdoor-Email"] != email || !page.Assertion.Valid || page.Assertion.Claims["email"] != email {
		t.Fatalf("legacy page shows %+v", page)
	}
}
