package identity

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// shaCryptVectors are the test vectors published with Drepper's
// specification ("Unix crypt using SHA-256 and SHA-512"), with one change:
// its last vector asks for rounds=10, which crypt(3) raises to 1000 and
// writes so; the stored string is what it wrote. Salts longer than 16
// characters appear truncated, as crypt(3) writes them.
var shaCryptVectors = []struct{ password, want string }{
	{"Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
	{"Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
	{"This is just a test", "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"},
	{"a very much longer text to encrypt.  This one even stretches over morethan one line.",
		"$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"},
	{"we have a short salt string but not a short password", "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"},
	{"a short string", "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD"},
	{"the minimum number is still observed", "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"},
	{"Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	{"This is just a test", "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
	{"a very much longer text to encrypt.  This one even stretches over morethan one line.",
		"$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	{"we have a short salt string but not a short password",
		"$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"},
	{"a short string", "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1"},
	{"the minimum number is still observed",
		"$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
	// Made with libxcrypt's crypt(3): an empty password, one of exactly a
	// SHA-256 block's worth of digest (32 bytes), and long and non-ASCII ones.
	{"", "$5$rounds=1000$x$kIBhdUvT3pHpfTjzR8s1XJu3y/HRJeFxMSffBtF8jx9"},
	{"ünïcödé pässwörd with more than sixty-four bytes in it, certainly more, yes",
		"$6$rounds=5001$Zz9./abc$a2wb0Wc0ckFClGwEiLnpITd.wvdFQlNg8xcq4cY3rnnfb8XUxipCT8pq5Uqn74bA6.gYugid0/KWsNHPl0Dtu."},
	{strings.Repeat("x", 200), "$5$rounds=1234$0123456789abcdef$NMJXa5OHmWD2X9NaLIq9jGPXONgrkXyJt1YSHUpJTND"},
}

// shaCryptString is crypt(3)'s whole string, rounds=N written unless it is
// the default: what a legacy system stored.
func shaCryptString(v *shaCryptVariant, password, salt string, rounds int) string {
	id := "$5$"
	if v == sha512Crypt {
		id = "$6$"
	}
	if rounds != shaCryptDefaultRounds {
		id += fmt.Sprintf("rounds=%d$", rounds)
	}
	return id + salt + "$" + string(v.encode(v.digest([]byte(password), []byte(salt), rounds)))
}

func TestSHACryptVectors(t *testing.T) {
	for _, c := range shaCryptVectors {
		sh, err := parseSHACrypt(c.want)
		if err != nil {
			t.Errorf("parse %q: %v", c.want, err)
			continue
		}
		if !sh.match(c.password) {
			t.Errorf("%q does not verify %q", c.want, c.password)
		}
		if sh.match(c.password+"!") || (c.password != "" && sh.match("")) {
			t.Errorf("%q verifies a wrong password", c.want)
		}
	}
	// The digest itself, independent of the parser.
	if got := shaCryptString(sha256Crypt, "Hello world!", "saltstring", 5000); got != shaCryptVectors[0].want {
		t.Errorf("SHA-256-crypt(Hello world!) = %q, want %q", got, shaCryptVectors[0].want)
	}
	if got := shaCryptString(sha512Crypt, "Hello world!", "saltstringsaltst", 10000); got != shaCryptVectors[8].want {
		t.Errorf("SHA-512-crypt(Hello world!, 10000) = %q, want %q", got, shaCryptVectors[8].want)
	}
}

// TestSHACryptRoundTrip: strings made here for random passwords, salts and
// rounds verify through the Hasher (needing a rehash), and only with their
// password.
func TestSHACryptRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := mustHasher(t, DefaultArgon2, 2)
	h.costNS.Store(1) // nothing to hide here: no padding
	for i := range 8 {
		var rb [12]byte
		_, _ = rand.Read(rb[:])
		pw := fmt.Sprintf("pw-%x-%s", rb, strings.Repeat("x", i*20))
		salt := make([]byte, i*2)
		for j := range salt {
			salt[j] = cryptAlphabet[int(rb[j%len(rb)])%len(cryptAlphabet)]
		}
		v, scheme := sha256Crypt, schemeSHA256Crypt
		if i%2 == 1 {
			v, scheme = sha512Crypt, schemeSHA512Crypt
		}
		rounds := []int{shaCryptMinRounds, 4999, shaCryptDefaultRounds, 7777}[i%4]
		enc := shaCryptString(v, pw, string(salt), rounds)
		got, weak, err := CheckPasswordHash(enc)
		if err != nil || got != scheme || weak != (rounds < 5000) {
			t.Errorf("CheckPasswordHash(%q) = %q, %v, %v", enc, got, weak, err)
		}
		if rehash, err := h.Verify(ctx, enc, pw); err != nil || !rehash {
			t.Errorf("Verify(%q, its password) = %v, %v; want true, nil", enc, rehash, err)
		}
		if _, err := h.Verify(ctx, enc, pw[:len(pw)-1]); !errors.Is(err, ErrPasswordMismatch) {
			t.Errorf("Verify(%q, a prefix) = %v, want ErrPasswordMismatch", enc, err)
		}
	}
}

// TestSHACryptLongPassword: past maxSHACryptPassword bytes nothing is
// hashed and nothing matches, even the password the hash was made from.
func TestSHACryptLongPassword(t *testing.T) {
	long := string(make([]byte, maxSHACryptPassword+1))
	sh, err := parseSHACrypt(shaCryptString(sha256Crypt, long, "s", shaCryptMinRounds))
	if err != nil {
		t.Fatal(err)
	}
	if sh.match(long) {
		t.Errorf("a %d-byte password matched", len(long))
	}
	sh, err = parseSHACrypt(shaCryptString(sha256Crypt, long[1:], "s", shaCryptMinRounds))
	if err != nil || !sh.match(long[1:]) {
		t.Errorf("a %d-byte password did not match: %v", len(long)-1, err)
	}
}
