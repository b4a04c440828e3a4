package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
	"github.com/frontdoorhq/frontdoor/sms"
)

// The second step of a sign-in, and step-up. Once a customer has proven a
// first factor (password, email link) and has a second factor, no session
// is started: a wait for the second factor is stored instead, under the
// hash of a nonce the browser keeps (the HTTP side's cookie). A step-up
// uses the same wait, bound to the session asking for it; a password
// reset of an account with a second factor keeps the new password in it.

// Factor is a second factor a wait may accept.
type Factor string

const (
	FactorTOTP     Factor = "otp"
	FactorPasskey  Factor = "passkey"
	FactorRecovery Factor = "recovery"
)

// AllFactors is every second factor.
var AllFactors = []Factor{FactorTOTP, FactorPasskey, FactorRecovery, FactorSMS}

// Wait is a wait for a second factor, as the journey asking for it fills
// it in.
type Wait struct {
	Purpose WaitPurpose
	// AMR are the methods proven so far (RFC 8176 names).
	AMR []string
	// Redirect is where to go once it is answered.
	Redirect string
	// PasswordHash is the new password of a reset.
	PasswordHash string
	// SessionKey is the session a step-up belongs to: only it may answer.
	SessionKey string
	// Factors are the factors that may answer (nil: all).
	Factors []Factor
	// IdP is the provider of a provider sign-in waiting for its second
	// factor.
	IdP string
	// Risk is a judged sign-in's decision, acted on once it completes.
	Risk *identity.RiskNote
}

// Offer is what the second-factor page offers the customer.
type Offer struct {
	TOTP, Passkey, Recovery bool
	// Email: a code was mailed to the verified address (the risk step-up
	// of a customer without a second factor).
	Email bool
	// Remember offers to remember the browser (sign-in only).
	Remember bool
	// SMS offers to text a code to SMSTo (the verified number, masked:
	// sms.Hint);
	// SMSSent: one was texted for this wait, so its field is shown.
	SMS     bool
	SMSTo   string
	SMSSent bool
}

// Client is who is asking, as the HTTP side saw them (the user agent cut
// to a bounded length), for the security events recorded on the account.
type Client struct{ IP, UserAgent string }

// Outcomes of the second-factor steps.
type (
	// SecondFactorDue: ask Customer for a factor from Offer. A non-empty
	// Nonce is a new wait, for the browser to keep.
	SecondFactorDue struct {
		Nonce    string
		Customer *identity.Customer
		Offer    Offer
	}
	// SessionDue: start a session for Customer with AMR and ACR, then
	// go on to Redirect (for Purpose). A non-empty DeviceCookie is the
	// remembered browser's new cookie value.
	SessionDue struct {
		Customer     *identity.Customer
		AMR          []string
		ACR          string
		Redirect     string
		Purpose      WaitPurpose
		DeviceCookie string
		// IdP is the provider of a provider sign-in (the assertion's idp).
		IdP string
		// AskConsent, after a sign-up through a provider while purposes
		// are configured, is the nonce of the browser's pending question
		// about every purpose (GiveSignUpConsent): the browser keeps it
		// and goes to the consent prompt before Redirect.
		AskConsent string
		// Risk is the sign-in's risk decision (nil: not judged), recorded
		// and acted on when the session starts.
		Risk *identity.RiskNote
	}
	// WaitGone: no wait for this browser — expired, finished in another
	// tab, never started, or a step-up of another session.
	WaitGone struct{}
	// WrongAnswer: the answer was refused (Reason: identity.ErrBadCode,
	// ErrCodeReused, ErrCounter, ErrNoFactor or ErrPasskeyRefused); the
	// wait stays.
	WrongAnswer struct {
		Customer *identity.Customer
		Offer    Offer
		Reason   error
	}
	// TooManyAnswers: the customer's wrong answers are over their limit;
	// nothing was checked and the wait stays for after RetryAfter.
	TooManyAnswers struct{ RetryAfter time.Duration }
	// LockedOut: too many wrong answers ended the wait, and — for a
	// step-up — the session that asked (SessionEnded).
	LockedOut struct{ SessionEnded bool }
	// PasswordReset: a reset's new password is set, remembered browsers
	// forgotten and every session of the customer ended.
	PasswordReset struct{ CustomerID string }
)

