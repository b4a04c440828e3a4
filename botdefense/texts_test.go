package botdefense

import (
	"context"
	"testing"
	"time"
)

func TestAllowText(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	d := NewDefender(NewMemoryCounter(), NewMemoryBlocks(), NewMemorySeen(), make([]byte, 32), func() time.Time { return now })
	l := TextLimits{PerNumber: 2, NumberWindow: 15 * time.Minute, PerNumberDay: 3, PerPrefix: 4, PerCountry: 5, PerDay: 6}
	ctx := context.Background()
	allow := func(num, prefix, cc string) time.Duration {
		t.Helper()
		wait, err := d.AllowText(ctx, "shop", l, num, prefix, cc)
		if err != nil {
			t.Fatal(err)
		}
		return wait
	}
	for i := range 2 {
		if w := allow("+447700900001", "+447700", "+44"); w != 0 {
			t.Fatalf("text %d to one number refused (%v)", i+1, w)
		}
	}
	if w := allow("+447700900001", "+447700", "+44"); w <= 0 || w > 15*time.Minute {
		t.Fatalf("third text to one number in 15 min: wait %v", w)
	}
	// Refused texts count nowhere: hammering one number spends nothing.
	for range 5 {
		allow("+447700900001", "+447700", "+44")
	}
	// The range: 4 an hour (2 sent so far).
	for _, n := range []string{"+447700900002", "+447700900003"} {
		if w := allow(n, "+447700", "+44"); w != 0 {
			t.Fatalf("%s in the range: %v", n, w)
		}
	}
	if w := allow("+447700900004", "+447700", "+44"); w <= 0 || w > time.Hour {
		t.Fatalf("the range's fifth text: wait %v", w)
	}
	// Another range, same country: one more, then the country's 5 an
	// hour are spent.
	if w := allow("+447911000001", "+447911", "+44"); w != 0 {
		t.Fatalf("another range: %v", w)
	}
	if w := allow("+447911000002", "+447911", "+44"); w <= 0 {
		t.Fatal("the country's sixth text went out")
	}
	// Another country: one more, then the site's 6 a day are spent.
	if w := allow("+353851234567", "+353851", "+353"); w != 0 {
		t.Fatalf("another country: %v", w)
	}
	if w := allow("+353851234568", "+353851", "+353"); w <= 0 || w > 24*time.Hour {
		t.Fatalf("the day's seventh text: wait %v", w)
	}
	// Another site counts apart.
	if w, _ := d.AllowText(ctx, "other", l, "+447700900001", "+447700", "+44"); w != 0 {
		t.Fatalf("another site's first text: %v", w)
	}
}
