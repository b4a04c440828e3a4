package botdefense

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Dimensions a limit counts by.
const (
	DimIP      = "ip"      // the client address (IPv4), its /64 (IPv6): ClientKey
	DimPrefix  = "prefix"  // its /24 (IPv4) or /56 (IPv6): Prefix
	DimAccount = "account" // the account tried (normalised email): over the limit asks for a challenge, never refuses
	DimRoute   = "route"   // every client together, on this site
	DimGlobal  = "global"  // every client together, on every site sharing the store
	// DimKey counts by the credential an API call carries (an API key, a
	// token's grant): Attempt.Key. DimClient by the OAuth client a token
	// was issued to: Attempt.ClientID. Over either, the call is refused.
	DimKey    = "key"
	DimClient = "client"
)

// Routes the gateway defends.
const (
	RouteLogin     = "login"
	RouteRegister  = "register"
	RouteMagic     = "magic"     // sign-in link and code requests (mail)
	RouteText      = "text"      // sign-in code requests by text message (phone sign-in)
	RouteCode      = "code"      // typing a mailed code or a device's user code
	RouteVerify    = "verify"    // following a verification link
	RouteReset     = "reset"     // reset requests (mail) and new passwords
	RouteStepUp    = "stepup"    // second factors: sign-in's second step and step-up
	RoutePasskey   = "passkey"   // passkey ceremonies
	RouteChallenge = "challenge" // a Caddyfile `challenge` route (a flash sale)
	RouteOIDC      = "oidc"      // provider sign-ins: starts and the provider's answers
	RouteOAuth     = "oauth"     // a provider site's OAuth endpoints: authorize, token, revoke, …
	RouteAPI       = "api"       // calls with an API key or an access token, once it is known good
	// RouteCredential: a key or token the node has not checked lately
	// (not in its cache): the store lookups a flood of made-up keys costs.
	RouteCredential = "credential"
)

// Routes lists every defended route.
var Routes = []string{RouteLogin, RouteRegister, RouteMagic, RouteText, RouteCode, RouteVerify, RouteReset, RouteStepUp, RoutePasskey, RouteChallenge, RouteOIDC, RouteOAuth, RouteAPI, RouteCredential}

// SitePowBits is the default difficulty of a site's challenges.
const SitePowBits = 18

// RouteCount is len(Routes).
const RouteCount = 14

// Limit is one rate limit: at most Count attempts on Route per Period,
// counted by Dimension.
type Limit struct {
	Route     string        `json:"route"`
	Dimension string        `json:"dimension"`
	Count     int64         `json:"count"`
	Period    time.Duration `json:"period"`
}

func (l Limit) String() string {
	return fmt.Sprintf("%s %s %d/%s", l.Route, l.Dimension, l.Count, l.Period)
}

