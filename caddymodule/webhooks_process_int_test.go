package caddymodule

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// startKillable runs the frontdoor binary for g as startProcess does, and
// returns the process so a test can kill it.
func startKillable(t *testing.T, bin string, g *gateway, o gatewayOpts) *exec.Cmd {
	t.Helper()
	cf := filepath.Join(g.dir, "Caddyfile")
	if err := os.WriteFile(cf, []byte(g.caddyfile(o)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cf)
	out := &syncBuffer{}
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(g.dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(g.dir, "config"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("frontdoor output:\n%s", out.String())
		}
	})
	g.waitReady()
	return cmd
}

// auditIDs are the ids of the events in a log's audit stream.
func auditIDs(t *testing.T, logFile string) map[string]string {
	ids := map[string]string{}
	for _, l := range auditLines(t, logFile) {
		ids[fmt.Sprint(l["id"])] = fmt.Sprint(l["type"])
	}
	return ids
}

// waitDelivered waits until the receiver accepted every event of ids, for
// up to a minute (a dead node's lease lapses in 15 s), and checks each was
// accepted exactly once.
func waitDelivered(t *testing.T, r *hookReceiver, ids map[string]string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		missing := 0
		r.mu.Lock()
		for id := range ids {
			if r.seen[id] == 0 {
				missing++
			}
		}
		r.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never delivered", missing, len(ids))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a second delivery would show by now
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, n := range r.seen {
		if n != 1 {
			t.Errorf("event %s (%s) accepted %d times", id, ids[id], n)
		}
	}
}

// TestWebhooksSurviveACrash: the gateway is killed (SIGKILL) while a
// delivery hangs; restarted, it delivers every event of the audit stream,
// each accepted once — on the embedded store and on Redis.
func TestWebhooksSurviveACrash(t *testing.T) {
	bin := buildBinary(t)
	for _, st := range []string{"bolt", "redis"} {
		t.Run(st, func(t *testing.T) {
			r := newHookReceiver(t)
			o := gatewayOpts{global: webhookGlobal("crm", r.URL)}
			if st == "redis" {
				o.store = "store redis " + redistest.Start(t).URL()
			}
			g := newProcessGateway(t)
			r.setMode("hang")
			cmd := startKillable(t, bin, g, o)
			g.signUp("fay@example.com")
			g.signUp("gus@example.com")
			waitUntil(t, "a delivery in flight", func() bool { return r.tries() > 0 })
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			published := auditIDs(t, g.logFile)
			if len(published) < 6 {
				t.Fatalf("only %d events published", len(published))
			}
			if len(r.got()) != 0 {
				t.Fatal("events accepted while the receiver hung")
			}
			r.setMode("ok")
			startKillable(t, bin, g, o)
			waitDelivered(t, r, published)
		})
	}
}

// TestWebhooksTwoNodes: two nodes on one Redis deliver each event once,
// whichever node it happened on.
func TestWebhooksTwoNodes(t *testing.T) {
	bin := buildBinary(t)
	rs := redistest.Start(t)
	r := newHookReceiver(t)
	o := gatewayOpts{store: "store redis " + rs.URL(), site: "origin https://shop.test", global: webhookGlobal("crm", r.URL)}
	a := startProcess(t, bin, o)
	b := startProcess(t, bin, o)
	for i, g := range []*gateway{a, b, a, b} {
		g.signUp(fmt.Sprintf("node-%d@example.com", i))
	}
	published := auditIDs(t, a.logFile)
	for id, typ := range auditIDs(t, b.logFile) {
		published[id] = typ
	}
	if len(published) < 12 {
		t.Fatalf("only %d events published", len(published))
	}
	waitDelivered(t, r, published)
}
