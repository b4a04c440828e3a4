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

// apiDefend asks the defences about an API call with a credential this
// node has not checked lately (route credential), and answers it when it
// goes no further.
func (h *Handler) apiDefend(w http.ResponseWriter, r *http.Request, route string) bool {
	b := h.app.backend
	ctx, cancel := h.apiContext(r)
	defer cancel()
	d, err := b.defense.Check(ctx, h.policy, botdefense.Attempt{Route: route, Site: h.origin, IP: clientAddr(r)})
	if err == nil {
		b.decisions.note(route, d.Action)
	}
	return h.apiVerdict(w, r, route, d, err, b.clock.Now())
}

// apiSpend counts a call of a known credential on its meters (route api)
// and answers it when it is over a budget. The API's hot path: a counter
// increment per meter, nothing more (botdefense.Meter).
func (h *Handler) apiSpend(w http.ResponseWriter, r *http.Request, now time.Time, meters ...*botdefense.Meter) bool {
	b := h.app.backend
	ctx, cancel := h.apiContext(r)
	defer cancel()
	for _, m := range meters {
		d, err := b.defense.Spend(ctx, h.policy, m, now)
		if err == nil && d.Action == botdefense.Limited {
			b.decisions.note(botdefense.RouteAPI, d.Action)
		}
		if !h.apiVerdict(w, r, botdefense.RouteAPI, d, err, now) {
			return false
		}
	}
	return true
}

// apiContext bounds the defences' work of an API call: with Redis the
// counters are across the network, bounded like the store's work; in
// process nothing is made (the hot path).
func (h *Handler) apiContext(r *http.Request) (context.Context, context.CancelFunc) {
	if h.app.backend.kind == "redis" {
		return context.WithTimeout(r.Context(), time.Duration(h.app.StoreTimeout))
	}
	return r.Context(), func() {}
}

// apiVerdict answers an API call the defences refused (logged: 403 for a
// block, else 429 with Retry-After) or could not judge (503), and reports
// whether the call goes on.
func (h *Handler) apiVerdict(w http.ResponseWriter, r *http.Request, route string, d botdefense.Decision, err error, now time.Time) bool {
	b := h.app.backend
	b.noteStore(err)
	if err != nil {
		h.logger.Error("edge defence check failed", zap.String("route", route), zap.Error(err))
		_ = h.unavailable(w, r)
		return false
	}
	if d.Action == botdefense.Allow || d.Action == botdefense.Solved {
		return true
	}
	b.decisionLog.note(b.logger.Get(), now, route, d, clientAddr(r))
	if d.Action == botdefense.Blocked {
		_ = h.tooMany(w, r, http.StatusForbidden, d.RetryAfter, "not_available", "limit.blocked.title", "limit.blocked")
		return false
	}
	_ = h.tooMany(w, r, http.StatusTooManyRequests, d.RetryAfter, "too_many_requests", "limit.too_many.title", "limit.too_many.requests")
	return false
}
