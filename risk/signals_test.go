package risk_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/risk"
)

var (
	t0      = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	berlin  = risk.Place{Country: "DE", City: "Berlin", Lat: 52.52, Lon: 13.405, Exact: true, ASN: 3320}
	potsdam = risk.Place{Country: "DE", City: "Potsdam", Lat: 52.3906, Lon: 13.0645, Exact: true, ASN: 3320}
	paris   = risk.Place{Country: "FR", City: "Paris", Lat: 48.8566, Lon: 2.3522, Exact: true, ASN: 3215}
	sydney  = risk.Place{Country: "AU", Lat: -25.0, Lon: 135.0, ASN: 1221}
)

func signalsOf(fs []risk.Finding) []risk.Signal {
	var out []risk.Signal
	for _, f := range fs {
		out = append(out, f.Signal)
	}
	return out
}

// TestEvaluate: each signal fires on its case and only there.
func TestEvaluate(t *testing.T) {
	home := risk.History{{At: t0, Place: berlin, Device: "d1", Browser: "Firefox on Linux"}}
	anon := new(risk.Networks)
	if err := anon.Add("tor", "127.66.0.0/16", "2001:db8:66::1", "AS64500"); err != nil {
		t.Fatal(err)
	}
	cfg := risk.Config{Anonymous: anon}
	at := func(d time.Duration, p risk.Place, device, browser string) risk.Attempt {
		return risk.Attempt{Sighting: risk.Sighting{At: t0.Add(d), Place: p, Device: device, Browser: browser}}
	}
	for _, tc := range []struct {
		name string
		h    risk.History
		a    risk.Attempt
		want []risk.Signal
	}{
		{"first sign-in: new to nothing", nil, at(0, sydney, "d9", "Safari on iOS"), nil},
		{"same device, same place", home, at(time.Hour, berlin, "d1", "Firefox on Linux"), nil},
		{"a move under 100 km, minutes later", home, at(10*time.Minute, potsdam, "d1", ""), nil},
		{"new device cookie", home, at(time.Hour, berlin, "d2", "Firefox on Linux"), []risk.Signal{risk.NewDevice}},
		{"no cookie, known browser family", home, at(time.Hour, berlin, "", "Firefox on Linux"), nil},
		{"no cookie, new browser family", home, at(time.Hour, berlin, "", "Chrome on Windows"), []risk.Signal{risk.NewDevice}},
		{"nothing to tell devices by", home, at(time.Hour, berlin, "", ""), nil},
		{"Paris an hour later: new country and network, possible", home, at(2*time.Hour, paris, "d1", ""),
			[]risk.Signal{risk.NewCountry, risk.NewNetwork}},
		{"Paris ten minutes later: impossible", home, at(10*time.Minute, paris, "d1", ""),
			[]risk.Signal{risk.NewCountry, risk.NewNetwork, risk.ImpossibleTravel}},
		{"Australia an hour later (a country's centroid)", home, at(time.Hour, sydney, "d1", ""),
			[]risk.Signal{risk.NewCountry, risk.NewNetwork, risk.ImpossibleTravel}},
		{"no place for the attempt: no place signals", home, at(time.Minute, risk.Place{}, "d1", ""), nil},
		{"no place in the history: nothing to compare", risk.History{{At: t0, Device: "d1"}}, at(time.Minute, sydney, "d1", ""), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := signalsOf(risk.Evaluate(tc.h, tc.a, cfg)); !slices.Equal(got, tc.want) {
				t.Fatalf("signals %v, want %v", got, tc.want)
			}
		})
	}
	a := at(time.Hour, berlin, "d1", "")
	a.Addr = netip.MustParseAddr("127.66.1.2")
	a.Breached, a.Failures = true, 7
	fs := risk.Evaluate(home, a, cfg)
	if got := signalsOf(fs); !slices.Equal(got, []risk.Signal{risk.AnonymousNetwork, risk.BreachedPassword, risk.RecentFailures}) {
		t.Fatalf("signals %v", got)
	}
	if fs[0].Detail != "tor" {
		t.Errorf("the list's name explains the signal: %+v", fs[0])
	}
	for _, m := range []struct {
		addr string
		asn  uint32
		ok   bool
	}{{"::ffff:127.66.9.9", 0, true}, {"2001:db8:66::1", 0, true}, {"2001:db8:66::2", 0, false}, {"127.67.0.1", 64500, true}, {"127.67.0.1", 64501, false}} {
		if _, ok := anon.Match(netip.MustParseAddr(m.addr), m.asn); ok != m.ok {
			t.Errorf("match %s AS%d: %v", m.addr, m.asn, ok)
		}
	}
	if err := anon.Add("x", "not-a-range"); err == nil {
		t.Error("a bad entry was taken")
	}
	if err := anon.Add("x", "ASabc"); err == nil {
		t.Error("a bad AS number was taken")
	}
}

