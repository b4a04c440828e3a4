// Password hashes Frontdoor accepts.
//
// Hasher.Verify checks a password against any hash below, and
// CheckPasswordHash parses one without running it (for imports). Frontdoor
// writes only the first, argon2id with its current parameters; every other
// hash that verifies reports needsRehash, so the customer's first sign-in
// replaces it with argon2id. Each example is a hash of the password
// "password" (the package's tests verify every one of them).
//
//	argon2id       $argon2id$v=19$m=19456,t=2,p=1$SCy4Ln3pGkrKAh/eIH1FkA$RAkMMP3W7Jfsog6kiJyp9o2ROpzdulV9WHG45tPmMKI
//	argon2i        $argon2i$v=19$m=65536,t=3,p=4$4D3IbDzyJvvp0aOmNUWX1A$OvUWfo3U03TT4dRrTh6ua0BTymH8MiXdjmcITANZtmo
//	bcrypt         $2y$10$S6JZyEFqt554UJ.paz5huOAnJrDaicmc/lSGDhNhzP2HCxaiICD2y
//	scrypt         $scrypt$ln=16,r=8,p=1$AK7M7QBsCCnjGnsdC9Desg$zfWyPPQUc7r1qSslvoEXqbIHrmD/XZFccz/AIi7+9RM
//	pbkdf2-sha256  $pbkdf2-sha256$i=600000,l=32$AEzsmlFMGVL+jqaN3CKL7g$D8CdudO4rVkb4MbKq3nENf1Z0E9QWW+SJkpLHS9W/gU
//	pbkdf2-sha256  $pbkdf2-sha256$29000$Urj0U/kPEvH9wwDrbYC/fg$k1BH07NNnmhBJMRgpccwNDkZN5f8vseijzbTaDhyF1c
//	pbkdf2-sha512  $pbkdf2-sha512$25000$VBb7NcNePLFRc3BwSuGA3Q$QLcxMmySQ6W5cp5JwAQlvKbW7SIu7stk94Xy0pkKjiJXoNM9R5p1CpfyAukeI.etHp1ROnD4qqjiTOMfkmlgaQ
//	pbkdf2-sha1    $pbkdf2$131000$fzCg3TCsVbPmALLzVZbsfA$HbQDAXCa1sZp9oNDJOC4vhlepwY
//	sha256-crypt   $5$rounds=10000$CnTf8nbtSaZJZ88L$wZrPWiUe4v/.Maagkqjf2RSR/iHAMoIm.BEp4p6nEnB
//	sha512-crypt   $6$.EhcS0S8osY33U8r$32iOf5t4S.FHNjd2cvfbKvwN.HK3W4QEVN3oGH/VE1bJcGDtNXEyKlSy1t5NPAmhQQV03H4o2jrhkBs99.f89.
//	sha256-salted  $sha256-salted$14da99376c98b3ed$56efa83a20dea12695e5f4a4bf2de72a10195d3c373ccb5c8d7e98db0ab2b120
//
// The forms, in full:
//
//   - argon2id, argon2i: PHC, $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>.
//     Version 19 only (x/crypto implements no other).
//   - bcrypt: $2a$, $2b$ or $2y$, a two-digit cost, 22 characters of salt and
//     31 of hash (60 in all). bcrypt reads the first 72 bytes of a password.
//   - scrypt: passlib's PHC form, $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>.
//   - PBKDF2 with HMAC-SHA-1, -SHA-256 or -SHA-512: the PHC form
//     $pbkdf2-sha256$i=<iterations>[,l=<hash bytes>]$<salt>$<hash>, and
//     passlib's $pbkdf2-sha256$<rounds>$<salt>$<hash>; likewise
//     $pbkdf2-sha512$, and $pbkdf2-sha1$ or passlib's $pbkdf2$ for SHA-1.
//   - SHA-crypt (Drepper's, crypt(3)'s $5$ and $6$): $5$[rounds=<N>$]<salt>$<hash>,
//     5000 rounds when none are written, salt up to 16 characters.
//   - sha256-salted, for systems that stored SHA-256(salt || password):
//     $sha256-salted$<salt>$<64 hex digits>, the salt taken as written (its
//     bytes, not decoded; no '$'), an empty salt meaning plain SHA-256.
//
// Salts and hashes in the PHC-style forms (argon2, scrypt, PBKDF2) may be
// standard base64 without padding (PHC), with padding, or passlib's adapted
// base64 ('.' for '+').
//
// Bounds, so that one stored record cannot buy unbounded work (a hash
// outside them is refused by CheckPasswordHash and Verify alike, as an error,
// never a match): argon2 m ≤ 4 GiB, t ≤ 64, p ≤ 255; bcrypt cost 4…14;
// scrypt 128·N·r ≤ 64 MiB and 128·N·r·p ≤ 256 MiB; PBKDF2 iterations ×
// output blocks ≤ 5,000,000; SHA-crypt rounds 1000…1,000,000 (crypt(3)
// writes no fewer); salts ≤ 64 bytes (sha256-salted: 128), derived hashes
// 16…64 bytes, the whole string ≤ 512 bytes.
//
// Weak (CheckPasswordHash's weak: an operator may want to force a reset
// rather than wait for the customer's next sign-in): sha256-salted and
// pbkdf2-sha1 always; pbkdf2-sha256 and -sha512 below 100,000 iterations;
// bcrypt below cost 10; SHA-crypt below 5000 rounds; scrypt below 16 MiB
// (128·N·r); argon2 below m·t = 35,840 KiB·passes (OWASP's cheapest listed
// setting, m=7 MiB with t=5).
//
// Passwords: the argon2 schemes hash the password NFKC-normalised, as
// Frontdoor always has; the others hash it as typed (its UTF-8 bytes),
// as the system that made them did. SHA-crypt's work grows with the
// password's length, so a password over 256 bytes never matches one.