// DefaultLimits are sensible for a shop: a person signs in a few times a
// day; a script tries thousands.
func DefaultLimits() []Limit {
	m, h := time.Minute, time.Hour
	return []Limit{
		{RouteLogin, DimIP, 20, 5 * m}, {RouteLogin, DimPrefix, 100, 5 * m}, {RouteLogin, DimAccount, 10, 15 * m}, {RouteLogin, DimGlobal, 3000, m},
		{RouteRegister, DimIP, 5, h}, {RouteRegister, DimPrefix, 20, h}, {RouteRegister, DimAccount, 3, h}, {RouteRegister, DimGlobal, 600, m},
		{RouteMagic, DimIP, 10, h}, {RouteMagic, DimPrefix, 30, h}, {RouteMagic, DimAccount, 3, 15 * m}, {RouteMagic, DimGlobal, 600, m},
		// A text costs the operator money (SMS pumping): tighter than mail.
		// The text limits (texts.go) bound each number, range and calling
		// code besides; account here is the number as typed.
		{RouteText, DimIP, 5, h}, {RouteText, DimPrefix, 20, h}, {RouteText, DimAccount, 3, 15 * m}, {RouteText, DimGlobal, 300, m},
		// account: the customer typing a device's user code (a provider
		// site's device page), wrong codes only.
		{RouteCode, DimIP, 30, 10 * m}, {RouteCode, DimPrefix, 100, 10 * m}, {RouteCode, DimAccount, 10, 10 * m},
		{RouteVerify, DimIP, 30, 10 * m}, {RouteVerify, DimPrefix, 100, 10 * m},
		{RouteReset, DimIP, 10, h}, {RouteReset, DimPrefix, 30, h}, {RouteReset, DimAccount, 3, 15 * m}, {RouteReset, DimGlobal, 600, m},
		{RouteStepUp, DimIP, 30, 10 * m}, {RouteStepUp, DimPrefix, 100, 10 * m}, {RouteStepUp, DimAccount, 10, 15 * m}, // account: wrong answers only
		{RoutePasskey, DimIP, 60, 10 * m}, {RoutePasskey, DimPrefix, 300, 10 * m},
		{RouteChallenge, DimIP, 60, m},
		// A provider sign-in is two requests (start, answer); the answer
		// reaches the provider only with a live attempt of this browser.
		{RouteOIDC, DimIP, 30, 10 * m}, {RouteOIDC, DimPrefix, 100, 10 * m}, {RouteOIDC, DimGlobal, 1200, m},
		// A site's OpenID Provider: a sign-in is two browser requests
		// (authorize, login) and one from the client's server (token),
		// which makes every customer's token requests from one address;
		// "account" is the client (its id), a budget of its own.
		{RouteOAuth, DimIP, 600, m}, {RouteOAuth, DimPrefix, 3000, m}, {RouteOAuth, DimAccount, 6000, m},
		// API calls: a budget per key (or grant) and per client, from
		// every address; an address is not limited by default (a
		// partner's servers call for many customers). Credentials this
		// node has not checked in the last seconds cost a store lookup:
		// limited per address and network, so made-up keys cannot flood
		// the store.
		{RouteAPI, DimKey, 1200, m}, {RouteAPI, DimClient, 20000, m},
		{RouteCredential, DimIP, 300, m}, {RouteCredential, DimPrefix, 1500, m},
	}
}

// Policy is a site's defence settings: its limits and when risk signals
// ask for a challenge. Policies change on a config reload; the counters
// they read live in the Defender and survive.
type Policy struct {
	Limits []Limit `json:"limits"`
	// PowBits is the challenge difficulty at the lowest risk (leading
	// zero bits of SHA-256); each further signal adds PowStep bits, up
	// to PowMaxBits.
	PowBits    int           `json:"pow_bits"`
	PowStep    int           `json:"pow_step"`
	PowMaxBits int           `json:"pow_max_bits"`
	PowTTL     time.Duration `json:"pow_ttl"`
	// DistinctAccounts: more accounts than this tried from one address in
	// DistinctWindow is a signal (four times as many from its prefix).
	DistinctAccounts int64         `json:"distinct_accounts"`
	DistinctWindow   time.Duration `json:"distinct_window"`
	// FailureRatio of sign-ins failing from an address or prefix, once it
	// made FailureMin attempts in FailureWindow, is a signal.
	FailureRatio  float64       `json:"failure_ratio"`
	FailureMin    int64         `json:"failure_min"`
	FailureWindow time.Duration `json:"failure_window"`
	// Surge: this many failed sign-ins site-wide in SurgeWindow means
	// credential stuffing is under way: everyone is challenged until
	// SurgeCooldown after it ebbs.
	Surge         int64         `json:"surge"`
	SurgeWindow   time.Duration `json:"surge_window"`
	SurgeCooldown time.Duration `json:"surge_cooldown"`
	// Registration velocity per prefix and per email domain in RegWindow.
	RegPrefix int64         `json:"reg_prefix"`
	RegDomain int64         `json:"reg_domain"`
	RegWindow time.Duration `json:"reg_window"`
	// Disposable email domains at sign-up: "challenge" (default), "refuse"
	// or "allow"; extra domains count as disposable, allowed ones never.
	Disposable      string   `json:"disposable"`
	DisposableExtra []string `json:"disposable_extra,omitempty"`
	DisposableAllow []string `json:"disposable_allow,omitempty"`
	// Automation fingerprints (tool user agents, missing browser
	// headers): "challenge" (default) or "ignore".
	Automation string `json:"automation"`
	// Backlog: a challengeable attempt marked Backlogged is challenged
	// (default true; false with every other defence off).
	Backlog bool `json:"backlog"`
}

