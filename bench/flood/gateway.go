//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
)

// gateway is one frontdoor process serving https://flood.test:<port> on
// loopback, with what its admin API says of the defences.
type gateway struct {
	*benchkit.Gateway
}

// startGateway writes the Caddyfile and starts the gateway; it returns once
// the site answers over TLS. The site has the default limits (nothing under
// `frontdoor` but the public path) unless -limits asks for a what-if. No
// trusted_proxies: the client address the defences count by is the
// connection's peer, which the flood sets per attacker.
func startGateway(ctx context.Context, bin, dir, limits string, timeout time.Duration) (*gateway, error) {
	g, err := benchkit.StartGateway(ctx, benchkit.GatewayOptions{
		Bin: bin, Dir: dir, Host: "flood.test", ReadyPath: "/pub/ready", Timeout: timeout,
		Caddyfile: benchkit.SiteCaddyfile("", limitsBlock(limits)),
	})
	if err != nil {
		return nil, err
	}
	return &gateway{g}, nil
}

// limitsBlock is the site's `limits` block for -limits (lines separated by
// ';'), or "".
func limitsBlock(limits string) string {
	if limits == "" {
		return ""
	}
	block := "\n\t\tlimits {"
	for l := range strings.SplitSeq(limits, ";") {
		if l = strings.TrimSpace(l); l != "" {
			block += "\n\t\t\t" + l
		}
	}
	return block + "\n\t\t}"
}

var decisionRE = regexp.MustCompile(`^frontdoor_defense_decisions_total\{([^}]*)\} ([0-9.e+]+)$`)

// loginDecisions returns frontdoor_defense_decisions_total of the login
// route, by decision.
func (g *gateway) loginDecisions(ctx context.Context) (map[string]int64, error) {
	body, err := g.AdminGet(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for line := range strings.Lines(body) {
		m := decisionRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for kv := range strings.SplitSeq(m[1], ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = strings.Trim(v, `"`)
		}
		if labels["route"] != "login" {
			continue
		}
		f, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, err
		}
		out[labels["decision"]] = int64(f)
	}
	if len(out) == 0 {
		return nil, errors.New("no frontdoor_defense_decisions_total{route=\"login\"} on the admin /metrics")
	}
	return out, nil
}

// policyView is what the admin API says of the defences in force.
type policyView struct {
	Sites []struct {
		Origin           string        `json:"origin"`
		Limits           []string      `json:"limits"`
		PowBits          int           `json:"pow_bits"`
		PowStep          int           `json:"pow_step"`
		PowMaxBits       int           `json:"pow_max_bits"`
		Surge            int64         `json:"surge"`
		SurgeWindow      time.Duration `json:"surge_window"`
		SurgeCooldown    time.Duration `json:"surge_cooldown"`
		DistinctAccounts int64         `json:"distinct_accounts"`
	} `json:"sites"`
	Surge bool `json:"surge"`
}

func (g *gateway) policy(ctx context.Context) (policyView, error) {
	var v policyView
	body, err := g.AdminGet(ctx, "/frontdoor/defense")
	if err != nil {
		return v, err
	}
	err = json.Unmarshal([]byte(body), &v)
	return v, err
}

// describe sums up the login defences of the policy.
func (v policyView) describe() string {
	if len(v.Sites) == 0 {
		return "unknown"
	}
	s := v.Sites[0]
	var login []string
	for _, l := range s.Limits {
		if rest, ok := strings.CutPrefix(l, "login "); ok {
			login = append(login, rest)
		}
	}
	return fmt.Sprintf("login limits %s; challenges %d bits (+%d per further signal, at most %d); surge at %d failed sign-ins per %s, for %s after; many accounts: more than %d per address (%d per /24) in 10m",
		strings.Join(login, ", "), s.PowBits, s.PowStep, s.PowMaxBits, s.Surge, s.SurgeWindow, s.SurgeCooldown, s.DistinctAccounts, 4*s.DistinctAccounts)
}

// offenders returns the keys the defences refused or challenged most.
func (g *gateway) offenders(ctx context.Context, n int) ([]offender, error) {
	body, err := g.AdminGet(ctx, fmt.Sprintf("/frontdoor/defense/offenders?n=%d", n))
	if err != nil {
		return nil, err
	}
	var v struct {
		Offenders map[string][]offender `json:"offenders"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return nil, err
	}
	var out []offender
	for _, o := range v.Offenders {
		out = append(out, o...)
	}
	return out, nil
}

type offender struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// surging asks the admin API whether the defences are in surge mode.
func (g *gateway) surging(ctx context.Context) (bool, error) {
	v, err := g.policy(ctx)
	return v.Surge, err
}
