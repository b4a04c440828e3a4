package authflow

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
)

// ConsentRecords is what the journeys need of the consent store: records
// are only ever added and read.
type ConsentRecords interface {
	Append(ctx context.Context, r consent.Record) error
	Records(ctx context.Context, customerID string) ([]consent.Record, error)
}

// ErrConsentRequired: a required purpose was not accepted. The field is
// "consent_<purpose id>".
var ErrConsentRequired = errors.New("authflow: a required purpose was not accepted")

// ConsentField is the field name of a purpose's error in Invalid.Fields.
func ConsentField(purposeID string) string { return "consent_" + purposeID }

// checkConsents returns a field error for each required purpose not in
// accepted.
func (f *Flows) checkConsents(accepted []string, fields map[string]error) {
	for _, p := range f.Purposes {
		if p.Required && !slices.Contains(accepted, p.ID) {
			fields[ConsentField(p.ID)] = ErrConsentRequired
		}
	}
}

// consentProto is a record with where and how filled in, for the site
// and the client; the customer, purpose and answer are the caller's.
func (f *Flows) consentProto(c Client, how consent.How) consent.Record {
	addr, _ := netip.ParseAddr(c.IP)
	return consent.Record{
		At: f.now().UTC(), Site: f.Site, Network: consent.NetworkPrefix(addr),
		UserAgent: consent.UserAgentFamily(c.UserAgent), How: how,
	}
}

// signUpConsents are the records of a sign-up's answers, without the
// customer: a grant for each purpose accepted, a refusal for each optional
// one not (so the history shows what was asked).
func (f *Flows) signUpConsents(accepted []string, c Client) []consent.Record {
	if len(f.Purposes) == 0 {
		return nil
	}
	return consent.State(nil).Changes(f.Purposes, accepted, f.consentProto(c, consent.HowSignup), true)
}

// recordConsents appends records for customerID. A record that cannot be
// stored is reported, not fatal: a required purpose missing from the
// records is asked for again at the next protected request.
func (f *Flows) recordConsents(ctx context.Context, customerID string, rs []consent.Record) {
	if f.Consent == nil {
		return
	}
	for _, r := range rs {
		r.CustomerID = customerID
		if err := f.appendConsent(ctx, r); err != nil {
			f.failed("recording consent", err)
			return
		}
	}
}

// ConsentInput is an answer to the consent prompt, or a press of the
// account page's give/withdraw buttons.
type ConsentInput struct {
	CustomerID string
	// Asked are the purposes the page put to the customer (the server's
	// list, never the form's); Accepted the ids ticked.
	Asked    consent.Purposes
	Accepted []string
	// MustAccept: every purpose asked must be accepted (the prompt in
	// front of a route); otherwise an unticked one is withdrawn (the
	// account page).
	MustAccept bool
	Client     Client
	How        consent.How
}

// ConsentRecorded: the answers are stored (Changed of them were news).
type ConsentRecorded struct{ Changed int }

func (ConsentRecorded) outcome() {}

// GiveConsent records a customer's answers. Only changes are recorded; an
// answer that repeats the current state adds nothing.
func (f *Flows) GiveConsent(ctx context.Context, in ConsentInput) (Outcome, error) {
	if in.MustAccept {
		fields := map[string]error{}
		for _, p := range in.Asked {
			if !slices.Contains(in.Accepted, p.ID) {
				fields[ConsentField(p.ID)] = ErrConsentRequired
			}
		}
		if len(fields) > 0 {
			return Invalid{Fields: fields}, nil
		}
	}
	rs, err := f.Consent.Records(ctx, in.CustomerID)
	if err != nil {
		return nil, err
	}
	changes := consent.StateOf(rs).Changes(in.Asked, in.Accepted, f.consentProto(in.Client, in.How), false)
	for _, r := range changes {
		r.CustomerID = in.CustomerID
		if err := f.appendConsent(ctx, r); err != nil {
			return nil, err
		}
	}
	return ConsentRecorded{Changed: len(changes)}, nil
}

