package consent

import (
	"errors"
	"fmt"
	"net/url"
)

// Purpose is one thing a customer is asked to agree to. Its Version rises
// when its wording changes in a way that needs a fresh answer: a grant of
// an older version no longer counts (State.Granted), and a required
// purpose is asked again.
type Purpose struct {
	// ID names the purpose in forms (consent=<id>), headers and claims.
	ID string `json:"id"`
	// Title is the short line the customer ticks.
	Title string `json:"title"`
	// Text explains the purpose in a sentence or two; optional.
	Text string `json:"text,omitempty"`
	// Link is an absolute http(s) URL of the full text; optional.
	Link string `json:"link,omitempty"`
	// Version is 1 or more.
	Version int `json:"version"`
	// Required purposes must be accepted to sign up and to use protected
	// routes; the others can be given or withdrawn at any time.
	Required bool `json:"required,omitempty"`
	// SaleOrSharing marks a purpose that a Global Privacy Control signal
	// (Sec-GPC: 1) opts the customer out of.
	SaleOrSharing bool `json:"sale_or_sharing,omitempty"`
}

// MaxIDLen bounds a purpose id.
const MaxIDLen = 40

// ValidID reports whether id can name a purpose: 1 to MaxIDLen lower-case
// letters, digits, '_' and '-', starting with a letter, so it reads the
// same in a form field, a header list and a JSON claim.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen || id[0] < 'a' || id[0] > 'z' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks one purpose.
func (p Purpose) Validate() error {
	if !ValidID(p.ID) {
		return fmt.Errorf("consent: purpose %q: the id must be 1 to %d lower-case letters, digits, '_' or '-', starting with a letter", p.ID, MaxIDLen)
	}
	if p.Title == "" {
		return fmt.Errorf("consent: purpose %s: a title is required", p.ID)
	}
	if p.Version < 1 {
		return fmt.Errorf("consent: purpose %s: version must be 1 or more, not %d", p.ID, p.Version)
	}
	if p.Link != "" {
		u, err := url.Parse(p.Link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("consent: purpose %s: link must be an absolute http(s) URL, not %q", p.ID, p.Link)
		}
	}
	if p.Required && p.SaleOrSharing {
		// A GPC signal would withdraw a purpose the customer cannot do
		// without: the operator must choose.
		return fmt.Errorf("consent: purpose %s: a required purpose cannot be sale_or_sharing (Global Privacy Control withdraws those)", p.ID)
	}
	return nil
}

// Purposes is the operator's list, in the order pages show it.
type Purposes []Purpose

// Validate checks every purpose and that ids are unique.
func (ps Purposes) Validate() error {
	seen := make(map[string]bool, len(ps))
	var errs []error
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[p.ID] {
			errs = append(errs, fmt.Errorf("consent: purpose %s is defined twice", p.ID))
		}
		seen[p.ID] = true
	}
	return errors.Join(errs...)
}

// Lookup returns the purpose with the id.
func (ps Purposes) Lookup(id string) (Purpose, bool) {
	for _, p := range ps {
		if p.ID == id {
			return p, true
		}
	}
	return Purpose{}, false
}

// Required returns the required purposes.
func (ps Purposes) Required() Purposes {
	var out Purposes
	for _, p := range ps {
		if p.Required {
			out = append(out, p)
		}
	}
	return out
}
