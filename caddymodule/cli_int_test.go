package caddymodule

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildBinary builds cmd/frontdoor once per test binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds and runs the frontdoor binary")
	}
	bin := filepath.Join(t.TempDir(), "frontdoor")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/frontdoorhq/frontdoor/cmd/frontdoor")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestCLIRunValidateReload drives the real binary as an operator does:
// validate, run, sign a customer in, change the Caddyfile and `frontdoor
// reload` it. The customer stays signed in, the JWKS stays the same and
// the new configuration is in force.
func TestCLIRunValidateReload(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	g := &gateway{
		t: t, port: freePort(t), admin: fmt.Sprintf("127.0.0.1:%d", freePort(t)), dir: dir,
		mailDir: filepath.Join(dir, "mail"), logFile: filepath.Join(dir, "caddy.log"), backend: newRecorder(t),
	}
	env := append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	cf := filepath.Join(dir, "Caddyfile")
	write := func(o gatewayOpts) {
		if err := os.WriteFile(cf, []byte(g.caddyfile(o)), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// validate: a good file passes, a broken one names the directive and line.
	write(gatewayOpts{})
	if out, err := run("validate", "--config", cf); err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "Broken")
	os.WriteFile(bad, []byte("https://shop.test {\n\tfrontdoor {\n\t\tpublik /x\n\t}\n}\n"), 0o600)
	if out, err := run("validate", "--config", bad, "--adapter", "caddyfile"); err == nil || !strings.Contains(out, `unknown option`) || !strings.Contains(out, `publik`) || !strings.Contains(out, "Broken:3") {
		t.Fatalf("validate of a broken Caddyfile: %v\n%s", err, out)
	}

	// run
	var stderr bytes.Buffer
	srv := exec.Command(bin, "run", "--config", cf)
	srv.Env, srv.Stderr, srv.Stdout = env, &stderr, &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		if t.Failed() {
			t.Logf("frontdoor output:\n%s", stderr.String())
		}
	})
	g.waitReady()
	c := g.signUp("kim@example.com")
	jwks := g.get(g.newClient(), "/.well-known/frontdoor/jwks.json", nil).body
	if r := g.get(g.newClient(), "/extra/x", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("before reload /extra is protected: %d", r.status)
	}

	// reload with a changed Caddyfile
	write(gatewayOpts{site: "public /extra/*", global: "session {\n\t\t\tidle 45m\n\t\t}"})
	if out, err := run("reload", "--config", cf, "--address", g.admin); err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
	waitStatus(t, func() int { return g.get(g.newClient(), "/extra/x", nil).status }, http.StatusOK)
	if r := g.get(c, "/app/x", nil); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-Email") != "kim@example.com" {
		t.Fatalf("customer signed out by the reload: %d", r.status)
	}
	if now := g.get(g.newClient(), "/.well-known/frontdoor/jwks.json", nil).body; now != jwks {
		t.Fatalf("JWKS changed across the reload:\n%s\n%s", jwks, now)
	}
}
