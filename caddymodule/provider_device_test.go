package caddymodule

import (
	"strings"
	"testing"
)

// TestUserCodes: user codes are 8 symbols of the alphabet, every symbol
// drawn; typed ones are read in any case, with dashes and spaces, I and
// L as 1, O as 0; anything else is not a code.
func TestUserCodes(t *testing.T) {
	seen := map[rune]bool{}
	for range 2000 {
		c := newUserCode()
		if len(c) != userCodeLen {
			t.Fatalf("code %q", c)
		}
		for _, r := range c {
			if !strings.ContainsRune(userCodeAlphabet, r) {
				t.Fatalf("code %q: %q not in the alphabet", c, r)
			}
			seen[r] = true
		}
		if n, ok := normalUserCode(c[:4] + "-" + c[4:]); !ok || n != c {
			t.Fatalf("shown code %q read as %q %v", c, n, ok)
		}
	}
	if len(seen) != len(userCodeAlphabet) {
		t.Errorf("2000 codes drew %d symbols of %d", len(seen), len(userCodeAlphabet))
	}
	for typed, want := range map[string]string{
		"7qkd-m2xr": "7QKDM2XR", " 7QKD M2XR ": "7QKDM2XR", "7QKD--M2XR": "7QKDM2XR",
		"IL0O-abcd": "1100ABCD", "": "", "7QKD-M2X": "", "7QKD-M2XRZ": "", "7QKD-M2XU": "",
		"7QKD-M2X!": "", "7QKD-M2XÉ": "", strings.Repeat("-", 40) + "7QKDM2XR": "",
	} {
		got, ok := normalUserCode(typed)
		if got != want || ok != (want != "") {
			t.Errorf("normalUserCode(%q) = %q %v, want %q", typed, got, ok, want)
		}
	}
}
