package risk

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/consent"
)

// Signal names one thing unusual about a sign-in or a request. The names
// are the policy's option names (risk { new_device notify … }), the
// assertion's risk claim and the metrics' label values: a fixed set.
type Signal string

const (
	NewDevice        Signal = "new_device"
	NewCountry       Signal = "new_country"
	NewNetwork       Signal = "new_network"
	ImpossibleTravel Signal = "impossible_travel"
	AnonymousNetwork Signal = "anonymous_network"
	BreachedPassword Signal = "breached_password"
	RecentFailures   Signal = "recent_failures"
	// SessionMoved: a session's requests come from another country than
	// where it signed in (continuous evaluation: a stolen cookie).
	SessionMoved Signal = "session_moved"
	// SessionNetwork: a session's requests come from another network
	// (AS) in the same country — a phone leaving Wi-Fi does that too, so
	// by default it is only told.
	SessionNetwork Signal = "session_network"
)

// Signals is every signal, in the order decisions list them.
var Signals = []Signal{NewDevice, NewCountry, NewNetwork, ImpossibleTravel, AnonymousNetwork, BreachedPassword, RecentFailures, SessionMoved, SessionNetwork}

// Moved judges a session's request from place to against the place it
// signed in from: another country is session_moved, another network in
// the same country session_network. Places a database did not map are
// skipped (no finding), never guessed.
func Moved(from, to Place) []Finding {
	switch {
	case from.Country != "" && to.Country != "" && from.Country != to.Country:
		return []Finding{{Signal: SessionMoved, Detail: from.Country + " to " + to.Country}}
	case from.ASN != 0 && to.ASN != 0 && from.ASN != to.ASN && (from.Country == "" || to.Country == "" || from.Country == to.Country):
		return []Finding{{Signal: SessionNetwork, Detail: "AS" + strconv.FormatUint(uint64(from.ASN), 10) + " to AS" + strconv.FormatUint(uint64(to.ASN), 10)}}
	}
	return nil
}

// Sighting is one earlier sign-in of a customer: when, from where, on
// what device. A customer's recent sightings (History) live in the store.
type Sighting struct {
	At time.Time `json:"at"`
	// Place is where the address was (zero when no database mapped it).
	Place Place `json:"place,omitzero"`
	// Device is the device cookie's id (a keyed hash, never the cookie);
	// Browser the browser and OS family ("Firefox on Windows").
	Device  string `json:"device,omitempty"`
	Browser string `json:"browser,omitempty"`
}

// History is a customer's recent sightings, newest last: at most
// HistoryLen, none older than HistoryAge.
type History []Sighting

// What a history keeps.
const (
	HistoryLen = 10
	HistoryAge = 90 * 24 * time.Hour
)

// Add returns the history with s added, trimmed to HistoryLen sightings
// none older than HistoryAge (the receiver is not changed).
func (h History) Add(s Sighting) History {
	out := make(History, 0, HistoryLen)
	for _, o := range h {
		if s.At.Sub(o.At) < HistoryAge {
			out = append(out, o)
		}
	}
	out = append(out, s)
	if len(out) > HistoryLen {
		out = slices.Clone(out[len(out)-HistoryLen:])
	}
	return out
}

// Attempt is the sign-in being judged.
type Attempt struct {
	Sighting
	// Breached: the password used is in the breached list.
	Breached bool
	// Failures is the count of recent failed sign-ins against the
	// account (the defence's account counter).
	Failures int
	// Addr is the client's address (for the anonymous-network lists).
	Addr netip.Addr
}

// Config tunes the signals.
type Config struct {
	// MaxSpeedKmh: faster moves between sign-ins are impossible travel
	// (default 1,000 km/h).
	MaxSpeedKmh float64
	// MinDistanceKm: shorter moves are never impossible travel (default
	// 100 km: a city's own spread, a database's error).
	MinDistanceKm float64
	// FailuresAt: this many recent failures is a signal (default 5).
	FailuresAt int
	// Anonymous lists anonymising or hosting networks (Tor exits, data
	// centres).
	Anonymous *Networks
}

func (c Config) withDefaults() Config {
	if c.MaxSpeedKmh <= 0 {
		c.MaxSpeedKmh = 1000
	}
	if c.MinDistanceKm <= 0 {
		c.MinDistanceKm = 100
	}
	if c.FailuresAt <= 0 {
		c.FailuresAt = 5
	}
	return c
}

// Finding is a signal that fired, with the words that explain it (logged,
// shown on the customer's activity; no secret, no full address).
type Finding struct {
	Signal Signal `json:"signal"`
	Detail string `json:"detail,omitempty"`
}

