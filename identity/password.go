package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

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

	// Queue bounds unless SetQueueLimits says otherwise. The wait is what
	// turns a burst away: a caller whose turn would come later than maxWait
	// (by the cost estimate) is refused at once, so the queue holds about
	// maxWait × slots / cost callers (~530 at 19 ms and 2 slots), all of whom
	// get in. The count is only a backstop: a waiter holds a goroutine and
	// a request, not argon2 memory, so a flood cannot park more than this.
	defaultWaitersPerSlot = 512
	defaultMaxWait        = 5 * time.Second

	// A new sample moves the cost estimate by 1/ewmaWeight of the difference:
	// a lasting change (load, CPU frequency, the cold first run that seeds
	// it) is followed within about ten runs, one outlier moves it little.
	ewmaWeight = 4
)

// NormalizePassword applies NFKC, as NIST SP 800-63B-4 asks, so a password
// typed with composed or decomposed characters on different devices is the
// same password. Hash and Verify apply it; callers need not.
func NormalizePassword(p string) string { return norm.NFKC.String(p) }

// ErrPasswordMismatch is returned by Verify for a wrong password.
var ErrPasswordMismatch = errors.New("identity: password mismatch")

// ErrHasherBusy is returned by Hash and Verify when too many callers already
// wait for a hashing slot, or one waited longer than the queue allows.
var ErrHasherBusy = errors.New("identity: password hashing is busy")

// Hasher hashes and verifies passwords with argon2id. Each hash holds
// MemoryKiB of memory for its duration, so at most Concurrency run at once;
// a burst of logins queues instead of exhausting memory, and the queue itself
// is bounded (see SetQueueLimits) so a flood is turned away with
// ErrHasherBusy instead of parking goroutines until the requests time out.
type Hasher struct {
	params Argon2Params
	sem    chan struct{}
	dummy  string

	// costNS estimates how long, in nanoseconds, one argon2 run under params
	// takes: an EWMA of every Hash and every Verify under params (the dummy
	// included). Verifying a hash stored with cheaper, older parameters is
	// padded to it, see Verify.
	costNS atomic.Int64

	runs atomic.Uint64 // argon2 runs started (Runs)

	// Gauges for operators and benchmarks (InFlight, PeakInFlight, Waiting,
	// PeakWaiting, Busy): atomics only, never a lock on the hashing path.
	running     atomic.Int64 // argon2 runs under way, always ≤ cap(sem)
	peakRunning atomic.Int64
	peakWaiters atomic.Int64
	busy        atomic.Uint64 // callers turned away with ErrHasherBusy

	waiters    atomic.Int64 // callers blocked in acquire
	maxWaiters atomic.Int64
	maxWait    atomic.Int64 // a time.Duration
}

// NewHasher returns a Hasher. concurrency ≤ 0 means GOMAXPROCS. A caller
// waits for a slot at most 5 s, and one whose turn would come later is
// refused at once; at most 512 × concurrency wait. SetQueueLimits changes
// that.
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
	h.SetQueueLimits(0, 0)
	// A hash of a random password with the current parameters: verifying
	// against it costs what a real verification costs, so unknown accounts
	// cannot be told apart by timing. Making it is one argon2 run under p,
	// so it also seeds the cost estimate.
	var rb [24]byte
	_, _ = rand.Read(rb[:])
	start := time.Now() // a measured cost: wall time
	key := argon2.IDKey(rb[:], mustSalt(), p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	h.costNS.Store(int64(time.Since(start)))
	h.dummy = encodeHash(p, mustSalt(), key)
	return h, nil
}