// HonourGPC records a Global Privacy Control signal: a withdrawal (how
// gpc) of each sale_or_sharing purpose whose latest answer is a grant.
// It returns how many were withdrawn; none when nothing is granted, so a
// browser that sends the signal on every request costs no write after the
// first.
func (f *Flows) HonourGPC(ctx context.Context, customerID string, st consent.State, c Client) (int, error) {
	proto := f.consentProto(c, consent.HowGPC)
	n := 0
	for _, p := range f.Purposes {
		if ch, ok := st[p.ID]; !p.SaleOrSharing || !ok || !ch.Granted {
			continue
		}
		r := proto
		r.CustomerID, r.Purpose, r.Version, r.Granted = customerID, p.ID, p.Version, false
		if err := f.appendConsent(ctx, r); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// SignUpConsentTTL is how long a customer who signed up through a provider
// is asked, as at sign-up, for every purpose (AskConsent in SessionDue).
const SignUpConsentTTL = 30 * time.Minute

// holdSignUpConsent marks, for the browser that will hold the returned
// nonce, that customerID signed up without a form asking for the purposes:
// the consent prompt asks that browser for every one of them, nothing
// ticked, as the sign-up form would. Nothing is recorded until the
// customer answers: a provider's word never grants a purpose.
func (f *Flows) holdSignUpConsent(ctx context.Context, customerID string) (string, error) {
	nonce := NewNonce()
	tok := identity.NewTokenUnder(identity.HashToken(nonce), identity.SignUpConsent{}, customerID, f.now().Add(SignUpConsentTTL))
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return "", err
	}
	return nonce, nil
}

// takeSignUpConsent uses up the mark of the browser holding nonce, if it
// is customerID's; nil when there is none.
func (f *Flows) takeSignUpConsent(ctx context.Context, customerID, nonce string) (*identity.Token, error) {
	if nonce == "" || customerID == "" {
		return nil, nil
	}
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenSignUpConsent, identity.HashToken(nonce), f.now())
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if tok.CustomerID != customerID {
		// Another account signed in in this browser since: the mark was
		// for the one who signed up, and is dropped.
		return nil, nil
	}
	return tok, nil
}

// SignUpConsentPending reports whether the browser holding nonce is still
// to ask customerID every purpose as at sign-up.
func (f *Flows) SignUpConsentPending(ctx context.Context, customerID, nonce string) (bool, error) {
	tok, err := f.takeSignUpConsent(ctx, customerID, nonce)
	if tok == nil || err != nil {
		return false, err
	}
	if err := f.Tokens.PutToken(ctx, tok); err != nil {
		return false, err
	}
	return true, nil
}

// SignUpConsentInput is the answer to the sign-up's question about every
// purpose, posted by the browser holding Nonce.
type SignUpConsentInput struct {
	CustomerID, Nonce string
	Accepted          []string
	Client            Client
}

// SignUpConsentGone: the browser has no sign-up question pending (answered
// in another tab, expired, or another account signed in): the ordinary
// prompt applies.
type SignUpConsentGone struct{}

func (SignUpConsentGone) outcome() {}

// GiveSignUpConsent records the answers to the sign-up's question as the
// sign-up form's are recorded (how signup; a grant for each purpose
// ticked, a refusal for each optional one not). Every required purpose
// must be ticked (Invalid, and the question stays); ids that are not
// purposes are ignored.
func (f *Flows) GiveSignUpConsent(ctx context.Context, in SignUpConsentInput) (Outcome, error) {
	tok, err := f.takeSignUpConsent(ctx, in.CustomerID, in.Nonce)
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return SignUpConsentGone{}, nil
	}
	fields := map[string]error{}
	f.checkConsents(in.Accepted, fields)
	if len(fields) > 0 {
		f.putBack(ctx, tok)
		return Invalid{Fields: fields}, nil
	}
	rs, err := f.Consent.Records(ctx, in.CustomerID)
	if err != nil {
		f.putBack(ctx, tok)
		return nil, err
	}
	changes := consent.StateOf(rs).Changes(f.Purposes, in.Accepted, f.consentProto(in.Client, consent.HowSignup), true)
	for _, r := range changes {
		r.CustomerID = in.CustomerID
		if err := f.appendConsent(ctx, r); err != nil {
			return nil, err
		}
	}
	return ConsentRecorded{Changed: len(changes)}, nil
}

// appendConsent stores a consent record and sends it as consent.changed:
// the systems that act on consent (a marketing tool) hear of a withdrawal
// as it happens.
func (f *Flows) appendConsent(ctx context.Context, r consent.Record) error {
	if err := f.Consent.Append(ctx, r); err != nil {
		return err
	}
	f.publish(ctx, Client{}, r.CustomerID, events.ConsentChanged, map[string]string{
		"purpose": r.Purpose, "granted": strconv.FormatBool(r.Granted), "version": strconv.Itoa(r.Version), "how": string(r.How)})
	return nil
}