// DefaultPolicy is the policy of a site that configures nothing.
func DefaultPolicy() Policy {
	return Policy{
		Limits: DefaultLimits(),
		// 18 bits, not the issuer's 20: under a surge every customer is
		// challenged, and at 20 bits the slowest 1 % wait over a second
		// (the flood benchmark, docs/BENCHMARKS.md); 18 still costs an
		// attacker ~0.1 s of CPU per guess.
		PowBits: SitePowBits, PowStep: 2, PowMaxBits: 24, PowTTL: 5 * time.Minute,
		DistinctAccounts: 5, DistinctWindow: 10 * time.Minute,
		FailureRatio: 0.8, FailureMin: 10, FailureWindow: 10 * time.Minute,
		Surge: 200, SurgeWindow: time.Minute, SurgeCooldown: 10 * time.Minute,
		RegPrefix: 20, RegDomain: 100, RegWindow: time.Hour,
		Disposable: "challenge", Automation: "challenge", Backlog: true,
	}
}

// Validate checks a policy.
func (p *Policy) Validate() error {
	for _, l := range p.Limits {
		if !slices.Contains(Routes, l.Route) {
			return fmt.Errorf("botdefense: unknown route %q (want one of %s)", l.Route, strings.Join(Routes, ", "))
		}
		switch l.Dimension {
		case DimIP, DimPrefix, DimAccount, DimRoute, DimGlobal, DimKey, DimClient:
		default:
			return fmt.Errorf("botdefense: unknown dimension %q (want ip, prefix, account, key, client, route or global)", l.Dimension)
		}
		if l.Count < 1 || l.Period < time.Second {
			return fmt.Errorf("botdefense: limit %s: want a count ≥1 per ≥1s", l)
		}
	}
	if p.PowBits < 1 || p.PowMaxBits > 32 || p.PowBits > p.PowMaxBits {
		return fmt.Errorf("botdefense: challenge difficulty %d..%d bits is out of range (1..32)", p.PowBits, p.PowMaxBits)
	}
	switch p.Disposable {
	case "challenge", "refuse", "allow":
	default:
		return fmt.Errorf("botdefense: disposable %q (want challenge, refuse or allow)", p.Disposable)
	}
	switch p.Automation {
	case "challenge", "ignore":
	default:
		return fmt.Errorf("botdefense: automation %q (want challenge or ignore)", p.Automation)
	}
	return nil
}

// Actions of a decision.
type Action int

// Actions, from mildest to strictest.
const (
	Allow     Action = iota
	Solved           // a challenge was needed, and the attempt carried its solution
	Challenge        // solve a proof-of-work challenge first
	Limited          // over a limit: 429 with Retry-After
	Refused          // refused for what it is (a disposable address under "refuse")
	Blocked          // on the block list
)

func (a Action) String() string {
	return [...]string{"allowed", "solved", "challenged", "limited", "refused", "blocked"}[a]
}

// Attempt is one request to a defended route.
type Attempt struct {
	Route string
	// Site scopes DimRoute counters (several sites may share a store).
	Site string
	IP   string
	// Account is the normalised account the attempt is about, "" if none.
	Account string
	// Domain is the email domain of a sign-up.
	Domain string
	// Key is the credential of an API call (an API key's id, a token's
	// grant), ClientID the OAuth client of a token ("" none).
	Key, ClientID string
	Fingerprint   Fingerprint
	// Pow is the challenge solution the attempt carried, if any.
	Pow string
	// Challengeable says the route can show a challenge (a form page).
	// Elsewhere an account over its limit is limited instead, and risk
	// signals are not read.
	Challengeable bool
	// Require asks for a solved challenge whatever the risk (a Caddyfile
	// `challenge` route).
	Require bool
	// Backlogged says the work behind the route (password hashing) is
	// queued beyond what a burst explains: like a route or global limit
	// over, capacity is short, so a challengeable attempt pays with a
	// challenge before it may join the queue.
	Backlogged bool

	client string // ClientKey(IP), worked out once per Check or Record
	prefix string // Prefix(IP), likewise
}

// keys works out the attempt's address keys.
func (a *Attempt) keys() {
	a.client, a.prefix = ClientKey(a.IP), Prefix(a.IP)
}

