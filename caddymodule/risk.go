package caddymodule

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/risk"
)

// RiskConfig is a site's adaptive-risk policy (risk { … } in its
// frontdoor block): what each signal at sign-in leads to, and the
// signals' settings. Places come from the global geoip databases; without
// them the signals that need a place are skipped.
type RiskConfig struct {
	// Actions maps a signal (new_device, new_country, new_network,
	// impossible_travel, anonymous_network, breached_password,
	// recent_failures, session_moved) to its actions (allow, notify,
	// stepup, deny; reset for breached_password). Signals left out keep
	// the defaults (risk.DefaultPolicy).
	Actions map[string][]string `json:"actions,omitempty"`
	// Mode is enforce (the default) or audit: decide, log and tell, but
	// do nothing.
	Mode string `json:"mode,omitempty"`
	// MaxSpeed is the fastest believable travel between sign-ins, km/h
	// (default 1,000); MinDistance the shortest move judged, km (100).
	MaxSpeed    float64 `json:"max_speed,omitempty"`
	MinDistance float64 `json:"min_distance,omitempty"`
	// Anonymous are the operator's lists of anonymising or hosting
	// networks by name: ranges, addresses, AS numbers (AS64500), or files
	// (a path starting with / or ./) holding one of those per line.
	Anonymous map[string][]string `json:"anonymous_networks,omitempty"`

	policy risk.Policy
	cfg    risk.Config
}

// parseRisk reads a site's risk block:
//
//	risk {
//		new_device notify
//		impossible_travel stepup notify
//		breached_password reset
//		mode enforce|audit
//		max_speed 1000
//		min_distance 100
//		anonymous_networks <name> <range|address|AS<n>|file>…
//	}
func parseRisk(h httpcaddyfile.Helper) (*RiskConfig, error) {
	if h.NextArg() {
		return nil, h.Errf("frontdoor: risk takes a block, not arguments")
	}
	rc := &RiskConfig{Actions: map[string][]string{}}
	var check risk.Policy
	for h.NextBlock(1) {
		switch opt := h.Val(); opt {
		case "mode":
			if !h.AllArgs(&rc.Mode) || (rc.Mode != string(risk.Enforce) && rc.Mode != string(risk.Audit)) {
				return nil, h.Errf("frontdoor: risk: mode is enforce or audit")
			}
		case "max_speed", "min_distance":
			var v string
			if !h.AllArgs(&v) {
				return nil, h.Errf("frontdoor: risk: %s needs one number (%s)", opt, map[string]string{"max_speed": "km/h", "min_distance": "km"}[opt])
			}
			n, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSuffix(v, "km/h"), "km"), 64)
			if err != nil || n <= 0 || n > 100000 {
				return nil, h.Errf("frontdoor: risk: %s %q: a positive number", opt, v)
			}
			if opt == "max_speed" {
				rc.MaxSpeed = n
			} else {
				rc.MinDistance = n
			}
		case "anonymous_networks":
			args := h.RemainingArgs()
			if len(args) < 2 {
				return nil, h.Errf("frontdoor: risk: anonymous_networks <name> <range|address|AS<n>|file>…")
			}
			if rc.Anonymous == nil {
				rc.Anonymous = map[string][]string{}
			}
			if _, err := loadNetworks(args[0], args[1:]); err != nil {
				return nil, h.Errf("frontdoor: risk: %v", err)
			}
			rc.Anonymous[args[0]] = append(rc.Anonymous[args[0]], args[1:]...)
		default:
			acts := h.RemainingArgs()
			if err := check.Set(opt, acts...); err != nil {
				return nil, h.Errf("frontdoor: risk: %v", err)
			}
			if _, dup := rc.Actions[opt]; dup {
				return nil, h.Errf("frontdoor: risk: %s is set twice", opt)
			}
			rc.Actions[opt] = acts
		}
	}
	return rc, nil
}

