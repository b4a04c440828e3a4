package session_test

import (
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/session"
)

func TestCodec(t *testing.T) {
	keys, _ := session.GenerateCookieKeys()
	h, b, _ := session.SplitCookieKeys(keys)
	c, err := session.NewCodec(h, b, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Encode("shop.example.com", "tok")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Decode("shop.example.com", v); err != nil || got != "tok" {
		t.Fatalf("round trip: %q %v", got, err)
	}
	otherKeys, _ := session.GenerateCookieKeys()
	oh, ob, _ := session.SplitCookieKeys(otherKeys)
	other, _ := session.NewCodec(oh, ob, time.Hour)
	bad := []struct{ name, site, value string }{
		{"other site", "blog.example.com", v},
		{"tampered", "shop.example.com", v[:len(v)-2] + "AA"},
		{"truncated", "shop.example.com", v[:20]},
		{"empty", "shop.example.com", ""},
		{"garbage", "shop.example.com", "!!!!"},
	}
	if ov, err := other.Encode("shop.example.com", "tok"); err == nil {
		bad = append(bad, struct{ name, site, value string }{"other keys", "shop.example.com", ov})
	}
	for _, tc := range bad {
		if _, err := c.Decode(tc.site, tc.value); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := session.NewCodec(h[:8], b, time.Hour); err == nil {
		t.Error("short hash key accepted")
	}
}

// TestCodecDecodeKeyCache: the decode cache never lets a cookie cross
// sites, never accepts what Decode refuses, and expires.
func TestCodecDecodeKeyCache(t *testing.T) {
	keys, _ := session.GenerateCookieKeys()
	h, b, _ := session.SplitCookieKeys(keys)
	c, _ := session.NewCodec(h, b, time.Hour)
	v, _ := c.Encode("https://a.example", "tok")
	now := time.Now()
	tok, key, err := c.DecodeKey("https://a.example", v, now)
	if err != nil || tok != "tok" || key != session.KeyOf("tok") {
		t.Fatalf("first decode: %q %q %v", tok, key, err)
	}
	if _, _, err := c.DecodeKey("https://b.example", v, now); err == nil {
		t.Fatal("cached cookie accepted for another site")
	}
	if _, _, err := c.DecodeKey("https://a.example", v+"x", now); err == nil {
		t.Fatal("tampered cookie accepted")
	}
	if tok, _, err := c.DecodeKey("https://a.example", v, now.Add(3*time.Second)); err != nil || tok != "tok" {
		t.Fatalf("after expiry, a fresh decode: %q %v", tok, err)
	}
}

// TestFlowSeal: a sealed flow opens only under its own name and site,
// not once tampered with, and not after FlowMaxAge (securecookie's own
// clock: checked through a value dated in the past).
func TestFlowSeal(t *testing.T) {
	keys, _ := session.GenerateCookieKeys()
	hk, bk, _ := session.SplitCookieKeys(keys)
	c, err := session.NewCodec(hk, bk, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.EncodeFlow("__Host-x", "https://a.test", []byte(`{"s":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.DecodeFlow("__Host-x", "https://a.test", v); err != nil || string(got) != `{"s":"1"}` {
		t.Fatalf("open: %q, %v", got, err)
	}
	for name, try := range map[string]func() ([]byte, error){
		"other site":   func() ([]byte, error) { return c.DecodeFlow("__Host-x", "https://b.test", v) },
		"other name":   func() ([]byte, error) { return c.DecodeFlow("__Host-y", "https://a.test", v) },
		"tampered":     func() ([]byte, error) { return c.DecodeFlow("__Host-x", "https://a.test", v[:len(v)-2]+"AA") },
		"session seal": func() ([]byte, error) { return c.DecodeFlow(session.CookieName, "https://a.test", mustEncode(t, c)) },
	} {
		if _, err := try(); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if _, err := c.Decode("https://a.test", v); err == nil {
		t.Error("a flow seal opened as a session cookie")
	}
}

func mustEncode(t *testing.T, c *session.Codec) string {
	t.Helper()
	v, err := c.Encode("https://a.test", "u1.token")
	if err != nil {
		t.Fatal(err)
	}
	return v
}
