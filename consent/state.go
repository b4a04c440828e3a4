package consent

import (
	"slices"
	"time"
)

// Choice is a customer's latest answer about one purpose.
type Choice struct {
	Version int       `json:"version"`
	Granted bool      `json:"granted"`
	At      time.Time `json:"at"`
	How     How       `json:"how"`
}

// State is a customer's current consent: the latest record of each
// purpose. A nil State is an empty one.
type State map[string]Choice

// StateOf derives the state from records. The latest by time wins; of
// records with the same time the later in the list wins (stores return
// records in the order they were appended).
func StateOf(records []Record) State {
	s := make(State, len(records))
	for _, r := range records {
		if c, ok := s[r.Purpose]; ok && r.At.Before(c.At) {
			continue
		}
		s[r.Purpose] = Choice{Version: r.Version, Granted: r.Granted, At: r.At, How: r.How}
	}
	return s
}

// Granted reports whether the customer agrees to p as it stands: the
// latest answer is a grant, given to p's current version or a later one.
func (s State) Granted(p Purpose) bool {
	c, ok := s[p.ID]
	return ok && c.Granted && c.Version >= p.Version
}

// Missing returns the required purposes of ps the customer has not agreed
// to in their current version, in the order of ps.
func (s State) Missing(ps Purposes) Purposes {
	var out Purposes
	for _, p := range ps {
		if p.Required && !s.Granted(p) {
			out = append(out, p)
		}
	}
	return out
}

// Summary is the state of the listed purposes as backends see it: ids and
// granted or not, in the order of ids. Unknown ids are left out.
func (s State) Summary(ps Purposes, ids []string) []Answer {
	out := make([]Answer, 0, len(ids))
	for _, id := range ids {
		if p, ok := ps.Lookup(id); ok {
			out = append(out, Answer{Purpose: id, Granted: s.Granted(p)})
		}
	}
	return out
}

// Answer is one purpose's state in a Summary.
type Answer struct {
	Purpose string
	Granted bool
}

// Word is "granted" or "denied", the spelling of the consent header.
func (a Answer) Word() string {
	if a.Granted {
		return "granted"
	}
	return "denied"
}

// Changes returns the records that move the state s to grant exactly the
// purposes in accepted among ps (ids not in ps are ignored): a grant for
// each accepted purpose not already granted at its version, a withdrawal
// for each granted purpose not accepted. proto carries the customer, time,
// where and how; its Purpose, Version and Granted are set per record.
// Purposes never answered and not accepted get no record unless
// recordRefusals is set (sign-up records every answer).
func (s State) Changes(ps Purposes, accepted []string, proto Record, recordRefusals bool) []Record {
	var out []Record
	for _, p := range ps {
		want := slices.Contains(accepted, p.ID)
		_, answered := s[p.ID]
		has := s.Granted(p)
		if want == has && (want || answered || !recordRefusals) {
			continue
		}
		r := proto
		r.Purpose, r.Version, r.Granted = p.ID, p.Version, want
		out = append(out, r)
	}
	return out
}
