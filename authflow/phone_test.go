package authflow_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/sms"
)

// phones records what the phone journeys text and mail.
type phones struct {
	mu    sync.Mutex
	codes map[string]string // number → last code
	told  []string          // numbers told their number was replaced
	mails []string          // masked new numbers mailed ("" removed)
	// logins counts the sign-in codes texted.
	logins int
}

func (p *phones) PhoneCode(_ context.Context, phone, code string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.codes == nil {
		p.codes = map[string]string{}
	}
	p.codes[phone] = code
	return nil
}

// SignInCode keeps a second-factor code as PhoneCode keeps its own.
func (p *phones) SignInCode(ctx context.Context, phone, code string) error {
	return p.PhoneCode(ctx, phone, code)
}

// LoginCode keeps a sign-in code as PhoneCode keeps its own, and counts
// it.
func (p *phones) LoginCode(ctx context.Context, phone, code string) error {
	p.mu.Lock()
	p.logins++
	p.mu.Unlock()
	return p.PhoneCode(ctx, phone, code)
}

// CaseCode keeps a support agent's case code as PhoneCode keeps its own.
func (p *phones) CaseCode(ctx context.Context, phone, code string) error {
	return p.PhoneCode(ctx, phone, code)
}

func (p *phones) PhoneReplaced(_ context.Context, old string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.told = append(p.told, old)
	return nil
}

func (p *phones) PhoneChangedMail(_ context.Context, _ *identity.Customer, phone string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mails = append(p.mails, phone)
}

func (p *phones) code(n string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.codes[n]
}

