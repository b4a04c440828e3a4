package botdefense

import (
	"context"
	"strings"
	"testing"
	"time"
)

type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func newTestDefender(t *testing.T) (*Defender, *testClock) {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	d := NewDefender(NewMemoryCounter(), NewMemoryBlocks(), NewMemorySeen(), []byte("0123456789abcdef0123456789abcdef"), clk.now)
	return d, clk
}

func check(t *testing.T, d *Defender, p *Policy, a Attempt) Decision {
	t.Helper()
	dec, err := d.Check(context.Background(), p, a)
	if err != nil {
		t.Fatal(err)
	}
	return dec
}

func quietPolicy() Policy {
	p := DefaultPolicy()
	p.Automation = "ignore"
	return p
}

func TestLimitTripsAndResets(t *testing.T) {
	d, clk := newTestDefender(t)
	p := quietPolicy()
	p.Limits = []Limit{{RouteLogin, DimIP, 3, time.Minute}}
	a := Attempt{Route: RouteLogin, IP: "192.0.2.1", Challengeable: true}
	for i := 1; i <= 3; i++ {
		if dec := check(t, d, &p, a); dec.Action != Allow {
			t.Fatalf("attempt %d: %v %v", i, dec.Action, dec.Reasons)
		}
	}
	dec := check(t, d, &p, a)
	if dec.Action != Limited || dec.RetryAfter <= 0 || dec.RetryAfter > time.Minute || dec.Key != "ip 192.0.2.1" {
		t.Fatalf("4th: %+v", dec)
	}
	// Another address is counted apart; another route too.
	if dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "192.0.2.2", Challengeable: true}); dec.Action != Allow {
		t.Fatalf("other address: %v", dec.Action)
	}
	clk.t = clk.t.Add(time.Minute)
	if dec := check(t, d, &p, a); dec.Action != Allow {
		t.Fatalf("next window: %v", dec.Action)
	}
}

func TestPrefixAndAccountLimits(t *testing.T) {
	d, _ := newTestDefender(t)
	p := quietPolicy()
	p.Limits = []Limit{{RouteLogin, DimPrefix, 2, time.Minute}, {RouteLogin, DimAccount, 2, time.Minute}}
	for _, ip := range []string{"198.51.100.1", "198.51.100.2"} {
		check(t, d, &p, Attempt{Route: RouteLogin, IP: ip, Challengeable: true})
	}
	if dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "198.51.100.3", Challengeable: true}); dec.Action != Limited || dec.Key != "prefix 198.51.100.0/24" {
		t.Fatalf("same /24: %+v", dec)
	}
	if got := Prefix("2001:db8:1:ff02:3::1"); got != "2001:db8:1:ff00::/56" {
		t.Fatalf("IPv6 prefix %s", got)
	}
	// Account over its limit: a challenge (harder the further over), and
	// a route that cannot show one limits instead.
	p.Limits = p.Limits[1:]
	acct := Attempt{Route: RouteLogin, IP: "203.0.113.1", Account: "ann@example.com", Challengeable: true}
	check(t, d, &p, acct)
	check(t, d, &p, Attempt{Route: RouteLogin, IP: "203.0.114.1", Account: "ann@example.com", Challengeable: true})
	dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "203.0.115.1", Account: "ann@example.com", Challengeable: true})
	if dec.Action != Challenge || dec.Challenge == "" || dec.Bits < p.PowBits {
		t.Fatalf("account over limit: %+v", dec)
	}
	// A solved challenge of enough bits lets it through, once.
	acct.Pow = SolvePow(dec.Challenge, dec.Bits)
	acct.IP = "203.0.115.1"
	if dec2 := check(t, d, &p, acct); dec2.Action != Solved {
		t.Fatalf("solved: %+v", dec2)
	}
	if dec2 := check(t, d, &p, acct); dec2.Action != Challenge {
		t.Fatalf("replayed: %+v", dec2)
	}
	// A route that cannot show a challenge limits instead.
	acct.IP, acct.Challengeable, acct.Pow = "203.0.116.1", false, ""
	if dec := check(t, d, &p, acct); dec.Action != Limited {
		t.Fatalf("account over limit, no challenge possible: %+v", dec)
	}
	// The further over the limit, the harder the challenge.
	acct.Challengeable = true
	for range 8 {
		check(t, d, &p, acct)
	}
	if harder := check(t, d, &p, acct); harder.Bits <= dec.Bits {
		t.Fatalf("difficulty did not rise: %d then %d", dec.Bits, harder.Bits)
	}
}

