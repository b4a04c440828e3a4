package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
)

// Admin API of the edge defences, on Caddy's admin endpoint:
//
//	GET    /frontdoor/defense                     the limits in force per site, surge state, memory counters (keys, capacity, evicted)
//	GET    /frontdoor/defense/offenders[?n=20]    keys refused or challenged most this hour (this node)
//	GET    /frontdoor/defense/offenders?account=… that account's key (a hash of the email) and count
//	GET    /frontdoor/defense/blocks              blocks in force
//	POST   /frontdoor/defense/blocks              {"kind":"ip|prefix|account","value":…,"duration":"1h","reason":…}
//	DELETE /frontdoor/defense/blocks?kind=…&value=…
//
// Limits themselves change through a config reload (/load, `frontdoor
// reload`): counters live in the store and survive it.

// livePolicies maps each site origin to the policy of its newest handler.
var livePolicies sync.Map // origin → *botdefense.Policy

func defenseRoutes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/frontdoor/defense", Handler: caddy.AdminHandlerFunc(serveDefense)},
		{Pattern: "/frontdoor/defense/offenders", Handler: caddy.AdminHandlerFunc(serveOffenders)},
		{Pattern: "/frontdoor/defense/blocks", Handler: caddy.AdminHandlerFunc(serveBlocks)},
	}
}

// defenders returns the live backends' defenders.
func defenders() []*backend {
	var out []*backend
	backends.Range(func(_, v any) bool {
		if b, ok := v.(*backend); ok {
			out = append(out, b)
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].kind < out[j].kind })
	return out
}

func writeAdminJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func methodNotAllowed(allowed string) error {
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method not allowed (%s)", allowed)}
}

type sitePolicy struct {
	Origin string   `json:"origin"`
	Limits []string `json:"limits"`
	botdefense.Policy
}

func serveDefense(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed("GET")
	}
	var sites []sitePolicy
	livePolicies.Range(func(k, v any) bool {
		p := v.(*botdefense.Policy)
		sp := sitePolicy{Origin: k.(string), Policy: *p}
		for _, l := range p.Limits {
			sp.Limits = append(sp.Limits, l.String())
		}
		sp.Policy.Limits = nil
		sites = append(sites, sp)
		return true
	})
	sort.Slice(sites, func(i, j int) bool { return sites[i].Origin < sites[j].Origin })
	surge := false
	counters := map[string]botdefense.CounterStats{}
	for _, b := range defenders() {
		surge = surge || b.defense.Surge()
		if st, ok := b.defense.CounterStats(); ok {
			counters[b.kind] = st
		}
	}
	return writeAdminJSON(w, map[string]any{"sites": sites, "surge": surge, "counters": counters})
}

func serveOffenders(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed("GET")
	}
	n := 20
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 1000 {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("n must be 1..1000")}
		}
		n = v
	}
	out := map[string][]botdefense.Offender{}
	if acct := r.URL.Query().Get("account"); acct != "" {
		// Offenders name accounts by a hash; an SRE knows the email.
		e, err := identity.NormalizeEmail(acct)
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("account %q: not an email address", acct)}
		}
		key := botdefense.AccountKey(e)
		for _, b := range defenders() {
			out[b.kind] = []botdefense.Offender{{Key: key, Count: b.defense.OffenderCount(key)}}
		}
		return writeAdminJSON(w, map[string]any{"offenders": out})
	}
	for _, b := range defenders() {
		out[b.kind] = b.defense.Offenders(n)
	}
	return writeAdminJSON(w, map[string]any{"offenders": out})
}

type blockRequest struct {
	Kind     string `json:"kind"`
	Value    string `json:"value"`
	Duration string `json:"duration"`
	Reason   string `json:"reason"`
}

// normalizeBlock checks and canonicalises what a block names.
func normalizeBlock(kind, value string) (string, error) {
	switch kind {
	case botdefense.BlockIP:
		// An IPv6 /64 is what `ip` limits count by (and offenders show).
		if p, err := netip.ParsePrefix(value); err == nil && p.Addr().Is6() && !p.Addr().Is4In6() && p.Bits() == 64 {
			return p.Masked().String(), nil
		}
		a, err := netip.ParseAddr(value)
		if err != nil {
			return "", fmt.Errorf("ip %q: not an address (nor an IPv6 /64)", value)
		}
		return a.Unmap().String(), nil
	case botdefense.BlockPrefix:
		p, err := netip.ParsePrefix(value)
		if err != nil {
			return "", fmt.Errorf("prefix %q: want a network such as 192.0.2.0/24 or 2001:db8::/56", value)
		}
		want := 24
		if p.Addr().Is6() {
			want = 56
		}
		if p.Bits() != want {
			return "", fmt.Errorf("prefix %q: blocks name a /%d (the prefix limits count by)", value, want)
		}
		return p.Masked().String(), nil
	case botdefense.BlockAccount:
		e, err := identity.NormalizeEmail(value)
		if err != nil {
			return "", fmt.Errorf("account %q: not an email address", value)
		}
		return e, nil
	}
	return "", fmt.Errorf("kind %q: want ip, prefix or account", kind)
}

func serveBlocks(w http.ResponseWriter, r *http.Request) error {
	bs := defenders()
	if len(bs) == 0 {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: errors.New("frontdoor is not running")}
	}
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet:
		out := map[string][]botdefense.Block{}
		for _, b := range bs {
			list, err := b.defense.Blocks().List(ctx, b.clock.Now())
			if err != nil {
				return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
			}
			out[b.kind] = list
		}
		return writeAdminJSON(w, map[string]any{"blocks": out})
	case http.MethodPost:
		var req blockRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("body: %w", err)}
		}
		value, err := normalizeBlock(req.Kind, strings.TrimSpace(req.Value))
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
		}
		d, err := caddy.ParseDuration(req.Duration)
		if err != nil || d <= 0 || d > 366*24*time.Hour {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("duration %q: want e.g. 30m, 12h (at most a year)", req.Duration)}
		}
		// The block runs d from each backend's clock (the one its
		// defences judge blocks by); the answer shows the first's.
		var shown botdefense.Block
		for i, b := range bs {
			now := b.clock.Now()
			blk := botdefense.Block{Kind: req.Kind, Value: value, Until: now.Add(d).UTC(), Reason: truncate(req.Reason, 200)}
			if i == 0 {
				shown = blk
			}
			if err := b.defense.Blocks().Put(ctx, now, blk); err != nil {
				return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
			}
		}
		return writeAdminJSON(w, shown)
	case http.MethodDelete:
		q := r.URL.Query()
		value, err := normalizeBlock(q.Get("kind"), strings.TrimSpace(q.Get("value")))
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
		}
		for _, b := range bs {
			if err := b.defense.Blocks().Remove(ctx, q.Get("kind"), value); err != nil {
				return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
			}
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return methodNotAllowed("GET, POST, DELETE")
}