// wrong is a code that is not c.
func wrong(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

// TestPhoneChange: the code proves the number before it replaces the old
// one; 5 wrong tries kill it; another session cannot use it; it expires;
// the allow-list refuses before anything is stored or sent; a number
// another account has gets the same answer and text; removal.
func TestPhoneChange(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		p := &phones{}
		e.flows.Phone = &authflow.PhoneSettings{Countries: []string{"GB", "IE"}, Region: "GB", Notify: p}
		c := e.verified(t, "phone@example.com")
		const mine, key = "+447400123456", "session-key-1"
		ask := func(key, number string) (authflow.Outcome, error) {
			cur, _ := e.store.Customer(ctx, c.ID)
			return e.flows.RequestPhoneChange(ctx, authflow.PhoneChangeInput{Customer: cur, SessionKey: key, Phone: number})
		}
		confirm := func(key, code string) (authflow.Outcome, error) {
			return e.flows.ConfirmPhoneChange(ctx, authflow.PhoneConfirmInput{CustomerID: c.ID, SessionKey: key, Code: code})
		}

		// Refused before anything is stored or sent.
		for _, bad := range []string{"+33612345678", "not a number", "+1 201-555-0123"} {
			out, err := ask(key, bad)
			inv := run[authflow.Invalid](t, bad, out, err)
			if inv.Fields["phone"] == nil {
				t.Fatalf("%s: %+v", bad, inv)
			}
		}
		if out, err := ask(key, "+33612345678"); err == nil {
			if inv, ok := out.(authflow.Invalid); !ok || !errors.Is(inv.Fields["phone"], authflow.ErrPhoneCountry) {
				t.Fatalf("France: %#v", out)
			}
		}
		if len(p.codes) != 0 {
			t.Fatalf("texted: %v", p.codes)
		}
		if pend, _ := e.store.PendingTokens(ctx, c.ID); len(pend) != 0 {
			t.Fatalf("stored: %+v", pend)
		}

		// National form with the site's region; the code is bound to the session.
		out, err := ask(key, "07400 123456")
		if sent := run[authflow.PhoneCodeSent](t, "ask", out, err); sent.Phone != mine {
			t.Fatalf("sent to %q", sent.Phone)
		}
		code := p.code(mine)
		if got, _ := e.store.Customer(ctx, c.ID); got.Phone != "" {
			t.Fatal("the number was set before the code came back")
		}
		out, err = confirm("another-session", code)
		run[authflow.CodeDead](t, "another session", out, err)
		out, err = confirm(key, code)
		done := run[authflow.PhoneChanged](t, "confirm", out, err)
		if done.Customer.Phone != mine || !done.Customer.PhoneVerified || done.Old != "" {
			t.Fatalf("changed: %+v", done.Customer)
		}
		out, err = confirm(key, code)
		run[authflow.CodeDead](t, "single use", out, err)
		if len(p.told) != 0 || len(p.mails) != 1 || p.mails[0] != sms.MaskNumber(mine) {
			t.Fatalf("told %v, mailed %v", p.told, p.mails)
		}
		out, err = ask(key, mine)
		run[authflow.PhoneUnchanged](t, "the same number", out, err)

		// Five wrong tries kill the code; the right one then fails too.
		const next = "+353850123456"
		out, err = ask(key, next)
		run[authflow.PhoneCodeSent](t, "ask again", out, err)
		code = p.code(next)
		for i := 1; i < identity.PhoneCodeMaxTries; i++ {
			out, err = confirm(key, wrong(code))
			if w := run[authflow.WrongCode](t, "wrong", out, err); w.Left != identity.PhoneCodeMaxTries-i {
				t.Fatalf("try %d: %d left", i, w.Left)
			}
		}
		out, err = confirm(key, wrong(code))
		run[authflow.CodeLockedOut](t, "fifth wrong", out, err)
		out, err = confirm(key, code)
		run[authflow.CodeDead](t, "after the lock", out, err)

		// Expired after ten minutes.
		out, err = ask(key, next)
		run[authflow.PhoneCodeSent](t, "ask once more", out, err)
		e.clock.advance(identity.PhoneCodeTTL + time.Second)
		out, err = confirm(key, p.code(next))
		run[authflow.CodeDead](t, "expired", out, err)
		if got, _ := e.store.Customer(ctx, c.ID); got.Phone != mine {
			t.Fatalf("the old number went: %q", got.Phone)
		}

		// A change: the old number is told, the address mailed.
		out, err = ask(key, next)
		run[authflow.PhoneCodeSent](t, "change", out, err)
		out, err = confirm(key, p.code(next))
		done = run[authflow.PhoneChanged](t, "change confirmed", out, err)
		if done.Old != mine || done.Customer.Phone != next || len(p.told) != 1 || p.told[0] != mine {
			t.Fatalf("change: %+v, told %v", done, p.told)
		}

		// Another account's number: the same answer and text; the code
		// then says only that the number cannot be added.
		other := e.verified(t, "other@example.com")
		out, err = e.flows.RequestPhoneChange(ctx, authflow.PhoneChangeInput{Customer: other, SessionKey: "other-key", Phone: next})
		run[authflow.PhoneCodeSent](t, "a taken number", out, err)
		out, err = e.flows.ConfirmPhoneChange(ctx, authflow.PhoneConfirmInput{CustomerID: other.ID, SessionKey: "other-key", Code: p.code(next)})
		run[authflow.PhoneNotAdded](t, "a taken number confirmed", out, err)

		// Removal: the number is told and freed.
		out, err = e.flows.RemovePhone(ctx, c.ID, authflow.Client{})
		run[authflow.PhoneRemoved](t, "remove", out, err)
		if _, err := e.store.CustomerByPhone(ctx, next); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("removed number: %v", err)
		}
		if len(p.told) != 2 || p.told[1] != next {
			t.Fatalf("told %v", p.told)
		}
		out, err = e.flows.RemovePhone(ctx, c.ID, authflow.Client{})
		run[authflow.PhoneNone](t, "remove again", out, err)
		kinds := map[string]bool{}
		evs, _ := e.store.Events(ctx, c.ID, 20)
		for _, ev := range evs {
			kinds[ev.Kind] = true
		}
		for _, k := range []string{identity.EventPhoneAdded, identity.EventPhoneChanged, identity.EventPhoneRemoved} {
			if !kinds[k] {
				t.Errorf("no %s in the trail", k)
			}
		}

		// No allow-list: phone numbers are off.
		e.flows.Phone.Countries = nil
		out, err = ask(key, mine)
		run[authflow.PhoneOff](t, "no countries", out, err)
	})
}
