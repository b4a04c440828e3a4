package identity_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/pbkdf2"
	"golang.org/x/crypto/scrypt"

	"github.com/frontdoorhq/frontdoor/identity"
)

const legacyPW = "an imported customer's password ✓"

var (
	phc64   = base64.RawStdEncoding.EncodeToString
	padded  = base64.StdEncoding.EncodeToString
	ab64    = func(b []byte) string { return strings.ReplaceAll(phc64(b), "+", ".") }
	randomB = func(n int) []byte { b := make([]byte, n); _, _ = rand.Read(b); return b }
)

// legacyCase is a hash made by a reference implementation, with what
// CheckPasswordHash should say of it.
type legacyCase struct {
	name   string
	enc    string
	scheme string
	weak   bool
}

func pbkdf2Case(h func() hash.Hash, id string, iter, keyLen int, form string, enc func([]byte) string) string {
	salt := randomB(16)
	key := pbkdf2.Key([]byte(legacyPW), salt, iter, keyLen, h)
	switch form {
	case "phc":
		return fmt.Sprintf("$%s$i=%d$%s$%s", id, iter, enc(salt), enc(key))
	case "phc-l":
		return fmt.Sprintf("$%s$i=%d,l=%d$%s$%s", id, iter, keyLen, enc(salt), enc(key))
	}
	return fmt.Sprintf("$%s$%d$%s$%s", id, iter, enc(salt), enc(key))
}

// legacyCases hashes legacyPW with the reference library of every scheme.
func legacyCases(t testing.TB) []legacyCase {
	t.Helper()
	bc := func(cost int, prefix string) string {
		b, err := bcrypt.GenerateFromPassword([]byte(legacyPW), cost)
		if err != nil {
			t.Fatal(err)
		}
		return prefix + string(b[len("$2a$"):])
	}
	sc := func(ln, r, p int, enc func([]byte) string) string {
		salt := randomB(16)
		key, err := scrypt.Key([]byte(legacyPW), salt, 1<<ln, r, p, 32)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("$scrypt$ln=%d,r=%d,p=%d$%s$%s", ln, r, p, enc(salt), enc(key))
	}
	ar := func(id bool, m, tt uint32, p uint8, enc func([]byte) string) string {
		// Frontdoor's argon2 hashes are of the NFKC form: legacyPW is
		// already in it.
		salt := randomB(16)
		key, name := argon2.Key([]byte(legacyPW), salt, tt, m, p, 32), "argon2i"
		if id {
			key, name = argon2.IDKey([]byte(legacyPW), salt, tt, m, p, 32), "argon2id"
		}
		return fmt.Sprintf("$%s$v=19$m=%d,t=%d,p=%d$%s$%s", name, m, tt, p, enc(salt), enc(key))
	}
	salted := func(salt string) string {
		sum := sha256.Sum256([]byte(salt + legacyPW))
		return "$sha256-salted$" + salt + "$" + hex.EncodeToString(sum[:])
	}
	return []legacyCase{
		{"bcrypt $2a$", bc(4, "$2a$"), "bcrypt", true},
		{"bcrypt $2b$", bc(10, "$2b$"), "bcrypt", false},
		{"bcrypt $2y$", bc(5, "$2y$"), "bcrypt", true},
		{"scrypt", sc(14, 8, 1, phc64), "scrypt", false},
		{"scrypt padded base64", sc(12, 8, 2, padded), "scrypt", true},
		{"scrypt p=4", sc(10, 8, 4, ab64), "scrypt", true},
		{"pbkdf2-sha1 passlib $pbkdf2$", pbkdf2Case(sha1.New, "pbkdf2", 1000, 20, "passlib", ab64), "pbkdf2-sha1", true},
		{"pbkdf2-sha1 PHC", pbkdf2Case(sha1.New, "pbkdf2-sha1", 150000, 20, "phc", phc64), "pbkdf2-sha1", true},
		{"pbkdf2-sha256 passlib", pbkdf2Case(sha256.New, "pbkdf2-sha256", 29000, 32, "passlib", ab64), "pbkdf2-sha256", true},
		{"pbkdf2-sha256 PHC", pbkdf2Case(sha256.New, "pbkdf2-sha256", 100000, 32, "phc", phc64), "pbkdf2-sha256", false},
		{"pbkdf2-sha256 PHC l= padded", pbkdf2Case(sha256.New, "pbkdf2-sha256", 1000, 32, "phc-l", padded), "pbkdf2-sha256", true},
		{"pbkdf2-sha256 PHC 2 blocks", pbkdf2Case(sha256.New, "pbkdf2-sha256", 1000, 64, "phc-l", phc64), "pbkdf2-sha256", true},
		{"pbkdf2-sha512 passlib", pbkdf2Case(sha512.New, "pbkdf2-sha512", 25000, 64, "passlib", ab64), "pbkdf2-sha512", true},
		{"pbkdf2-sha512 PHC", pbkdf2Case(sha512.New, "pbkdf2-sha512", 100000, 64, "phc-l", phc64), "pbkdf2-sha512", false},
		{"argon2i", ar(false, 4096, 3, 1, phc64), "argon2i", true},
		{"argon2i padded", ar(false, 19456, 2, 2, padded), "argon2i", false},
		{"argon2id other parameters", ar(true, 12288, 3, 1, ab64), "argon2id", false},
		{"argon2id weak", ar(true, 1024, 2, 1, phc64), "argon2id", true},
		{"sha256-salted", salted("3f1c9a"), "sha256-salted", true},
		{"sha256-salted empty salt", salted(""), "sha256-salted", true},
		// Made by glibc/libxcrypt crypt(3) (Python's crypt module): the
		// specification's own vectors are in shacrypt_test.go.
		{"sha256-crypt", "$5$rounds=5000$Jr7QzJ0m4yX1qv2e$W854JHwDZ8CEBN9L/aAan.0TPyJVlAnYs3CFknKENQ1", "sha256-crypt", false},
		{"sha512-crypt", "$6$Qp/3aZ.9r0uE5Lk2$g01ZQ4k.gWyzT0Aq5.gbq6YCCGTctb7ckAyFLxR0aROXpfj1uFYfbBA79QU3VCN9JoPnuAcpgt89eDg09y.mG.", "sha512-crypt", false},
		{"sha256-crypt 1000 rounds", "$5$rounds=1000$x$VdFeLismb/f5YyXRGg9y5rbIREQUay1WYCot720D2A0", "sha256-crypt", true},
	}
}

