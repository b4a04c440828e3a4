package caddymodule

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/events"
)

// t0 is the start of a minute.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// TestStatusSeriesMinutes: counts land in their minute, oldest first, and
// the next minute starts at zero.
func TestStatusSeriesMinutes(t *testing.T) {
	var s minuteSeries
	s.add(t0)
	s.add(t0.Add(59 * time.Second))
	s.add(t0.Add(time.Minute)) // rollover
	got := s.last(t0.Add(time.Minute + 30*time.Second))
	if got[statusMinutes-1] != 1 || got[statusMinutes-2] != 2 || sum(got) != 3 {
		t.Fatalf("last minutes: %v", got[statusMinutes-3:])
	}
	// A minute later the same counts have moved one place left.
	got = s.last(t0.Add(2 * time.Minute))
	if got[statusMinutes-1] != 0 || got[statusMinutes-2] != 1 || got[statusMinutes-3] != 2 {
		t.Fatalf("a minute on: %v", got[statusMinutes-4:])
	}
}

// TestStatusSeriesHour: a count is shown for 60 minutes, then drops out;
// its bucket, reused an hour later, starts from zero.
func TestStatusSeriesHour(t *testing.T) {
	var s minuteSeries
	s.add(t0)
	s.add(t0)
	if got := s.last(t0.Add(59 * time.Minute)); got[0] != 2 || sum(got) != 2 {
		t.Fatalf("59 minutes on: %v", got)
	}
	if got := s.last(t0.Add(time.Hour)); sum(got) != 0 {
		t.Fatalf("an hour on: %v", got)
	}
	s.add(t0.Add(time.Hour)) // the same bucket, an hour later
	if got := s.last(t0.Add(time.Hour)); got[statusMinutes-1] != 1 || sum(got) != 1 {
		t.Fatalf("bucket reused: %v", got)
	}
}

// TestStatusSeriesClockJumps: a clock moved days ahead shows nothing of
// before; moved back, it shows nothing counted "in the future", and
// counts again from zero in those buckets.
func TestStatusSeriesClockJumps(t *testing.T) {
	var s minuteSeries
	for i := range 10 {
		s.add(t0.Add(time.Duration(i) * time.Minute))
	}
	ahead := t0.Add(72*time.Hour + 5*time.Minute)
	if got := s.last(ahead); sum(got) != 0 {
		t.Fatalf("days ahead: %v", got)
	}
	s.add(ahead)
	// Back to where it was: the jump's count is in another hour.
	if got := s.last(t0.Add(9 * time.Minute)); sum(got) != 9 || got[statusMinutes-1] != 1 {
		t.Fatalf("back: %v (the bucket of minute 5 was taken by the jump)", got)
	}
	// Further back than anything counted: nothing.
	before := t0.Add(-2 * time.Hour)
	if got := s.last(before); sum(got) != 0 {
		t.Fatalf("before: %v", got)
	}
	s.add(before)
	if got := s.last(before); sum(got) != 1 {
		t.Fatalf("counted before: %v", got)
	}
	// Before 1970, minutes still floor.
	var old minuteSeries
	epoch := time.Unix(-30, 0)
	old.add(epoch)
	if got := old.last(time.Unix(-1, 0)); got[statusMinutes-1] != 1 {
		t.Fatalf("before the epoch: %v", got[statusMinutes-2:])
	}
}

// TestStatusSeriesFeeds: events and edge decisions reach their series.
func TestStatusSeriesFeeds(t *testing.T) {
	s := statusSeries{now: func() time.Time { return t0 }}
	for _, e := range []events.Event{
		{Type: events.SignInSucceeded}, {Type: events.SignInSucceeded}, {Type: events.SignInFailed},
		{Type: events.RiskDecision, Data: map[string]string{"decision": "high: new_device"}},
		{Type: events.RiskDecision, Data: map[string]string{"refused": "true"}},
		{Type: events.CustomerCreated},
	} {
		s.noteEvent(e)
	}
	for _, a := range []botdefense.Action{botdefense.Allow, botdefense.Solved, botdefense.Challenge, botdefense.Limited, botdefense.Refused, botdefense.Blocked} {
		s.noteDecision(a)
	}
	for name, want := range map[*minuteSeries]uint64{&s.signIns: 2, &s.failures: 1, &s.risk: 1, &s.riskRefused: 1, &s.challenges: 1, &s.refusals: 3} {
		if got := sum(name.last(t0)); got != want {
			t.Errorf("series %p: %d, want %d", name, got, want)
		}
	}
}

// TestStatusPageRender: the page escapes what attackers chose (offender
// keys), says each chart's numbers in words, and its CSP's hash is the
// one style element's.
func TestStatusPageRender(t *testing.T) {
	counts := [statusMinutes]uint64{}
	counts[10], counts[59] = 3, 1
	v := statusView{Node: "node<1>", Generated: "now", Backends: []backendView{{
		ID: "store1", Kind: "bolt", Store: storeStatus{Backend: "bolt", Healthy: true},
		Charts:    []chartView{chart(statusSpecs[0], "store1", counts, t0)},
		Offenders: []botdefense.Offender{{Key: `ip <script>alert(1)</script>`, Count: 7}},
		Webhooks:  []hookStatus{{Name: "crm", Pending: 4, LastError: `<img src=x onerror=alert(1)>`}},
	}}}
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, v); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script", "<img", "node<1>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	for _, want := range []string{
		"ip &lt;script&gt;alert(1)&lt;/script&gt;",
		"Sign-ins per minute over the last hour: 4 in total, at most 3 a minute",
		"Busiest minute: 12:10 UTC, with 3. In the last minute: 1.",
		`<svg role="img" aria-labelledby="store1-signins-t store1-signins-d"`,
		`<rect class="signins" x="101" y="5" width="8" height="90">`,
		`<rect class="signins" x="591" y="65" width="8" height="30">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "http-equiv") || !strings.Contains(page, `<a href="status?refresh=30">`) {
		t.Error("the page reloads by itself, or offers no reloading")
	}
	v.Refresh = 30
	buf.Reset()
	if err := statusTemplate.Execute(&buf, v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `<meta http-equiv="refresh" content="30">`) || !strings.Contains(buf.String(), `<a href="status">Stop reloading</a>`) {
		t.Errorf("asked to reload, the page does not (or cannot be stopped):\n%s", buf.String())
	}
	_, rest, _ := strings.Cut(page, "<style>")
	css, _, _ := strings.Cut(rest, "</style>")
	h := sha256.Sum256([]byte(css))
	if !strings.Contains(statusCSP, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(h[:])+"'") || !strings.Contains(statusCSP, "default-src 'none'") {
		t.Errorf("CSP %q does not allow the rendered style element", statusCSP)
	}
}