func TestSignals(t *testing.T) {
	d, clk := newTestDefender(t)
	p := DefaultPolicy()
	p.Limits = nil
	p.DistinctAccounts, p.FailureMin, p.Surge = 3, 4, 10
	ctx := context.Background()

	bot := Attempt{Route: RouteLogin, IP: "192.0.2.9", Challengeable: true, Fingerprint: Fingerprint{UserAgent: "curl/8.5.0"}}
	if dec := check(t, d, &p, bot); dec.Action != Challenge || !strings.Contains(strings.Join(dec.Reasons, ","), "automation_user_agent") {
		t.Fatalf("curl: %+v", dec)
	}
	browser := Fingerprint{UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36", AcceptLanguage: true, Accept: true, SecFetch: true}
	if got := browser.Automation(); len(got) != 0 {
		t.Fatalf("a browser flagged: %v", got)
	}
	if got := (Fingerprint{UserAgent: "Mozilla/5.0 Chrome/131.0"}).Automation(); len(got) != 2 {
		t.Fatalf("Chrome without its headers: %v", got)
	}

	// Many accounts from one address.
	for i, acct := range []string{"a@x.test", "b@x.test", "c@x.test", "a@x.test"} {
		dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "192.0.2.10", Account: acct, Challengeable: true, Fingerprint: browser})
		if dec.Action != Allow {
			t.Fatalf("account %d: %+v", i, dec)
		}
	}
	if dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "192.0.2.10", Account: "d@x.test", Challengeable: true, Fingerprint: browser}); dec.Action != Challenge ||
		!strings.Contains(strings.Join(dec.Reasons, ","), "many_accounts") {
		t.Fatalf("4th distinct account: %+v", dec)
	}

	// Failure ratio of an address.
	fails := Attempt{Route: RouteLogin, IP: "192.0.2.20", Challengeable: true, Fingerprint: browser}
	for range 4 {
		if err := d.Record(ctx, &p, fails, true); err != nil {
			t.Fatal(err)
		}
	}
	if dec := check(t, d, &p, fails); !strings.Contains(strings.Join(dec.Reasons, ","), "failure_ratio") {
		t.Fatalf("failing address: %+v", dec)
	}

	// Site-wide surge: everyone new is challenged, for the cooldown.
	for i := range 10 {
		_ = d.Record(ctx, &p, Attempt{Route: RouteLogin, IP: "10.0." + string(rune('0'+i)) + ".1"}, true)
	}
	someone := Attempt{Route: RouteLogin, IP: "203.0.113.50", Challengeable: true, Fingerprint: browser}
	if dec := check(t, d, &p, someone); dec.Action != Challenge || !strings.Contains(strings.Join(dec.Reasons, ","), "failure_surge") || !d.Surge() {
		t.Fatalf("during a surge: %+v", dec)
	}
	clk.t = clk.t.Add(p.SurgeCooldown + 2*p.SurgeWindow)
	if dec := check(t, d, &p, someone); dec.Action != Allow {
		t.Fatalf("after the surge: %+v", dec)
	}
}