func (SecondFactorDue) outcome() {}
func (SessionDue) outcome()      {}
func (WaitGone) outcome()        {}
func (WrongAnswer) outcome()     {}
func (TooManyAnswers) outcome()  {}
func (LockedOut) outcome()       {}
func (PasswordReset) outcome()   {}

// ErrPasskeyRefused is a passkey answer that does not pass.
var ErrPasskeyRefused = errors.New("authflow: passkey assertion refused")

// IsFactorRefusal reports an answer refused, as opposed to a failure of
// the stores underneath.
func IsFactorRefusal(err error) bool {
	return errors.Is(err, identity.ErrBadCode) || errors.Is(err, identity.ErrCodeReused) ||
		errors.Is(err, identity.ErrCounter) || errors.Is(err, identity.ErrNoFactor) || errors.Is(err, ErrPasskeyRefused) ||
		errors.Is(err, ErrSMSCodeExpired)
}

// FirstFactorInput is a first factor just proven.
type FirstFactorInput struct {
	Customer *identity.Customer
	AMR      []string
	Redirect string
	// Device is the browser's remembered-device cookie, if any.
	Device string
	// IdP is the provider of a provider sign-in.
	IdP string
	// Client is who signs in; DeviceID the keyed hash of the browser's
	// device cookie ("" none) — for the risk judgement.
	Client   Client
	DeviceID string
	// Breached: the password used is in the breached list; Failures the
	// recent failed sign-ins against the account.
	Breached bool
	Failures int
}

// FirstFactorDone decides what follows a first factor: a customer with a
// second factor is asked for it — unless this browser is remembered for
// them — and any other gets an aal1 session.
func (f *Flows) FirstFactorDone(ctx context.Context, in FirstFactorInput) (Outcome, error) {
	c, err := f.dueRemoval(ctx, in.Customer)
	if err != nil {
		return nil, err
	}
	in.Customer = c
	note := f.judge(ctx, c, in)
	if out, done, err := f.riskFirst(ctx, c, in, note); done {
		return out, err
	}
	if f.hasSecondFactorAfter(c, in.AMR) && !f.TrustedDevice(c, in.Device) {
		return f.AskSecondFactor(ctx, c, Wait{Purpose: PurposeSignIn, AMR: in.AMR, Redirect: in.Redirect, IdP: in.IdP, Risk: note,
			Factors: secondFactorsAfter(in.AMR)})
	}
	return SessionDue{Customer: c, AMR: in.AMR, ACR: "aal1", Redirect: in.Redirect, Purpose: PurposeSignIn, IdP: in.IdP, Risk: note}, nil
}

// AskSecondFactor stores a wait for a second factor of c and answers
// SecondFactorDue with the nonce that finds it.
func (f *Flows) AskSecondFactor(ctx context.Context, c *identity.Customer, w Wait) (Outcome, error) {
	factors := w.Factors
	if factors == nil {
		factors = AllFactors
	}
	names := make([]string, len(factors))
	for i, fa := range factors {
		names[i] = string(fa)
	}
	if _, err := parsePurpose(string(w.Purpose), waitPurposes); err != nil {
		return nil, err
	}
	wp := identity.SecondFactorWait{
		Purpose: string(w.Purpose), Methods: w.AMR, Factors: names, Redirect: w.Redirect, PasswordHash: w.PasswordHash, IdP: w.IdP,
		Risk: w.Risk,
	}
	nonce := NewNonce()
	code := ""
	if slices.Contains(factors, FactorEmail) {
		code = newEmailCode()
		wp.EmailCode = emailCodeHash(nonce, code)
	}
	if w.SessionKey != "" {
		wp.Binding = identity.HashToken(w.SessionKey)
	}
	tok := identity.NewTokenUnder(identity.HashToken(nonce), wp, c.ID, f.now().Add(identity.SecondFactorTTL))
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return nil, err
	}
	if code != "" && f.Notify != nil {
		f.Notify.RiskCode(ctx, c, code)
	}
	return SecondFactorDue{Nonce: nonce, Customer: c, Offer: f.offer(c, pendingWait{tok: tok, wait: wp, purpose: w.Purpose})}, nil
}