// SetQueueLimits bounds the queue for hashing slots: a call that would make
// more than maxWaiters callers wait fails at once, as does one whose turn
// would come later than maxWait by the cost estimate; one that still waits
// longer fails then; all with ErrHasherBusy. Values ≤ 0 restore the
// defaults (512 × Concurrency, 5 s). Safe to call at any time; callers
// already waiting keep the wait they started with.
func (h *Hasher) SetQueueLimits(maxWaiters int, maxWait time.Duration) {
	if maxWaiters <= 0 {
		maxWaiters = defaultWaitersPerSlot * cap(h.sem)
	}
	if maxWait <= 0 {
		maxWait = defaultMaxWait
	}
	h.maxWaiters.Store(int64(maxWaiters))
	h.maxWait.Store(int64(maxWait))
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Argon2Params { return h.params }

// Concurrency returns how many hashes may run at once.
func (h *Hasher) Concurrency() int { return cap(h.sem) }

// QueueLimits returns how many callers may wait for a slot and for how
// long (see SetQueueLimits).
func (h *Hasher) QueueLimits() (maxWaiters int, maxWait time.Duration) {
	return int(h.maxWaiters.Load()), time.Duration(h.maxWait.Load())
}

// InFlight returns how many argon2 runs are under way: never more than
// Concurrency, which is what bounds the memory hashing holds.
func (h *Hasher) InFlight() int { return int(h.running.Load()) }

// PeakInFlight returns the most argon2 runs ever under way at once.
func (h *Hasher) PeakInFlight() int { return int(h.peakRunning.Load()) }

// Waiting returns how many callers wait for a hashing slot now.
func (h *Hasher) Waiting() int { return int(h.waiters.Load()) }

// PeakWaiting returns the most callers that ever waited at once.
func (h *Hasher) PeakWaiting() int { return int(h.peakWaiters.Load()) }

// Busy returns how many calls failed with ErrHasherBusy: the queue was full
// or the wait too long.
func (h *Hasher) Busy() uint64 { return h.busy.Load() }

// raise sets peak to n if n is higher.
func raise(peak *atomic.Int64, n int64) {
	for {
		old := peak.Load()
		if n <= old || peak.CompareAndSwap(old, n) {
			return
		}
	}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	// Counting before checking lets a race between two callers turn both
	// away when one would have fit; never lets more than maxWaiters wait.
	n := h.waiters.Add(1)
	wait := time.Duration(h.maxWait.Load())
	if n > h.maxWaiters.Load() {
		h.waiters.Add(-1)
		h.busy.Add(1)
		return fmt.Errorf("identity: too many callers waiting for a password hashing slot: %w", ErrHasherBusy)
	}
	if turn := h.turnIn(n); turn > wait {
		// Waiting would only end in the same answer, later.
		h.waiters.Add(-1)
		h.busy.Add(1)
		return fmt.Errorf("identity: a password hashing slot would free in ~%v, beyond %v: %w", turn.Round(time.Millisecond), wait, ErrHasherBusy)
	}
	defer h.waiters.Add(-1)
	raise(&h.peakWaiters, n)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("identity: waiting for a password hashing slot: %w", ctx.Err())
	case <-t.C:
		h.busy.Add(1)
		return fmt.Errorf("identity: no password hashing slot within %v: %w", wait, ErrHasherBusy)
	}
}

func (h *Hasher) release() { <-h.sem }

// turnIn estimates when the n-th waiter gets a slot: every slot busy, the
// waiters ahead served cap(sem) at a time, one estimated run each.
func (h *Hasher) turnIn(n int64) time.Duration {
	slots := int64(cap(h.sem))
	return time.Duration((n + slots - 1) / slots * h.costNS.Load())
}

// Backlog estimates how long a caller arriving now would wait for a slot:
// what a busy answer's Retry-After should say.
func (h *Hasher) Backlog() time.Duration {
	n := h.waiters.Load()
	if n == 0 && len(h.sem) < cap(h.sem) {
		return 0
	}
	return h.turnIn(n + 1)
}

// RetryAfter is when a caller turned away now should try again: the
// backlog, at least a second, at most the longest wait.
func (h *Hasher) RetryAfter() time.Duration {
	return min(max(h.Backlog(), time.Second), time.Duration(h.maxWait.Load()))
}

// inSlot runs f in the slot acquire took and gives the slot back, even if f
// panics. It reports how long f ran, queueing excluded.
func (h *Hasher) inSlot(f func()) time.Duration {
	defer h.release()
	// Counted inside the slot (after taking it, before giving it back), so
	// the count never exceeds the slots.
	raise(&h.peakRunning, h.running.Add(1))
	defer h.running.Add(-1)
	start := time.Now() // a measured cost: wall time
	f()
	return time.Since(start)
}

// argon2Key derives an argon2id or argon2i key of n bytes. The password is
// NFKC-normalised, as it always was for Frontdoor's own hashes.
func argon2Key(variant, password string, salt []byte, p Argon2Params, n uint32) []byte {
	pw := []byte(NormalizePassword(password))
	if variant == schemeArgon2i {
		return argon2.Key(pw, salt, p.Iterations, p.MemoryKiB, p.Parallelism, n)
	}
	return argon2.IDKey(pw, salt, p.Iterations, p.MemoryKiB, p.Parallelism, n)
}

