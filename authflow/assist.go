package authflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
	"github.com/frontdoorhq/frontdoor/sms"
)

// Assisted service without back doors: a support agent (a customer of the
// site holding AgentRole, given only through the admin API) helps a
// caller. The agent opens a case on a customer; until the caller proves
// to be that customer — reading back a code sent to a channel the
// customer already has (their verified address), or the support code the
// customer's account page shows them — the case shows masked data and no
// action works. Knowledge questions are never used. Every action needs a
// reason, is recorded in the customer's trail (which their account page
// and export show) and in the agent's own, and the agent never sets or
// sees a password, code or link: links go to the verified address.

// AgentRole makes a customer a support agent.
const AgentRole = "agent"

// ErrAgentRole is granting or removing AgentRole another way than the
// admin API's agents endpoint.
var ErrAgentRole = errors.New("the agent role is given and taken only through the admin API's /frontdoor/agents")

// The actions an agent may take on a verified case.
const (
	ActResendVerification = "resend_verification"
	ActSendReset          = "send_reset"
	ActRevokeSessions     = "revoke_sessions"
	ActLiftChallenge      = "lift_challenge"
	// ActRemoveFactors removes the second factors at the end of the
	// cooling-off period, unless the customer cancels; ActRemoveFactorsNow
	// asks a second agent to approve removing them at once (the only way
	// for a high-risk account).
	ActRemoveFactors    = "remove_factors"
	ActRemoveFactorsNow = "remove_factors_now"
	// ActApproveRemoval is the second agent's approval.
	ActApproveRemoval = "approve_removal"
)

// AgentActions lists them, in the console's order.
var AgentActions = []string{ActSendReset, ActResendVerification, ActRevokeSessions, ActLiftChallenge, ActRemoveFactors, ActRemoveFactorsNow, ActApproveRemoval}

// HighRiskRole marks an account (the operator's list) whose second
// factors a support agent removes only with a second agent's approval.
const HighRiskRole = "high_risk"

// DefaultCoolingOff is how long a removal of second factors waits for
// the customer to object.
const DefaultCoolingOff = 24 * time.Hour

// Bounds of a case.
const (
	// CaseCodeTTL is how long a code sent for a case works.
	CaseCodeTTL = 10 * time.Minute
	// CaseMaxTries wrong codes close the case.
	CaseMaxTries = 5
	// SupportCodeTTL is how long a customer's support code works.
	SupportCodeTTL = 10 * time.Minute
	maxActReason   = 500
	maxActTicket   = 100
)

// AssistDefence is what assisted service needs of the edge defences:
// lifting what they hold against an account (its limits' counters and
// block).
type AssistDefence interface {
	LiftAccount(ctx context.Context, email string) error
}

// Outcomes of assisted service.
type (
	// CaseOpened: the agent's case on the customer (ID: its secret).
	CaseOpened struct{ ID string }
	// CaseGone: no open case of this agent under that id (expired,
	// closed, or another agent's).
	CaseGone struct{}
	// CaseCodeSent: the code is on its way to the verified address.
	CaseCodeSent struct{}
	// CaseVerified: the caller read back the right code.
	CaseVerified struct{}
	// CaseCodeWrong: not the code; TriesLeft before the case closes.
	CaseCodeWrong struct{ TriesLeft int }
	// CaseClosed: too many wrong codes; the case is closed and recorded.
	CaseClosed struct{}
	// CaseUnverified: the caller has not proved who they are: no action.
	CaseUnverified struct{}
	// NoVerifiedAddress: the customer has no verified address to send to.
	NoVerifiedAddress struct{}
	// AgentActed: the action was taken.
	AgentActed struct{ Action string }
)

func (CaseOpened) outcome()        {}
func (CaseGone) outcome()          {}
func (CaseCodeSent) outcome()      {}
func (CaseVerified) outcome()      {}
func (CaseCodeWrong) outcome()     {}
func (CaseClosed) outcome()        {}
func (CaseUnverified) outcome()    {}
func (NoVerifiedAddress) outcome() {}
func (AgentActed) outcome()        {}

