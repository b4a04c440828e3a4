package botdefense

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "embed" // SolverJS
)

// A proof-of-work challenge is one line of URL-safe text:
//
//	base64url(version | expiry | bits | id | binding) "." base64url(HMAC-SHA256)
//
// version is one byte (1), expiry the unix second after which it is refused
// (8 bytes, big endian), bits the difficulty (1 byte), id 16 random bytes
// for single use, and binding the first 16 bytes of an HMAC of the client
// key, so the key (an IP address, say) cannot be read back or guessed from
// the challenge. The MAC covers the text before the dot. 100 characters.
//
// A solution is challenge + "~" + counter, counter in decimal, such that
// SHA-256 of the whole solution starts with at least bits zero bits. "~" and
// "." are outside the base64url alphabet, so the parts split unambiguously.
const (
	powVersion      = 1
	powPayloadLen   = 1 + 8 + 1 + 16 + 16
	powPayloadText  = (powPayloadLen*8 + 5) / 6 // 56
	powMACText      = (sha256.Size*8 + 5) / 6   // 43
	powChallengeLen = powPayloadText + 1 + powMACText
	powMaxCounter   = 20 // digits; a uint64 fits
	powMaxSolution  = 512
)

// The difficulty of a challenge is the number of leading zero bits the
// solution's SHA-256 must have; values outside PowMinBits..PowMaxBits are
// clamped. Each bit doubles the work. The search is memoryless: the median
// solve takes ln 2 · 2^bits tries, the mean 2^bits, and one in twenty takes
// three times the mean. solver.js makes about 3.3 million tries a second on
// one core of the CI machine (AMD EPYC, headless Chromium) and runs a
// worker per core, up to four; expect a phone to be several times slower
// per core.
const (
	PowMinBits = 1
	PowMaxBits = 32
	// DefaultPowBits is the difficulty of an ordinary challenge. On the
	// two-core CI machine a page solves it in about 0.2 to 0.35 s in the
	// median, page load and worker start-up included, and in under a
	// second nine times in ten (TestPowBrowserCalibrate). A phone several
	// times slower should still take a few seconds at worst; each bit more
	// doubles that.
	DefaultPowBits = 20
	// DefaultPowTTL is used when Issue is given no TTL. It covers a person
	// filling in a form after the page solved its challenge on load.
	DefaultPowTTL = 10 * time.Minute
)

// Errors from Verify. Each is returned as it is, not wrapped, so that
// refusing garbage costs no allocation; compare with errors.Is.
var (
	ErrPowMalformed   = errors.New("botdefense: proof of work: malformed solution")
	ErrPowForged      = errors.New("botdefense: proof of work: challenge not issued here")
	ErrPowExpired     = errors.New("botdefense: proof of work: challenge expired")
	ErrPowWrongClient = errors.New("botdefense: proof of work: challenge issued to another client")
	ErrPowTooEasy     = errors.New("botdefense: proof of work: challenge easier than now required")
	ErrPowNotSolved   = errors.New("botdefense: proof of work: not solved")
	ErrPowReplayed    = errors.New("botdefense: proof of work: solution already used")
	// ErrPowSeenFull is returned by MemorySeen when it holds as many live
	// ids as it may; Verify then fails closed.
	ErrPowSeenFull = errors.New("botdefense: proof of work: single-use memory full")
)

// SolverJS is the browser solver (solver.js), to be served as a static
// script from the page's own origin. See the comment at its top for the
// markup it expects.
//
//go:embed solver.js
var SolverJS []byte

// Seen makes solutions single use across every node that verifies them.
type Seen interface {
	// FirstUse records id until the given time and reports whether it was
	// not already recorded. now is the caller's clock, which until is
	// on. An error means it cannot tell; the caller refuses the solution.
	// A Redis implementation is SET key 1 NX PX (until - now).
	FirstUse(ctx context.Context, id string, now, until time.Time) (bool, error)
}

// PowIssuer issues and verifies proof-of-work challenges. It is safe for
// concurrent use. Nodes that share the key and a Seen verify each other's
// challenges.
type PowIssuer struct {
	seen  Seen
	clock func() time.Time
	mac   powMAC // over the challenge text
	bind  powMAC // of the binding
}