// Evaluate returns what is unusual about attempt a for a customer with
// history h. Signals whose data is missing are skipped, never guessed: no
// place (no database, an unmapped address) means no country, network or
// travel signal; no device cookie and no browser family means no device
// signal; a first sign-in (empty history) is new to nothing.
func Evaluate(h History, a Attempt, cfg Config) []Finding {
	cfg = cfg.withDefaults()
	var out []Finding
	if len(h) > 0 {
		if f, ok := newDevice(h, a); ok {
			out = append(out, f)
		}
		if a.Place.Known() && !slices.ContainsFunc(h, func(s Sighting) bool { return s.Place.Country == a.Place.Country }) &&
			slices.ContainsFunc(h, func(s Sighting) bool { return s.Place.Known() }) {
			out = append(out, Finding{NewCountry, "first sign-in from " + a.Place.Country})
		}
		if a.Place.ASN != 0 && !slices.ContainsFunc(h, func(s Sighting) bool { return s.Place.ASN == a.Place.ASN }) &&
			slices.ContainsFunc(h, func(s Sighting) bool { return s.Place.ASN != 0 }) {
			out = append(out, Finding{NewNetwork, "first sign-in from network AS" + strconv.FormatUint(uint64(a.Place.ASN), 10)})
		}
		if f, ok := travel(h, a, cfg); ok {
			out = append(out, f)
		}
	}
	if cfg.Anonymous != nil {
		if name, ok := cfg.Anonymous.Match(a.Addr, a.Place.ASN); ok {
			out = append(out, Finding{AnonymousNetwork, name})
		}
	}
	if a.Breached {
		out = append(out, Finding{BreachedPassword, "the password is in the breached list"})
	}
	if a.Failures >= cfg.FailuresAt {
		out = append(out, Finding{RecentFailures, strconv.Itoa(a.Failures) + " failed sign-ins lately"})
	}
	return out
}

// newDevice: neither the device cookie nor (without one) the browser
// family has been seen with this customer.
func newDevice(h History, a Attempt) (Finding, bool) {
	switch {
	case a.Device != "":
		if slices.ContainsFunc(h, func(s Sighting) bool { return s.Device == a.Device }) {
			return Finding{}, false
		}
	case a.Browser != "":
		if slices.ContainsFunc(h, func(s Sighting) bool { return s.Browser == a.Browser }) {
			return Finding{}, false
		}
	default:
		return Finding{}, false
	}
	what := a.Browser
	if what == "" {
		what = "a browser"
	}
	return Finding{NewDevice, what + " not seen before"}, true
}

// travel compares the attempt with the newest earlier sighting that has a
// place: a move of at least MinDistanceKm faster than MaxSpeedKmh.
func travel(h History, a Attempt, cfg Config) (Finding, bool) {
	if !a.Place.HasCoordinates() {
		return Finding{}, false
	}
	for i := len(h) - 1; i >= 0; i-- {
		last := h[i]
		if !last.Place.HasCoordinates() {
			continue
		}
		km := DistanceKm(last.Place, a.Place)
		if km < cfg.MinDistanceKm {
			return Finding{}, false
		}
		hours := a.At.Sub(last.At).Hours()
		if hours <= 0 || km/hours > cfg.MaxSpeedKmh {
			return Finding{ImpossibleTravel, fmt.Sprintf("%s to %s, %.0f km in %s", where(last.Place), where(a.Place), km,
				a.At.Sub(last.At).Round(time.Minute))}, true
		}
		return Finding{}, false
	}
	return Finding{}, false
}

// where names a place in a few words ("Berlin, DE", "AU").
func where(p Place) string {
	if p.City != "" {
		return p.City + ", " + p.Country
	}
	return p.Country
}

// Networks is an operator's list of networks (address ranges and AS
// numbers), each with the name of the list it came from ("tor",
// "hosting").
type Networks struct {
	prefixes []namedPrefix
	asns     map[uint32]string
}

type namedPrefix struct {
	p    netip.Prefix
	name string
}

// Add adds entries — CIDR ranges, single addresses, or AS numbers written
// AS64500 — under name.
func (n *Networks) Add(name string, entries ...string) error {
	for _, e := range entries {
		if num, ok := strings.CutPrefix(strings.ToUpper(e), "AS"); ok {
			v, err := strconv.ParseUint(num, 10, 32)
			if err != nil {
				return fmt.Errorf("risk: %s: %q is not an AS number", name, e)
			}
			if n.asns == nil {
				n.asns = map[uint32]string{}
			}
			n.asns[uint32(v)] = name
			continue
		}
		p, err := netip.ParsePrefix(e)
		if err != nil {
			a, aerr := netip.ParseAddr(e)
			if aerr != nil {
				return fmt.Errorf("risk: %s: %q is neither a range, an address nor AS<number>", name, e)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		n.prefixes = append(n.prefixes, namedPrefix{p.Masked(), name})
	}
	return nil
}

// Entries returns the list's entries in Add's spellings (to merge lists).
func (n *Networks) Entries() []string {
	var out []string
	for _, p := range n.prefixes {
		out = append(out, p.p.String())
	}
	for asn := range n.asns {
		out = append(out, "AS"+strconv.FormatUint(uint64(asn), 10))
	}
	return out
}

// Match reports the list that holds addr or asn.
func (n *Networks) Match(addr netip.Addr, asn uint32) (string, bool) {
	if n == nil {
		return "", false
	}
	if addr.IsValid() {
		addr = addr.Unmap()
		for _, p := range n.prefixes {
			if p.p.Contains(addr) {
				return p.name, true
			}
		}
	}
	if asn != 0 {
		if name, ok := n.asns[asn]; ok {
			return name, true
		}
	}
	return "", false
}

// DeviceFamily is a user agent's browser and system, "Firefox/Windows"
// (either part "other" when unknown; "" for no user agent): what a
// customer's history keeps of a device beside its cookie.
func DeviceFamily(ua string) string {
	if ua == "" {
		return ""
	}
	// The browser family consent records keep too.
	browser, system := consent.UserAgentFamily(ua), "other"
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	return browser + "/" + system
}
