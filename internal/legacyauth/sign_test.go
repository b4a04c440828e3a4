package legacyauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// The README's example, pinned: the value openssl prints for
//
//	printf '%s' "$TS.$BODY" | openssl dgst -sha256 -hmac "$SECRET"
//
// so a legacy implementer can check their code against it.
func TestSignKnownVector(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	body := []byte(`{"email":"ada@example.com","password":"s3cret","nonce":"n"}`)
	const want = "v1=a03fa12188b02817c5d98bd290763b365c43dc4dc655f3f9e78701df0b02c62c"
	if got := Sign(secret, "1700000000", body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	// And the same by the standard library alone.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("1700000000." + string(body)))
	if got := "v1=" + hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("HMAC = %s, want %s", got, want)
	}
}

func TestCheck(t *testing.T) {
	secret := []byte("a shared secret of 32 bytes ....")
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"ok":true,"nonce":"x"}`)
	ts := Timestamp(now)
	good := Sign(secret, ts, body)
	flip := func(s string) string { // one hex digit changed
		b := []byte(s)
		if b[len(b)-1] == '0' {
			b[len(b)-1] = '1'
		} else {
			b[len(b)-1] = '0'
		}
		return string(b)
	}
	tests := []struct {
		name           string
		secret         []byte
		timestamp, sig string
		body           []byte
		now            time.Time
		want           error
	}{
		{"valid", secret, ts, good, body, now, nil},
		{"valid 5 minutes later", secret, ts, good, body, now.Add(MaxSkew), nil},
		{"valid 5 minutes earlier", secret, ts, good, body, now.Add(-MaxSkew), nil},
		{"stale", secret, ts, good, body, now.Add(MaxSkew + time.Second), ErrStale},
		{"from the future", secret, ts, good, body, now.Add(-MaxSkew - time.Second), ErrStale},
		{"no signature", secret, ts, "", body, now, ErrNoSignature},
		{"no timestamp", secret, "", good, body, now, ErrNoSignature},
		{"other secret", []byte("another secret of 32 bytes ....."), ts, good, body, now, ErrBadSignature},
		{"body changed", secret, ts, good, []byte(`{"ok":true,"nonce":"y"}`), now, ErrBadSignature},
		{"timestamp changed", secret, Timestamp(now.Add(time.Second)), good, body, now, ErrBadSignature},
		{"one digit changed", secret, ts, flip(good), body, now, ErrBadSignature},
		{"no scheme", secret, ts, strings.TrimPrefix(good, "v1="), body, now, ErrBadSignature},
		{"other scheme", secret, ts, "v2=" + strings.TrimPrefix(good, "v1="), body, now, ErrBadSignature},
		{"not hex", secret, ts, "v1=" + strings.Repeat("zz", 32), body, now, ErrBadSignature},
		{"short", secret, ts, good[:len(good)-2], body, now, ErrBadSignature},
		{"upper-case hex", secret, ts, "v1=" + strings.ToUpper(strings.TrimPrefix(good, "v1=")), body, now, nil},
		// Signed, but not decimal seconds: refused, never read leniently.
		{"signed non-number", secret, "+" + ts, Sign(secret, "+"+ts, body), body, now, ErrBadSignature},
		{"signed milliseconds", secret, ts + "000", Sign(secret, ts+"000", body), body, now, ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.secret, tc.timestamp, tc.sig, tc.body, tc.now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

// A request signed by Frontdoor is an answer's format too: one helper
// serves both sides (the README's shell example computes the same).
func TestSignRoundTrip(t *testing.T) {
	secret := []byte("0123456789abcdef")
	now := time.Now()
	body := []byte(`{}`)
	ts := Timestamp(now)
	if err := Check(secret, ts, Sign(secret, ts, body), body, now); err != nil {
		t.Fatal(err)
	}
}
