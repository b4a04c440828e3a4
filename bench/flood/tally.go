//go:build linux

package main

import (
	"slices"
	"sync"
	"time"
)

// bucket is the width of a timeline row.
const bucket = 10 * time.Second

// tally collects what the flood saw, from every goroutine.
type tally struct {
	mu          sync.Mutex
	answers     map[string]int64 // attack: final answer per attempt
	realAnswers map[string]int64 // of which on real customers' addresses
	postLat     []time.Duration  // attack: last post of each attempt
	samples     map[string]string
	legit       []signIn
	timeline    map[int]*timeRow
}

// timeRow is what happened in one bucket of the flood.
type timeRow struct {
	Attack    map[string]int64 `json:"attack"`
	LegitOK   int              `json:"legit_ok"`
	LegitFail int              `json:"legit_failed"`
	Surge     bool             `json:"surge"`
	Decisions map[string]int64 `json:"decisions,omitempty"` // login decisions in this bucket (gateway metric)
}

func newTally() *tally {
	return &tally{answers: map[string]int64{}, realAnswers: map[string]int64{}, samples: map[string]string{}, timeline: map[int]*timeRow{}}
}

func (t *tally) row(start, at time.Time) *timeRow {
	i := int(at.Sub(start) / bucket)
	r := t.timeline[i]
	if r == nil {
		r = &timeRow{Attack: map[string]int64{}}
		t.timeline[i] = r
	}
	return r
}

func (t *tally) attack(start time.Time, cls string, lat time.Duration, real bool, detail string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.answers[cls]++
	if real {
		t.realAnswers[cls]++
	}
	if lat > 0 {
		t.postLat = append(t.postLat, lat)
	}
	if _, ok := t.samples[cls]; !ok && cls != ans401 && cls != ans303 {
		t.samples[cls] = detail
	}
	t.row(start, time.Now()).Attack[cls]++
}

func (t *tally) legitDone(start time.Time, s signIn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.legit = append(t.legit, s)
	r := t.row(start, start.Add(s.At+s.Total))
	if s.Answer == ans303 {
		r.LegitOK++
	} else {
		r.LegitFail++
	}
}

func (t *tally) mark(start time.Time, surge bool, decisions map[string]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.row(start, time.Now())
	r.Surge = r.Surge || surge
	if decisions != nil {
		if r.Decisions == nil {
			r.Decisions = map[string]int64{}
		}
		for k, v := range decisions {
			r.Decisions[k] += v
		}
	}
}

// quantile returns the q-quantile (nearest rank) of ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
