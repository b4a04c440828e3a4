package botdefense_test

import (
	"context"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

func TestMeter(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := botdefense.NewDefender(botdefense.NewMemoryCounter(), botdefense.NewMemoryBlocks(), botdefense.NewMemorySeen(), []byte("0123456789abcdef0123456789abcdef"), func() time.Time { return now })
	p := &botdefense.Policy{Limits: []botdefense.Limit{
		{Route: botdefense.RouteAPI, Dimension: botdefense.DimKey, Count: 3, Period: time.Minute},
		{Route: botdefense.RouteAPI, Dimension: botdefense.DimClient, Count: 5, Period: time.Minute},
	}}
	key := d.Meter(botdefense.RouteAPI, botdefense.DimKey, "k_1", "key k_1")
	other := d.Meter(botdefense.RouteAPI, botdefense.DimKey, "k_2", "key k_2")
	for i := range 3 {
		if dec, err := d.Spend(ctx, p, key, now); err != nil || dec.Action != botdefense.Allow {
			t.Fatalf("call %d: %v %v", i+1, dec, err)
		}
	}
	dec, err := d.Spend(ctx, p, key, now)
	if err != nil || dec.Action != botdefense.Limited || dec.RetryAfter != time.Minute || dec.Key != "key k_1" {
		t.Fatalf("over: %+v %v", dec, err)
	}
	if d.OffenderCount("key k_1") != 1 {
		t.Fatal("offender not noted")
	}
	if dec, _ := d.Spend(ctx, p, other, now); dec.Action != botdefense.Allow {
		t.Fatal("another key shares the budget")
	}
	now = now.Add(time.Minute)
	if dec, _ := d.Spend(ctx, p, key, now); dec.Action != botdefense.Allow {
		t.Fatal("next window still limited")
	}
	// A route's limits of another dimension do not count a key's calls.
	client := d.Meter(botdefense.RouteAPI, botdefense.DimClient, "shop", "client shop")
	for range 5 {
		if dec, _ := d.Spend(ctx, p, client, now); dec.Action != botdefense.Allow {
			t.Fatal("client under its budget limited")
		}
	}
	if dec, _ := d.Spend(ctx, p, client, now); dec.Action != botdefense.Limited {
		t.Fatal("client over its budget allowed")
	}
	// A meter made again for the same credential counts on (a cache
	// entry rebuilt).
	if dec, _ := d.Spend(ctx, p, d.Meter(botdefense.RouteAPI, botdefense.DimClient, "shop", "client shop"), now); dec.Action != botdefense.Limited {
		t.Fatal("a meter made again started from zero")
	}
	// No limit of the meter's kind: nothing counted, always allowed.
	if dec, _ := d.Spend(ctx, &botdefense.Policy{}, key, now); dec.Action != botdefense.Allow {
		t.Fatal("limited without a limit")
	}
}