// OpenCase looks the customer up (an id "u_…", an address, or a phone
// number in international form) for agent
// and opens a case: NoSuchCustomer, or CaseOpened. The lookup is in the
// customer's trail and the agent's.
func (f *Flows) OpenCase(ctx context.Context, agent, query string, client Client) (Outcome, error) {
	query = strings.TrimSpace(query)
	var (
		c   *identity.Customer
		err error
	)
	if strings.HasPrefix(query, "u_") && !strings.Contains(query, "@") {
		c, err = f.Customers.Customer(ctx, query)
	} else if email, nerr := identity.NormalizeEmail(query); nerr == nil {
		c, err = f.Customers.CustomerByEmail(ctx, email)
	} else if n, nerr := sms.ParseNumber(query, ""); nerr == nil && strings.HasPrefix(query, "+") {
		// A number in international form: a customer who signed up by
		// phone may have no address.
		c, err = f.Customers.CustomerByPhone(ctx, n.E164)
	} else {
		return NoSuchCustomer{}, nil
	}
	if errors.Is(err, identity.ErrNotFound) || err == nil && c.ID == agent {
		return NoSuchCustomer{}, nil // an agent does not serve themself
	}
	if err != nil {
		return nil, err
	}
	id := NewNonce()
	tok := identity.NewTokenUnder(identity.HashToken(id), identity.AgentCase{Agent: agent, Customer: c.ID}, c.ID, f.now().Add(identity.AgentCaseTTL))
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return nil, err
	}
	f.auditDetail(ctx, client, c.ID, identity.EventAgentLookup, "agent="+agent)
	f.auditDetail(ctx, client, agent, identity.EventAgentActed, "lookup customer="+c.ID)
	return CaseOpened{ID: id}, nil
}

// openCase takes agent's case id out of the store to work on it; put
// puts it back changed (a case is worked on by its one agent).
func (f *Flows) openCase(ctx context.Context, agent, id string) (*identity.Token, *identity.AgentCase, error) {
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenAgentCase, identity.HashToken(id), f.now())
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	ac, err := identity.PayloadOf[identity.AgentCase](tok)
	if err != nil || ac.Agent != agent {
		f.putBack(ctx, tok) // another agent's: left as it was
		return nil, nil, nil
	}
	return tok, &ac, nil
}

func (f *Flows) putCase(ctx context.Context, tok *identity.Token, ac *identity.AgentCase) error {
	return f.Tokens.PutToken(ctx, identity.NewTokenUnder(tok.Hash, *ac, tok.CustomerID, tok.ExpiresAt))
}

// CaseInfo is what the console may show of a case: masked until the
// caller is verified.
type CaseInfo struct {
	Verified bool
	Customer *identity.Customer
}

// Case returns agent's case and its customer (nil, nil: CaseGone).
func (f *Flows) Case(ctx context.Context, agent, id string) (*CaseInfo, error) {
	tok, ac, err := f.openCase(ctx, agent, id)
	if err != nil || tok == nil {
		return nil, err
	}
	if err := f.putCase(ctx, tok, ac); err != nil {
		return nil, err
	}
	c, err := f.Customers.Customer(ctx, ac.Customer)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &CaseInfo{Verified: ac.Verified, Customer: c}, nil
}

// CaseCodeTexted: the case's code went by text to the verified number of
// a customer without an address (Hint names it as the agent may see it).
type CaseCodeTexted struct{ Hint string }

func (CaseCodeTexted) outcome() {}

// SendCaseCode mails a 6-digit code to the customer's verified address,
// for the caller to read back (the agent never sees it) — or, for a
// customer who has only a phone, texts it to their verified number,
// within the site's countries and text limits.
func (f *Flows) SendCaseCode(ctx context.Context, agent, id string) (Outcome, error) {
	tok, ac, err := f.openCase(ctx, agent, id)
	if err != nil || tok == nil {
		return CaseGone{}, err
	}
	c, err := f.Customers.Customer(ctx, ac.Customer)
	if err != nil {
		f.putBack(ctx, tok)
		if errors.Is(err, identity.ErrNotFound) {
			return CaseGone{}, nil
		}
		return nil, err
	}
	n, textable := f.TextableNumber(c)
	byText := textable && c.Email == "" // a customer who signed up by phone
	if !byText && (!c.EmailVerified || c.Email == "") {
		return NoVerifiedAddress{}, f.putCase(ctx, tok, ac)
	}
	if byText {
		if out, err := f.textLimited(ctx, n); out != nil || err != nil {
			if perr := f.putCase(ctx, tok, ac); err == nil {
				err = perr
			}
			return out, err
		}
	}
	code := newEmailCode()
	ac.CodeHash, ac.CodeUntil = emailCodeHash("case\x00"+id, code), f.now().Add(CaseCodeTTL)
	if err := f.putCase(ctx, tok, ac); err != nil {
		return nil, err
	}
	if byText {
		if err := f.Phone.Notify.CaseCode(ctx, n.E164, code); err != nil {
			return queuedText(err)
		}
		return CaseCodeTexted{Hint: sms.Hint(n.E164)}, nil
	}
	if f.Notify != nil {
		f.Notify.SupportCode(ctx, c, code)
	}
	return CaseCodeSent{}, nil
}