// Decision is what to do with an attempt, and why.
type Decision struct {
	Action Action
	// RetryAfter, when Limited or Blocked: how long until it may work.
	RetryAfter time.Duration
	// Bits and Challenge, when Challenge: the difficulty and a fresh
	// challenge bound to the client. Bits, when Solved: the difficulty
	// the solution was accepted at (what a pass records).
	Bits      int
	Challenge string
	// Reasons are the limits and signals behind the decision (no
	// secrets: limits by name, signals by kind).
	Reasons []string
	// Key is the offending key ("ip 192.0.2.1"), when there is one.
	Key string
}

// Defender decides on attempts. Its counters, block list and
// single-use record live in the given stores, in memory or in Redis,
// shared by every site and kept across config reloads.
type Defender struct {
	counter *Counter
	blocks  BlockList
	pow     *PowIssuer
	now     func() time.Time

	surgeUntil atomic.Int64 // unix nanos: challenge everyone new until then
	passKey    []byte

	offMu     sync.Mutex
	offenders map[string]int64
	offSince  time.Time

	meters meters // in-process API meters (meter.go)
}

// NewDefender returns a Defender over the stores. powKey signs challenges
// (≥32 bytes, the same on every node). now is the clock every window,
// block, challenge and pass is judged by (nil: wall time); the app hands
// the Defender the clock its sessions use, so tests move them together.
func NewDefender(counter *Counter, blocks BlockList, seen Seen, powKey []byte, now func() time.Time) *Defender {
	if now == nil {
		now = time.Now
	}
	d := &Defender{counter: counter, blocks: blocks, now: now, offenders: make(map[string]int64), passKey: powSubkey(powKey, "pass")}
	d.pow = NewPowIssuer(powKey, seen, now)
	return d
}

// Now is the Defender's clock.
func (d *Defender) Now() time.Time { return d.now() }

// Blocks returns the block list.
func (d *Defender) Blocks() BlockList { return d.blocks }

// CounterStats describes the counters when they are kept in this
// process; false when they are shared (Redis).
func (d *Defender) CounterStats() (CounterStats, bool) { return d.counter.Stats() }

// Pow returns the challenge issuer.
func (d *Defender) Pow() *PowIssuer { return d.pow }

// ErrNoClient means the attempt has no client address to count by.
var ErrNoClient = errors.New("botdefense: attempt without a client address")

