package authflow

import (
	"context"
	"errors"
	"net/netip"
	"slices"

	"github.com/frontdoorhq/frontdoor/consent"
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
		if err := f.Consent.Append(ctx, r); err != nil {
			f.failed("recording consent", err)
			return
		}
	}
}
