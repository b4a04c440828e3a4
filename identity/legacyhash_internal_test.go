package identity

import (
	"context"
	"errors"
	"os"
	"regexp"
	"testing"
	"time"
)

// legacyExamples returns the examples of legacyhash.go's comment, the first
// for each scheme: hashes of "password".
func legacyExamples(tb testing.TB) map[string]string {
	tb.Helper()
	src, err := os.ReadFile("legacyhash.go")
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^//\t([a-z0-9-]+) +(\$\S+)$`).FindAllStringSubmatch(string(src), -1) {
		if _, ok := out[m[1]]; !ok {
			out[m[1]] = m[2]
		}
	}
	if len(out) < 10 {
		tb.Fatalf("%d examples in legacyhash.go's comment, want one per scheme", len(out))
	}
	return out
}

// TestLegacyPadded: a legacy hash, however cheap, answers no sooner than
// the argon2 cost estimate (an unknown address's dummy check), for a right
// password as for a wrong one — and pads without holding a hashing slot.
func TestLegacyPadded(t *testing.T) {
	enc := legacyExamples(t)[schemeSHA256Salted]
	h := mustHasher(t, DefaultArgon2, 1)
	h.costNS.Store(int64(time.Hour))
	for _, pw := range []string{"password", "wrong"} {
		before := h.Runs()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := h.Verify(ctx, enc, pw)
			done <- err
		}()
		// The slot is given back before the padding: taking every slot
		// waits for that, not for Verify to return.
		waitFor(t, "Verify started", func() bool { return h.Runs() > before })
		fillHashSlots(h)()
		// Unpadded, Verify would return within microseconds of giving the
		// slot back; padded, not within the hour.
		select {
		case err := <-done:
			t.Fatalf("Verify(%q) returned (%v) before the hour-long estimate", pw, err)
		case <-time.After(100 * time.Millisecond):
		}
		cancel()
		err := <-done
		var want error
		if pw != "password" {
			want = ErrPasswordMismatch
		}
		if !errors.Is(err, want) {
			t.Errorf("Verify(%q) after cancelled padding = %v", pw, err)
		}
	}
}

// BenchmarkLegacyMatch: one run of each legacy scheme as the examples are
// set, outside the queue and the padding (Verify pads them to the argon2
// cost, so through it they would all measure that).
func BenchmarkLegacyMatch(b *testing.B) {
	examples := legacyExamples(b)
	for _, scheme := range []string{schemeArgon2i, schemeBcrypt, schemeScrypt, schemePBKDF2SHA1, schemePBKDF2SHA256,
		schemePBKDF2SHA512, schemeSHA256Crypt, schemeSHA512Crypt, schemeSHA256Salted} {
		sh, err := parseStoredHash(examples[scheme])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(scheme, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !sh.match("password") {
					b.Fatal("no match")
				}
			}
		})
	}
}