// Check decides on an attempt before any expensive work is done for it.
// It counts the attempt against every limit of its route.
func (d *Defender) Check(ctx context.Context, p *Policy, a Attempt) (Decision, error) {
	if a.IP == "" {
		return Decision{}, ErrNoClient
	}
	now := d.Now()
	a.keys()
	cands := [][2]string{{BlockIP, a.client}, {BlockPrefix, a.prefix}}
	if ip := Unmapped(a.IP); ip != a.client {
		cands = append(cands, [2]string{BlockIP, ip}) // an IPv6 address blocked alone
	}
	if a.Account != "" {
		cands = append(cands, [2]string{BlockAccount, a.Account})
	}
	b, err := d.blocks.Match(ctx, now, cands...)
	if err != nil {
		return Decision{}, err
	}
	if b != nil {
		key := b.Kind + " " + b.Value
		if b.Kind == BlockAccount {
			key = AccountKey(b.Value)
		}
		d.offend(key)
		return Decision{Action: Blocked, RetryAfter: b.Until.Sub(now), Reasons: []string{"blocked " + b.Kind}, Key: key}, nil
	}

	var (
		dec   Decision
		risk  int
		extra int // bits for an account far over its limit
		// sitePressure: a route or global limit is over. It and a surge
		// of failures are one fact (the site is under attack), so they
		// add one unit of risk, not two.
		sitePressure bool
	)
	// First the limits of the client itself, its network before its
	// address: over one, the attempt is refused and counts against
	// nothing judged after it. A flood refused at its source does not use
	// up the limits shared with everyone (route, global) or the
	// account's, and a flood of new addresses from a network over its
	// limit creates no counter per address.
	for phase := range 3 {
		client := phase < 2
		for _, l := range p.Limits {
			if l.Route != a.Route || limitPhase(l.Dimension) != phase {
				continue
			}
			key := counterKey(l, &a)
			if key == "" || (l.Dimension == DimAccount && failureCounted(l.Route)) {
				continue // FailuresOver reads those
			}
			n, end, err := d.counter.Add(ctx, key, 1, l.Period, now)
			if err != nil {
				return Decision{}, err
			}
			if n <= l.Count {
				continue
			}
			dec.Reasons = append(dec.Reasons, "limit "+l.String())
			if !client && a.Challengeable {
				// Over an account's limit: slow guessing against one
				// customer without locking them out. Over the route's or
				// the global limit: capacity is short, so everyone pays
				// with a challenge rather than everyone being refused.
				// Harder the further over the limit; an attempt carrying
				// a solution is judged by the count before it, the count
				// its challenge was issued at.
				if l.Dimension == DimAccount || !sitePressure {
					risk++
				}
				sitePressure = sitePressure || l.Dimension != DimAccount
				over := n
				if a.Pow != "" {
					over--
				}
				extra = max(extra, bits.Len64(uint64(over/l.Count))-1)
				if dec.Key == "" || l.Dimension == DimAccount {
					dec.Key = offenderKey(l, &a)
				}
				continue
			}
			if wait := end.Sub(now); dec.Action != Limited || wait > dec.RetryAfter {
				dec.Action, dec.RetryAfter, dec.Key = Limited, wait, offenderKey(l, &a)
			}
		}
		if dec.Action == Limited {
			d.offend(dec.Key)
			return dec, nil
		}
	}

	if !a.Challengeable {
		return dec, nil
	}
	if a.Backlogged && p.Backlog {
		dec.Reasons = append(dec.Reasons, "backlog")
		if !sitePressure {
			risk++
		}
		sitePressure = true
	}
	signals, refuse, err := d.signals(ctx, p, &a, now)
	if err != nil {
		return Decision{}, err
	}
	if a.Require {
		signals = append(signals, "challenge_route")
	}
	dec.Reasons = append(dec.Reasons, signals...)
	if refuse {
		dec.Action = Refused
		return dec, nil
	}
	risk += len(signals)
	if sitePressure && slices.Contains(signals, "failure_surge") {
		risk--
	}
	if risk == 0 {
		return dec, nil
	}
	bitsNeeded := min(p.PowMaxBits, p.PowBits+p.PowStep*(risk-1)+extra)
	if a.Pow != "" {
		err := d.pow.Verify(ctx, a.Pow, a.IP, bitsNeeded)
		if err == nil {
			dec.Action, dec.Bits = Solved, bitsNeeded
			return dec, nil
		}
		if !isPowRefusal(err) {
			return Decision{}, err
		}
		dec.Reasons = append(dec.Reasons, "challenge "+powReason(err))
	}
	if dec.Key == "" {
		dec.Key = "ip " + a.client
	}
	d.offend(dec.Key)
	dec.Action, dec.Bits = Challenge, bitsNeeded
	dec.Challenge = d.pow.Issue(a.IP, bitsNeeded, p.PowTTL)
	return dec, nil
}

// limitPhase orders the dimensions Check judges: network, address, the
// rest.
func limitPhase(dim string) int {
	switch dim {
	case DimPrefix:
		return 0
	case DimIP:
		return 1
	}
	return 2
}

func isPowRefusal(err error) bool {
	for _, e := range []error{ErrPowMalformed, ErrPowForged, ErrPowExpired, ErrPowWrongClient, ErrPowTooEasy, ErrPowNotSolved, ErrPowReplayed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func powReason(err error) string {
	return strings.TrimPrefix(err.Error(), "botdefense: ")
}

// Surge reports whether the Defender is challenging everyone new.
func (d *Defender) Surge() bool { return d.Now().UnixNano() < d.surgeUntil.Load() }

// ParseRate reads "20/5m" (count per period; the period may be a bare
// unit: "10/m", "5/h").
func ParseRate(s string) (int64, time.Duration, error) {
	cs, ps, ok := strings.Cut(s, "/")
	n, err := strconv.ParseInt(cs, 10, 64)
	if !ok || err != nil || n < 1 {
		return 0, 0, fmt.Errorf("rate %q: want count/period such as 20/5m", s)
	}
	if ps == "s" || ps == "m" || ps == "h" || ps == "d" {
		ps = "1" + ps
	}
	if strings.HasSuffix(ps, "d") {
		days, err := strconv.Atoi(strings.TrimSuffix(ps, "d"))
		if err != nil {
			return 0, 0, fmt.Errorf("rate %q: bad period", s)
		}
		return n, time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(ps)
	if err != nil || d < time.Second {
		return 0, 0, fmt.Errorf("rate %q: want a period of at least 1s such as 5m", s)
	}
	return n, d, nil
}