// provision builds the policy and the signals' settings (a JSON config
// bypasses parseRisk, so everything is checked again).
func (rc *RiskConfig) provision() error {
	rc.policy = risk.DefaultPolicy()
	for sig, acts := range rc.Actions {
		if err := rc.policy.Set(sig, acts...); err != nil {
			return fmt.Errorf("frontdoor: risk: %w", err)
		}
	}
	switch rc.Mode {
	case "", string(risk.Enforce):
		rc.policy.Mode = risk.Enforce
	case string(risk.Audit):
		rc.policy.Mode = risk.Audit
	default:
		return fmt.Errorf("frontdoor: risk: mode %q: enforce or audit", rc.Mode)
	}
	rc.cfg = risk.Config{MaxSpeedKmh: rc.MaxSpeed, MinDistanceKm: rc.MinDistance}
	for _, name := range slices.Sorted(maps.Keys(rc.Anonymous)) {
		n, err := loadNetworks(name, rc.Anonymous[name])
		if err != nil {
			return fmt.Errorf("frontdoor: risk: %w", err)
		}
		if rc.cfg.Anonymous == nil {
			rc.cfg.Anonymous = n
		} else if err := rc.cfg.Anonymous.Add(name, n.Entries()...); err != nil {
			return fmt.Errorf("frontdoor: risk: %w", err)
		}
	}
	return nil
}

// loadNetworks reads one named list: entries, or files of entries.
func loadNetworks(name string, args []string) (*risk.Networks, error) {
	n := new(risk.Networks)
	repl := caddy.NewReplacer()
	for _, a := range args {
		a = repl.ReplaceKnown(a, "")
		if !strings.HasPrefix(a, "/") && !strings.HasPrefix(a, "./") {
			if err := n.Add(name, a); err != nil {
				return nil, err
			}
			continue
		}
		f, err := os.Open(a)
		if err != nil {
			return nil, fmt.Errorf("anonymous_networks %s: %w", name, err)
		}
		sc := bufio.NewScanner(f)
		line := 0
		for sc.Scan() {
			line++
			e := strings.TrimSpace(sc.Text())
			if i := strings.IndexByte(e, '#'); i >= 0 {
				e = strings.TrimSpace(e[:i])
			}
			if e == "" {
				continue
			}
			if err := n.Add(name, e); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s:%d: %w", a, line, err)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("anonymous_networks %s: %s: %w", name, a, err)
		}
	}
	return n, nil
}

// riskSettings are the site's journeys' risk judgement (nil: no policy).
func (h *Handler) riskSettings() *authflow.RiskSettings {
	if h.Risk == nil {
		return nil
	}
	b := h.app.backend
	rs := &authflow.RiskSettings{Policy: h.Risk.policy, Config: h.Risk.cfg,
		Decided: func(d risk.Decision) { b.riskDecisions.note(h.origin, d, b.clock.Now()) }, Failures: b.defense}
	if h.app.locator != nil {
		rs.Locate = h.locate
	}
	return rs
}

// locate is a client address's place (zero: unknown, or no databases).
func (h *Handler) locate(ip string) risk.Place {
	addr, err := netip.ParseAddr(ip)
	if err != nil || h.app.locator == nil {
		return risk.Place{}
	}
	p, err := h.app.locator.Lookup(addr)
	if err != nil {
		h.logger.Debug("geoip lookup failed")
		return risk.Place{}
	}
	return p
}

// deviceIDCookie tells a browser apart for the risk signals: a random
// value set at its first sign-in and kept a year; the customer's history
// holds only a keyed hash of it.
const deviceIDCookie = "__Host-frontdoor-did"

// deviceID returns the browser's device id for the risk judgement (a
// keyed hash of its cookie), setting a new cookie when it has none; ""
// when the site judges no risk.
func (h *Handler) deviceID(w http.ResponseWriter, r *http.Request) string {
	if h.Risk == nil {
		return ""
	}
	v := ""
	if ck, err := r.Cookie(deviceIDCookie); err == nil && len(ck.Value) == 22 {
		if _, err := base64.RawURLEncoding.DecodeString(ck.Value); err == nil {
			v = ck.Value
		}
	}
	if v == "" {
		var b [16]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		v = base64.RawURLEncoding.EncodeToString(b[:])
		setCookie(w, deviceIDCookie, v, 365*24*3600)
	}
	m := hmac.New(sha256.New, h.app.csrfKey)
	m.Write([]byte("frontdoor device id\x00" + v))
	return hex.EncodeToString(m.Sum(nil)[:12])
}
