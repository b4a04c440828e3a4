package consent_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/consent"
)

func TestPurposeValidate(t *testing.T) {
	ok := consent.Purpose{ID: "terms", Title: "Terms of service", Link: "https://shop.example.com/terms", Version: 3, Required: true}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(p *consent.Purpose){
		"id empty":       func(p *consent.Purpose) { p.ID = "" },
		"id upper":       func(p *consent.Purpose) { p.ID = "Terms" },
		"id comma":       func(p *consent.Purpose) { p.ID = "a,b" },
		"id equals":      func(p *consent.Purpose) { p.ID = "a=b" },
		"id digit first": func(p *consent.Purpose) { p.ID = "1st" },
		"id long":        func(p *consent.Purpose) { p.ID = strings.Repeat("a", consent.MaxIDLen+1) },
		"no title":       func(p *consent.Purpose) { p.Title = "" },
		"version 0":      func(p *consent.Purpose) { p.Version = 0 },
		"link relative":  func(p *consent.Purpose) { p.Link = "/terms" },
		"link js":        func(p *consent.Purpose) { p.Link = "javascript:alert(1)" },
		"required gpc":   func(p *consent.Purpose) { p.SaleOrSharing = true },
	} {
		p := ok
		f(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: %+v accepted", name, p)
		}
	}
	dup := consent.Purposes{ok, ok}
	if err := dup.Validate(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate ids: %v", err)
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestState(t *testing.T) {
	terms := consent.Purpose{ID: "terms", Title: "T", Version: 3, Required: true}
	mkt := consent.Purpose{ID: "marketing", Title: "M", Version: 1}
	ads := consent.Purpose{ID: "ads", Title: "A", Version: 1, SaleOrSharing: true}
	ps := consent.Purposes{terms, mkt, ads}
	r := func(p string, v int, g bool, min int) consent.Record {
		return consent.Record{CustomerID: "u_a", Purpose: p, Version: v, Granted: g, At: t0.Add(time.Duration(min) * time.Minute), How: consent.HowAccount}
	}
	st := consent.StateOf([]consent.Record{r("terms", 2, true, 0), r("marketing", 1, true, 0), r("marketing", 1, false, 1), r("ads", 1, true, 2)})
	if m := st.Missing(ps); len(m) != 1 || m[0].ID != "terms" {
		t.Fatalf("Missing = %+v: terms was granted at version 2, the current is 3", m)
	}
	if st.Granted(mkt) || !st.Granted(ads) {
		t.Fatalf("state %+v", st)
	}
	// Out of order: the latest time wins, not the last appended.
	st2 := consent.StateOf([]consent.Record{r("marketing", 1, false, 5), r("marketing", 1, true, 1)})
	if st2.Granted(mkt) {
		t.Fatal("an older grant appended later overrode a newer withdrawal")
	}
	sum := st.Summary(ps, []string{"ads", "marketing", "unknown"})
	if len(sum) != 2 || sum[0].Word() != "granted" || sum[1].Word() != "denied" {
		t.Fatalf("Summary = %+v", sum)
	}
	var none consent.State
	if none.Granted(consent.Purpose{ID: "x", Version: 1}) || len(none.Missing(ps)) != 1 {
		t.Fatal("nil state")
	}
}

func TestChanges(t *testing.T) {
	terms := consent.Purpose{ID: "terms", Title: "T", Version: 3, Required: true}
	mkt := consent.Purpose{ID: "marketing", Title: "M", Version: 1}
	ps := consent.Purposes{terms, mkt}
	proto := consent.Record{CustomerID: "u_a", At: t0, How: consent.HowSignup}
	// Sign-up: every answer recorded, refusals too.
	got := consent.State(nil).Changes(ps, []string{"terms", "bogus"}, proto, true)
	if len(got) != 2 || got[0].Purpose != "terms" || !got[0].Granted || got[0].Version != 3 || got[1].Purpose != "marketing" || got[1].Granted {
		t.Fatalf("sign-up changes %+v", got)
	}
	for _, r := range got {
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	st := consent.StateOf(got)
	// Nothing changes: no records.
	if c := st.Changes(ps, []string{"terms"}, proto, false); len(c) != 0 {
		t.Fatalf("no-op made %+v", c)
	}
	// Withdraw terms, grant marketing.
	c := st.Changes(ps, []string{"marketing"}, proto, false)
	if len(c) != 2 || c[0].Granted || !c[1].Granted {
		t.Fatalf("changes %+v", c)
	}
}

func TestWhere(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77":        "203.0.113.0/24",
		"::ffff:203.0.113.77": "203.0.113.0/24",
		"2001:db8:1:2:3::4":   "2001:db8:1::/48",
	} {
		if got := consent.NetworkPrefix(netip.MustParseAddr(in)); got != want {
			t.Errorf("NetworkPrefix(%s) = %s, want %s", in, got, want)
		}
	}
	if consent.NetworkPrefix(netip.Addr{}) != "" {
		t.Error("invalid address")
	}
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0":                                    "Firefox",
		"Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0": "Edge",
		"Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":             "Safari",
		"Mozilla/5.0 (X11) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36":                       "Chrome",
		"curl/8.5.0":    "curl",
		"evil <script>": "other",
		"":              "",
	} {
		if got := consent.UserAgentFamily(ua); got != want {
			t.Errorf("UserAgentFamily(%q) = %q, want %q", ua, got, want)
		}
	}
}