// offer is what a wait lets c answer with.
func (f *Flows) offer(c *identity.Customer, p pendingWait) Offer {
	o := Offer{
		TOTP:     c.TOTP != nil && p.allows(FactorTOTP),
		Passkey:  c.HasUsablePasskey() && p.allows(FactorPasskey),
		Recovery: len(c.RecoveryCodes) > 0 && p.allows(FactorRecovery),
		Email:    len(p.wait.EmailCode) > 0 && p.allows(FactorEmail),
		// A mailed code proves the mailbox, not a second factor: nothing
		// to remember the browser by.
		Remember: p.purpose == PurposeSignIn && !p.allows(FactorEmail),
	}
	if p.allows(FactorSMS) && f.smsUsable(c) {
		o.SMS, o.SMSTo, o.SMSSent = true, sms.Hint(c.Phone), len(p.wait.SMSCode) > 0
	}
	return o
}

// pendingWait is a wait taken out of the store: its token, the token's
// payload and the payload's purpose.
type pendingWait struct {
	tok     *identity.Token
	wait    identity.SecondFactorWait
	purpose WaitPurpose
}

func (p pendingWait) allows(fa Factor) bool { return slices.Contains(p.wait.Factors, string(fa)) }

// CurrentSession returns the browser's session (nil: none), or an error
// when the session store failed. A step-up's wait asks for it.
type CurrentSession func() (*session.Session, error)

// wait takes the browser's wait out of the store; the caller puts it back
// unless it is finished. nil customer, nil error: WaitGone — also for a
// wait whose stored purpose is unknown, which is dropped.
func (f *Flows) wait(ctx context.Context, nonce string, current CurrentSession) (pendingWait, *identity.Customer, error) {
	if nonce == "" {
		return pendingWait{}, nil, nil
	}
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenSecondFactor, identity.HashToken(nonce), f.now())
	if errors.Is(err, identity.ErrNotFound) {
		return pendingWait{}, nil, nil
	}
	if err != nil {
		return pendingWait{}, nil, err
	}
	wp, err := identity.PayloadOf[identity.SecondFactorWait](tok)
	if err != nil {
		return pendingWait{}, nil, err
	}
	purpose, err := parsePurpose(wp.Purpose, waitPurposes)
	if err != nil {
		f.warn("refusing a wait for a second factor", err)
		return pendingWait{}, nil, nil
	}
	if len(wp.Binding) > 0 { // a step-up: only for the session that asked
		s, err := current()
		if err != nil {
			f.putBack(ctx, tok)
			return pendingWait{}, nil, err
		}
		if s == nil || s.UserID != tok.CustomerID || subtle.ConstantTimeCompare(identity.HashToken(s.Key), wp.Binding) != 1 {
			return pendingWait{}, nil, nil
		}
	}
	c, err := f.Customers.Customer(ctx, tok.CustomerID)
	if errors.Is(err, identity.ErrNotFound) {
		return pendingWait{}, nil, nil
	}
	if err != nil {
		f.putBack(ctx, tok)
		return pendingWait{}, nil, err
	}
	return pendingWait{tok: tok, wait: wp, purpose: purpose}, c, nil
}

// SecondFactorWait looks at the browser's wait without using it (the
// second-factor page reloaded, a passkey ceremony starting):
// SecondFactorDue without a nonce, or WaitGone.
func (f *Flows) SecondFactorWait(ctx context.Context, nonce string, current CurrentSession) (Outcome, error) {
	p, c, err := f.wait(ctx, nonce, current)
	if err != nil || c == nil {
		return WaitGone{}, err
	}
	f.putBack(ctx, p.tok)
	return SecondFactorDue{Customer: c, Offer: f.offer(c, p)}, nil
}