func TestRegistrationSignals(t *testing.T) {
	d, _ := newTestDefender(t)
	p := quietPolicy()
	p.Limits = nil
	p.RegPrefix, p.RegDomain = 2, 2
	reg := func(ip, domain string) Decision {
		return check(t, d, &p, Attempt{Route: RouteRegister, IP: ip, Domain: domain, Account: "x@" + domain, Challengeable: true})
	}
	reg("192.0.2.1", "a.test")
	reg("192.0.2.2", "b.test")
	if dec := reg("192.0.2.3", "c.test"); !strings.Contains(strings.Join(dec.Reasons, ","), "registration_velocity_prefix") {
		t.Fatalf("prefix velocity: %+v", dec)
	}
	reg("198.51.100.1", "shop.test")
	if dec := reg("203.0.113.1", "shop.test"); dec.Action != Allow {
		t.Fatalf("2nd of a domain: %+v", dec)
	}
	if dec := reg("192.0.3.1", "shop.test"); !strings.Contains(strings.Join(dec.Reasons, ","), "registration_velocity_domain") {
		t.Fatalf("domain velocity: %+v", dec)
	}
	if dec := reg("192.0.4.1", "mailinator.com"); dec.Action != Challenge || !strings.Contains(strings.Join(dec.Reasons, ","), "disposable_domain") {
		t.Fatalf("disposable: %+v", dec)
	}
	p.Disposable = "refuse"
	if dec := reg("192.0.5.1", "sub.mailinator.com"); dec.Action != Refused {
		t.Fatalf("disposable subdomain, refuse: %+v", dec)
	}
	if DisposableDomain("example.com", nil, nil) || !DisposableDomain("corp.test", []string{"corp.test"}, nil) || DisposableDomain("mailinator.com", nil, []string{"mailinator.com"}) {
		t.Fatal("disposable list lookups")
	}
}

func TestBlocks(t *testing.T) {
	d, clk := newTestDefender(t)
	p := quietPolicy()
	ctx := context.Background()
	for _, b := range []Block{{Kind: BlockPrefix, Value: "192.0.2.0/24", Until: clk.t.Add(time.Hour)}, {Kind: BlockAccount, Value: "eve@x.test", Until: clk.t.Add(time.Minute)}} {
		if err := d.Blocks().Put(ctx, clk.t, b); err != nil {
			t.Fatal(err)
		}
	}
	if dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "192.0.2.77"}); dec.Action != Blocked || dec.RetryAfter != time.Hour {
		t.Fatalf("blocked prefix: %+v", dec)
	}
	if dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "198.51.100.1", Account: "eve@x.test"}); dec.Action != Blocked {
		t.Fatalf("blocked account: %+v", dec)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	if dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "198.51.100.1", Account: "eve@x.test"}); dec.Action == Blocked {
		t.Fatal("expired block still applies")
	}
	list, _ := d.Blocks().List(ctx, clk.t)
	if len(list) != 1 || list[0].Kind != BlockPrefix {
		t.Fatalf("list %+v", list)
	}
	if off := d.Offenders(5); len(off) != 2 || off[1].Key != "prefix 192.0.2.0/24" {
		t.Fatalf("offenders %+v", off)
	}
}

func TestParseRateAndValidate(t *testing.T) {
	for in, want := range map[string][2]any{"20/5m": {int64(20), 5 * time.Minute}, "5/h": {int64(5), time.Hour}, "3/2d": {int64(3), 48 * time.Hour}} {
		n, per, err := ParseRate(in)
		if err != nil || n != want[0] || per != want[1] {
			t.Errorf("%s: %d %v %v", in, n, per, err)
		}
	}
	for _, bad := range []string{"", "5", "0/m", "x/m", "5/100ms", "5/forever"} {
		if _, _, err := ParseRate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	p.Limits = append(p.Limits, Limit{"logn", DimIP, 1, time.Minute})
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "logn") {
		t.Fatalf("unknown route: %v", err)
	}
}