// VerifyCase checks the code the caller read back: the one sent for the
// case, or the support code of the customer's account page.
// CaseMaxTries wrong codes close the case.
func (f *Flows) VerifyCase(ctx context.Context, agent, id, typed string, client Client) (Outcome, error) {
	tok, ac, err := f.openCase(ctx, agent, id)
	if err != nil || tok == nil {
		return CaseGone{}, err
	}
	if ac.Verified {
		return CaseVerified{}, f.putCase(ctx, tok, ac)
	}
	typed = digitsOnly(typed)
	now := f.now()
	ok := isEmailCode(typed) && len(ac.CodeHash) > 0 && now.Before(ac.CodeUntil) && equalHash(emailCodeHash("case\x00"+id, typed), ac.CodeHash)
	if !ok {
		// The support code, used up if it is the one.
		_, matched, err := f.spendCustomerCode(ctx, ac.Customer, typed, supportCodeOf)
		if err != nil && !errors.Is(err, identity.ErrNotFound) {
			f.putBack(ctx, tok)
			return nil, err
		}
		ok = matched
	}
	if !ok {
		return f.wrongCaseCode(ctx, tok, ac, agent, client)
	}
	ac.Verified, ac.CodeHash, ac.Tries = true, nil, 0
	if err := f.putCase(ctx, tok, ac); err != nil {
		return nil, err
	}
	f.auditDetail(ctx, client, ac.Customer, identity.EventAgentVerified, "agent="+agent)
	return CaseVerified{}, nil
}

// wrongCaseCode counts a wrong code on a case: CaseMaxTries of them close
// it (recorded in the customer's trail and the agent's).
func (f *Flows) wrongCaseCode(ctx context.Context, tok *identity.Token, ac *identity.AgentCase, agent string, client Client) (Outcome, error) {
	ac.Tries++
	if ac.Tries >= CaseMaxTries {
		f.auditDetail(ctx, client, ac.Customer, identity.EventAgentVerifyFailed, "agent="+agent)
		f.auditDetail(ctx, client, agent, identity.EventAgentActed, "verification_failed customer="+ac.Customer)
		return CaseClosed{}, nil // not put back: the case is closed
	}
	if err := f.putCase(ctx, tok, ac); err != nil {
		return nil, err
	}
	return CaseCodeWrong{TriesLeft: CaseMaxTries - ac.Tries}, nil
}

// A customer's code for a support agent: the support code (proves who
// they are) or the view code (lets the agent see the account as them),
// each stored as a hash of its purpose, the customer and the code.
type customerCode struct {
	purpose string
	field   func(*identity.Customer) **identity.SupportCode
}

var (
	supportCodeOf = customerCode{"", func(c *identity.Customer) **identity.SupportCode { return &c.SupportCode }}
	viewCodeOf    = customerCode{"view\x00", func(c *identity.Customer) **identity.SupportCode { return &c.ViewCode }}
)

// newCustomerCode gives customer id a new code of kind k (SupportCodeTTL,
// replacing any earlier one).
func (f *Flows) newCustomerCode(ctx context.Context, id string, k customerCode) (string, time.Time, error) {
	code := newEmailCode()
	until := f.now().Add(SupportCodeTTL).UTC()
	_, err := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		*k.field(c) = &identity.SupportCode{Hash: supportCodeHash(id, k.purpose+code), Until: until}
		return nil
	})
	return code, until, err
}

