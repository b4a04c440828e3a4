package caddymodule

import (
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/consent"
)

func TestConsentCache(t *testing.T) {
	var c consentCache
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
	for i := range consentCacheMax + 10 {
		c.put(string(rune('a'+i%26))+time.Duration(i).String(), nil, now.Add(time.Second), c.gen.Load(), now)
	}
	if n := len(c.m); n > consentCacheMax {
		t.Fatalf("%d entries, bound %d", n, consentCacheMax)
	}
}