// TestVerifyLegacy: every scheme's hash, made by its reference library,
// verifies the right password and asks for a rehash, refuses a wrong one,
// and is classified by CheckPasswordHash.
func TestVerifyLegacy(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, identity.DefaultArgon2, 4)
	for _, c := range legacyCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // most of the time is padding, which holds no slot
			scheme, weak, err := identity.CheckPasswordHash(c.enc)
			if err != nil || scheme != c.scheme || weak != c.weak {
				t.Errorf("CheckPasswordHash(%q) = %q, %v, %v; want %q, %v, nil", c.enc, scheme, weak, err, c.scheme, c.weak)
			}
			rehash, err := h.Verify(ctx, c.enc, legacyPW)
			if err != nil || !rehash {
				t.Errorf("Verify(right password) = %v, %v; want true, nil", rehash, err)
			}
			for _, wrong := range []string{"", legacyPW + " ", strings.ToUpper(legacyPW), "password"} {
				if rehash, err := h.Verify(ctx, c.enc, wrong); rehash || !errors.Is(err, identity.ErrPasswordMismatch) {
					t.Errorf("Verify(%q) = %v, %v; want false, ErrPasswordMismatch", wrong, rehash, err)
				}
			}
		})
	}
}

// TestVerifyLegacyRehash: the hash Frontdoor writes after a legacy sign-in
// is argon2id with its current parameters, and no longer asks for one.
func TestVerifyLegacyRehash(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, identity.DefaultArgon2, 1)
	enc := legacyCases(t)[1].enc // bcrypt
	if rehash, err := h.Verify(ctx, enc, legacyPW); err != nil || !rehash {
		t.Fatalf("Verify(bcrypt) = %v, %v", rehash, err)
	}
	now, err := h.Hash(ctx, legacyPW)
	if err != nil {
		t.Fatal(err)
	}
	if scheme, weak, err := identity.CheckPasswordHash(now); scheme != "argon2id" || weak || err != nil {
		t.Errorf("CheckPasswordHash(new hash) = %q, %v, %v", scheme, weak, err)
	}
	if rehash, err := h.Verify(ctx, now, legacyPW); err != nil || rehash {
		t.Errorf("Verify(new hash) = %v, %v; want false, nil", rehash, err)
	}
}