// spendCustomerCode uses up customer id's code of kind k if typed is it,
// still in time; it returns the customer as stored and whether it was.
func (f *Flows) spendCustomerCode(ctx context.Context, id, typed string, k customerCode) (*identity.Customer, bool, error) {
	if !isEmailCode(typed) {
		return nil, false, nil
	}
	now, matched := f.now(), false
	c, err := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		sc := *k.field(c)
		if sc == nil || !now.Before(sc.Until) || !equalHash(supportCodeHash(c.ID, k.purpose+typed), sc.Hash) {
			return errUnchanged
		}
		matched, *k.field(c) = true, nil
		return nil
	})
	if errors.Is(err, errUnchanged) {
		err = nil
	}
	return c, matched, err
}

// AgentActInput is one action on a case: a reason is required, a ticket
// id optional.
type AgentActInput struct {
	Agent, Case, Action, Reason, Ticket string
	Client                              Client
}

// Act takes an action on a verified case.
func (f *Flows) Act(ctx context.Context, in AgentActInput) (Outcome, error) {
	fields := map[string]error{}
	reason, ticket := strings.TrimSpace(in.Reason), strings.TrimSpace(in.Ticket)
	switch {
	case reason == "":
		fields["reason"] = errors.New("a reason is required")
	case utf8.RuneCountInString(reason) > maxActReason || strings.ContainsAny(reason, "\r\n"):
		fields["reason"] = fmt.Errorf("one line, at most %d characters", maxActReason)
	}
	if utf8.RuneCountInString(ticket) > maxActTicket || strings.ContainsAny(ticket, " \r\n") {
		fields["ticket"] = fmt.Errorf("no spaces, at most %d characters", maxActTicket)
	}
	known := false
	for _, a := range AgentActions {
		known = known || a == in.Action
	}
	if !known {
		fields["action"] = errors.New("unknown action")
	}
	if len(fields) > 0 {
		return Invalid{Fields: fields}, nil
	}
	tok, ac, err := f.openCase(ctx, in.Agent, in.Case)
	if err != nil || tok == nil {
		return CaseGone{}, err
	}
	if err := f.putCase(ctx, tok, ac); err != nil {
		return nil, err
	}
	if !ac.Verified {
		return CaseUnverified{}, nil
	}
	c, err := f.Customers.Customer(ctx, ac.Customer)
	if errors.Is(err, identity.ErrNotFound) {
		return CaseGone{}, nil
	}
	if err != nil {
		return nil, err
	}
	switch in.Action {
	case ActSendReset:
		if !c.EmailVerified {
			return NoVerifiedAddress{}, nil
		}
		if _, err := f.RequestReset(ctx, c.Email); err != nil {
			return nil, err
		}
	case ActResendVerification:
		if c.EmailVerified {
			return Invalid{Fields: map[string]error{"action": errors.New("the address is verified already")}}, nil
		}
		if err := f.SendVerification(ctx, c, Verification{PasswordHash: c.PasswordHash}); err != nil {
			return nil, err
		}
	case ActRevokeSessions:
		if err := f.endAllSessions(ctx, c.ID); err != nil {
			return nil, err
		}
	case ActLiftChallenge:
		if f.Assist == nil {
			return Invalid{Fields: map[string]error{"action": errors.New("no edge defence here")}}, nil
		}
		if err := f.Assist.LiftAccount(ctx, c.Email); err != nil {
			return nil, err
		}
	case ActRemoveFactors, ActRemoveFactorsNow:
		if out, err := f.askRemoval(ctx, in, c, reason, ticket); out != nil || err != nil {
			return out, err
		}
	case ActApproveRemoval:
		if out, err := f.approveRemoval(ctx, in, c); out != nil || err != nil {
			return out, err
		}
	}
	note := " ticket=" + ticket + " reason=" + reason
	f.auditDetail(ctx, in.Client, c.ID, identity.EventAgentAction, in.Action+" agent="+in.Agent+note)
	f.auditDetail(ctx, in.Client, in.Agent, identity.EventAgentActed, in.Action+" customer="+c.ID+note)
	return AgentActed{Action: in.Action}, nil
}

// NewSupportCode gives customer id a code to read to a support agent on
// the phone (shown on their account page, SupportCodeTTL), replacing any
// earlier one.
func (f *Flows) NewSupportCode(ctx context.Context, id string) (string, time.Time, error) {
	return f.newCustomerCode(ctx, id, supportCodeOf)
}

func supportCodeHash(id, code string) []byte {
	return identity.HashToken("support_code\x00" + id + "\x00" + code)
}

