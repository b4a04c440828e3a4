package botdefense

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A Meter counts the calls of one API credential (a key, a token's grant,
// an OAuth client) against the limits of one route and dimension (api key,
// api client). The caller gets it once per credential it caches
// (Defender.Meter) and spends it on every call, so a call costs no string
// building: with the in-process counter a meter counts by itself (one
// atomic add; the Defender keeps one meter per credential, so a cache
// entry made again counts on); with Redis it names the shared counter
// once per window and adds to it. The API's hot path stays close to a
// cookie session's. Blocks and risk signals are not read here: they guard
// sign-in routes, and a credential is revoked instead.
type Meter struct {
	route, dim string
	base       string // the counter's name, without its window
	offender   string // how the offenders table names it
	local      bool   // counts in its windows, not in the counter store
	win        atomic.Pointer[meterWindow]
	// lim are the limits of the meter's kind in the policy last spent
	// against (policies change only with the configuration).
	lim atomic.Pointer[meterLimits]
}

type meterWindow struct {
	period int64 // ms
	index  int64
	key    string
	end    time.Time
	n      atomic.Int64 // the local count
}

type meterLimits struct {
	p      *Policy
	limits []Limit
}

// maxMeters bounds the meters a Defender keeps; past it they start again
// (a count restarts: a bound on memory matters more than a few calls).
const maxMeters = 1 << 16

// meters are a Defender's in-process meters by counter name.
type meters struct {
	mu sync.Mutex
	m  map[string]*Meter
}

// Meter returns the meter of credential id (its offender name: who) on
// route's limits of dimension dim.
func (d *Defender) Meter(route, dim, id, who string) *Meter {
	l := Limit{Route: route, Dimension: dim}
	a := Attempt{Key: id, ClientID: id}
	m := &Meter{route: route, dim: dim, base: counterKey(l, &a), offender: who}
	if d.counter.mem == nil {
		return m
	}
	m.local = true
	d.meters.mu.Lock()
	defer d.meters.mu.Unlock()
	if old := d.meters.m[m.base]; old != nil {
		return old
	}
	if d.meters.m == nil || len(d.meters.m) >= maxMeters {
		d.meters.m = make(map[string]*Meter)
	}
	d.meters.m[m.base] = m
	return m
}

// Spend counts one call at now (the caller's reading of the Defender's
// clock). Over a limit it answers Limited with the wait until the window
// ends (and notes the offender); else Allow.
func (d *Defender) Spend(ctx context.Context, p *Policy, m *Meter, now time.Time) (Decision, error) {
	if m == nil || m.base == "" {
		return Decision{}, nil
	}
	for _, l := range m.limitsOf(p) {
		w := m.window(l.Period, now)
		var n int64
		if m.local {
			n = w.n.Add(1)
		} else {
			var err error
			if n, err = d.counter.AddWindow(ctx, w.key, 1, l.Period); err != nil {
				return Decision{}, err
			}
		}
		if n > l.Count {
			d.offend(m.offender)
			return Decision{Action: Limited, RetryAfter: w.end.Sub(now), Reasons: []string{"limit " + l.String()}, Key: m.offender}, nil
		}
	}
	return Decision{}, nil
}

// limitsOf returns p's limits of the meter's route and dimension.
func (m *Meter) limitsOf(p *Policy) []Limit {
	if ml := m.lim.Load(); ml != nil && ml.p == p {
		return ml.limits
	}
	ml := &meterLimits{p: p}
	for _, l := range p.Limits {
		if l.Route == m.route && l.Dimension == m.dim {
			ml.limits = append(ml.limits, l)
		}
	}
	m.lim.Store(ml)
	return ml.limits
}

// window is the meter's window of period holding now (named as
// windowKey names it), made when the window starts.
func (m *Meter) window(period time.Duration, now time.Time) *meterWindow {
	p := period.Milliseconds()
	if p <= 0 {
		p = 1
	}
	idx := now.UnixMilli() / p
	for {
		old := m.win.Load()
		if old != nil && old.period == p && old.index == idx {
			return old
		}
		w := &meterWindow{period: p, index: idx, end: time.UnixMilli((idx + 1) * p),
			key: m.base + "|" + strconv.FormatInt(p, 36) + "|" + strconv.FormatInt(idx, 36)}
		if m.win.CompareAndSwap(old, w) {
			return w
		}
	}
}