// SecondFactorInput is an answer to a wait: one of an authenticator code,
// a recovery code or a passkey, tried in the order passkey, recovery
// code, code when several are sent.
type SecondFactorInput struct {
	Nonce   string
	Current CurrentSession
	TOTP    string
	// RecoveryCode is one of the customer's recovery codes.
	RecoveryCode string
	// Passkey is a passkey's answer (the JSON of a PublicKeyCredential)
	// to a ceremony begun by BeginPasskeySecondFactor.
	Passkey string
	// EmailCode is the code mailed for a risk step-up (FactorEmail).
	EmailCode string
	// SMSCode is the code texted by SendSMSCode (FactorSMS).
	SMSCode string
	// Remember asks to remember this browser (a sign-in only), named
	// DeviceName on the account page.
	Remember   bool
	DeviceName string
	Client     Client
}

// secondFactorAccount is the defence's account key for wrong answers.
func secondFactorAccount(id string) string { return "customer " + id }

// AnswerSecondFactor checks an answer to the browser's wait. Wrong
// answers count against the customer, whichever wait, browser or address
// they come from (Limit), and against the wait: the fifth ends it (and, for
// a step-up, the session). A right answer adds the method and "mfa" to the
// wait's AMR for an aal2 session, or sets a reset's password.
func (f *Flows) AnswerSecondFactor(ctx context.Context, in SecondFactorInput) (Outcome, error) {
	p, c, err := f.wait(ctx, in.Nonce, in.Current)
	if err != nil || c == nil {
		return WaitGone{}, err
	}
	tok := p.tok
	account := secondFactorAccount(c.ID)
	if f.SecondFactorLimit != nil {
		over, retry, err := f.SecondFactorLimit.Over(ctx, account)
		if err != nil {
			f.putBack(ctx, tok)
			return nil, err
		}
		if over {
			f.putBack(ctx, tok) // not checked: the wait stays for after the window
			return TooManyAnswers{RetryAfter: retry}, nil
		}
	}
	var method string
	switch {
	case in.Passkey != "" && p.allows(FactorPasskey):
		method, err = f.passkeySecondFactor(ctx, in.Passkey, in.Nonce, c.ID, in.Client)
	case in.RecoveryCode != "" && p.allows(FactorRecovery):
		_, err = f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.UseRecoveryCode(in.RecoveryCode) })
		method = "" // no RFC 8176 name: "mfa" alone
		if err == nil {
			f.audit(ctx, in.Client, c.ID, identity.EventRecoveryCodeUsed)
		}
	case in.EmailCode != "" && p.allows(FactorEmail):
		if !riskCodeMatches(in.Nonce, in.EmailCode, p.wait.EmailCode) {
			err = identity.ErrBadCode
		}
		method = "email"
	case in.SMSCode != "" && p.allows(FactorSMS) && f.smsUsable(c):
		err = f.checkSMSCode(p, in.Nonce, strings.ReplaceAll(strings.TrimSpace(in.SMSCode), " ", ""))
		method = "sms"
	case in.TOTP != "" && p.allows(FactorTOTP):
		_, err = f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.UseTOTP(in.TOTP, f.now()) })
		method = "otp"
	default:
		err = identity.ErrBadCode
	}
	if err != nil && !IsFactorRefusal(err) {
		f.putBack(ctx, tok)
		return nil, err
	}
	if err != nil {
		if f.SecondFactorLimit != nil {
			if err := f.SecondFactorLimit.Failed(ctx, account); err != nil {
				f.warn("recording a wrong second factor", err)
			}
		}
		p.wait.Attempts++
		if p.wait.Attempts >= identity.SecondFactorMaxAttempts {
			return f.lockOut(ctx, in, p)
		}
		if err := tok.SetPayload(p.wait); err != nil {
			return nil, err
		}
		if err := f.Tokens.PutToken(ctx, tok); err != nil {
			return nil, err
		}
		return WrongAnswer{Customer: c, Offer: f.offer(c, p), Reason: err}, nil
	}
	purpose := p.purpose
	if purpose == PurposeReset {
		return f.ApplyReset(ctx, c.ID, p.wait.PasswordHash, in.Client)
	}
	amr, acr := slices.Clone(p.wait.Methods), "aal2"
	proven := []string{method, "mfa"}
	if method == "email" { // the mailbox, again: no second factor
		proven, acr = []string{method}, "aal1"
	}
	for _, m := range proven {
		if m != "" && !slices.Contains(amr, m) {
			amr = append(amr, m)
		}
	}
	out := SessionDue{Customer: c, AMR: amr, ACR: acr, Redirect: p.wait.Redirect, Purpose: purpose, IdP: p.wait.IdP, Risk: p.wait.Risk}
	if purpose == PurposeSignIn && in.Remember {
		out.DeviceCookie = f.rememberDevice(ctx, c.ID, in.DeviceName)
	}
	return out, nil
}

