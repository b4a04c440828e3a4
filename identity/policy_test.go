package identity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/identity"
)

// policyNotBreached is 15 characters and on no list (checked in the test).
const policyNotBreached = "tulip-quasar-91"

func TestPasswordPolicyLength(t *testing.T) {
	p := identity.DefaultPasswordPolicy
	// 'é' written as e + U+0301 COMBINING ACUTE ACCENT: 30 code points as
	// typed, 15 after NFC. 800-63B counts each code point of the normalised
	// password as one character, so this is 15 characters and long enough.
	decomposed := strings.Repeat("e\u0301", 15)
	for _, c := range []struct {
		name string
		pw   string
		want error
	}{
		{"empty", "", identity.ErrPasswordTooShort},
		{"14 characters", policyNotBreached[:14], identity.ErrPasswordTooShort},
		{"15 characters", policyNotBreached, nil},
		{"14 two-byte characters (28 bytes)", strings.Repeat("é", 14), identity.ErrPasswordTooShort},
		{"15 two-byte characters", strings.Repeat("é", 15), nil},
		{"15 after NFC, 30 code points before", decomposed, nil},
		{"14 after NFC, 28 code points before", strings.Repeat("e\u0301", 14), identity.ErrPasswordTooShort},
		{"15 emoji (4 bytes each)", strings.Repeat("🔑", 15), nil},
		{"128 characters", strings.Repeat("ab", 64), nil},
		{"128 after NFC, 256 code points before", strings.Repeat("e\u0301", 128), nil},
		{"129 characters", strings.Repeat("ab", 64) + "c", identity.ErrPasswordTooLong},
		{"129 three-byte characters", strings.Repeat("€", 129), identity.ErrPasswordTooLong},
		{"spaces count", "               ", nil},
		{"invalid UTF-8", policyNotBreached + "\xff", identity.ErrPasswordInvalid},
		{"lone surrogate encoding", policyNotBreached + "\xed\xa0\x80", identity.ErrPasswordInvalid},
	} {
		err := p.Check(c.pw)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: Check(%q) = %v, want %v", c.name, c.pw, err, c.want)
		}
	}
}

func TestPasswordPolicyBreached(t *testing.T) {
	n := identity.BreachedPasswordCount()
	// The list holds 100,000 entries; case variants ("password",
	// "Password", "PASSWORD") fold into one.
	t.Logf("BreachedPasswordCount() = %d", n)
	if n < 95_000 || n > 100_000 {
		t.Errorf("BreachedPasswordCount() = %d, want 95,000–100,000", n)
	}
	for _, pw := range []string{"password", "123456", "PASSWORD", "Password", "pAsSwOrD", "qwerty", "1qaz2wsx3edc4rfv", "123456789987654321"} {
		if !identity.IsBreachedPassword(pw) {
			t.Errorf("IsBreachedPassword(%q) = false", pw)
		}
	}
	for _, pw := range []string{policyNotBreached, "", "password " + policyNotBreached} {
		if identity.IsBreachedPassword(pw) {
			t.Errorf("IsBreachedPassword(%q) = true", pw)
		}
	}
	// Long enough, but breached: Check says so, case-insensitively.
	for _, pw := range []string{"1qaz2wsx3edc4rfv", "1QAZ2WSX3EDC4RFV", "123456789987654321"} {
		if err := identity.DefaultPasswordPolicy.Check(pw); !errors.Is(err, identity.ErrPasswordBreached) {
			t.Errorf("Check(%q) = %v, want ErrPasswordBreached", pw, err)
		}
	}
}

func TestPasswordPolicyValidate(t *testing.T) {
	for _, c := range []struct {
		p  identity.PasswordPolicy
		ok bool
	}{
		{identity.DefaultPasswordPolicy, true},
		{identity.PasswordPolicy{MinLength: 8, MaxLength: 64}, true},
		{identity.PasswordPolicy{MinLength: 64, MaxLength: 64}, true},
		{identity.PasswordPolicy{MinLength: 7, MaxLength: 64}, false},
		{identity.PasswordPolicy{MinLength: 8, MaxLength: 63}, false},
		{identity.PasswordPolicy{MinLength: 100, MaxLength: 64}, false},
		{identity.PasswordPolicy{}, false},
	} {
		if err := c.p.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", c.p, err, c.ok)
		}
	}
}

func BenchmarkIsBreachedPassword(b *testing.B) {
	identity.IsBreachedPassword("") // load the list outside the timing
	b.ReportAllocs()
	for b.Loop() {
		identity.IsBreachedPassword("Correct-Horse-Battery")
	}
}
