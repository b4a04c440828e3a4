package botdefense

import (
	"slices"
	"strings"
	"time"
)

// Offender is a key and how many attempts it had refused or challenged.
type Offender struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// maxOffenders bounds the offender table; it restarts every hour.
const maxOffenders = 10_000

func (d *Defender) offend(key string) {
	d.offMu.Lock()
	defer d.offMu.Unlock()
	if now := d.Now(); now.Sub(d.offSince) > time.Hour {
		clear(d.offenders)
		d.offSince = now
	}
	if _, ok := d.offenders[key]; ok || len(d.offenders) < maxOffenders {
		d.offenders[key]++
	}
}

// OffenderCount returns how many attempts key had refused or
// challenged on this node this hour (0 if none).
func (d *Defender) OffenderCount(key string) int64 {
	d.offMu.Lock()
	defer d.offMu.Unlock()
	return d.offenders[key]
}

// Offenders returns the n keys refused or challenged most on this node
// this hour.
func (d *Defender) Offenders(n int) []Offender {
	d.offMu.Lock()
	out := make([]Offender, 0, len(d.offenders))
	for k, c := range d.offenders {
		out = append(out, Offender{k, c})
	}
	d.offMu.Unlock()
	slices.SortFunc(out, func(a, b Offender) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