// digitsOnly keeps a typed code's digits ("123 456" is 123456).
func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// equalHash compares two hashes in constant time.
func equalHash(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// ViewAsTTL is how long a support agent may see an account as its
// customer.
const ViewAsTTL = 15 * time.Minute

// NewViewCode gives customer id a code to hand a support agent so the
// agent may see the account as they do (ViewAsTTL), replacing any
// earlier one; the code works once, for SupportCodeTTL.
func (f *Flows) NewViewCode(ctx context.Context, id string) (string, error) {
	code, _, err := f.newCustomerCode(ctx, id, viewCodeOf)
	return code, err
}

// ViewAsGranted: the customer's code was right; start the agent's
// session as them (StartViewAs).
type ViewAsGranted struct{ Customer *identity.Customer }

func (ViewAsGranted) outcome() {}

// ViewAs checks the code the customer gave agent for the case's customer:
// ViewAsGranted, CaseCodeWrong (counted with the case's other wrong
// codes), CaseClosed or CaseGone.
func (f *Flows) ViewAs(ctx context.Context, agent, id, typed string, client Client) (Outcome, error) {
	tok, ac, err := f.openCase(ctx, agent, id)
	if err != nil || tok == nil {
		return CaseGone{}, err
	}
	c, matched, err := f.spendCustomerCode(ctx, ac.Customer, digitsOnly(typed), viewCodeOf)
	switch {
	case errors.Is(err, identity.ErrNotFound):
		return CaseGone{}, nil
	case err != nil:
		f.putBack(ctx, tok)
		return nil, err
	case !matched:
		return f.wrongCaseCode(ctx, tok, ac, agent, client)
	}
	if err := f.putCase(ctx, tok, ac); err != nil {
		return nil, err
	}
	f.auditDetail(ctx, client, c.ID, identity.EventAgentViewAs, "agent="+agent)
	f.auditDetail(ctx, client, agent, identity.EventAgentActed, "view_as customer="+c.ID)
	return ViewAsGranted{Customer: c}, nil
}

// StartViewAs starts agent's session as customer c on site: ViewAsTTL at
// most, its Actor the agent, aal1 (it proves the customer's consent, not
// the customer). It returns the session's bearer token.
func (f *Flows) StartViewAs(ctx context.Context, c *identity.Customer, agent, site string, client Client) (string, error) {
	token, _, err := f.Sessions.Create(ctx, session.New{UserID: c.ID, Email: c.Email, EmailVerified: c.EmailVerified, Site: site,
		ACR: "aal1", UserAgent: client.UserAgent, IP: client.IP, Actor: agent, TTL: ViewAsTTL})
	return token, err
}

// Outcomes of factor removal.
type (
	// RemovalCancelled: the customer's cancel link worked.
	RemovalCancelled struct{}
	// SameApprover: the agent who asked cannot approve.
	SameApprover struct{}
)

func (RemovalCancelled) outcome() {}
func (SameApprover) outcome()     {}

// coolingOff is the site's cooling-off period.
func (f *Flows) coolingOff() time.Duration {
	if f.CoolingOff > 0 {
		return f.CoolingOff
	}
	return DefaultCoolingOff
}

// HighRisk reports whether an agent may remove c's second factors only
// with a second agent's approval: the operator's list (HighRiskRole), or
// a high-risk sign-in decision in the last 30 days.
func (f *Flows) HighRisk(ctx context.Context, c *identity.Customer) (bool, error) {
	if c.HasRole(HighRiskRole) {
		return true, nil
	}
	if f.Data == nil {
		return false, nil
	}
	evs, err := f.Data.Events(ctx, c.ID, 200)
	if err != nil {
		return false, err
	}
	since := f.now().Add(-30 * 24 * time.Hour)
	for _, e := range evs {
		if e.At.After(since) && (e.Kind == identity.EventRiskDecision || e.Kind == identity.EventRiskRefused) && strings.HasPrefix(e.Detail, "high:") {
			return true, nil
		}
	}
	return false, nil
}

// askRemoval records an agent's request to remove c's second factors:
// after the cooling-off (the customer is mailed a cancel link and sees it
// on their account page), or waiting for a second agent's approval.
func (f *Flows) askRemoval(ctx context.Context, in AgentActInput, c *identity.Customer, reason, ticket string) (Outcome, error) {
	if !c.HasSecondFactor() && !c.HasSMSFactor() && len(c.RecoveryCodes) == 0 {
		return Invalid{Fields: map[string]error{"action": errors.New("the customer has no second factor")}}, nil
	}
	now := f.now().UTC()
	fr := &identity.FactorRemoval{Agent: in.Agent, Requested: now, Reason: reason, Ticket: ticket}
	if in.Action == ActRemoveFactors {
		high, err := f.HighRisk(ctx, c)
		if err != nil {
			return nil, err
		}
		if high {
			return Invalid{Fields: map[string]error{"action": errors.New("a high-risk account: ask a second agent to approve (remove at once, with approval)")}}, nil
		}
		fr.At = now.Add(f.coolingOff())
	}
	if _, err := f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.FactorRemoval = fr
		return nil
	}); err != nil {
		return nil, err
	}
	when := "approval"
	if !fr.At.IsZero() {
		when = fr.At.Format(time.RFC3339)
		secret, tok := identity.NewToken(identity.CancelRemoval{}, c.ID, f.coolingOff()+7*24*time.Hour, now)
		if err := f.Tokens.PutToken(ctx, tok); err != nil {
			return nil, err
		}
		if f.Notify != nil {
			f.Notify.FactorRemoval(ctx, c, fr.At, secret)
		}
	}
	f.auditDetail(ctx, in.Client, c.ID, identity.EventFactorRemovalAsked, "agent="+in.Agent+" at="+when)
	return nil, nil
}

