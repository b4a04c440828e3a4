package authflow

import (
	"context"
	"slices"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Requirement is what a route asks of a session (a step-up rule): any of
// them unmet sends the customer to step up.
type Requirement struct {
	// AAL "aal2" asks for a second factor.
	AAL string
	// MaxAge is how recent the sign-in must be (0: any).
	MaxAge time.Duration
	// Methods are acceptable sign-in methods (RFC 8176 names, plus
	// "passkey" for hwk or swk and "totp" for otp); any one will do.
	Methods []string
}

// Unmet reports whether s falls short of req at now. It is on every
// protected request's path: no allocation.
func (req Requirement) Unmet(s *session.Session, now time.Time) bool {
	return (req.AAL == "aal2" && s.ACR != "aal2") ||
		(req.MaxAge > 0 && now.Sub(s.AuthTime) > req.MaxAge) ||
		(len(req.Methods) > 0 && !AnyMethod(s.AMR, req.Methods))
}

// AnyMethod reports whether a method in have satisfies one in want. A
// texted code ("sms") is a restricted authenticator (NIST SP 800-63B-4):
// it satisfies only a rule that names "sms", and the "mfa" it brings
// satisfies "mfa" only beside a stronger second factor.
func AnyMethod(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if w == h || (w == "passkey" && (h == "hwk" || h == "swk")) || (w == "totp" && h == "otp") {
				if w == "mfa" && smsOnly(have) {
					continue
				}
				return true
			}
		}
	}
	return false
}

// smsOnly reports whether the second factor in have is a texted code and
// nothing stronger (no allocation: on every protected request's path).
func smsOnly(have []string) bool {
	sms, strong := false, false
	for _, h := range have {
		switch h {
		case "sms":
			sms = true
		case "otp", "hwk", "swk":
			strong = true
		}
	}
	return sms && !strong
}

// AccountFreshness is how recent a sign-in must be to change how the
// customer signs in (add or remove a factor, new recovery codes).
const AccountFreshness = 10 * time.Minute

// AccountRequirement is what changing how c signs in asks: a recent
// sign-in, with the second factor if c has one.
// It does not know the site's texted codes: the HTTP side asks
// Flows.AccountRequirement, which does.
func AccountRequirement(c *identity.Customer) Requirement {
	req := Requirement{MaxAge: AccountFreshness}
	if c.HasSecondFactor() {
		req.AAL = "aal2"
	}
	return req
}

// Unmet is req.Unmet on the journeys' clock.
func (f *Flows) Unmet(req Requirement, s *session.Session) bool { return req.Unmet(s, f.now()) }

// StepUpInput is a session falling short, or not, of what the page at
// Redirect asks.
type StepUpInput struct {
	Session     *session.Session
	Customer    *identity.Customer
	Requirement Requirement
	Redirect    string
	// Resubmit: the customer was sending a form, which must be sent
	// again after the step-up.
	Resubmit bool
}

// Outcomes of StepUp besides SecondFactorDue.
type (
	// StepUpSatisfied: nothing is missing; go on to Redirect (Purpose).
	StepUpSatisfied struct {
		Purpose  WaitPurpose
		Redirect string
	}
	// SignInAgain: the sign-in is too old, or lacks a first factor the
	// page names; sign in again and come back.
	SignInAgain struct{ Resubmit bool }
	// NoFactorToUse: a second factor is needed and the customer has
	// none the page accepts.
	NoFactorToUse struct{}
)

func (StepUpSatisfied) outcome() {}
func (SignInAgain) outcome()     {}
func (NoFactorToUse) outcome()   {}

// StepUp asks only for what is missing: a sign-in that is too old means
// signing in again (which asks for the second factor of a customer who
// has one); a recent sign-in that lacks the second factor or the method
// the page names asks for just that, bound to the session.
func (f *Flows) StepUp(ctx context.Context, in StepUpInput) (Outcome, error) {
	purpose := PurposeStepUp
	if in.Resubmit {
		purpose = PurposeResubmit
	}
	s, c, req := in.Session, in.Customer, in.Requirement
	if !f.Unmet(req, s) {
		return StepUpSatisfied{Purpose: purpose, Redirect: in.Redirect}, nil
	}
	stale := req.MaxAge > 0 && f.now().Sub(s.AuthTime) > req.MaxAge
	factors, second := secondFactorsFor(req, s)
	if stale || !second {
		return SignInAgain{Resubmit: in.Resubmit}, nil
	}
	usable := slices.DeleteFunc(slices.Clone(factors), func(fa Factor) bool {
		return (fa == FactorTOTP && c.TOTP == nil) || (fa == FactorPasskey && !c.HasUsablePasskey()) ||
			(fa == FactorRecovery && len(c.RecoveryCodes) == 0) || (fa == FactorSMS && (!f.smsUsable(c) || slices.Contains(s.AMR, AMRSMS)))
	})
	if len(usable) == 0 {
		return NoFactorToUse{}, nil
	}
	return f.AskSecondFactor(ctx, c, Wait{AMR: s.AMR, Redirect: in.Redirect, Purpose: purpose, SessionKey: s.Key, Factors: usable})
}

// secondFactorsFor returns which second factors satisfy req, and whether
// a second factor is what the session lacks (false: it lacks a first
// factor, such as a password the requirement names).
//
// A texted code answers only where the rule lets it: aal2 without a
// methods list, or a methods list naming "sms".
func secondFactorsFor(req Requirement, s *session.Session) ([]Factor, bool) {
	if len(req.Methods) == 0 || AnyMethod(s.AMR, req.Methods) {
		return AllFactors, true // aal2 or only freshness is missing
	}
	var fs []Factor
	for _, m := range req.Methods {
		switch m {
		case "otp", "totp":
			fs = append(fs, FactorTOTP)
		case "passkey", "hwk", "swk":
			fs = append(fs, FactorPasskey)
		case "sms":
			fs = append(fs, FactorSMS)
		case "mfa":
			fs = append(fs, FactorTOTP, FactorPasskey, FactorRecovery)
		}
	}
	if len(fs) == 0 && req.AAL == "aal2" && s.ACR != "aal2" {
		// The rule names only first factors the session lacks, and aal2:
		// the second factor first, as before.
		return slices.DeleteFunc(slices.Clone(AllFactors), func(fa Factor) bool { return fa == FactorSMS }), true
	}
	slices.Sort(fs)
	fs = slices.Compact(fs)
	return fs, len(fs) > 0
}
