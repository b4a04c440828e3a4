package caddymodule

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

// TestAPILimits: an API key has a budget of its own (route api,
// dimension key) — over it, 429 with Retry-After, and the customer's other
// key goes on; keys a node has not checked lately count per address
// (route credential) before any store lookup, so a flood of made-up keys
// with good checksums is stopped at its source; the offenders table names
// the key, never its secret.
func TestAPILimits(t *testing.T) {
	skipShort(t)
	o := gatewayOpts{site: keysSite, limits: "limits {\n\t\t\tapi key 3/1m\n\t\t\tcredential ip 6/1m\n\t\t}"}
	runOnBothStoresWith(t, o, []scenario{{"key and credential budgets", func(t *testing.T, g *gateway) {
		clk := useClock(t)
		clk.alignTo(time.Minute)
		c := g.signUp("limits-ann@example.com")
		call := func(key string) (int, http.Header) {
			r := g.do(g.newClient(), http.MethodGet, "/api/orders/1", nil, map[string]string{"Authorization": "Bearer " + key})
			return r.status, r.header
		}
		one := g.makeKey(c, url.Values{"name": {"one"}, "scope": {"orders:read"}})
		two := g.makeKey(c, url.Values{"name": {"two"}, "scope": {"orders:read"}})
		for i := range 3 {
			if st, _ := call(one); st != http.StatusOK {
				t.Fatalf("call %d: %d", i+1, st)
			}
		}
		st, hdr := call(one)
		if st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
			t.Fatalf("over the key's budget: %d (Retry-After %q)", st, hdr.Get("Retry-After"))
		}
		if st, _ := call(two); st != http.StatusOK {
			t.Fatalf("the customer's other key: %d", st)
		}
		st, out := adminDo(t, g, http.MethodGet, "/frontdoor/defense/offenders", "")
		if st != http.StatusOK || !strings.Contains(out, "key k_") || strings.Contains(out, one) {
			t.Fatalf("offenders: %d %s", st, out)
		}
		// Keys with a character changed fail their checksum before any
		// budget or store is asked: however many, they cost nothing
		// (the made-up keys below still find the budget untouched).
		for i := range 20 {
			typo := []byte(two)
			typo[10+i%20] ^= 1
			if st, _ := call(string(typo)); st != http.StatusUnauthorized {
				t.Fatalf("a key with a changed character: %d", st)
			}
		}
		// Made-up keys with good checksums: each costs a lookup, until the
		// address is over its budget — then even a real key not checked
		// lately waits.
		refused := 0
		for range 10 {
			fake, _ := identity.NewAPIKey()
			st, _ := call(fake)
			if st == http.StatusTooManyRequests {
				break
			}
			if st != http.StatusUnauthorized {
				t.Fatalf("made-up key: %d", st)
			}
			refused++
		}
		// one, two and (not) each fake counted: the budget of 6 ran out
		// — and not before the fakes came (the typos were not counted).
		if refused > 6 || refused == 0 {
			t.Fatalf("%d made-up keys looked up before the address was stopped", refused)
		}
		three := g.makeKey(c, url.Values{"name": {"three"}, "scope": {"orders:read"}})
		if st, _ := call(three); st != http.StatusTooManyRequests {
			t.Fatalf("an unchecked key from the flooding address: %d", st)
		}
		// A minute on, all is well again.
		clk.advance(time.Minute)
		if st, _ := call(three); st != http.StatusOK {
			t.Fatalf("after the window: %d", st)
		}
	}}})
}
