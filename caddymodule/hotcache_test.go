package caddymodule

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/consent"
)

func TestHotCache(t *testing.T) {
	var c hotCache[consent.State]
	now := time.Now()
	granted := consent.State{"terms": {Version: 1, Granted: true}}
	c.put("u_a", granted, now.Add(2*time.Second), c.gen.Load(), now)
	if st, ok := c.get("u_a", now.Add(time.Second)); !ok || !st["terms"].Granted {
		t.Fatal("fresh entry not served")
	}
	if _, ok := c.get("u_a", now.Add(2*time.Second)); ok {
		t.Fatal("expired entry served")
	}
	// A change forgets at once, and a read begun before it is not kept.
	gen := c.gen.Load()
	c.forget("u_a")
	if _, ok := c.get("u_a", now); ok {
		t.Fatal("forgotten entry served")
	}
	c.put("u_a", granted, now.Add(2*time.Second), gen, now)
	if _, ok := c.get("u_a", now); ok {
		t.Fatal("a state read before a change was cached after it")
	}
	// Bounded.
	for i := range hotCacheMax + 10 {
		c.put(string(rune('a'+i%26))+time.Duration(i).String(), nil, now.Add(time.Second), c.gen.Load(), now)
	}
	if n := len(c.m); n > hotCacheMax {
		t.Fatalf("%d entries, bound %d", n, hotCacheMax)
	}
}

// TestHotCacheLoad: load reads the store once per period, again after a
// forget or once the period is over, and never caches with ttl 0 or an error.
func TestHotCacheLoad(t *testing.T) {
	var c hotCache[string]
	reads := 0
	read := func(_ context.Context, id string) (string, error) {
		reads++
		if id == "u_bad" {
			return "", errors.New("store down")
		}
		return "v" + strconv.Itoa(reads), nil
	}
	ctx, now, ttl := context.Background(), time.Now(), 2*time.Second
	for range 20 {
		if v, err := c.load(ctx, "u_a", now, ttl, read); err != nil || v != "v1" {
			t.Fatalf("load = %q, %v", v, err)
		}
	}
	if reads != 1 {
		t.Fatalf("20 loads in one period read the store %d times", reads)
	}
	if v, _ := c.load(ctx, "u_a", now.Add(ttl), ttl, read); v != "v2" {
		t.Fatalf("after the period: %q, want a fresh read", v)
	}
	c.forget("u_a")
	if v, _ := c.load(ctx, "u_a", now.Add(ttl), ttl, read); v != "v3" {
		t.Fatalf("after forget: %q, want a fresh read", v)
	}
	for range 2 {
		c.load(ctx, "u_b", now, 0, read)
	}
	if reads != 5 {
		t.Fatalf("ttl 0 cached: %d reads", reads)
	}
	for range 2 {
		if _, err := c.load(ctx, "u_bad", now, ttl, read); err == nil {
			t.Fatal("error not returned")
		}
	}
	if reads != 7 {
		t.Fatalf("an error was cached: %d reads", reads)
	}
}