// StartSessionInput is a session to start for a browser on site, which
// may hold a session already (PreviousKey, "" none).
type StartSessionInput struct {
	Due         SessionDue
	PreviousKey string
	Site        string
	Client      Client
	// Family joins the new session to a family (session.Session.Family):
	// the previous session's when the same customer signs in again, the
	// provider's session for a single sign-on. AuthTime is the provider's
	// sign-in time for a single sign-on (zero: now).
	Family   string
	AuthTime time.Time
	// IDToken: a provider of another deployment's ID token, kept for
	// signing out there (session.Session.IDToken).
	IDToken string
}

// StartSession ends whatever session the browser had — so a session
// planted before sign-in is worthless — and starts a new one with a new
// id, returning its bearer token.
func (f *Flows) StartSession(ctx context.Context, in StartSessionInput) (string, error) {
	token, _, err := f.StartSessionCancelling(ctx, in)
	return token, err
}

// StartSessionCancelling is StartSession, which also cancels an erasure
// the customer asked for (their sign-in during the grace period keeps the
// account), reporting whether it did.
func (f *Flows) StartSessionCancelling(ctx context.Context, in StartSessionInput) (string, bool, error) {
	cancelled, err := f.CancelErasure(ctx, in.Due.Customer, in.Client)
	if err != nil {
		return "", false, err
	}
	token, err := f.startSession(ctx, in)
	return token, cancelled, err
}

func (f *Flows) startSession(ctx context.Context, in StartSessionInput) (string, error) {
	if in.PreviousKey != "" {
		// Replaced within its family (the same customer signing in
		// again): not an end the family's other sessions hear of.
		end := f.Sessions.Revoke
		if in.Family != "" {
			end = f.Sessions.Retire
		}
		if err := end(ctx, in.PreviousKey); err != nil {
			return "", err
		}
	}
	c := in.Due.Customer
	token, _, err := f.Sessions.Create(ctx, session.New{
		UserID: c.ID, Email: c.Email, EmailVerified: c.EmailVerified, Site: in.Site,
		AMR: in.Due.AMR, ACR: in.Due.ACR, UserAgent: in.Client.UserAgent, IP: in.Client.IP, IdP: in.Due.IdP,
		Family: in.Family, AuthTime: in.AuthTime, IDToken: in.IDToken,
		Risk: in.Due.Risk.Level(), RiskSignals: in.Due.Risk.SignalList(),
	})
	if err == nil {
		f.auditDetail(ctx, in.Client, c.ID, identity.EventSignedIn, strings.Join(in.Due.AMR, " "))
		f.riskDone(ctx, c, in.Due.Risk)
	}
	return token, err
}

// lockOut ends a wait after too many wrong answers. A step-up's session
// ends too: whoever holds it could not prove who they are.
func (f *Flows) lockOut(ctx context.Context, in SecondFactorInput, p pendingWait) (Outcome, error) {
	f.audit(ctx, in.Client, p.tok.CustomerID, identity.EventSecondFactorFailed)
	if len(p.wait.Binding) == 0 {
		return LockedOut{}, nil
	}
	s, err := in.Current()
	if err == nil && s != nil {
		if err := f.Sessions.Revoke(ctx, s.Key); err != nil {
			return nil, err
		}
	}
	return LockedOut{SessionEnded: true}, nil
}

