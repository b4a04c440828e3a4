package authflow_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/risk"
)

// riskPlaces maps the test's client addresses to places.
var riskPlaces = map[string]risk.Place{
	"127.10.0.1": {Country: "DE", City: "Berlin", Lat: 52.52, Lon: 13.405, Exact: true, ASN: 3320},
	"127.11.0.1": {Country: "DE", City: "Potsdam", Lat: 52.3906, Lon: 13.0645, Exact: true, ASN: 3320},
	"127.20.0.1": {Country: "AU", Lat: -25, Lon: 135, ASN: 1221},
}

// TestRiskJourney: a sign-in is judged against the customer's recent ones
// — the first allowed and remembered, a short move nothing, Australia an
// hour after Berlin a step-up (a code mailed to a customer without a
// second factor; their authenticator for one with it), a new device a
// mail; refusals, resets and audit mode; only completed sign-ins join the
// history.
func TestRiskJourney(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := risk.DefaultPolicy()
		for sig, acts := range map[string][]string{"new_country": {"stepup"}, "impossible_travel": {"stepup", "notify"}, "new_device": {"notify"}} {
			if err := p.Set(sig, acts...); err != nil {
				t.Fatal(err)
			}
		}
		e.flows.Risk = &authflow.RiskSettings{Policy: p, Locate: func(ip string) risk.Place { return riskPlaces[ip] }}
		c := e.verified(t, "ria@example.com")
		e.mail.take()
		signIn := func(ip, device string) authflow.Outcome {
			t.Helper()
			c, err := e.store.Customer(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			out, err := e.flows.FirstFactorDone(ctx, authflow.FirstFactorInput{Customer: c, AMR: []string{"pwd"}, Redirect: "/app",
				Client: authflow.Client{IP: ip, UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}, DeviceID: device})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		start := func(due authflow.SessionDue, ip string) {
			t.Helper()
			if _, err := e.flows.StartSession(ctx, authflow.StartSessionInput{Due: due, Site: "shop.example.com", Client: authflow.Client{IP: ip}}); err != nil {
				t.Fatal(err)
			}
		}
		history := func() risk.History {
			t.Helper()
			c, err := e.store.Customer(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return c.Sightings
		}
		kinds := func() (out []string) {
			for _, m := range e.mail.take() {
				out = append(out, m.kind)
			}
			return out
		}

		// The first sign-in: nothing to compare with; remembered.
		due := run[authflow.SessionDue](t, "first", signIn("127.10.0.1", "d1"), nil)
		start(due, "127.10.0.1")
		if h := history(); len(h) != 1 || h[0].Place.City != "Berlin" || h[0].Device != "d1" || h[0].Browser != "Firefox/Linux" {
			t.Fatalf("history after the first sign-in: %+v", h)
		}
		// Potsdam ten minutes later, same device: under 100 km.
		e.clock.advance(10 * time.Minute)
		due = run[authflow.SessionDue](t, "potsdam", signIn("127.11.0.1", "d1"), nil)
		if len(due.Risk.Decision.Findings) != 0 {
			t.Fatalf("a short move: %+v", due.Risk.Decision)
		}
		start(due, "127.11.0.1")
		if k := kinds(); len(k) != 0 {
			t.Fatalf("mail after an ordinary sign-in: %v", k)
		}
		// Australia an hour later: a code mailed to the verified address.
		e.clock.advance(time.Hour)
		sf := run[authflow.SecondFactorDue](t, "australia", signIn("127.20.0.1", "d1"), nil)
		if !sf.Offer.Email || sf.Offer.TOTP || sf.Offer.Remember {
			t.Fatalf("offer: %+v", sf.Offer)
		}
		sent := e.mail.take()
		if len(sent) != 1 || sent[0].kind != "risk_code" || sent[0].to != "ria@example.com" {
			t.Fatalf("mail: %+v", sent)
		}
		if got := history(); len(got) != 2 {
			t.Fatalf("an unfinished sign-in joined the history: %+v", got)
		}
		wrong := "000000"
		if sent[0].code == wrong {
			wrong = "111111"
		}
		answer := func(nonce, code string) (authflow.Outcome, error) {
			return e.flows.AnswerSecondFactor(ctx, authflow.SecondFactorInput{Nonce: nonce, Current: noSession, EmailCode: code})
		}
		out, err := answer(sf.Nonce, wrong)
		run[authflow.WrongAnswer](t, "wrong code", out, err)
		out, err = answer(authflow.NewNonce(), sent[0].code)
		run[authflow.WaitGone](t, "another browser's nonce", out, err)
		out, err = answer(sf.Nonce, sent[0].code)
		due = run[authflow.SessionDue](t, "right code", out, err)
		if due.ACR != "aal1" || !slices.Contains(due.AMR, "email") || slices.Contains(due.AMR, "mfa") || due.Risk == nil || due.Risk.Decision.Level != risk.High {
			t.Fatalf("after the mailed code: %+v", due)
		}
		start(due, "127.20.0.1")
		if k := kinds(); !slices.Equal(k, []string{"new_sign_in"}) {
			t.Fatalf("mail after the stepped-up sign-in: %v", k)
		}
		if h := history(); len(h) != 3 || h[2].Place.Country != "AU" {
			t.Fatalf("history: %+v", h)
		}
		// A new device in a known place: a mail, once; the same device
		// again: none.
		e.clock.advance(24 * time.Hour)
		due = run[authflow.SessionDue](t, "new device", signIn("127.20.0.1", "d2"), nil)
		start(due, "127.20.0.1")
		if k := kinds(); !slices.Equal(k, []string{"new_sign_in"}) {
			t.Fatalf("mail after a new device: %v", k)
		}
		start(run[authflow.SessionDue](t, "known device", signIn("127.20.0.1", "d2"), nil), "127.20.0.1")
		if k := kinds(); len(k) != 0 {
			t.Fatalf("mail after a known device: %v", k)
		}
		// With a second factor, the step-up is that factor.
		e.withTOTP(t, c)
		e.clock.advance(time.Minute)
		sf = run[authflow.SecondFactorDue](t, "back in Berlin with an authenticator", signIn("127.10.0.1", "d2"), nil)
		if sf.Offer.Email || !sf.Offer.TOTP {
			t.Fatalf("offer with an authenticator: %+v", sf.Offer)
		}
		if k := kinds(); len(k) != 0 {
			t.Fatalf("a code was mailed to a customer with a second factor: %v", k)
		}
		// deny: refused, in the trail, not in the history.
		if err := p.Set("impossible_travel", "deny"); err != nil {
			t.Fatal(err)
		}
		e.flows.Risk.Policy = p
		e.clock.advance(time.Minute)
		n := len(history())
		run[authflow.RiskRefused](t, "denied", signIn("127.10.0.1", "d2"), nil)
		if len(history()) != n {
			t.Fatal("a refused sign-in joined the history")
		}
		evs, _ := e.store.Events(ctx, c.ID, 50)
		if !slices.ContainsFunc(evs, func(ev identity.Event) bool {
			return ev.Kind == identity.EventRiskRefused && strings.Contains(ev.Detail, "impossible_travel")
		}) {
			t.Fatalf("no refusal in the trail: %+v", evs)
		}
		// Audit mode: decided and in the trail, nothing done (the
		// authenticator is asked because the customer has one).
		p.Mode = risk.Audit
		e.flows.Risk.Policy = p
		run[authflow.SecondFactorDue](t, "audit mode", signIn("127.10.0.1", "d2"), nil)
		// breached_password reset: the reset link is mailed.
		p.Mode = risk.Enforce
		e.flows.Risk.Policy = p
		cc, _ := e.store.Customer(ctx, c.ID)
		out, err = e.flows.FirstFactorDone(ctx, authflow.FirstFactorInput{Customer: cc, AMR: []string{"pwd"}, Breached: true,
			Client: authflow.Client{IP: "127.20.0.1"}, DeviceID: "d2"})
		run[authflow.RiskResetDue](t, "breached", out, err)
		if k := kinds(); !slices.Contains(k, "reset") {
			t.Fatalf("no reset mail: %v", k)
		}
	})
}

// TestRiskNoDatabase: without places, the sign-in goes on, judged on what
// there is (devices).
func TestRiskNoDatabase(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.flows.Risk = &authflow.RiskSettings{Policy: risk.DefaultPolicy()}
		c := e.verified(t, "nod@example.com")
		for _, ip := range []string{"127.10.0.1", "127.20.0.1"} {
			cc, _ := e.store.Customer(ctx, c.ID)
			out, err := e.flows.FirstFactorDone(ctx, authflow.FirstFactorInput{Customer: cc, AMR: []string{"pwd"},
				Client: authflow.Client{IP: ip}, DeviceID: "d1"})
			due := run[authflow.SessionDue](t, ip, out, err)
			if len(due.Risk.Decision.Findings) != 0 {
				t.Fatalf("%s: findings without a database: %+v", ip, due.Risk.Decision)
			}
			if _, err := e.flows.StartSession(ctx, authflow.StartSessionInput{Due: due, Site: "shop.example.com"}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