package identity

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// Scheme names, as CheckPasswordHash reports them.
const (
	schemeArgon2id     = "argon2id"
	schemeArgon2i      = "argon2i"
	schemeBcrypt       = "bcrypt"
	schemeScrypt       = "scrypt"
	schemePBKDF2SHA1   = "pbkdf2-sha1"
	schemePBKDF2SHA256 = "pbkdf2-sha256"
	schemePBKDF2SHA512 = "pbkdf2-sha512"
	schemeSHA256Crypt  = "sha256-crypt"
	schemeSHA512Crypt  = "sha512-crypt"
	schemeSHA256Salted = "sha256-salted"
)

// Bounds on what a stored hash may ask for. A stored record is data, and one
// corrupt or hostile record must not make one sign-in allocate or compute
// without limit; the argon2 bounds are maxMemoryKiB and maxIterations.
const (
	maxEncodedHash = 512 // bytes of the whole string: real ones are < 250
	minHashKey     = 16  // bytes of a derived key (argon2, scrypt, PBKDF2)
	maxHashKey     = 64
	minArgon2Salt  = 8 // argon2's own floor
	maxHashSalt    = 64

	maxBcryptCost = 14 // 2^14 rounds: about a second on a server core

	maxScryptMemory = 64 << 20            // 128·N·r bytes held by one check
	maxScryptWork   = 4 * maxScryptMemory // 128·N·r·p bytes mixed by one check
	maxScryptLogN   = 20

	maxPBKDF2Work = 5_000_000 // PBKDF2 iterations × output blocks

	maxSaltedSHA256Salt = 128 // bytes
)

// What CheckPasswordHash calls weak: below these, an operator may prefer a
// reset to a silent upgrade at the next sign-in.
const (
	weakBcryptCost       = 10
	weakPBKDF2Iterations = 100_000
	weakScryptMemory     = 16 << 20 // 128·N·r bytes: Django's N=2^14, r=8
	// weakArgon2Work is m (KiB) × t of OWASP's cheapest listed argon2id
	// setting (m=7 MiB, t=5); Frontdoor's floor (m=19 MiB, t=2) is above it.
	weakArgon2Work = 7 * 1024 * 5
)

// Errors CheckPasswordHash and Verify wrap, so an import can tell them apart.
var (
	ErrHashUnknownScheme = errors.New("unknown password hash scheme")
	ErrHashMalformed     = errors.New("malformed password hash")
	ErrHashOutOfBounds   = errors.New("password hash parameters out of bounds")
)

// storedHash is a parsed stored hash: what CheckPasswordHash reports and
// what Verify runs.
type storedHash struct {
	scheme string
	weak   bool
	// argon holds an argon2 hash's parameters: Verify compares them with
	// the current ones.
	argon Argon2Params
	// match runs the scheme on password and compares in constant time. It
	// runs in a hashing slot, so it must not block.
	match func(password string) bool
}

