package session_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/session"
)

// TestAssertionConsent: the consent claim follows Extra; a change of it
// re-signs at once, an unchanged one keeps the cached stamp.
func TestAssertionConsent(t *testing.T) {
	ring, a, s := extraFixture(t)
	const iss, aud = "https://shop.example.com", "shop.example.com"

	plain, err := a.Stamp(s, iss, aud)
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := verify(t, ring.JWKS(), plain.Assertion); err != nil || cl.Consent != nil {
		t.Fatalf("no Extra: claims %+v, %v", cl, err)
	}
	x := session.Extra{Consent: "analytics=granted, marketing=denied"}
	st, err := a.StampExtra(s, iss, aud, x)
	if err != nil {
		t.Fatal(err)
	}
	if st == plain || st.Consent != x.Consent {
		t.Fatal("a consent change did not re-sign")
	}
	cl, err := verify(t, ring.JWKS(), st.Assertion)
	if err != nil || len(cl.Consent) != 2 || cl.Consent["analytics"] != "granted" || cl.Consent["marketing"] != "denied" {
		t.Fatalf("claims %+v, %v", cl, err)
	}
	if again, _ := a.StampExtra(s, iss, aud, x); again != st {
		t.Fatal("unchanged consent re-signed")
	}
	withdrawn, _ := a.StampExtra(s, iss, aud, session.Extra{Consent: "analytics=denied, marketing=denied"})
	if withdrawn == st {
		t.Fatal("a withdrawal did not re-sign")
	}
	if cl, _ := verify(t, ring.JWKS(), withdrawn.Assertion); cl.Consent["analytics"] != "denied" {
		t.Fatalf("claims after withdrawal %+v", cl)
	}
}

// TestAssertionProfile: the profile claim follows Extra; a changed value
// re-signs at once, an equal one (even in a new slice) keeps the stamp.
func TestAssertionProfile(t *testing.T) {
	ring, a, s := extraFixture(t)
	const iss, aud = "https://shop.example.com", "shop.example.com"
	plain, err := a.Stamp(s, iss, aud)
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := verify(t, ring.JWKS(), plain.Assertion); err != nil || cl.Profile != nil {
		t.Fatalf("no Extra: claims %+v, %v", cl, err)
	}
	st, err := a.StampExtra(s, iss, aud, session.Extra{Profile: []session.Field{{Name: "name", Value: "Ada Lovelace"}, {Name: "phone", Value: "+44 20 7946 0000"}}})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := verify(t, ring.JWKS(), st.Assertion)
	if err != nil || len(cl.Profile) != 2 || cl.Profile["name"] != "Ada Lovelace" || cl.Profile["phone"] != "+44 20 7946 0000" {
		t.Fatalf("claims %+v, %v", cl, err)
	}
	if again, _ := a.StampExtra(s, iss, aud, session.Extra{Profile: []session.Field{{Name: "name", Value: "Ada Lovelace"}, {Name: "phone", Value: "+44 20 7946 0000"}}}); again != st {
		t.Fatal("unchanged profile re-signed")
	}
	changed, _ := a.StampExtra(s, iss, aud, session.Extra{Profile: []session.Field{{Name: "name", Value: "Ada King"}, {Name: "phone", Value: "+44 20 7946 0000"}}})
	if changed == st {
		t.Fatal("a profile change did not re-sign")
	}
	if cl, _ := verify(t, ring.JWKS(), changed.Assertion); cl.Profile["name"] != "Ada King" {
		t.Fatalf("claims after change %+v", cl)
	}
}

// extraFixture is a key ring, its signer and a session to state things
// beside.
func extraFixture(t *testing.T) (*session.KeyRing, *session.Assertions, *session.Session) {
	t.Helper()
	c := &clock{t: time.Now()}
	ring, err := session.NewKeyRing(context.Background(), newBolt(t), 24*time.Hour, 10*time.Minute, c.now)
	if err != nil {
		t.Fatal(err)
	}
	s := &session.Session{Key: "k-abcdefghijklmnopqrstuvwxyz", UserID: "u_1", Email: "a@example.com", EmailVerified: true,
		AuthTime: c.t, ExpiresAt: c.t.Add(time.Hour), AMR: []string{"pwd"}, ACR: "aal1"}
	return ring, session.NewAssertions(ring), s
}

// TestAssertionRoles: the roles and attrs claims follow Extra; removing a
// role re-signs at once.
func TestAssertionRoles(t *testing.T) {
	ring, a, s := extraFixture(t)
	const iss, aud = "https://shop.example.com", "shop.example.com"
	x := session.Extra{Roles: "beta,member", Attrs: []session.Field{{Name: "plan", Value: "premium"}}}
	st, err := a.StampExtra(s, iss, aud, x)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := verify(t, ring.JWKS(), st.Assertion)
	if err != nil || strings.Join(cl.Roles, ",") != "beta,member" || cl.Attrs["plan"] != "premium" {
		t.Fatalf("claims %+v, %v", cl, err)
	}
	if again, _ := a.StampExtra(s, iss, aud, session.Extra{Roles: "beta,member", Attrs: []session.Field{{Name: "plan", Value: "premium"}}}); again != st {
		t.Fatal("unchanged roles re-signed")
	}
	fewer, _ := a.StampExtra(s, iss, aud, session.Extra{Roles: "beta", Attrs: x.Attrs})
	if fewer == st {
		t.Fatal("a removed role did not re-sign")
	}
	if cl, _ := verify(t, ring.JWKS(), fewer.Assertion); strings.Join(cl.Roles, ",") != "beta" {
		t.Fatalf("claims after removal %+v", cl)
	}
	none, _ := a.StampExtra(s, iss, aud, session.Extra{})
	if cl, _ := verify(t, ring.JWKS(), none.Assertion); cl.Roles != nil || cl.Attrs != nil {
		t.Fatalf("claims without roles %+v", cl)
	}
}

// TestAssertionPhone: the phone_number claims follow Extra.Phone; a new
// or removed number re-signs at once; none, no claim.
func TestAssertionPhone(t *testing.T) {
	ring, a, s := extraFixture(t)
	const iss, aud = "https://shop.example.com", "shop.example.com"
	st, err := a.StampExtra(s, iss, aud, session.Extra{Phone: "+447400123456"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := verify(t, ring.JWKS(), st.Assertion)
	if err != nil || cl.PhoneNumber != "+447400123456" || !cl.PhoneNumberVerified || st.Phone != "+447400123456" {
		t.Fatalf("claims %+v, %v", cl, err)
	}
	if again, _ := a.StampExtra(s, iss, aud, session.Extra{Phone: "+447400123456"}); again != st {
		t.Fatal("an unchanged number re-signed")
	}
	moved, _ := a.StampExtra(s, iss, aud, session.Extra{Phone: "+353850123456"})
	if cl, _ := verify(t, ring.JWKS(), moved.Assertion); moved == st || cl.PhoneNumber != "+353850123456" {
		t.Fatalf("a new number: %+v", cl)
	}
	none, _ := a.StampExtra(s, iss, aud, session.Extra{})
	raw := claimsJSON(t, none.Assertion)
	if none == moved || strings.Contains(raw, "phone_number") {
		t.Fatalf("claims without a number: %s", raw)
	}
}

// claimsJSON is an assertion's payload as sent (not verified: the
// caller verified it, or only looks at which names it holds).
func claimsJSON(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
