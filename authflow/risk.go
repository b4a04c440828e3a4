package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/netip"
	"strings"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/risk"
)

// Adaptive risk at sign-in: once a first factor is proven, the sign-in is
// judged against the customer's recent sightings (risk.Evaluate) and the
// site's policy decides (risk.Policy.Decide) — refuse it, send it through
// a password reset, ask for the second factor (or, without one, a code
// mailed to the verified address), and/or tell the customer once it
// completes. The completed sign-in's sighting joins the history; a
// refused or abandoned one does not (an attacker's attempts do not make
// their place familiar).

// RiskSettings is a site's risk judgement (Flows.Risk; nil: none).
type RiskSettings struct {
	Policy risk.Policy
	Config risk.Config
	// Locate maps a client address to its place (a zero Place: unknown;
	// nil: no databases).
	Locate func(ip string) risk.Place
	// Decided, when set, is told every decision (metrics, the admin API).
	Decided func(risk.Decision)
	// Failures, when set, counts failed password sign-ins per address at
	// the edge (botdefense): recent_failures.
	Failures SignInFailures
}

// SignInFailures counts failed password sign-ins per normalised address
// (the edge defence's counters, shared by the nodes).
type SignInFailures interface {
	NoteSignInFailure(ctx context.Context, account string) error
	SignInFailures(ctx context.Context, account string) (int, error)
}

// FactorEmail is a code mailed to the verified address: the risk step-up
// of a customer without a second factor. It proves the mailbox, not a
// second factor: the session stays aal1.
const FactorEmail Factor = "email"

// Outcomes of the risk judgement.
type (
	// RiskRefused: the policy refused the sign-in (deny).
	RiskRefused struct{ Decision risk.Decision }
	// RiskResetDue: the policy lets the sign-in go on only through a
	// password reset (breached_password reset); the reset link is mailed.
	RiskResetDue struct{ Decision risk.Decision }
)

func (RiskRefused) outcome()  {}
func (RiskResetDue) outcome() {}

// judge evaluates a first factor just proven; nil without a policy.
func (f *Flows) judge(ctx context.Context, c *identity.Customer, in FirstFactorInput) *identity.RiskNote {
	if f.Risk == nil {
		return nil
	}
	s := risk.Sighting{At: f.now().UTC(), Device: in.DeviceID, Browser: risk.DeviceFamily(in.Client.UserAgent)}
	if f.Risk.Locate != nil {
		s.Place = f.Risk.Locate(in.Client.IP)
	}
	failures := in.Failures
	if f.Risk.Failures != nil && failures == 0 {
		n, err := f.Risk.Failures.SignInFailures(ctx, c.Email)
		if err != nil {
			f.warn("reading an account's recent failed sign-ins", err) // the signal is skipped
		}
		failures = n
	}
	a := risk.Attempt{Sighting: s, Breached: in.Breached, Failures: failures}
	a.Addr, _ = netip.ParseAddr(in.Client.IP)
	d := f.Risk.Policy.Decide(risk.Evaluate(c.Sightings, a, f.Risk.Config))
	return &identity.RiskNote{Decision: d, Sighting: s, Notify: d.Asks(risk.Notify)}
}

// riskFirst acts on a decision before the second step: (nil, false) when
// the sign-in goes on as usual.
func (f *Flows) riskFirst(ctx context.Context, c *identity.Customer, in FirstFactorInput, note *identity.RiskNote) (Outcome, bool, error) {
	if note == nil {
		return nil, false, nil
	}
	d := note.Decision
	switch {
	case f.recordDecision(ctx, in.Client, c.ID, d):
		return RiskRefused{Decision: d}, true, nil
	case d.Asks(risk.Reset) && c.Email == "":
		// No address to mail a reset link to (a customer who signed up by
		// phone): nothing else the policy could ask would do.
		return RiskRefused{Decision: d}, true, nil
	case d.Asks(risk.Reset):
		if _, err := f.RequestReset(ctx, c.Email); err != nil {
			return nil, true, err
		}
		return RiskResetDue{Decision: d}, true, nil
	case d.Asks(risk.StepUp):
		w := Wait{Purpose: PurposeSignIn, AMR: in.AMR, Redirect: in.Redirect, IdP: in.IdP, Risk: note,
			Factors: secondFactorsAfter(in.AMR)}
		switch {
		case f.hasSecondFactorAfter(c, in.AMR):
		case c.EmailVerified && c.Email != "":
			w.Factors = []Factor{FactorEmail}
		default:
			// Nothing to step up with (a phone-only customer signing in
			// by that phone): the texted code cannot also be the check
			// of a sign-in its own use made risky.
			return RiskRefused{Decision: d}, true, nil
		}
		out, err := f.AskSecondFactor(ctx, c, w)
		return out, true, err
	}
	return nil, false, nil
}

// judgeStrong judges a sign-in that proved more than the policy's
// step-up could ask (a passkey, a provider's trusted MFA): refused when
// the policy denies, and otherwise started with the decision, to be
// recorded and told as any other.
func (f *Flows) judgeStrong(ctx context.Context, due SessionDue, in FirstFactorInput) (Outcome, error) {
	in.Customer = due.Customer
	note := f.judge(ctx, due.Customer, in)
	if note == nil {
		return due, nil
	}
	if f.recordDecision(ctx, in.Client, due.Customer.ID, note.Decision) {
		return RiskRefused{Decision: note.Decision}, nil
	}
	due.Risk = note
	return due, nil
}

