// Package storetest is the behaviour every consent.Store implementation
// must show, written once and run against each (bbolt and Redis), as
// identity/storetest does for identity stores.
package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/consent"
)

// Dump returns every key and value the store holds, as text, so a case can
// check that an anonymised id is gone from keys and values alike.
type Dump func(t *testing.T) []string

// Run runs the table; newStore returns a fresh, empty store and a Dump of
// its storage.
func Run(t *testing.T, newStore func(t *testing.T) (consent.Store, Dump)) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s consent.Store, dump Dump)
	}{
		{"AppendAndRecords", testAppendAndRecords},
		{"CustomersSeparate", testCustomersSeparate},
		{"NoRecords", testNoRecords},
		{"InvalidRejected", testInvalidRejected},
		{"ConcurrentAppend", testConcurrentAppend},
		{"Anonymise", testAnonymise},
		{"AnonymiseNeedsKey", testAnonymiseNeedsKey},
		{"AnonymiseTwiceAndEmpty", testAnonymiseTwiceAndEmpty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, dump := newStore(t)
			c.fn(t, s, dump)
		})
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func rec(id, purpose string, version int, granted bool, min int) consent.Record {
	return consent.Record{
		CustomerID: id, Purpose: purpose, Version: version, Granted: granted,
		At: t0.Add(time.Duration(min) * time.Minute), Site: "shop.example.com",
		Network: "203.0.113.0/24", UserAgent: "Firefox", How: consent.HowSignup,
	}
}

func appendAll(t *testing.T, s consent.Store, rs ...consent.Record) {
	t.Helper()
	for _, r := range rs {
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatalf("Append(%+v): %v", r, err)
		}
	}
}

func records(t *testing.T, s consent.Store, id string) []consent.Record {
	t.Helper()
	rs, err := s.Records(context.Background(), id)
	if err != nil {
		t.Fatalf("Records(%s): %v", id, err)
	}
	return rs
}

func same(t *testing.T, got, want []consent.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) {
			t.Fatalf("record %d at %v, want %v", i, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			t.Fatalf("record %d = %+v, want %+v", i, g, w)
		}
	}
}

func testAppendAndRecords(t *testing.T, s consent.Store, _ Dump) {
	want := []consent.Record{
		rec("u_ann", "terms", 3, true, 0),
		rec("u_ann", "marketing", 1, true, 0),
		rec("u_ann", "marketing", 1, false, 5),
	}
	want[2].How = consent.HowAccount
	appendAll(t, s, want...)
	got := records(t, s, "u_ann")
	same(t, got, want)
	st := consent.StateOf(got)
	if !st.Granted(consent.Purpose{ID: "terms", Version: 3}) || st.Granted(consent.Purpose{ID: "marketing", Version: 1}) {
		t.Fatalf("state %+v: want terms granted, marketing withdrawn", st)
	}
}

func testCustomersSeparate(t *testing.T, s consent.Store, _ Dump) {
	// "u_a" is a prefix of "u_ab": the layouts must not mix them.
	appendAll(t, s, rec("u_a", "terms", 1, true, 0), rec("u_ab", "terms", 2, true, 1))
	if rs := records(t, s, "u_a"); len(rs) != 1 || rs[0].Version != 1 {
		t.Fatalf("u_a: %+v", rs)
	}
	if rs := records(t, s, "u_ab"); len(rs) != 1 || rs[0].Version != 2 {
		t.Fatalf("u_ab: %+v", rs)
	}
}

func testNoRecords(t *testing.T, s consent.Store, _ Dump) {
	for _, id := range []string{"u_nobody", "", "a}b", "a\x00b"} {
		if rs := records(t, s, id); len(rs) != 0 {
			t.Fatalf("Records(%q) = %+v", id, rs)
		}
	}
}