// NewPowIssuer returns an issuer keyed by key, a secret of at least 32
// bytes shared by the gateway nodes. clock nil means time.Now. It panics on
// a short key or a nil seen: both are configuration mistakes.
func NewPowIssuer(key []byte, seen Seen, clock func() time.Time) *PowIssuer {
	if len(key) < 32 {
		panic("botdefense: NewPowIssuer: key shorter than 32 bytes")
	}
	if seen == nil {
		panic("botdefense: NewPowIssuer: nil Seen")
	}
	if clock == nil {
		clock = time.Now
	}
	// Separate keys, so a MAC of one kind is never valid as the other.
	return &PowIssuer{
		seen:  seen,
		clock: clock,
		mac:   powMAC{key: powSubkey(key, "frontdoor pow v1 mac")},
		bind:  powMAC{key: powSubkey(key, "frontdoor pow v1 binding")},
	}
}

func powSubkey(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// powMAC computes HMAC-SHA256 with one key. Reusing a reset HMAC skips
// hashing the padded key again: a third of the cost of a short message.
type powMAC struct {
	key  []byte
	pool sync.Pool // of hash.Hash
}

func (m *powMAC) sum(dst *[sha256.Size]byte, data []byte) {
	h, ok := m.pool.Get().(hash.Hash)
	if !ok {
		h = hmac.New(sha256.New, m.key)
	}
	h.Reset()
	h.Write(data)
	h.Sum(dst[:0])
	m.pool.Put(h)
}

// ClampPowBits returns bits limited to PowMinBits..PowMaxBits.
func ClampPowBits(bits int) int {
	return min(max(bits, PowMinBits), PowMaxBits)
}

// Issue returns a challenge for the client identified by binding (its IP
// address or another opaque key), at the given difficulty (clamped), valid
// for ttl (DefaultPowTTL when ttl ≤ 0).
func (p *PowIssuer) Issue(binding string, difficulty int, ttl time.Duration) string {
	if ttl <= 0 {
		ttl = DefaultPowTTL
	}
	var b [powPayloadLen]byte
	b[0] = powVersion
	exp := p.clock().Add(ttl)
	sec := exp.Unix()
	if exp.Nanosecond() != 0 {
		sec++ // never shorter than asked
	}
	binary.BigEndian.PutUint64(b[1:9], uint64(sec))
	b[9] = byte(ClampPowBits(difficulty))
	rand.Read(b[10:26]) // never fails (crypto/rand, Go ≥ 1.24)
	p.bindingHash(b[26:42], binding)

	out := make([]byte, 0, powChallengeLen)
	out = base64.RawURLEncoding.AppendEncode(out, b[:])
	var sum [sha256.Size]byte
	p.mac.sum(&sum, out)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, sum[:])
	return string(out)
}

// Verify checks a solution (challenge + "~" + counter) sent by the client
// identified by binding, and consumes it. The challenge must have been
// issued with at least minDifficulty bits (clamped), so raising the
// difficulty takes effect at once. The checks that cost only a few hashes
// come first; only a correct solution reaches Seen. Errors are the ErrPow
// values, or a Seen failure wrapped.
func (p *PowIssuer) Verify(ctx context.Context, solution, binding string, minDifficulty int) error {
	if len(solution) > powMaxSolution {
		return ErrPowMalformed
	}
	tilde := strings.LastIndexByte(solution, '~')
	if tilde != powChallengeLen || solution[powPayloadText] != '.' {
		return ErrPowMalformed
	}
	counter := solution[tilde+1:]
	if len(counter) == 0 || len(counter) > powMaxCounter {
		return ErrPowMalformed
	}
	for i := 0; i < len(counter); i++ {
		if counter[i] < '0' || counter[i] > '9' {
			return ErrPowMalformed
		}
	}
	text := solution[:powPayloadText]
	var b [powPayloadLen]byte
	var mac, want [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(text)); err != nil || n != len(b) {
		return ErrPowMalformed
	}
	if n, err := base64.RawURLEncoding.Strict().Decode(mac[:], []byte(solution[powPayloadText+1:tilde])); err != nil || n != len(mac) {
		return ErrPowMalformed
	}
	if b[0] != powVersion {
		return ErrPowMalformed
	}
	p.mac.sum(&want, []byte(text))
	if !hmac.Equal(mac[:], want[:]) {
		return ErrPowForged
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[1:9])), 0)
	now := p.clock()
	if !now.Before(exp) {
		return ErrPowExpired
	}
	var bh [16]byte
	p.bindingHash(bh[:], binding)
	if subtle.ConstantTimeCompare(bh[:], b[26:42]) != 1 {
		return ErrPowWrongClient
	}
	difficulty := int(b[9])
	if difficulty < ClampPowBits(minDifficulty) {
		return ErrPowTooEasy
	}
	if powZeroBits(solution) < difficulty {
		return ErrPowNotSolved
	}
	first, err := p.seen.FirstUse(ctx, base64.RawURLEncoding.EncodeToString(b[10:26]), now, exp)
	if err != nil {
		return fmt.Errorf("botdefense: proof of work: single-use check: %w", err)
	}
	if !first {
		return ErrPowReplayed
	}
	return nil
}

