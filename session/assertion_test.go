package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/frontdoorhq/frontdoor/session"
)

func verify(t *testing.T, jwks []byte, token string) (session.Claims, error) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return session.Claims{}, err
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) == 0 {
		return session.Claims{}, errors.New("unknown kid")
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return session.Claims{}, err
	}
	var c session.Claims
	return c, json.Unmarshal(payload, &c)
}

func TestAssertionsSignCacheRotate(t *testing.T) {
	ctx := context.Background()
	store := newBolt(t)
	// The first key is made with the real clock; the test clock starts there.
	c := &clock{t: time.Now()}
	ring, err := session.NewKeyRing(ctx, store, 24*time.Hour, 10*time.Minute, c.now)
	if err != nil {
		t.Fatal(err)
	}
	a := session.NewAssertions(ring)
	s := &session.Session{Key: "k-abcdefghijklmnopqrstuvwxyz", UserID: "u_1", Email: "a@example.com", EmailVerified: true,
		AuthTime: c.t, ExpiresAt: c.t.Add(time.Hour), AMR: []string{"pwd"}, ACR: "aal1"}

	tok, err := a.For(s, "https://shop.example.com", "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := verify(t, ring.JWKS(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "u_1" || claims.Audience != "shop.example.com" || claims.Expiry-claims.IssuedAt > 300 ||
		claims.SID == "" || claims.SID == s.Key || !claims.EmailVerified || claims.Issuer != "https://shop.example.com" {
		t.Fatalf("claims %+v", claims)
	}
	// Cached until half the lifetime has passed.
	c.advance(time.Minute)
	if again, _ := a.For(s, "https://shop.example.com", "shop.example.com"); again != tok {
		t.Fatal("re-signed while fresh")
	}
	c.advance(2 * time.Minute)
	if again, _ := a.For(s, "https://shop.example.com", "shop.example.com"); again == tok {
		t.Fatal("stale assertion not re-signed")
	}
	// The values sent beside it are worked out once per stamp.
	st, err := a.Stamp(s, "https://shop.example.com", "shop.example.com")
	if err != nil || st.Assertion != mustFor(t, a, s) || st.UserID != "u_1" || st.Email != "a@example.com" ||
		st.EmailVerified != "true" || st.AMR != "pwd" || st.ACR != "aal1" || st.SID != claims.SID ||
		st.AuthTime != strconv.FormatInt(s.AuthTime.Unix(), 10) || st.AuthTimeRFC3339 != s.AuthTime.UTC().Format(time.RFC3339) {
		t.Fatalf("stamp %+v: %v", st, err)
	}
	// A changed session (another copy: step-up, a verified address) is
	// re-signed at once, fresh or not.
	up := *s
	up.AMR, up.ACR = []string{"pwd", "otp", "mfa"}, "aal2"
	st2, err := a.Stamp(&up, "https://shop.example.com", "shop.example.com")
	if err != nil || st2 == st || st2.AMR != "pwd otp mfa" || st2.ACR != "aal2" {
		t.Fatalf("changed session kept the old stamp: %+v %v", st2, err)
	}
	// ...and so is the same *Session changed in place.
	same := *s
	before, _ := a.Stamp(&same, "https://shop.example.com", "other.example.com")
	same.Email = "b@example.com"
	if after, err := a.Stamp(&same, "https://shop.example.com", "other.example.com"); err != nil || after == before || after.Email != "b@example.com" {
		t.Fatalf("a session changed in place kept its old stamp: %+v %v", after, err)
	}
	// Another audience gets its own token.
	if other, _ := a.For(s, "https://shop.example.com", "blog.example.com"); other == tok {
		t.Fatal("audiences share a token")
	}

	// Rotation: the next key is published 10 minutes before it signs...
	oldKID := ring.CurrentKID()
	c.advance(24*time.Hour - 10*time.Minute)
	if err := ring.MaybeRotate(ctx); err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(ring.JWKS(), &set); err != nil || len(set.Keys) != 2 || ring.CurrentKID() != oldKID {
		t.Fatalf("next key not pre-published, or signing early: %d keys, current %s", len(set.Keys), ring.CurrentKID())
	}
	upcoming := set.Keys[0].Kid
	if again, _ := a.For(s, "https://shop.example.com", "shop.example.com"); !strings.Contains(again, ".") || kidOf(t, again) != oldKID {
		t.Fatal("a pre-published key signed before its time")
	}
	// ...then signs, and the old key stays published until its tokens expire.
	c.advance(10 * time.Minute)
	if err := ring.MaybeRotate(ctx); err != nil {
		t.Fatal(err)
	}
	if ring.CurrentKID() != upcoming {
		t.Fatalf("no rotation to the pre-published key: %s", ring.CurrentKID())
	}
	if _, err := verify(t, ring.JWKS(), tok); err != nil {
		t.Fatalf("token of the previous key no longer verifies: %v", err)
	}
	fresh, _ := a.For(s, "https://shop.example.com", "shop.example.com")
	if _, err := verify(t, ring.JWKS(), fresh); err != nil {
		t.Fatal(err)
	}
	// A second ring over the same store (another node, or a reload) sees
	// the same keys.
	ring2, err := session.NewKeyRing(ctx, store, 24*time.Hour, 10*time.Minute, nil)
	if err != nil || string(ring2.JWKS()) != string(ring.JWKS()) {
		t.Fatalf("second ring differs: %v", err)
	}
	c.advance(11 * time.Minute)
	if err := ring.MaybeRotate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, ring.JWKS(), tok); err == nil {
		t.Fatal("a key retired long ago is still published")
	}
}

// TestKeyRingSetRotate: a new rotation period (a config reload) is used
// from the next MaybeRotate on, without a new ring.
func TestKeyRingSetRotate(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now()}
	ring, err := session.NewKeyRing(ctx, newBolt(t), 24*time.Hour, 10*time.Minute, c.now)
	if err != nil {
		t.Fatal(err)
	}
	kid := ring.CurrentKID()
	c.advance(2 * time.Hour)
	if err := ring.MaybeRotate(ctx); err != nil || ring.CurrentKID() != kid {
		t.Fatalf("rotated before the period: %v", err)
	}
	ring.SetRotate(time.Hour)
	if got := ring.Rotate(); got != time.Hour {
		t.Fatalf("Rotate() = %s, want 1h", got)
	}
	// Overdue under the new period: the next key is published now and
	// signs once it has been published for the lead time.
	if err := ring.MaybeRotate(ctx); err != nil {
		t.Fatal(err)
	}
	c.advance(30 * time.Minute)
	if err := ring.MaybeRotate(ctx); err != nil {
		t.Fatal(err)
	}
	if ring.CurrentKID() == kid {
		t.Fatal("shorter rotation period ignored")
	}
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

func mustFor(t *testing.T, a *session.Assertions, s *session.Session) string {
	t.Helper()
	tok, err := a.For(s, "https://shop.example.com", "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