// recordDecision puts a decision with findings in the customer's trail,
// and a refusal besides; it reports whether the policy refuses.
func (f *Flows) recordDecision(ctx context.Context, client Client, id string, d risk.Decision) (refused bool) {
	if f.Risk != nil && f.Risk.Decided != nil {
		f.Risk.Decided(d)
	}
	if len(d.Findings) > 0 {
		f.auditDetail(ctx, client, id, identity.EventRiskDecision, riskDetail(d))
	}
	if !d.Asks(risk.Deny) {
		return false
	}
	f.auditDetail(ctx, client, id, identity.EventRiskRefused, riskDetail(d))
	return true
}

// riskDetail is a decision in the trail's words: "high: impossible_travel
// (Berlin, DE to AU, 16000 km in 1h0m0s), new_country (…) → stepup notify".
func riskDetail(d risk.Decision) string {
	var b strings.Builder
	b.WriteString(string(d.Level))
	b.WriteString(":")
	for i, fd := range d.Findings {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" " + string(fd.Signal))
		if fd.Detail != "" {
			b.WriteString(" (" + fd.Detail + ")")
		}
	}
	if len(d.Actions) > 0 {
		b.WriteString(" →")
		for _, a := range d.Actions {
			b.WriteString(" " + string(a))
		}
	}
	if !d.Enforced {
		b.WriteString(" [audit only]")
	}
	return b.String()
}

// riskDone, once a judged sign-in's session starts: its sighting joins
// the customer's history, and the customer is told when the policy asks.
func (f *Flows) riskDone(ctx context.Context, c *identity.Customer, note *identity.RiskNote) {
	if note == nil {
		return
	}
	if _, err := f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.Sightings = c.Sightings.Add(note.Sighting)
		return nil
	}); err != nil {
		f.warn("recording a sign-in's place and device", err)
	}
	if note.Notify && f.Notify != nil {
		f.Notify.NewSignIn(ctx, c, note.Sighting, note.Decision)
	}
}

// riskCodeMatches compares a typed code with the wait's (the hash bound
// to the wait's nonce, as the email-link codes are), in constant time.
func riskCodeMatches(nonce, typed string, hash []byte) bool {
	typed = digitsOnly(typed)
	return len(hash) > 0 && isEmailCode(typed) && subtle.ConstantTimeCompare(emailCodeHash(nonce, typed), hash) == 1
}

// StepUpMoved asks a session used from another place than it signed in
// from (continuous evaluation: session_moved) to prove itself again, as
// a risky sign-in is asked: the account's second factor, or without one
// a code mailed to the verified address; NoFactorToUse when there is
// neither (the customer signs in again). The wait is bound to the
// session, so its completion replaces it with a session of the new place.
func (f *Flows) StepUpMoved(ctx context.Context, in StepUpInput) (Outcome, error) {
	c, s := in.Customer, in.Session
	w := Wait{AMR: s.AMR, Redirect: in.Redirect, Purpose: PurposeStepUp, SessionKey: s.Key}
	switch {
	case f.HasSecondFactor(c):
	case c.EmailVerified && c.Email != "":
		w.Factors = []Factor{FactorEmail}
	default:
		return NoFactorToUse{}, nil
	}
	return f.AskSecondFactor(ctx, c, w)
}

// RiskMoved records what the policy made of a session used from another
// place (once per session and address: the edge keeps its verdicts), and
// tells the customer when the policy asks it.
func (f *Flows) RiskMoved(ctx context.Context, client Client, id string, d risk.Decision, s risk.Sighting) {
	f.recordDecision(ctx, client, id, d)
	if !d.Asks(risk.Notify) || f.Notify == nil {
		return
	}
	c, err := f.Customers.Customer(ctx, id)
	if err != nil {
		f.warn("loading a customer to tell of a moved session", err)
		return
	}
	f.Notify.NewSignIn(ctx, c, s, d)
}

// NotMeLink returns the secret of a new "this wasn't me" link for a mail
// telling customer id of a sign-in: single use, NotMeTTL.
func (f *Flows) NotMeLink(ctx context.Context, id string) (string, error) {
	secret, tok := identity.NewToken(identity.NotMe{}, id, identity.NotMeTTL, f.now())
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return "", err
	}
	return secret, nil
}

// NotMeDone: the account is secured (NotMe).
type NotMeDone struct{ Customer *identity.Customer }

func (NotMeDone) outcome() {}

// NotMe acts on a "this wasn't me" link: whoever signed in is put out —
// every session ends (agents stop), remembered devices are forgotten —
// and a password reset link is mailed to the verified address, since
// they may know the password. Single use; LinkExpired when used, past
// its term, or its account is gone.
func (f *Flows) NotMe(ctx context.Context, secret string, client Client) (Outcome, error) {
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenNotMe, identity.HashToken(secret), f.now())
	if errors.Is(err, identity.ErrNotFound) || err == nil && tok.CustomerID == "" {
		return LinkExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := f.Customers.UpdateCustomer(ctx, tok.CustomerID, func(c *identity.Customer) error {
		c.ForgetDevices()
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) {
		return LinkExpired{}, nil
	}
	if err != nil {
		f.putBack(ctx, tok)
		return nil, err
	}
	if err := f.endAllSessions(ctx, c.ID); err != nil {
		return nil, err
	}
	f.audit(ctx, client, c.ID, identity.EventNotMe)
	if _, err := f.RequestReset(ctx, c.Email); err != nil {
		return nil, err
	}
	return NotMeDone{Customer: c}, nil
}
