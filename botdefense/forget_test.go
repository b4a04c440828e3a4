package botdefense

import (
	"context"
	"testing"
	"time"
)

// TestForgetAccount: an erased account's counters of this window and the
// last, and its block, are gone; another account's stay.
func TestForgetAccount(t *testing.T) {
	d, clk := newTestDefender(t)
	ctx := context.Background()
	p := quietPolicy()
	l := Limit{RouteLogin, DimAccount, 100, 15 * time.Minute}
	p.Limits = []Limit{l}
	count := func(account string, at time.Time) int64 {
		t.Helper()
		n, err := d.counter.Count(ctx, counterKey(l, &Attempt{Account: account}), l.Period, at)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	attempt := func(account string) {
		t.Helper()
		check(t, d, &p, Attempt{Route: RouteLogin, IP: "192.0.2.1", Account: account})
	}
	earlier := clk.t
	attempt("gone@example.com")
	attempt("kept@example.com")
	clk.t = clk.t.Add(l.Period)
	attempt("gone@example.com")
	if err := d.Blocks().Put(ctx, clk.t, Block{Kind: BlockAccount, Value: "gone@example.com", Until: clk.t.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if count("gone@example.com", earlier) != 1 || count("gone@example.com", clk.t) != 1 {
		t.Fatal("attempts not counted")
	}
	if err := d.ForgetAccount(ctx, []*Policy{&p}, "gone@example.com"); err != nil {
		t.Fatal(err)
	}
	if a, b := count("gone@example.com", earlier), count("gone@example.com", clk.t); a != 0 || b != 0 {
		t.Fatalf("after forgetting: %d earlier, %d now", a, b)
	}
	if count("kept@example.com", earlier) != 1 {
		t.Fatal("another account's counter went too")
	}
	if b, err := d.Blocks().Match(ctx, clk.t, [2]string{BlockAccount, "gone@example.com"}); err != nil || b != nil {
		t.Fatalf("block after forgetting: %+v %v", b, err)
	}
}
