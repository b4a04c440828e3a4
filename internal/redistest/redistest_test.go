package redistest

import (
	"context"
	"testing"
)

func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := c.Get(ctx, "k").Err(); err == nil {
		t.Fatal("killed server answered")
	}
	s.Restart()
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("after restart: %q %v", v, err)
	}
}

func TestCluster(t *testing.T) {
	c := StartCluster(t)
	cl := c.Client(t)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "{u:1}:x", "{u:1}:y"} {
		if err := cl.Set(ctx, k, "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	Flush(t, cl)
	if n, _ := cl.Exists(ctx, "a", "b").Result(); n != 0 {
		t.Fatalf("flush left %d keys", n)
	}
}