// CheckPasswordHash parses a stored password hash without running it, as an
// import does before storing hashes from another system: it returns the
// scheme's name (see the list at the top of this file), whether the hash is
// weak (below the bounds listed there, so an operator may want to force a
// reset instead of waiting for the customer's next sign-in to upgrade it),
// or an error wrapping ErrHashUnknownScheme, ErrHashMalformed or
// ErrHashOutOfBounds that says what is wrong. Verify parses with the same
// code, so it refuses exactly what CheckPasswordHash refuses. No error ever
// quotes the hash.
func CheckPasswordHash(encoded string) (scheme string, weak bool, err error) {
	sh, err := parseStoredHash(encoded)
	if err != nil {
		return "", false, err
	}
	return sh.scheme, sh.weak, nil
}

// parseStoredHash picks the scheme by the string's $id$ prefix.
func parseStoredHash(s string) (storedHash, error) {
	switch {
	case s == "":
		return storedHash{}, fmt.Errorf("identity: %w: empty", ErrHashMalformed)
	case len(s) > maxEncodedHash:
		return storedHash{}, fmt.Errorf("identity: %w: longer than %d bytes", ErrHashMalformed, maxEncodedHash)
	case s[0] != '$':
		// Perhaps a plaintext password stored by mistake: never quoted.
		return storedHash{}, fmt.Errorf("identity: %w: no $scheme$ prefix", ErrHashUnknownScheme)
	}
	id, _, ok := strings.Cut(s[1:], "$")
	if !ok {
		return storedHash{}, fmt.Errorf("identity: %w: no $scheme$ prefix", ErrHashUnknownScheme)
	}
	switch id {
	case schemeArgon2id, schemeArgon2i:
		return parseArgon2(s)
	case "2a", "2b", "2y":
		return parseBcrypt(s)
	case schemeScrypt:
		return parseScrypt(s)
	case "pbkdf2", schemePBKDF2SHA1, schemePBKDF2SHA256, schemePBKDF2SHA512:
		return parsePBKDF2(id, s)
	case "5", "6":
		return parseSHACrypt(s)
	case schemeSHA256Salted:
		return parseSaltedSHA256(s)
	}
	if len(id) > 20 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return storedHash{}, fmt.Errorf("identity: %w", ErrHashUnknownScheme)
	}
	return storedHash{}, fmt.Errorf("identity: %w: $%s$", ErrHashUnknownScheme, id)
}

func malformed(scheme, format string, args ...any) error {
	return fmt.Errorf("identity: %w: %s: %s", ErrHashMalformed, scheme, fmt.Sprintf(format, args...))
}

func outOfBounds(scheme, format string, args ...any) error {
	return fmt.Errorf("identity: %w: %s: %s", ErrHashOutOfBounds, scheme, fmt.Sprintf(format, args...))
}

// parseUint reads a decimal parameter: digits only, no sign or spaces.
func parseUint(scheme, name, s string) (uint64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, malformed(scheme, "%s is not a decimal number", name)
	}
	if len(s) > 10 { // so it fits, and is out of every bound anyway
		return 0, outOfBounds(scheme, "%s has %d digits", name, len(s))
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, malformed(scheme, "%s is not a decimal number", name)
	}
	return n, nil
}