// TestHistory: at most ten sightings, none older than 90 days.
func TestHistory(t *testing.T) {
	var h risk.History
	for i := range 15 {
		h = h.Add(risk.Sighting{At: t0.Add(time.Duration(i) * time.Hour), Device: string(rune('a' + i))})
	}
	if len(h) != risk.HistoryLen || h[0].Device != "f" || h[9].Device != "o" {
		t.Fatalf("history: %+v", h)
	}
	h = h.Add(risk.Sighting{At: t0.Add(91 * 24 * time.Hour), Device: "late"})
	if len(h) != 1 || h[0].Device != "late" {
		t.Fatalf("old sightings kept: %+v", h)
	}
}

// TestPolicy: actions per signal, strongest first, levels, audit mode,
// and the Caddyfile's errors.
func TestPolicy(t *testing.T) {
	p := risk.DefaultPolicy()
	if err := p.Set("new_country", "stepup"); err != nil {
		t.Fatal(err)
	}
	if err := p.Set("impossible_travel", "stepup", "notify"); err != nil {
		t.Fatal(err)
	}
	d := p.Decide([]risk.Finding{{Signal: risk.NewDevice}, {Signal: risk.NewCountry}})
	if d.Level != risk.Medium || !slices.Equal(d.Actions, []risk.Action{risk.StepUp, risk.Notify}) || !d.Asks(risk.StepUp) {
		t.Fatalf("decision: %+v", d)
	}
	if d := p.Decide(nil); d.Level != risk.Low || len(d.Actions) != 0 {
		t.Fatalf("no findings: %+v", d)
	}
	if d := p.Decide([]risk.Finding{{Signal: risk.BreachedPassword}}); d.Level != risk.High || !d.Asks(risk.Reset) {
		t.Fatalf("breached: %+v", d)
	}
	p.Mode = risk.Audit
	if d := p.Decide([]risk.Finding{{Signal: risk.ImpossibleTravel}}); d.Asks(risk.StepUp) || d.Enforced || d.Level != risk.High ||
		!slices.Equal(d.Signals(), []string{"impossible_travel"}) {
		t.Fatalf("audit mode acts: %+v", d)
	}
	for _, bad := range [][]string{{"new_place", "notify"}, {"new_device"}, {"new_device", "reset"}, {"new_device", "block"}, {"new_device", "allow", "notify"}} {
		if err := p.Set(bad[0], bad[1:]...); err == nil {
			t.Errorf("policy took %v", bad)
		}
	}
}

// BenchmarkEvaluate: judging a sign-in against a full history and
// deciding, without the location lookup (issue 19: under 5 µs).
func BenchmarkEvaluate(b *testing.B) {
	var h risk.History
	for i := range risk.HistoryLen {
		h = h.Add(risk.Sighting{At: t0.Add(time.Duration(i) * time.Hour), Place: berlin, Device: "d" + string(rune('0'+i)), Browser: "Firefox on Linux"})
	}
	anon := new(risk.Networks)
	if err := anon.Add("tor", "127.66.0.0/16", "10.0.0.0/8", "AS64500"); err != nil {
		b.Fatal(err)
	}
	cfg, p := risk.Config{Anonymous: anon}, risk.DefaultPolicy()
	a := risk.Attempt{Sighting: risk.Sighting{At: t0.Add(9*time.Hour + 10*time.Minute), Place: paris, Device: "new", Browser: "Chrome on Windows"},
		Addr: netip.MustParseAddr("127.1.2.3")}
	b.ReportAllocs()
	for b.Loop() {
		d := p.Decide(risk.Evaluate(h, a, cfg))
		if d.Level != risk.High {
			b.Fatal(d)
		}
	}
}

func TestMoved(t *testing.T) {
	de := risk.Place{Country: "DE", ASN: 3320}
	for _, tc := range []struct {
		name     string
		from, to risk.Place
		want     risk.Signal
	}{
		{"same place", de, de, ""},
		{"another country", de, risk.Place{Country: "AU", ASN: 1221}, risk.SessionMoved},
		{"another network, same country", de, risk.Place{Country: "DE", ASN: 6805}, risk.SessionNetwork},
		{"no database for the new address", de, risk.Place{}, ""},
		{"no network database", risk.Place{Country: "DE"}, risk.Place{Country: "DE"}, ""},
		{"networks only", risk.Place{ASN: 1}, risk.Place{ASN: 2}, risk.SessionNetwork},
	} {
		got := risk.Moved(tc.from, tc.to)
		if tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || got[0].Signal != tc.want || got[0].Detail == "") {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
}
