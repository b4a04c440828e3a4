package storeopen

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoCaddy: the benchmarks open stores through this package so that
// they measure the gateway's code without building Caddy; keep it so.
func TestNoCaddy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/caddyserver/") || strings.HasPrefix(dep, "github.com/frontdoorhq/frontdoor/caddymodule") && dep != "github.com/frontdoorhq/frontdoor/caddymodule/stores/storeopen" {
			t.Errorf("storeopen imports %s", dep)
		}
	}
}

func TestBoltOpensAndCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "frontdoor.db")
	s, err := Bolt(context.Background(), path)
	if err != nil {
		t.Fatalf("Bolt: %v", err)
	}
	if s.Identity == nil || s.Sessions == nil || s.Consent == nil || s.Sweep == nil || s.Close == nil {
		t.Fatalf("Bolt left a store unset: %+v", s)
	}
	if s.Counter != nil || s.Blocks != nil || s.Seen != nil {
		t.Error("Bolt set shared edge-defence state; one bolt file serves one process, whose memory keeps it")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestRedisOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     RedisConfig
		wantErr string
	}{
		{"nothing to reach", RedisConfig{}, "needs a URL or addrs"},
		{"bad URL, password not echoed", RedisConfig{URL: "http://u:s3cret@h:1"}, "does not parse"},
		{"cluster with a db", RedisConfig{Addrs: []string{"a:1", "b:1"}, DB: 2}, "Redis Cluster has no databases"},
		{"url", RedisConfig{URL: "redis://u:p@127.0.0.1:6380/3"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.cfg.Options()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Options: %v, want an error with %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error repeats the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Options: %v", err)
			}
			if o.Addrs[0] != "127.0.0.1:6380" || o.Username != "u" || o.Password != "p" || o.DB != 3 {
				t.Errorf("Options from the URL: addrs %v user %q db %d", o.Addrs, o.Username, o.DB)
			}
			if o.DialTimeout <= 0 || o.ReadTimeout <= 0 || o.WriteTimeout <= 0 {
				t.Error("Options left a timeout at go-redis's default")
			}
		})
	}
}