// approveRemoval is a second agent's approval of a removal waiting for
// one: the factors go at once.
func (f *Flows) approveRemoval(ctx context.Context, in AgentActInput, c *identity.Customer) (Outcome, error) {
	fr := c.FactorRemoval
	switch {
	case fr == nil || !fr.At.IsZero():
		return Invalid{Fields: map[string]error{"action": errors.New("no removal waits for approval")}}, nil
	case fr.Agent == in.Agent:
		return SameApprover{}, nil
	}
	if err := f.removeFactors(ctx, in.Client, c.ID, "approved by agent="+in.Agent+", asked by agent="+fr.Agent); err != nil {
		return nil, err
	}
	return nil, nil
}

// removeFactors removes the customer's second factors now and tells them.
func (f *Flows) removeFactors(ctx context.Context, client Client, id, how string) error {
	c, err := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		c.RemoveSecondFactors()
		return nil
	})
	if err != nil {
		return err
	}
	f.auditDetail(ctx, client, id, identity.EventFactorsRemoved, how)
	if f.Notify != nil {
		f.Notify.FactorRemoval(ctx, c, time.Time{}, "")
	}
	return nil
}

// CancelRemoval cancels a pending removal, from the mail's link (secret)
// or the signed-in customer's account page (customerID, no secret).
func (f *Flows) CancelRemoval(ctx context.Context, secret, customerID string, client Client) (Outcome, error) {
	if secret != "" {
		tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenCancelRemoval, identity.HashToken(secret), f.now())
		if errors.Is(err, identity.ErrNotFound) {
			return LinkExpired{}, nil
		}
		if err != nil {
			return nil, err
		}
		customerID = tok.CustomerID
	}
	had := false
	_, err := f.Customers.UpdateCustomer(ctx, customerID, func(c *identity.Customer) error {
		had, c.FactorRemoval = c.FactorRemoval != nil, nil
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) {
		return LinkExpired{}, nil
	}
	if err != nil {
		return nil, err
	}
	if had {
		f.audit(ctx, client, customerID, identity.EventFactorRemovalCancelled)
	}
	return RemovalCancelled{}, nil
}

// dueRemoval removes c's second factors when a removal's cooling-off has
// ended, at the customer's sign-in (what the removal is for), and returns
// the record as it now is.
func (f *Flows) dueRemoval(ctx context.Context, c *identity.Customer) (*identity.Customer, error) {
	fr := c.FactorRemoval
	if fr == nil || fr.At.IsZero() || f.now().Before(fr.At) {
		return c, nil
	}
	if err := f.removeFactors(ctx, Client{}, c.ID, "after the cooling-off, asked by agent="+fr.Agent); err != nil {
		return nil, err
	}
	return f.Customers.Customer(ctx, c.ID)
}
