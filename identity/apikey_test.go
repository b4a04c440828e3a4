package identity_test

import (
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/identity"
)

// TestAPIKeyFormat: keys have the scanner-friendly form, are unique, and
// one changed character anywhere fails the checksum.
func TestAPIKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		secret, k := identity.NewAPIKey()
		if len(secret) != identity.APIKeyLen || !strings.HasPrefix(secret, "fdk_") || !identity.LooksLikeAPIKey(secret) {
			t.Fatalf("key %q", secret)
		}
		if seen[secret] || seen[k.ID] {
			t.Fatal("a key or id came twice")
		}
		seen[secret], seen[k.ID] = true, true
		if string(k.Hash) != string(identity.APIKeyHash(secret)) || k.Hint != secret[len(secret)-4:] || strings.Contains(k.ID, secret[4:12]) {
			t.Fatalf("record %+v", k)
		}
	}
	secret, _ := identity.NewAPIKey()
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := 4; i < len(secret); i++ {
		for _, r := range []byte{alphabet[(strings.IndexByte(alphabet, secret[i])+1)%62], alphabet[(strings.IndexByte(alphabet, secret[i])+31)%62]} {
			typo := secret[:i] + string(r) + secret[i+1:]
			if identity.LooksLikeAPIKey(typo) {
				t.Errorf("%q (position %d changed) passes the checksum", typo, i)
			}
		}
	}
	for _, bad := range []string{"", "fdk_", secret[:len(secret)-1], secret + "A", "fdx_" + secret[4:], strings.ToUpper(secret[:4]) + secret[4:],
		secret[:10] + "-" + secret[11:], secret[:10] + "é" + secret[12:]} {
		if identity.LooksLikeAPIKey(bad) {
			t.Errorf("%q passes", bad)
		}
	}
}