// TestSharedLimitsChallengeInsteadOfRefusing: attempts refused by their
// own address's limit do not use up the global limit, and the global
// limit, once over, asks everyone for a challenge instead of refusing
// everyone; a surge at the same time adds no further difficulty.
func TestSharedLimitsChallengeInsteadOfRefusing(t *testing.T) {
	d, _ := newTestDefender(t)
	p := quietPolicy()
	p.Limits = []Limit{{RouteLogin, DimIP, 2, time.Minute}, {RouteLogin, DimGlobal, 5, time.Minute}}
	flood := Attempt{Route: RouteLogin, IP: "192.0.2.1", Challengeable: true}
	for range 50 {
		check(t, d, &p, flood)
	}
	for i := range 3 {
		ip := "198.51.100." + string(rune('1'+i))
		if dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: ip, Challengeable: true}); dec.Action != Allow {
			t.Fatalf("customer %d after a refused flood: %+v", i, dec)
		}
	}
	dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "203.0.113.9", Challengeable: true})
	if dec.Action != Challenge || dec.Bits != p.PowBits {
		t.Fatalf("over the global limit: %+v", dec)
	}
	// A surge on top: the same difficulty.
	for range int(p.Surge) {
		_ = d.Record(context.Background(), &p, Attempt{Route: RouteLogin, IP: "10.9.9.9"}, true)
	}
	dec = check(t, d, &p, Attempt{Route: RouteLogin, IP: "203.0.113.10", Challengeable: true})
	if dec.Action != Challenge || dec.Bits != p.PowBits || !strings.Contains(strings.Join(dec.Reasons, ","), "failure_surge") {
		t.Fatalf("global pressure and a surge: %+v", dec)
	}
}

// TestBacklogChallenges: a backlogged route challenges at the lowest
// difficulty, counts as the same fact as a site-wide limit or a surge (one
// unit of risk, not two), lets a solved attempt through, and never touches
// a route that cannot show a challenge.
func TestBacklogChallenges(t *testing.T) {
	d, _ := newTestDefender(t)
	p := quietPolicy()
	a := Attempt{Route: RouteLogin, IP: "198.51.100.7", Challengeable: true, Backlogged: true}
	dec := check(t, d, &p, a)
	if dec.Action != Challenge || dec.Bits != p.PowBits || !strings.Contains(strings.Join(dec.Reasons, ","), "backlog") {
		t.Fatalf("backlogged sign-in: %+v", dec)
	}
	a.Pow = SolvePow(dec.Challenge, dec.Bits)
	if dec := check(t, d, &p, a); dec.Action != Solved {
		t.Fatalf("solved, backlogged: %+v", dec)
	}
	if dec := check(t, d, &p, Attempt{Route: RouteVerify, IP: "198.51.100.7", Backlogged: true}); dec.Action != Allow {
		t.Fatalf("a route without a challenge page: %+v", dec)
	}
	off := p
	off.Backlog = false // `limits off`
	if dec := check(t, d, &off, Attempt{Route: RouteLogin, IP: "198.51.100.6", Challengeable: true, Backlogged: true}); dec.Action != Allow {
		t.Fatalf("backlog signal off: %+v", dec)
	}
	// With a surge too: still the lowest difficulty.
	for range int(p.Surge) {
		_ = d.Record(context.Background(), &p, Attempt{Route: RouteLogin, IP: "10.9.9.9"}, true)
	}
	if dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "198.51.100.8", Challengeable: true, Backlogged: true}); dec.Action != Challenge || dec.Bits != p.PowBits {
		t.Fatalf("backlog and a surge: %+v", dec)
	}
	if dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "198.51.100.9", Challengeable: true}); dec.Action != Challenge {
		t.Fatalf("surge alone: %+v", dec)
	}
}

// TestSurgeAcrossAWindowEdge: failures that straddle the edge of the surge
// window count together — a flood is not excused by a minute boundary.
func TestSurgeAcrossAWindowEdge(t *testing.T) {
	d, clk := newTestDefender(t)
	p := quietPolicy()
	p.Surge = 10
	edge := clk.t.Truncate(p.SurgeWindow).Add(p.SurgeWindow)
	clk.t = edge.Add(-5 * time.Second)
	for range 6 {
		_ = d.Record(context.Background(), &p, Attempt{Route: RouteLogin, IP: "10.9.9.9"}, true)
	}
	clk.t = edge.Add(5 * time.Second)
	for range 6 {
		_ = d.Record(context.Background(), &p, Attempt{Route: RouteLogin, IP: "10.9.9.9"}, true)
	}
	dec := check(t, d, &p, Attempt{Route: RouteLogin, IP: "198.51.100.20", Challengeable: true})
	if dec.Action != Challenge || !strings.Contains(strings.Join(dec.Reasons, ","), "failure_surge") {
		t.Fatalf("12 failures in 10 s across a window edge (surge at 10): %+v", dec)
	}
}