// TestVerifyLegacyPasswordAsTyped: legacy schemes hash the password's bytes
// as typed, not NFKC-normalised (the old system never normalised), while
// argon2 keeps Frontdoor's normalisation.
func TestVerifyLegacyPasswordAsTyped(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, identity.DefaultArgon2, 1)
	const typed = "ﬁne ｆｕｌｌ-width passphrase" // NFKC: "fine full-width passphrase"
	salt := randomB(16)
	enc := fmt.Sprintf("$pbkdf2-sha256$i=1000$%s$%s", phc64(salt), phc64(pbkdf2.Key([]byte(typed), salt, 1000, 32, sha256.New)))
	if _, err := h.Verify(ctx, enc, typed); err != nil {
		t.Errorf("Verify(as typed) = %v", err)
	}
	if _, err := h.Verify(ctx, enc, identity.NormalizePassword(typed)); !errors.Is(err, identity.ErrPasswordMismatch) {
		t.Errorf("Verify(normalised) = %v, want ErrPasswordMismatch", err)
	}
	ar := fmt.Sprintf("$argon2i$v=19$m=8192,t=2,p=1$%s$%s", phc64(salt),
		phc64(argon2.Key([]byte(identity.NormalizePassword(typed)), salt, 2, 8192, 1, 32)))
	if _, err := h.Verify(ctx, ar, typed); err != nil {
		t.Errorf("Verify(argon2i of the normalised password) = %v", err)
	}
}

