package caddymodule

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// The edge defences of API callers (botdefense routes api and credential):
//   - credential: a key or token this node has not checked lately costs
//     a store lookup, so it counts per address and network before the
//     lookup — a flood of made-up keys is refused at its source;
//   - api: every call of a known-good key or token counts against its
//     key (an API key, or one app's grant for one customer) and, for a
//     token, its client.
// Over a limit: 429 with Retry-After and an RFC 6750-style JSON body; a
// blocked address or network: 403. Offenders show in the admin API's
// offenders as "key <id>", "client <id>", "ip …".

// apiDefend asks the defences about an API call and answers it when it
// goes no further. It is on the API hot path: no form, no challenge.
func (h *Handler) apiDefend(w http.ResponseWriter, r *http.Request, route string) bool {
	b := h.app.backend
	a := botdefense.Attempt{Route: route, Site: h.origin, IP: clientAddr(r)}
	ctx := r.Context()
	if b.kind == "redis" { // counters across the network: bounded like the store's work
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(h.app.StoreTimeout))
		defer cancel()
	}
	d, err := b.defense.Check(ctx, h.policy, a)
	b.noteStore(err)
	if err != nil {
		h.logger.Error("edge defence check failed", zap.String("route", route), zap.Error(err))
		_ = h.unavailable(w, r)
		return false
	}
	b.decisions.note(route, d.Action)
	if d.Action == botdefense.Allow || d.Action == botdefense.Solved {
		return true
	}
	b.decisionLog.note(b.logger.Get(), b.clock.Now(), route, d, a.IP)
	if d.Action == botdefense.Blocked {
		_ = h.tooMany(w, r, http.StatusForbidden, d.RetryAfter, "not_available", "limit.blocked.title", "limit.blocked")
		return false
	}
	_ = h.tooMany(w, r, http.StatusTooManyRequests, d.RetryAfter, "too_many_requests", "limit.too_many.title", "limit.too_many.requests")
	return false
}

// apiSpend counts a call of a known credential on its meters (route api)
// and answers it when it is over a budget. The API's hot path: a counter
// increment per meter, nothing more (botdefense.Meter).
func (h *Handler) apiSpend(w http.ResponseWriter, r *http.Request, now time.Time, meters ...*botdefense.Meter) bool {
	b := h.app.backend
	ctx := r.Context()
	if b.kind == "redis" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(h.app.StoreTimeout))
		defer cancel()
	}
	for _, m := range meters {
		d, err := b.defense.Spend(ctx, h.policy, m, now)
		b.noteStore(err)
		if err != nil {
			h.logger.Error("edge defence check failed", zap.String("route", botdefense.RouteAPI), zap.Error(err))
			_ = h.unavailable(w, r)
			return false
		}
		if d.Action == botdefense.Limited {
			b.decisions.note(botdefense.RouteAPI, d.Action)
			b.decisionLog.note(b.logger.Get(), now, botdefense.RouteAPI, d, clientAddr(r))
			_ = h.tooMany(w, r, http.StatusTooManyRequests, d.RetryAfter, "too_many_requests", "limit.too_many.title", "limit.too_many.requests")
			return false
		}
	}
	return true
}
