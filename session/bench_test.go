package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/session"
)

func benchCodec(b *testing.B) (*session.Codec, string) {
	keys, _ := session.GenerateCookieKeys()
	h, bl, _ := session.SplitCookieKeys(keys)
	c, err := session.NewCodec(h, bl, 12*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	v, err := c.Encode("https://shop.example.com", "token-token-token-token-token-token-tok")
	if err != nil {
		b.Fatal(err)
	}
	return c, v
}

// BenchmarkCodecDecode is the full cookie check: base64, HMAC, AES.
func BenchmarkCodecDecode(b *testing.B) {
	c, v := benchCodec(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode("https://shop.example.com", v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCodecDecodeKeyCached is the same cookie seen again within 2 s.
func BenchmarkCodecDecodeKeyCached(b *testing.B) {
	c, v := benchCodec(b)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.DecodeKey("https://shop.example.com", v, now); err != nil {
			b.Fatal(err)
		}
	}
}

func benchManager(b *testing.B, cfg session.Config) (*session.Manager, string) {
	m := session.NewManager(newBolt(b), cfg, nil)
	tok, _, err := m.Create(context.Background(), session.New{UserID: "u_1", AMR: []string{"pwd"}, ACR: "aal1"})
	if err != nil {
		b.Fatal(err)
	}
	return m, tok
}

// BenchmarkLookupCached is a session lookup served by the in-process cache.
func BenchmarkLookupCached(b *testing.B) {
	m, tok := benchManager(b, session.Config{})
	key := session.KeyOf(tok)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.LookupKey(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupBolt reads the session from bbolt every time.
func BenchmarkLookupBolt(b *testing.B) {
	m, tok := benchManager(b, session.Config{CacheTTL: -1})
	key := session.KeyOf(tok)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.LookupKey(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

func benchAssertions(b *testing.B) (*session.Assertions, *session.Session) {
	ring, err := session.NewKeyRing(context.Background(), newBolt(b), 24*time.Hour, 10*time.Minute, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	return session.NewAssertions(ring), &session.Session{Key: "k-0123456789abcdefghijklmnop", UserID: "u_1",
		Email: "a@example.com", EmailVerified: true, AuthTime: now, ExpiresAt: now.Add(time.Hour), AMR: []string{"pwd"}, ACR: "aal1"}
}

// BenchmarkAssertionCached is the per-request assertion cost.
func BenchmarkAssertionCached(b *testing.B) {
	a, s := benchAssertions(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.For(s, "https://shop.example.com", "shop.example.com"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssertionSign is an ES256 signature (what the cache saves).
func BenchmarkAssertionSign(b *testing.B) {
	a, s := benchAssertions(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		s.AuthTime = s.AuthTime.Add(time.Second) // defeats the cache
		if _, err := a.For(s, "https://shop.example.com", "shop.example.com"); err != nil {
			b.Fatal(err)
		}
	}
}
