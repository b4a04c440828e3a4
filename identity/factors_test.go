package identity

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTOTPSkewAndReplay(t *testing.T) {
	key, err := NewTOTPKey("Shop", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(key.URL(), "issuer=Shop") {
		t.Fatalf("otpauth URL %q lacks the issuer", key.URL())
	}
	now := time.Unix(1_800_000_015, 0)
	c := &Customer{TOTP: &TOTP{Secret: key.Secret()}}
	// One step either side is accepted, two are not.
	for _, d := range []time.Duration{-30 * time.Second, 30 * time.Second} {
		if _, ok := MatchTOTP(key.Secret(), codeAt(t, key.Secret(), now.Add(d)), now); !ok {
			t.Fatalf("code from %v away refused", d)
		}
	}
	for _, d := range []time.Duration{-61 * time.Second, 60 * time.Second} {
		if _, ok := MatchTOTP(key.Secret(), codeAt(t, key.Secret(), now.Add(d)), now); ok {
			t.Fatalf("code from %v away accepted", d)
		}
	}
	code := codeAt(t, key.Secret(), now)
	if err := c.UseTOTP(code[:3]+" "+code[3:], now); err != nil { // spaces as people type them
		t.Fatal(err)
	}
	if err := c.UseTOTP(code, now.Add(10*time.Second)); !errors.Is(err, ErrCodeReused) {
		t.Fatalf("same code in its step: %v", err)
	}
	// The previous step's code, still inside the skew, is older than the
	// one used: refused too.
	if err := c.UseTOTP(codeAt(t, key.Secret(), now.Add(-30*time.Second)), now); !errors.Is(err, ErrCodeReused) {
		t.Fatalf("earlier step's code after a later one: %v", err)
	}
	if err := c.UseTOTP(codeAt(t, key.Secret(), now.Add(30*time.Second)), now.Add(30*time.Second)); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if err := c.UseTOTP(bad, now); !errors.Is(err, ErrBadCode) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	if err := (&Customer{}).UseTOTP(code, now); !errors.Is(err, ErrNoFactor) {
		t.Fatalf("no TOTP: %v", err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes := NewRecoveryCodes()
	if len(codes) != RecoveryCodeCount || len(hashes) != RecoveryCodeCount {
		t.Fatalf("%d codes", len(codes))
	}
	seen := map[string]bool{}
	for i, code := range codes {
		if len(code) != 19 || seen[code] || strings.Contains(hashes[i], code) {
			t.Fatalf("code %q", code)
		}
		seen[code] = true
	}
	c := &Customer{RecoveryCodes: hashes}
	if err := c.UseRecoveryCode(strings.ToUpper(codes[2])); err != nil { // case and dashes do not matter
		t.Fatal(err)
	}
	if err := c.UseRecoveryCode(codes[2]); !errors.Is(err, ErrBadCode) {
		t.Fatalf("reuse: %v", err)
	}
	if len(c.RecoveryCodes) != RecoveryCodeCount-1 {
		t.Fatalf("%d left", len(c.RecoveryCodes))
	}
	if err := c.UseRecoveryCode("aaaa-aaaa-aaaa-aaaa"); !errors.Is(err, ErrBadCode) {
		t.Fatalf("made-up code: %v", err)
	}
}

func TestPasskeyCounterRules(t *testing.T) {
	now := time.Now()
	c := &Customer{}
	if err := c.AddPasskey(Passkey{ID: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPasskey(Passkey{ID: []byte("a")}); !errors.Is(err, ErrFactorExists) {
		t.Fatalf("duplicate: %v", err)
	}
	// Authenticators that never count (always 0) are accepted.
	for range 2 {
		if err := c.UsePasskey([]byte("a"), 0, false, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.UsePasskey([]byte("a"), 7, false, now); err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint32{7, 6, 0} {
		if err := c.UsePasskey([]byte("a"), n, false, now); !errors.Is(err, ErrCounter) {
			t.Fatalf("count %d after 7: %v", n, err)
		}
	}
	if !c.HasSecondFactor() || c.SignInMethods() != 1 {
		t.Fatal("passkey not counted")
	}
	_ = c.FlagPasskey([]byte("a"))
	if c.HasSecondFactor() || c.SignInMethods() != 0 {
		t.Fatal("flagged passkey still counted")
	}
	if err := c.RemovePasskey([]byte("a")); err != nil || len(c.Passkeys) != 0 {
		t.Fatal(err)
	}
}

func TestTrustedDevices(t *testing.T) {
	now := time.Now()
	c := &Customer{}
	c.TrustDevice("s1", "Firefox", now, TrustedDeviceTTL)
	if !c.TrustsDevice("s1", now.Add(TrustedDeviceTTL-time.Minute)) || c.TrustsDevice("s1", now.Add(TrustedDeviceTTL)) || c.TrustsDevice("s2", now) {
		t.Fatal("trust window wrong")
	}
	for i := range MaxTrustedDevices + 5 {
		c.TrustDevice(string(rune('a'+i)), "", now, TrustedDeviceTTL)
	}
	if len(c.TrustedDevices) != MaxTrustedDevices || c.TrustsDevice("s1", now) {
		t.Fatalf("%d devices; oldest kept %v", len(c.TrustedDevices), c.TrustsDevice("s1", now))
	}
	c.ForgetDevices()
	if c.TrustsDevice("z", now) {
		t.Fatal("forgotten device trusted")
	}
}