// TestLegacyDocExamples: every example in legacyhash.go's comment (the one
// the README quotes) is what it says, and is a hash of "password".
func TestLegacyDocExamples(t *testing.T) {
	f, err := os.Open("legacyhash.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^//\t([a-z0-9-]+) +(\$\S+)$`)
	h := newTestHasher(t, identity.DefaultArgon2, 4)
	ctx := context.Background()
	seen := map[string]bool{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name, enc := m[1], m[2]
		seen[name] = true
		if scheme, _, err := identity.CheckPasswordHash(enc); scheme != name || err != nil {
			t.Errorf("CheckPasswordHash(%q) = %q, %v; the comment says %q", enc, scheme, err, name)
		}
		rehash, err := h.Verify(ctx, enc, "password")
		if err != nil || rehash != (name != "argon2id") {
			t.Errorf("Verify(%q, password) = %v, %v", enc, rehash, err)
		}
		if _, err := h.Verify(ctx, enc, "Password"); !errors.Is(err, identity.ErrPasswordMismatch) {
			t.Errorf("Verify(%q, Password) = %v, want ErrPasswordMismatch", enc, err)
		}
	}
	for _, s := range []string{"argon2id", "argon2i", "bcrypt", "scrypt", "pbkdf2-sha1", "pbkdf2-sha256", "pbkdf2-sha512",
		"sha256-crypt", "sha512-crypt", "sha256-salted"} {
		if !seen[s] {
			t.Errorf("no example for %s in legacyhash.go's comment", s)
		}
	}
}

// TestLegacyRefused: malformed hashes and parameters out of bounds are
// errors from CheckPasswordHash and from Verify alike — never a panic, never
// a match or a mismatch, never the hash quoted back.
func TestLegacyRefused(t *testing.T) {
	const (
		salt  = "c2FsdHNhbHRzYWx0c2FsdA"                      // 16 bytes
		key   = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"     // 29 bytes
		bsalt = "abcdefghijklmnopqrstuu"                      // bcrypt's 22 characters
		bhash = "HNbAKRhpaujgo33bRWs.NLUTJO3lOy2"             // and 31
		s256  = "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5" // 43
		hex64 = "f59a61fe2f74088c79a10475bbebc0f081edb3abb95965e01444f444d2a8cd1f"
	)
	unknown, malformed, bounds := identity.ErrHashUnknownScheme, identity.ErrHashMalformed, identity.ErrHashOutOfBounds
	cases := []struct {
		enc  string
		want error
	}{
		{"correct horse battery staple", unknown}, // a plaintext password
		{"$1$saltsalt$qJH7.N4xYta3aEG/dfqo/0", unknown},
		{"$md5$rounds=5000$x$y", unknown},
		{"$argon2d$v=19$m=19456,t=2,p=1$" + salt + "$" + key, unknown},
		{"$2x$10$" + bsalt + bhash, unknown},
		{"$7$CU..../....salt$hash", unknown},
		{"$pbkdf2-sha384$i=1000$" + salt + "$" + key, unknown},
		{"$", unknown},
		{"$" + strings.Repeat("x", 600), malformed},

		// argon2
		{"$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key, unknown},
		{"$argon2i$m=19456,t=2,p=1$" + salt + "$" + key, malformed},
		{"$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key, malformed},
		{"$argon2id$v=19$m=19456,t=2,p=1,keyid=k$" + salt + "$" + key, malformed},
		{"$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key, malformed},
		{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key, malformed}, // 4-byte salt
		{"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$a2V5a2V5", malformed},
		{"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + phc64(make([]byte, 65)), malformed},
		{"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "\n$" + key, malformed},
		{"$argon2i$v=19$m=19456,t=0,p=1$" + salt + "$" + key, bounds},
		{"$argon2i$v=19$m=19456,t=65,p=1$" + salt + "$" + key, bounds},
		{"$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key, bounds},
		{"$argon2id$v=19$m=19456,t=2,p=256$" + salt + "$" + key, bounds},
		{"$argon2id$v=19$m=15,t=2,p=2$" + salt + "$" + key, bounds},
		{"$argon2id$v=19$m=4194305,t=2,p=1$" + salt + "$" + key, bounds},
		{"$argon2id$v=19$m=99999999999,t=2,p=1$" + salt + "$" + key, bounds},

		// bcrypt
		{"$2b$12$abcdefghijklmnopqrstuv", malformed},
		{"$2b$10$" + bsalt + bhash + "x", malformed},
		{"$2b$1a$" + bsalt + bhash, malformed},
		{"$2b$10$" + bsalt + "!" + bhash[1:], malformed},
		{"$2y$10x" + bsalt + bhash, malformed},
		{"$2b$15$" + bsalt + bhash, bounds},
		{"$2a$31$" + bsalt + bhash, bounds},
		{"$2b$03$" + bsalt + bhash, bounds},

		// scrypt
		{"$scrypt$ln=14,r=8$" + salt + "$" + key, malformed},
		{"$scrypt$n=16384,r=8,p=1$" + salt + "$" + key, malformed},
		{"$scrypt$ln=14,r=8,p=1$$" + key, malformed},
		{"$scrypt$ln=14,r=8,p=1$" + salt, malformed},
		{"$scrypt$ln=14,r=8,p=1$" + salt + "$" + key + "$", malformed},
		{"$scrypt$ln=0,r=8,p=1$" + salt + "$" + key, bounds},
		{"$scrypt$ln=21,r=1,p=1$" + salt + "$" + key, bounds},
		{"$scrypt$ln=17,r=8,p=1$" + salt + "$" + key, bounds}, // 128 MiB
		{"$scrypt$ln=16,r=8,p=5$" + salt + "$" + key, bounds}, // 64 MiB five times
		{"$scrypt$ln=14,r=0,p=1$" + salt + "$" + key, bounds},
		{"$scrypt$ln=14,r=8,p=0$" + salt + "$" + key, bounds},
		{"$scrypt$ln=14,r=9999999999,p=1$" + salt + "$" + key, bounds},

		// PBKDF2
		{"$pbkdf2-sha256$i=1000$" + salt, malformed},
		{"$pbkdf2-sha256$i=abc$" + salt + "$" + key, malformed},
		{"$pbkdf2-sha256$-5$" + salt + "$" + key, malformed},
		{"$pbkdf2-sha256$i=1000,l=16$" + salt + "$" + key, malformed}, // l says 16, hash has 29
		{"$pbkdf2-sha256$i=1000,l=0$" + salt + "$" + key, malformed},
		{"$pbkdf2-sha256$l=29,i=1000$" + salt + "$" + key, malformed},
		{"$pbkdf2$1000$" + salt + "$a2V5", malformed},
		{"$pbkdf2-sha512$1000$" + salt + "$" + key + "!", malformed},
		{"$pbkdf2-sha256$i=0$" + salt + "$" + key, bounds},
		{"$pbkdf2-sha256$5000001$" + salt + "$" + key, bounds},
		{"$pbkdf2-sha512$99999999999$" + salt + "$" + key, bounds},
		{"$pbkdf2-sha1$i=2000000$" + salt + "$" + phc64(make([]byte, 64)), bounds}, // 4 blocks of SHA-1

		// SHA-crypt
		{"$5$rounds=5000", malformed},
		{"$5$rounds=abc$salt$" + s256, malformed},
		{"$5$saltstringsaltstr$" + s256, malformed}, // 17-character salt
		{"$5$saltstring$" + s256[1:], malformed},
		{"$5$saltstring$" + s256[1:] + "+", malformed},
		{"$6$saltstring$" + s256, malformed}, // SHA-256's length
		{"$5$saltstring$" + s256 + "$x", malformed},
		{"$5$rounds=999$saltstring$" + s256, bounds},
		{"$5$rounds=10$roundstoolow$" + s256, bounds},
		{"$6$rounds=1000001$saltstring$" + s256 + s256[:43], bounds},

		// sha256-salted
		{"$sha256-salted$" + hex64, malformed},
		{"$sha256-salted$s4lt$" + hex64[1:], malformed},
		{"$sha256-salted$s4lt$" + hex64[1:] + "g", malformed},
		{"$sha256-salted$s4lt$" + hex64 + "00", malformed},
		{"$sha256-salted$" + strings.Repeat("s", 129) + "$" + hex64, malformed},
	}
	h := newTestHasher(t, identity.DefaultArgon2, 4)
	for _, c := range cases {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%q panicked: %v", c.enc, r)
				}
			}()
			scheme, weak, err := identity.CheckPasswordHash(c.enc)
			if !errors.Is(err, c.want) || scheme != "" || weak {
				t.Errorf("CheckPasswordHash(%q) = %q, %v, %v; want an error wrapping %q", c.enc, scheme, weak, err, c.want)
			}
			if err != nil && len(c.enc) > 8 && (strings.Contains(err.Error(), c.enc) || strings.Contains(err.Error(), "horse")) {
				t.Errorf("CheckPasswordHash(%q): error %q quotes the hash", c.enc, err)
			}
			rehash, err := h.Verify(context.Background(), c.enc, "password")
			if !errors.Is(err, c.want) || rehash {
				t.Errorf("Verify(%q) = %v, %v; want an error wrapping %q", c.enc, rehash, err, c.want)
			}
		}()
	}
	if _, _, err := identity.CheckPasswordHash(""); !errors.Is(err, malformed) {
		t.Errorf(`CheckPasswordHash("") = %v, want malformed`, err)
	}
}

// TestLegacyWeak: the bounds of "weak", on both sides.
func TestLegacyWeak(t *testing.T) {
	bc := func(cost string) string {
		return "$2b$" + cost + "$abcdefghijklmnopqrstuuHNbAKRhpaujgo33bRWs.NLUTJO3lOy2"
	}
	const salt, key, key20, s256 = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"a2V5a2V5a2V5a2V5a2V5a2V5a2U", "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
	for _, c := range []struct {
		enc  string
		weak bool
	}{
		{bc("09"), true},
		{bc("10"), false},
		{"$pbkdf2-sha256$99999$" + salt + "$" + key, true},
		{"$pbkdf2-sha256$100000$" + salt + "$" + key, false},
		{"$pbkdf2-sha512$i=99999$" + salt + "$" + key, true},
		{"$pbkdf2-sha512$i=100000$" + salt + "$" + key, false},
		{"$pbkdf2$1000000$" + salt + "$" + key20, true}, // SHA-1, however many iterations
		{"$5$rounds=4999$saltstring$" + s256, true},
		{"$5$rounds=5000$saltstring$" + s256, false},
		{"$5$saltstring$" + s256, false},
		{"$scrypt$ln=13,r=8,p=1$" + salt + "$" + key, true},
		{"$scrypt$ln=14,r=8,p=1$" + salt + "$" + key, false},
		{"$argon2id$v=19$m=7167,t=5,p=1$" + salt + "$" + key, true},
		{"$argon2id$v=19$m=7168,t=5,p=1$" + salt + "$" + key, false},
		{"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key, false},
		{"$sha256-salted$x$f59a61fe2f74088c79a10475bbebc0f081edb3abb95965e01444f444d2a8cd1f", true},
	} {
		if _, weak, err := identity.CheckPasswordHash(c.enc); err != nil || weak != c.weak {
			t.Errorf("CheckPasswordHash(%q) weak = %v, %v; want %v", c.enc, weak, err, c.weak)
		}
	}
}

// FuzzCheckPasswordHash: whatever the string, parsing it neither panics nor
// fails without saying which of the three ways it failed. (Parsing only:
// running an accepted hash may cost up to the bounds, seconds each.)
func FuzzCheckPasswordHash(f *testing.F) {
	for _, c := range legacyCases(f) {
		f.Add(c.enc)
	}
	for _, s := range []string{"", "$", "$$", "$5$rounds=$$", "$2b$", "$scrypt$ln=1,r=1,p=1$$", "$pbkdf2$1$$", "$argon2i$v=19$$$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		scheme, _, err := identity.CheckPasswordHash(s)
		switch {
		case err == nil && scheme == "":
			t.Errorf("CheckPasswordHash(%q) accepted it with no scheme", s)
		case err != nil && !errors.Is(err, identity.ErrHashUnknownScheme) && !errors.Is(err, identity.ErrHashMalformed) &&
			!errors.Is(err, identity.ErrHashOutOfBounds):
			t.Errorf("CheckPasswordHash(%q) = %v, wrapping none of the three errors", s, err)
		}
	})
}
