package identity

import (
	"testing"
	"time"
)

// TestNoteAgent: a grant in force keeps its id and never shortens; an
// ended one is replaced; an app's becomes an agent's with its families;
// use is noted only on the grant named.
func TestNoteAgent(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var c Customer
	g := c.NoteAgent("https://op", "bot", []string{"openid"}, t0.Add(time.Hour), t0)
	if !g.Live(t0) || g.GrantID == "" || !g.Until.Equal(t0.Add(time.Hour)) {
		t.Fatalf("new grant %+v", g)
	}
	g2 := c.NoteAgent("https://op", "bot", []string{"orders:read"}, t0.Add(time.Minute), t0.Add(time.Minute))
	if g2.GrantID != g.GrantID || !g2.Until.Equal(g.Until) || len(g2.Scopes) != 2 {
		t.Fatalf("renewed grant %+v", g2)
	}
	g3 := c.NoteAgent("https://op", "bot", nil, t0.Add(3*time.Hour), t0.Add(2*time.Hour))
	if g3.GrantID == g.GrantID || !g3.GrantedAt.Equal(t0.Add(2*time.Hour)) || len(c.Apps) != 1 {
		t.Fatalf("a grant after the term %+v", g3)
	}
	c.NoteApp("https://op", "app", []string{"openid"}, "fam", t0)
	g4 := c.NoteAgent("https://op", "app", nil, t0.Add(time.Hour), t0)
	if !g4.Agent || g4.GrantID == "" || len(g4.Families) != 1 || len(c.Apps) != 2 {
		t.Fatalf("an app turned agent %+v", g4)
	}
	if c.NoteAgentUse("nope", "192.0.2.0/24", t0) || !c.NoteAgentUse(g4.GrantID, "192.0.2.0/24", t0.Add(time.Minute)) {
		t.Fatal("use noted on the wrong grant")
	}
	if a, _ := c.App("https://op", "app"); a.LastUsedNetwork != "192.0.2.0/24" || !a.LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("use %+v", a)
	}
}