// observe folds one argon2 run under the current parameters into costNS.
func (h *Hasher) observe(d time.Duration) {
	for {
		old := h.costNS.Load()
		if h.costNS.CompareAndSwap(old, ewma(old, int64(d))) {
			return
		}
	}
}

// ewma moves prev 1/ewmaWeight of the way to sample; prev ≤ 0 means no
// estimate yet.
func ewma(prev, sample int64) int64 {
	if prev <= 0 {
		return sample
	}
	return prev + (sample-prev)/ewmaWeight
}

// Runs returns how many password hash computations (argon2, or a legacy
// scheme Verify accepts) the Hasher has started: what edge defences must
// keep attackers from reaching, and benchmarks count.
func (h *Hasher) Runs() uint64 { return h.runs.Load() }

// Hash returns the PHC string of password under the current parameters.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	salt := mustSalt()
	h.runs.Add(1)
	var key []byte
	took := h.inSlot(func() { key = argon2Key(schemeArgon2id, password, salt, h.params, keyLen) })
	h.observe(took)
	return encodeHash(h.params, salt, key), nil
}

// Verify checks password against encoded. An empty encoded (unknown
// customer, or a customer without a password) is checked against a dummy
// hash so the answer takes as long and is always ErrPasswordMismatch.
// needsRehash reports that the hash is not argon2id with the current
// parameters and should be replaced: one made with other parameters, or one
// in a legacy scheme imported from another system (legacyhash.go lists
// them). A hash CheckPasswordHash refuses is an error, never a match.
//
// After the operator raises the cost, the dummy is verified under the new
// parameters but stored hashes under their old, cheaper ones until each
// customer's next login — a gap timing would show; legacy schemes are
// mostly cheaper still. So a hash that is not argon2id under the current
// parameters and verified faster than the current cost estimate is padded
// to it by sleeping, after the slot is given back so the padding holds
// neither a slot nor the hash's memory. A costlier hash takes longer than
// the estimate and is left alone: that cannot be made faster.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (needsRehash bool, err error) {
	known := encoded != ""
	if !known {
		encoded = h.dummy
	}
	stored, err := parseStoredHash(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	h.runs.Add(1)
	var ok bool
	took := h.inSlot(func() { ok = stored.match(password) })
	current := stored.scheme == schemeArgon2id && stored.argon == h.params
	if current {
		h.observe(took)
	} else { // a stored hash: the dummy always has the current parameters
		sleep(ctx, time.Duration(h.costNS.Load())-took)
	}
	if !ok || !known {
		return false, ErrPasswordMismatch
	}
	return !current, nil
}

// sleep waits d, or until ctx is done: a caller that gave up has nobody
// left to hide the timing from.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func mustSalt() []byte {
	s := make([]byte, saltLen)
	_, _ = rand.Read(s)
	return s
}

// b64 is the encoding Frontdoor writes; decodePHC64 also reads others.
var b64 = base64.RawStdEncoding

func encodeHash(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodeArgon2 reads a PHC argon2id or argon2i string,
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>.
func decodeArgon2(s string) (variant string, p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || (parts[1] != schemeArgon2id && parts[1] != schemeArgon2i) {
		return "", p, nil, nil, malformed("argon2", "not $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	variant = parts[1]
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return "", p, nil, nil, fmt.Errorf("identity: %w: %s version other than v=%d", ErrHashUnknownScheme, variant, argon2.Version)
	}
	ps, err := phcParams(variant, parts[3], 3, "m", "t", "p")
	if err != nil {
		return "", p, nil, nil, err
	}
	// Bounds: argon2 panics below them, and a corrupt record must not make
	// one verification allocate gigabytes.
	m, t, par := ps[0], ps[1], ps[2]
	if t < 1 || t > maxIterations || par < 1 || par > 255 || m < 8*par || m > maxMemoryKiB {
		return "", p, nil, nil, outOfBounds(variant, "m=%d t=%d p=%d, want t 1…%d, p 1…255, m 8·p…%d", m, t, par, maxIterations, maxMemoryKiB)
	}
	p = Argon2Params{MemoryKiB: uint32(m), Iterations: uint32(t), Parallelism: uint8(par)}
	salt, key, err = saltAndKey(variant, parts[4], parts[5], minArgon2Salt)
	if err != nil {
		return "", p, nil, nil, err
	}
	return variant, p, salt, key, nil
}