// phcParams reads a PHC parameter field "a=1,b=2" whose keys are names in
// that order; all but the first required may be left out (then 0).
func phcParams(scheme, field string, required int, names ...string) ([]uint64, error) {
	want := strings.Join(names, "=…,") + "=…"
	kvs := strings.Split(field, ",")
	if len(kvs) < required || len(kvs) > len(names) {
		return nil, malformed(scheme, "parameters are not %s", want)
	}
	out := make([]uint64, len(names))
	for i, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k != names[i] {
			return nil, malformed(scheme, "parameters are not %s", want)
		}
		n, err := parseUint(scheme, k, v)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// decodePHC64 decodes a salt or hash field of a PHC-style string: the
// standard base64 alphabet without padding (PHC), with padding, or passlib's
// "adapted" base64 with '.' for '+'. Anything else is refused, including the
// line breaks Go's decoder would skip.
func decodePHC64(s string) ([]byte, bool) {
	if strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/.=") != "" {
		return nil, false
	}
	s = strings.ReplaceAll(s, ".", "+")
	enc := base64.RawStdEncoding
	if strings.HasSuffix(s, "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(s)
	return b, err == nil
}

// saltAndKey decodes the salt and key fields of a PHC-style string and
// checks their lengths.
func saltAndKey(scheme, salt, key string, minSalt int) (s, k []byte, err error) {
	s, ok := decodePHC64(salt)
	if !ok {
		return nil, nil, malformed(scheme, "salt is not base64")
	}
	if len(s) < minSalt || len(s) > maxHashSalt {
		return nil, nil, malformed(scheme, "salt of %d bytes, want %d…%d", len(s), minSalt, maxHashSalt)
	}
	k, ok = decodePHC64(key)
	if !ok {
		return nil, nil, malformed(scheme, "hash is not base64")
	}
	if len(k) < minHashKey || len(k) > maxHashKey {
		return nil, nil, malformed(scheme, "hash of %d bytes, want %d…%d", len(k), minHashKey, maxHashKey)
	}
	return s, k, nil
}

// parseArgon2 reads $argon2id$… and $argon2i$… (see decodeArgon2).
func parseArgon2(s string) (storedHash, error) {
	variant, p, salt, key, err := decodeArgon2(s)
	if err != nil {
		return storedHash{}, err
	}
	return storedHash{
		scheme: variant,
		weak:   uint64(p.MemoryKiB)*uint64(p.Iterations) < weakArgon2Work,
		argon:  p,
		match: func(password string) bool {
			return subtle.ConstantTimeCompare(argon2Key(variant, password, salt, p, uint32(len(key))), key) == 1
		},
	}, nil
}

// parseBcrypt reads $2a$, $2b$ and $2y$ (the same algorithm today; the
// letters record bugs in old implementations that x/crypto never had):
// "$2b$" cost "$" 22 characters of salt, 31 of hash.
func parseBcrypt(s string) (storedHash, error) {
	if len(s) != 60 || s[6] != '$' {
		return storedHash{}, malformed(schemeBcrypt, "not $2b$<cost>$ and 53 characters")
	}
	cost, err := parseUint(schemeBcrypt, "cost", s[4:6])
	if err != nil {
		return storedHash{}, err
	}
	if cost < uint64(bcrypt.MinCost) || cost > maxBcryptCost {
		return storedHash{}, outOfBounds(schemeBcrypt, "cost %d outside %d…%d", cost, bcrypt.MinCost, maxBcryptCost)
	}
	if strings.Trim(s[7:], cryptAlphabet) != "" {
		return storedHash{}, malformed(schemeBcrypt, "salt and hash are not bcrypt's base64")
	}
	enc := []byte(s)
	return storedHash{
		scheme: schemeBcrypt,
		weak:   cost < weakBcryptCost,
		// bcrypt uses the first 72 bytes of the password, as the system
		// that made the hash did; CompareHashAndPassword compares in
		// constant time.
		match: func(password string) bool { return bcrypt.CompareHashAndPassword(enc, []byte(password)) == nil },
	}, nil
}

// parseScrypt reads passlib's $scrypt$ln=<log2 N>,r=<r>,p=<p>$salt$hash.
func parseScrypt(s string) (storedHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 5 {
		return storedHash{}, malformed(schemeScrypt, "not $scrypt$ln=…,r=…,p=…$salt$hash")
	}
	ps, err := phcParams(schemeScrypt, parts[2], 3, "ln", "r", "p")
	if err != nil {
		return storedHash{}, err
	}
	ln, r, p := ps[0], ps[1], ps[2]
	if ln < 1 || ln > maxScryptLogN || r < 1 || p < 1 {
		return storedHash{}, outOfBounds(schemeScrypt, "ln=%d r=%d p=%d, want ln 1…%d, r ≥ 1, p ≥ 1", ln, r, p, maxScryptLogN)
	}
	// ln ≤ 20 and r, p < 10^10 (parseUint): neither product overflows.
	mem := (uint64(128) << ln) * r
	if mem > maxScryptMemory || mem*p > maxScryptWork {
		return storedHash{}, outOfBounds(schemeScrypt, "ln=%d r=%d p=%d: 128·N·r must be ≤ %d MiB and 128·N·r·p ≤ %d MiB",
			ln, r, p, maxScryptMemory>>20, maxScryptWork>>20)
	}
	salt, key, err := saltAndKey(schemeScrypt, parts[3], parts[4], 1)
	if err != nil {
		return storedHash{}, err
	}
	return storedHash{
		scheme: schemeScrypt,
		weak:   mem < weakScryptMemory,
		match: func(password string) bool {
			got, err := scrypt.Key([]byte(password), salt, 1<<ln, int(r), int(p), len(key))
			return err == nil && subtle.ConstantTimeCompare(got, key) == 1
		},
	}, nil
}

// parsePBKDF2 reads the PHC form $pbkdf2-sha256$i=<iterations>[,l=<len>]$salt$hash
// and passlib's $pbkdf2-sha256$<rounds>$salt$hash, for SHA-1 (passlib
// writes $pbkdf2$ for it), SHA-256 and SHA-512.
func parsePBKDF2(id, s string) (storedHash, error) {
	scheme, newHash, size := schemePBKDF2SHA1, sha1.New, sha1.Size
	switch id {
	case schemePBKDF2SHA256:
		scheme, newHash, size = schemePBKDF2SHA256, sha256.New, sha256.Size
	case schemePBKDF2SHA512:
		scheme, newHash, size = schemePBKDF2SHA512, sha512.New, sha512.Size
	}
	parts := strings.Split(s, "$")
	if len(parts) != 5 {
		return storedHash{}, malformed(scheme, "not $%s$i=…$salt$hash or $%s$<rounds>$salt$hash", id, id)
	}
	var iter, l uint64
	if strings.HasPrefix(parts[2], "i=") {
		ps, err := phcParams(scheme, parts[2], 1, "i", "l")
		if err != nil {
			return storedHash{}, err
		}
		iter, l = ps[0], ps[1]
	} else {
		n, err := parseUint(scheme, "rounds", parts[2])
		if err != nil {
			return storedHash{}, err
		}
		iter = n
	}
	if iter < 1 || iter > maxPBKDF2Work {
		return storedHash{}, outOfBounds(scheme, "%d iterations, want 1…%d", iter, maxPBKDF2Work)
	}
	salt, key, err := saltAndKey(scheme, parts[3], parts[4], 1)
	if err != nil {
		return storedHash{}, err
	}
	// l is the only parameter after i: a comma means it was given.
	if strings.Contains(parts[2], ",") && l != uint64(len(key)) {
		return storedHash{}, malformed(scheme, "l=%d but the hash has %d bytes", l, len(key))
	}
	// Each block of output beyond the digest's size runs every iteration
	// again.
	if blocks := uint64((len(key) + size - 1) / size); iter*blocks > maxPBKDF2Work {
		return storedHash{}, outOfBounds(scheme, "%d iterations × %d output blocks above %d", iter, blocks, maxPBKDF2Work)
	}
	return storedHash{
		scheme: scheme,
		weak:   scheme == schemePBKDF2SHA1 || iter < weakPBKDF2Iterations,
		match: func(password string) bool {
			got, err := pbkdf2.Key(newHash, password, salt, int(iter), len(key))
			return err == nil && subtle.ConstantTimeCompare(got, key) == 1
		},
	}, nil
}

// parseSaltedSHA256 reads $sha256-salted$<salt>$<hex of SHA-256(salt ||
// password)>: the salt is used as written (its bytes, not decoded), so any
// salt without a '$' can be carried over; an empty one stands for plain
// SHA-256 of the password.
func parseSaltedSHA256(s string) (storedHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 {
		return storedHash{}, malformed(schemeSHA256Salted, "not $sha256-salted$<salt>$<64 hex digits>")
	}
	salt := parts[2]
	if len(salt) > maxSaltedSHA256Salt {
		return storedHash{}, malformed(schemeSHA256Salted, "salt longer than %d bytes", maxSaltedSHA256Salt)
	}
	want, err := hex.DecodeString(parts[3])
	if err != nil || len(want) != sha256.Size {
		return storedHash{}, malformed(schemeSHA256Salted, "hash is not 64 hex digits")
	}
	return storedHash{
		scheme: schemeSHA256Salted,
		weak:   true, // one fast hash: a GPU tries billions of guesses a second
		match: func(password string) bool {
			sum := sha256.Sum256([]byte(salt + password))
			return subtle.ConstantTimeCompare(sum[:], want) == 1
		},
	}, nil
}
