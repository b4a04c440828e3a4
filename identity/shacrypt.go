package identity

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"strings"
)

// SHA-crypt: Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512", the
// $5$ and $6$ hashes of glibc's and libxcrypt's crypt(3), found in
// /etc/shadow files and in many older web applications. Only verification is
// needed (a verified password is re-hashed with argon2id), so only the
// algorithm and the parser live here. Written from the specification, step
// numbers in the comments are its own; shacrypt_test.go checks it against
// the specification's published vectors.

const (
	// shaCryptDefaultRounds applies when the string has no rounds=N field.
	shaCryptDefaultRounds = 5000
	// shaCryptMinRounds is the specification's floor: crypt(3) raises any
	// lower request to it and writes rounds=1000, so a stored string with
	// fewer rounds was never produced by it (libxcrypt refuses one).
	shaCryptMinRounds = 1000
	// maxSHACryptRounds bounds one check's CPU (the specification allows
	// up to 999,999,999: minutes of work from one stored record).
	maxSHACryptRounds = 1_000_000
	// shaCryptMaxSalt: crypt(3) truncates salts to 16 characters, so a
	// longer one was never produced by it.
	shaCryptMaxSalt = 16
	// maxSHACryptPassword: each round hashes the password twice, and step
	// 14 hashes it once per byte, so the work grows with its length. A longer
	// password never matches a SHA-crypt hash (it is not hashed at all; the
	// caller's padding to the argon2 cost hides that). 256 bytes hold any
	// 64-character password in any script.
	maxSHACryptPassword = 256

	// cryptAlphabet is crypt(3)'s base64 alphabet (bcrypt's too, in
	// another order).
	cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// shaCryptVariant is what differs between $5$ and $6$: the digest and the
// order in which step 22 writes the digest's bytes out.
type shaCryptVariant struct {
	scheme string
	new    func() hash.Hash
	size   int
	// order lists the digest's bytes as step 22 encodes them: three at a
	// time (most significant first) into four characters, a short last
	// group into fewer.
	order  []int
	encLen int
}

var (
	sha256Crypt = &shaCryptVariant{
		scheme: schemeSHA256Crypt, new: sha256.New, size: sha256.Size, encLen: 43,
		order: []int{0, 10, 20, 21, 1, 11, 12, 22, 2, 3, 13, 23, 24, 4, 14, 15, 25, 5,
			6, 16, 26, 27, 7, 17, 18, 28, 8, 9, 19, 29, 31, 30},
	}
	sha512Crypt = &shaCryptVariant{
		scheme: schemeSHA512Crypt, new: sha512.New, size: sha512.Size, encLen: 86,
		order: []int{0, 21, 42, 22, 43, 1, 44, 2, 23, 3, 24, 45, 25, 46, 4, 47, 5, 26,
			6, 27, 48, 28, 49, 7, 50, 8, 29, 9, 30, 51, 31, 52, 10, 53, 11, 32,
			12, 33, 54, 34, 55, 13, 56, 14, 35, 15, 36, 57, 37, 58, 16, 59, 17, 38,
			18, 39, 60, 40, 61, 19, 62, 20, 41, 63},
	}
)

// digest runs steps 1–21 of the specification: the final digest C.
func (v *shaCryptVariant) digest(password, salt []byte, rounds int) []byte {
	// Steps 4–8: digest B = H(password, salt, password).
	h := v.new()
	h.Write(password)
	h.Write(salt)
	h.Write(password)
	b := h.Sum(nil)

	// Steps 1–3 and 9–12: digest A.
	h.Reset()
	h.Write(password)
	h.Write(salt)
	n := len(password)
	for ; n > v.size; n -= v.size {
		h.Write(b)
	}
	h.Write(b[:n])
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(password)
		}
	}
	a := h.Sum(nil)

	// Steps 13–16: the byte sequence P, from digest DP (the password hashed
	// once per byte of it).
	h.Reset()
	for range len(password) {
		h.Write(password)
	}
	p := repeatTo(h.Sum(nil), len(password))

	// Steps 17–20: the byte sequence S, from digest DS (the salt hashed
	// 16 + A[0] times).
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(salt)
	}
	s := repeatTo(h.Sum(nil), len(salt))

	// Step 21: the rounds, numbered from 0, each digest C fed into the next.
	c := a
	for i := range rounds {
		h.Reset()
		if i%2 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i%2 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}
	return c
}

// repeatTo returns n bytes of d repeated (steps 16 and 20).
func repeatTo(d []byte, n int) []byte {
	out := make([]byte, n)
	for i := 0; i < n; i += len(d) {
		copy(out[i:], d)
	}
	return out
}

// encode is step 22 without the prefix: the digest's bytes in the variant's
// order, 24 bits at a time, least significant six bits first.
func (v *shaCryptVariant) encode(c []byte) []byte {
	out := make([]byte, 0, v.encLen)
	put := func(w uint32, chars int) {
		for range chars {
			out = append(out, cryptAlphabet[w&0x3f])
			w >>= 6
		}
	}
	o := v.order
	for ; len(o) >= 3; o = o[3:] {
		put(uint32(c[o[0]])<<16|uint32(c[o[1]])<<8|uint32(c[o[2]]), 4)
	}
	switch len(o) {
	case 2:
		put(uint32(c[o[0]])<<8|uint32(c[o[1]]), 3)
	case 1:
		put(uint32(c[o[0]]), 2)
	}
	return out
}

// parseSHACrypt reads $5$[rounds=N$]salt$hash or the $6$ equivalent.
func parseSHACrypt(s string) (storedHash, error) {
	v := sha256Crypt
	if strings.HasPrefix(s, "$6$") {
		v = sha512Crypt
	}
	rest := s[len("$5$"):]
	rounds := shaCryptDefaultRounds
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		num, after, ok := strings.Cut(r, "$")
		if !ok {
			return storedHash{}, malformed(v.scheme, "rounds=N not followed by $")
		}
		n, err := parseUint(v.scheme, "rounds", num)
		if err != nil {
			return storedHash{}, err
		}
		if n < shaCryptMinRounds || n > maxSHACryptRounds {
			return storedHash{}, outOfBounds(v.scheme, "rounds=%d outside %d…%d", n, shaCryptMinRounds, maxSHACryptRounds)
		}
		rounds, rest = int(n), after
	}
	salt, sum, ok := strings.Cut(rest, "$")
	switch {
	case !ok:
		return storedHash{}, malformed(v.scheme, "no $ between salt and hash")
	case len(salt) > shaCryptMaxSalt:
		return storedHash{}, malformed(v.scheme, "salt longer than %d characters", shaCryptMaxSalt)
	case len(sum) != v.encLen || strings.Trim(sum, cryptAlphabet) != "":
		return storedHash{}, malformed(v.scheme, "hash is not %d characters of crypt's base64", v.encLen)
	}
	want := []byte(sum)
	return storedHash{
		scheme: v.scheme,
		weak:   rounds < shaCryptDefaultRounds,
		match: func(password string) bool {
			if len(password) > maxSHACryptPassword {
				return false
			}
			got := v.encode(v.digest([]byte(password), []byte(salt), rounds))
			return subtle.ConstantTimeCompare(got, want) == 1
		},
	}, nil
}
