package identity_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

func TestCustomerApps(t *testing.T) {
	var c identity.Customer
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.NoteApp("https://login.test", "shop", []string{"openid"}, "f1", t0)
	c.NoteApp("https://login.test", "shop", []string{"openid", "offline_access"}, "f2", t0.Add(time.Hour))
	a, ok := c.App("https://login.test", "shop")
	if !ok || !a.GrantedAt.Equal(t0) || !a.LastUsedAt.Equal(t0.Add(time.Hour)) || !slices.Equal(a.Families, []string{"f1", "f2"}) ||
		!slices.Equal(a.Scopes, []string{"openid", "offline_access"}) {
		t.Fatalf("grant %+v", a)
	}
	if _, ok := c.App("https://other.test", "shop"); ok {
		t.Fatal("a client of another issuer matched")
	}
	for i := range identity.MaxAppFamilies + 5 {
		c.NoteApp("https://login.test", "shop", nil, fmt.Sprint("g", i), t0)
	}
	if a, _ := c.App("https://login.test", "shop"); len(a.Families) != identity.MaxAppFamilies || a.Families[len(a.Families)-1] != fmt.Sprint("g", identity.MaxAppFamilies+4) {
		t.Fatalf("families not bounded to the newest: %d %v", len(a.Families), a.Families)
	}
	for i := range identity.MaxApps + 3 {
		c.NoteApp("https://login.test", fmt.Sprint("c", i), nil, "", t0.Add(time.Duration(i+2)*time.Hour))
	}
	if len(c.Apps) != identity.MaxApps {
		t.Fatalf("%d apps, want at most %d", len(c.Apps), identity.MaxApps)
	}
	if _, ok := c.App("https://login.test", "shop"); ok {
		t.Fatal("the least recently used grant stayed")
	}
	if _, ok := c.DropApp("https://login.test", "c10"); !ok {
		t.Fatal("DropApp")
	}
	if _, ok := c.App("https://login.test", "c10"); ok {
		t.Fatal("dropped grant still there")
	}
}
