package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Argon2Params are the argon2id cost parameters. They are stored with every
// hash, so they can be raised later; hashes made with lower parameters are
// upgraded at the customer's next successful login.
type Argon2Params struct {
	MemoryKiB   uint32 `json:"memory_kib,omitempty"`
	Iterations  uint32 `json:"iterations,omitempty"`
	Parallelism uint8  `json:"parallelism,omitempty"`
}

// DefaultArgon2 is OWASP's floor for argon2id: m=19 MiB, t=2, p=1.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

const (
	saltLen = 16
	keyLen  = 32
	// Ceilings on parameters read back from storage (4 GiB, 64 passes).
	maxMemoryKiB  = 4 << 20
	maxIterations = 64
)

// NormalizePassword applies NFKC, as NIST SP 800-63B-4 asks, so a password
// typed with composed or decomposed characters on different devices is the
// same password. Hash and Verify apply it; callers need not.
func NormalizePassword(p string) string { return norm.NFKC.String(p) }

// ErrPasswordMismatch is returned by Verify for a wrong password.
var ErrPasswordMismatch = errors.New("identity: password mismatch")

// Hasher hashes and verifies passwords with argon2id. Each hash holds
// MemoryKiB of memory for its duration, so at most Concurrency run at once;
// a burst of logins queues instead of exhausting memory.
type Hasher struct {
	params Argon2Params
	sem    chan struct{}
	dummy  string
}

// NewHasher returns a Hasher. concurrency ≤ 0 means GOMAXPROCS.
func NewHasher(p Argon2Params, concurrency int) (*Hasher, error) {
	if p.MemoryKiB < DefaultArgon2.MemoryKiB || p.Iterations < DefaultArgon2.Iterations || p.Parallelism < 1 ||
		p.MemoryKiB > maxMemoryKiB || p.Iterations > maxIterations {
		return nil, fmt.Errorf("identity: argon2id parameters m=%d t=%d p=%d outside m=%d…%d t=%d…%d p≥1",
			p.MemoryKiB, p.Iterations, p.Parallelism, DefaultArgon2.MemoryKiB, maxMemoryKiB, DefaultArgon2.Iterations, maxIterations)
	}
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: p, sem: make(chan struct{}, concurrency)}
	// A hash of a random password with the current parameters: verifying
	// against it costs what a real verification costs, so unknown accounts
	// cannot be told apart by timing.
	var rb [24]byte
	_, _ = rand.Read(rb[:])
	h.dummy = encodeHash(p, mustSalt(), argon2.IDKey(rb[:], mustSalt(), p.Iterations, p.MemoryKiB, p.Parallelism, keyLen))
	return h, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Argon2Params { return h.params }

// Concurrency returns how many hashes may run at once.
func (h *Hasher) Concurrency() int { return cap(h.sem) }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("identity: waiting for a password hashing slot: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC string of password under the current parameters.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	salt := mustSalt()
	key := argon2.IDKey([]byte(NormalizePassword(password)), salt, h.params.Iterations, h.params.MemoryKiB, h.params.Parallelism, keyLen)
	return encodeHash(h.params, salt, key), nil
}

// Verify checks password against encoded. An empty encoded (unknown
// customer, or a customer without a password) is checked against a dummy
// hash so the answer takes as long and is always ErrPasswordMismatch.
// needsRehash reports that the hash was made with other parameters than the
// current ones and should be replaced.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (needsRehash bool, err error) {
	known := encoded != ""
	if !known {
		encoded = h.dummy
	}
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	got := func() []byte {
		defer h.release()
		return argon2.IDKey([]byte(NormalizePassword(password)), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(want)))
	}()
	if subtle.ConstantTimeCompare(got, want) != 1 || !known {
		return false, ErrPasswordMismatch
	}
	return p != h.params, nil
}

func mustSalt() []byte {
	s := make([]byte, saltLen)
	_, _ = rand.Read(s)
	return s
}

var b64 = base64.RawStdEncoding

func encodeHash(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decodeHash(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("identity: not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errors.New("identity: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return p, nil, nil, fmt.Errorf("identity: argon2id parameters: %w", err)
	}
	// Bounds: argon2 panics below them, and a corrupt record must not make
	// one verification allocate gigabytes.
	if p.Iterations < 1 || p.Iterations > maxIterations || p.Parallelism < 1 || p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > maxMemoryKiB {
		return p, nil, nil, fmt.Errorf("identity: argon2id parameters m=%d t=%d p=%d out of range", p.MemoryKiB, p.Iterations, p.Parallelism)
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("identity: argon2id salt: %w", err)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return p, nil, nil, errors.New("identity: argon2id key malformed")
	}
	return p, salt, key, nil
}
