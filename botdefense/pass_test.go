package botdefense

import (
	"testing"
	"time"
)

// TestPassBinding: a pass opens only the site, client and difficulty it
// was earned for, until it expires.
func TestPassBinding(t *testing.T) {
	d, clk := newTestDefender(t)
	pass := d.IssuePass("https://shop.test", "192.0.2.1", 18, time.Minute)
	for name, c := range map[string]struct {
		site, client string
		bits         int
		want         bool
	}{
		"its own":                      {"https://shop.test", "192.0.2.1", 18, true},
		"an easier site":               {"https://shop.test", "192.0.2.1", 16, true},
		"harder now":                   {"https://shop.test", "192.0.2.1", 19, false},
		"another site":                 {"https://other.test", "192.0.2.1", 18, false},
		"another client":               {"https://shop.test", "192.0.2.2", 18, false},
		"site and client run together": {"https://shop.test1", "92.0.2.1", 18, false},
	} {
		if got := d.ValidPass(pass, c.site, c.client, c.bits); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
	raw := []byte(pass)
	raw[12] ^= 1 // the difficulty byte, in base64
	if d.ValidPass(string(raw), "https://shop.test", "192.0.2.1", 0) {
		t.Error("an altered pass is valid")
	}
	clk.t = clk.t.Add(time.Minute)
	if d.ValidPass(pass, "https://shop.test", "192.0.2.1", 18) {
		t.Error("an expired pass is valid")
	}
}