// ApplyReset sets the new password of a completed reset: following the
// mailed link proved the customer reads the mailbox, so the address is
// verified (which also turns off verification links still in it);
// remembered browsers are forgotten and every session ends, as whoever
// knew the old password may have either.
func (f *Flows) ApplyReset(ctx context.Context, id, hash string, client Client) (Outcome, error) {
	wasUnproven := false
	c, err := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		wasUnproven = !c.EmailVerified
		c.PasswordHash, c.PasswordResetRequired = hash, false
		c.EmailVerified = true
		c.ForgetDevices()
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) { // the account was deleted since
		return LinkExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	if wasUnproven {
		f.publish(ctx, client, c.ID, events.EmailVerified, map[string]string{"via": "reset"})
		if err := f.dropUnprovenIdentities(ctx, c, client); err != nil {
			return nil, err
		}
	}
	if err := f.endAllSessions(ctx, id); err != nil {
		return nil, err
	}
	f.audit(ctx, client, id, identity.EventPasswordReset)
	return PasswordReset{CustomerID: id}, nil
}

// rememberDevice trusts a new browser secret for customer id and returns
// the browser's cookie value ("<id>.<secret>"), or "" when it could not
// be stored. Best effort: the sign-in has succeeded either way.
func (f *Flows) rememberDevice(ctx context.Context, id, name string) string {
	secret := NewNonce()
	_, err := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		c.TrustDevice(secret, name, f.now().UTC(), identity.TrustedDeviceTTL)
		return nil
	})
	if err != nil {
		f.warn("remembering a device", err)
		return ""
	}
	return id + "." + secret
}

// TrustedDevice reports whether a remembered-device cookie value is one
// c still trusts: a cookie of another customer, forgotten or expired is
// worth nothing.
func (f *Flows) TrustedDevice(c *identity.Customer, cookie string) bool {
	id, secret, ok := strings.Cut(cookie, ".")
	if !ok || id != c.ID {
		return false
	}
	if _, err := identity.ParseTokenSecret(secret); err != nil {
		return false
	}
	return c.TrustsDevice(secret, f.now())
}

// auditTimeout bounds recording a security event.
const auditTimeout = 5 * time.Second

// audit records a security event for customer id. Best effort: the action
// it records has happened.
func (f *Flows) audit(ctx context.Context, client Client, id, kind string) {
	f.auditDetail(ctx, client, id, kind, "")
}

// auditDetail records a security event with a detail (never a secret).
func (f *Flows) auditDetail(ctx context.Context, client Client, id, kind, detail string) {
	if f.Events == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	now := f.now().UTC()
	ev := identity.Event{ID: events.NewID(now), At: now, Kind: kind, IP: client.IP, UserAgent: client.UserAgent, Detail: detail}
	if err := f.Events.AppendEvent(ctx, id, ev); err != nil {
		f.warn("recording a security event ("+kind+")", err)
	}
	// The trail is a view of the events: the entry goes out as one, with
	// its id, recorded or not (what it records has happened) — here, or
	// by the Events that recorded it.
	if _, self := f.Events.(TrailPublisher); f.Publish != nil && !self {
		if e, ok := events.FromTrail(id, ev); ok {
			e.Site = f.Site
			f.Publish(ctx, e)
		}
	}
}

// publish sends an event that has no trail entry (a customer created, an
// address verified, consent changed, an account deleted).
func (f *Flows) publish(ctx context.Context, client Client, customer, typ string, data map[string]string) {
	if f.Publish == nil {
		return
	}
	now := f.now().UTC()
	f.Publish(ctx, events.Event{ID: events.NewID(now), Type: typ, Time: now, Site: f.Site, Customer: customer,
		IP: client.IP, UserAgent: client.UserAgent, Data: data})
}