func (p *PowIssuer) bindingHash(dst []byte, binding string) {
	var sum [sha256.Size]byte
	p.bind.sum(&sum, []byte(binding))
	copy(dst, sum[:])
}

// powZeroBits returns the number of leading zero bits of SHA-256(s), up to
// 32: no difficulty asks for more.
func powZeroBits(s string) int {
	sum := sha256.Sum256([]byte(s))
	return bits.LeadingZeros32(binary.BigEndian.Uint32(sum[:4]))
}

// SolvePow solves a challenge by brute force, as solver.js does in a
// browser, and returns the solution. It is for tests and load tools.
func SolvePow(challenge string, difficulty int) string {
	difficulty = ClampPowBits(difficulty)
	buf := make([]byte, 0, len(challenge)+1+powMaxCounter)
	buf = append(buf, challenge...)
	buf = append(buf, '~')
	n := len(buf)
	for c := uint64(0); ; c++ {
		buf = strconv.AppendUint(buf[:n], c, 10)
		sum := sha256.Sum256(buf)
		if bits.LeadingZeros32(binary.BigEndian.Uint32(sum[:4])) >= difficulty {
			return string(buf)
		}
	}
}

// MemorySeen is a Seen for a single node. It forgets an id once its time
// has passed, and refuses (ErrPowSeenFull) rather than grow past its cap:
// about 50 bytes an id, 52 MB when the default 1<<20 are held.
type MemorySeen struct {
	mu   sync.Mutex
	max  int
	seed maphash.Seed
	ids  map[uint64]int64 // hash of id → until, unix nanoseconds
	exp  powExpiryHeap
}

// NewMemorySeen returns an empty MemorySeen holding up to 1<<20 live ids.
func NewMemorySeen() *MemorySeen {
	return &MemorySeen{max: 1 << 20, seed: maphash.MakeSeed(), ids: make(map[uint64]int64)}
}

// FirstUse implements Seen. Ids are kept as 64-bit keyed hashes: two ids
// collide with odds of about one in 10^13 when the memory is full, and a
// collision refuses a solution, never accepts one.
func (s *MemorySeen) FirstUse(ctx context.Context, id string, at, until time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	k, u := maphash.String(s.seed, id), until.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := at.UnixNano()
	s.prune(now, 64)
	if len(s.ids) >= s.max {
		s.prune(now, len(s.exp))
	}
	if old, ok := s.ids[k]; ok && old > now {
		return false, nil
	}
	if u <= now {
		return true, nil // nothing left to guard
	}
	if len(s.ids) >= s.max {
		return false, ErrPowSeenFull
	}
	s.ids[k] = u
	s.exp.push(powExpiry{until: u, key: k})
	return true, nil
}

// prune forgets up to n expired ids, soonest first. Pruning a few on each
// call keeps pace with insertions without holding the lock for long.
func (s *MemorySeen) prune(now int64, n int) {
	for ; n > 0 && len(s.exp) > 0 && s.exp[0].until <= now; n-- {
		e := s.exp.pop()
		if s.ids[e.key] == e.until {
			delete(s.ids, e.key)
		}
	}
}

// Len returns the number of ids held, expired ones not yet pruned included.
func (s *MemorySeen) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

type powExpiry struct {
	until int64
	key   uint64
}

// powExpiryHeap is a min-heap on until. container/heap would box every
// entry in an interface.
type powExpiryHeap []powExpiry

func (h *powExpiryHeap) push(e powExpiry) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		up := (i - 1) / 2
		if a[up].until <= a[i].until {
			break
		}
		a[up], a[i] = a[i], a[up]
		i = up
	}
}

func (h *powExpiryHeap) pop() powExpiry {
	a := *h
	top, last := a[0], len(a)-1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < len(a) && a[l].until < a[small].until {
			small = l
		}
		if r := l + 1; r < len(a) && a[r].until < a[small].until {
			small = r
		}
		if small == i {
			break
		}
		a[i], a[small] = a[small], a[i]
		i = small
	}
	*h = a
	return top
}
