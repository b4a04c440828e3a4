package caddymodule

import (
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestExampleClusterAdapts: the Caddyfiles of examples/cluster adapt
// cleanly and say what the README says they do.
func TestExampleClusterAdapts(t *testing.T) {
	t.Setenv("NODE_PORT", "9001")
	t.Setenv("ADMIN_PORT", "2011")
	t.Setenv("MAIL_DIR", "/tmp/mail")
	for file, want := range map[string][]string{
		"../examples/cluster/node.Caddyfile": {`"backend":"redis"`, `"addrs":["127.0.0.1:7001","127.0.0.1:7002","127.0.0.1:7003"]`, `"origin":"https://localhost:8443"`, `"trusted_proxies"`},
		"../examples/cluster/lb.Caddyfile":   {`"handler":"reverse_proxy"`, `"dial":"127.0.0.1:9001"`, `"dial":"127.0.0.1:9002"`},
	} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		out, warn, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": file})
		if err != nil || len(warn) > 0 {
			t.Fatalf("%s: %v %v", file, err, warn)
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s: adapted config lacks %s", file, w)
			}
		}
		// Nodes must answer whatever Host the balancer forwards: a host
		// matcher would make Caddy answer an empty 200 instead.
		if strings.Contains(file, "node") && strings.Contains(string(out), `"host":[`) {
			t.Errorf("%s: the node site matches on Host", file)
		}
	}
}
