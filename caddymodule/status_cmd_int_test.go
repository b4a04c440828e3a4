package caddymodule

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStatusCommand: `frontdoor status` serves the admin endpoint's status
// page to a browser — a request as a typed address sends it, which the
// admin endpoint itself refuses — on loopback only.
func TestStatusCommand(t *testing.T) {
	bin := buildBinary(t)
	g := startGateway(t, gatewayOpts{})
	g.signUp("vic@example.com")

	navigate := func(u string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	if resp, _ := navigate("http://" + g.admin + "/frontdoor/status"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the admin endpoint took a typed address: %d (the command is for that)", resp.StatusCode)
	}

	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "status", "--address", g.admin, "--listen", listen)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
		io.Copy(io.Discard, out)
	}()
	select {
	case line := <-lines:
		if !strings.Contains(line, "http://"+listen+"/") {
			t.Fatalf("the command says %q", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the command never said where the page is")
	}
	resp, body := navigate("http://" + listen + "/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Frontdoor status") || strings.Contains(body, "<script") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("status page through the command: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	if resp, _ := navigate("http://" + listen + "/frontdoor/health"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the command serves other admin routes: %d", resp.StatusCode)
	}

	// Loopback only.
	bad, err := exec.Command(bin, "status", "--address", g.admin, "--listen", "0.0.0.0:2020").CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "loopback address only") {
		t.Fatalf("listening on every interface: %v\n%s", err, bad)
	}
}
