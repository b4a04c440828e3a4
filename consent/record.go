package consent

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// How says through what a record was made.
type How string

// The ways a record is made.
const (
	HowSignup  How = "signup"  // the sign-up form
	HowAccount How = "account" // the account page's give/withdraw buttons
	HowPrompt  How = "prompt"  // the interstitial asking for a missing purpose
	HowAdmin   How = "admin"   // an operator, through the admin API
	HowGPC     How = "gpc"     // a Global Privacy Control signal (withdrawals only)
)

func (h How) valid() bool {
	switch h {
	case HowSignup, HowAccount, HowPrompt, HowAdmin, HowGPC:
		return true
	}
	return false
}

// Record is one answer of one customer about one purpose. Records are
// append-only: the current state is derived from them (StateOf).
type Record struct {
	CustomerID string `json:"customer_id"`
	Purpose    string `json:"purpose"`
	// Version is the purpose's version the answer was given to.
	Version int `json:"version"`
	// Granted is true for an agreement, false for a withdrawal or refusal.
	Granted bool      `json:"granted"`
	At      time.Time `json:"at"`
	// Where: the site's host, the client's network prefix (NetworkPrefix:
	// never the full address) and the browser family (UserAgentFamily:
	// never the full user-agent string).
	Site      string `json:"site,omitempty"`
	Network   string `json:"network,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	How       How    `json:"how"`
}

// Validate checks a record before it is stored.
func (r Record) Validate() error {
	switch {
	case !rediskey.ValidID(r.CustomerID):
		return fmt.Errorf("consent: record: invalid customer id")
	case !ValidID(r.Purpose):
		return fmt.Errorf("consent: record: invalid purpose %q", r.Purpose)
	case r.Version < 1:
		return fmt.Errorf("consent: record %s: version %d", r.Purpose, r.Version)
	case r.At.IsZero():
		return fmt.Errorf("consent: record %s: no time", r.Purpose)
	case !r.How.valid():
		return fmt.Errorf("consent: record %s: unknown how %q", r.Purpose, r.How)
	case r.How == HowGPC && r.Granted:
		return fmt.Errorf("consent: record %s: a privacy signal only withdraws", r.Purpose)
	}
	return nil
}

// NetworkPrefix is the part of a client address kept in a record: the /24
// of an IPv4 address, the /48 of an IPv6 one; "" for an invalid address.
func NetworkPrefix(addr netip.Addr) string {
	if !addr.IsValid() {
		return ""
	}
	addr = addr.Unmap()
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// UserAgentFamily is the browser family kept in a record, from a
// User-Agent header: a small fixed set of names, or "other".
func UserAgentFamily(ua string) string {
	// Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
	for _, f := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client/", "Go"},
	} {
		if strings.Contains(ua, f.token) {
			return f.name
		}
	}
	if ua == "" {
		return ""
	}
	return "other"
}