func testInvalidRejected(t *testing.T, s consent.Store, _ Dump) {
	bad := map[string]func(r *consent.Record){
		"no customer":    func(r *consent.Record) { r.CustomerID = "" },
		"customer brace": func(r *consent.Record) { r.CustomerID = "u}x" },
		"customer nul":   func(r *consent.Record) { r.CustomerID = "u\x00x" },
		"purpose":        func(r *consent.Record) { r.Purpose = "Terms!" },
		"version":        func(r *consent.Record) { r.Version = 0 },
		"time":           func(r *consent.Record) { r.At = time.Time{} },
		"how":            func(r *consent.Record) { r.How = "guess" },
		"gpc grant":      func(r *consent.Record) { r.How = consent.HowGPC },
	}
	for name, f := range bad {
		r := rec("u_ann", "terms", 1, true, 0)
		f(&r)
		if err := s.Append(context.Background(), r); err == nil {
			t.Errorf("%s: Append accepted %+v", name, r)
		}
	}
	if rs := records(t, s, "u_ann"); len(rs) != 0 {
		t.Fatalf("invalid records stored: %+v", rs)
	}
}

func testConcurrentAppend(t *testing.T, s consent.Store, _ Dump) {
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- s.Append(context.Background(), rec("u_ann", "marketing", 1, i%2 == 0, i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if rs := records(t, s, "u_ann"); len(rs) != n {
		t.Fatalf("%d records after %d appends", len(rs), n)
	}
}

func testAnonymise(t *testing.T, s consent.Store, dump Dump) {
	ctx := context.Background()
	id := "u_3kzq7ann"
	other := rec("u_bob", "terms", 1, true, 0)
	want := []consent.Record{rec(id, "terms", 3, true, 0), rec(id, "marketing", 1, true, 1), rec(id, "marketing", 1, false, 2)}
	appendAll(t, s, other)
	appendAll(t, s, want...)
	key := []byte("0123456789abcdef0123456789abcdef")
	if err := s.Anonymise(ctx, id, key); err != nil {
		t.Fatal(err)
	}
	if rs := records(t, s, id); len(rs) != 0 {
		t.Fatalf("records still under the id: %+v", rs)
	}
	p := consent.Pseudonym(key, id)
	if len(p) != 64 || p == consent.Pseudonym([]byte("another key"), id) {
		t.Fatalf("pseudonym %q", p)
	}
	for i := range want {
		want[i].CustomerID = p
	}
	same(t, records(t, s, p), want)
	same(t, records(t, s, "u_bob"), []consent.Record{other})
	for _, kv := range dump(t) {
		if strings.Contains(kv, id) {
			t.Fatalf("the storage still holds the id: %q", kv)
		}
	}
	// Appends after erasure (none should come, but a late one must not
	// break the anonymised records).
	appendAll(t, s, rec(id, "terms", 3, false, 9))
	if err := s.Anonymise(ctx, id, key); err != nil {
		t.Fatal(err)
	}
	if rs := records(t, s, p); len(rs) != len(want)+1 {
		t.Fatalf("after a second anonymise: %d records under the pseudonym, want %d", len(rs), len(want)+1)
	}
}

func testAnonymiseNeedsKey(t *testing.T, s consent.Store, _ Dump) {
	appendAll(t, s, rec("u_ann", "terms", 1, true, 0))
	if err := s.Anonymise(context.Background(), "u_ann", nil); err == nil {
		t.Fatal("Anonymise without a key succeeded")
	}
	if rs := records(t, s, "u_ann"); len(rs) != 1 {
		t.Fatalf("records after a refused anonymise: %+v", rs)
	}
}

func testAnonymiseTwiceAndEmpty(t *testing.T, s consent.Store, _ Dump) {
	ctx := context.Background()
	key := []byte("k")
	if err := s.Anonymise(ctx, "u_nobody", key); err != nil {
		t.Fatalf("Anonymise of a customer without records: %v", err)
	}
	appendAll(t, s, rec("u_ann", "terms", 1, true, 0))
	for range 2 {
		if err := s.Anonymise(ctx, "u_ann", key); err != nil {
			t.Fatal(err)
		}
	}
	rs := records(t, s, consent.Pseudonym(key, "u_ann"))
	if len(rs) != 1 {
		t.Fatalf("after anonymising twice: %+v", rs)
	}
	b, _ := json.Marshal(rs)
	if strings.Contains(string(b), "u_ann") {
		t.Fatalf("record still names the customer: %s", b)
	}
}
