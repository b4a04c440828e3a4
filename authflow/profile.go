package authflow

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Progressive profiling: the operator declares profile fields once; a
// route asks only for the ones it needs, and only when the customer has
// not given them yet. The field "name" is the customer's Name; the others
// live in Customer.Profile.

// FieldType is how a profile field is typed and checked.
type FieldType string

// Field types.
const (
	FieldText   FieldType = "text"
	FieldTel    FieldType = "tel"
	FieldDate   FieldType = "date"
	FieldEmail  FieldType = "email"
	FieldNumber FieldType = "number"
)

// FieldSpec is one declared profile field.
type FieldSpec struct {
	Name  string
	Label string
	Type  FieldType
	// Max is the longest value in characters (default 100).
	Max int
}

// Reasons a profile value is refused.
var (
	ErrFieldMissing  = errors.New("authflow: a value is needed")
	ErrFieldTooLong  = errors.New("authflow: the value is too long")
	ErrFieldBadChars = errors.New("authflow: the value holds characters that are not allowed")
	ErrFieldTel      = errors.New("authflow: not a phone number")
	ErrFieldDate     = errors.New("authflow: not a date")
	ErrFieldNumber   = errors.New("authflow: not a number")
)

// DefaultFieldMax is a field's longest value unless the operator says.
const DefaultFieldMax = 100

var telRE = regexp.MustCompile(`^\+?[0-9][0-9 ()./-]{4,30}$`)

// CheckField validates and normalises one value.
func CheckField(spec FieldSpec, raw string) (string, error) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return "", ErrFieldMissing
	}
	limit := spec.Max
	if limit <= 0 {
		limit = DefaultFieldMax
	}
	if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }) {
		return "", ErrFieldBadChars
	}
	if utf8.RuneCountInString(v) > limit {
		return "", ErrFieldTooLong
	}
	switch spec.Type {
	case FieldTel:
		digits := 0
		for _, r := range v {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if !telRE.MatchString(v) || digits < 6 || digits > 15 {
			return "", ErrFieldTel
		}
	case FieldDate:
		d, err := time.Parse(time.DateOnly, v)
		if err != nil || d.Year() < 1900 || d.Year() > 2200 {
			return "", ErrFieldDate
		}
		v = d.Format(time.DateOnly)
	case FieldEmail:
		e, err := identity.NormalizeEmail(v)
		if err != nil {
			return "", ErrEmailInvalid
		}
		v = e
	case FieldNumber:
		if _, err := strconv.ParseFloat(v, 64); err != nil || strings.ContainsAny(v, "eEinfINFNaN") {
			return "", ErrFieldNumber
		}
	}
	return v, nil
}

// ProfileValue is the customer's value of a field ("" if none).
func ProfileValue(c *identity.Customer, field string) string {
	if field == "name" {
		return c.Name
	}
	return c.Profile[field]
}

// MissingFields lists the fields of specs the customer has no value for.
func MissingFields(c *identity.Customer, fields []string) []string {
	var out []string
	for _, f := range fields {
		if ProfileValue(c, f) == "" {
			out = append(out, f)
		}
	}
	return out
}

// SaveProfileInput is a profile form: the fields it asked for and what
// was typed.
type SaveProfileInput struct {
	CustomerID string
	Fields     []FieldSpec
	Values     map[string]string
	Client     Client
}

// ProfileSaved: every value passed and is stored.
type ProfileSaved struct{ Customer *identity.Customer }

func (ProfileSaved) outcome() {}

// SaveProfile checks every value (all or nothing) and stores them.
func (f *Flows) SaveProfile(ctx context.Context, in SaveProfileInput) (Outcome, error) {
	fields := map[string]error{}
	clean := map[string]string{}
	for _, spec := range in.Fields {
		v, err := CheckField(spec, in.Values[spec.Name])
		if err != nil {
			fields[spec.Name] = err
			continue
		}
		clean[spec.Name] = v
	}
	if len(fields) > 0 {
		return Invalid{Fields: fields}, nil
	}
	c, err := f.Customers.UpdateCustomer(ctx, in.CustomerID, func(c *identity.Customer) error {
		for k, v := range clean {
			if k == "name" {
				c.Name = v
				continue
			}
			if c.Profile == nil {
				c.Profile = map[string]string{}
			}
			c.Profile[k] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.audit(ctx, in.Client, c.ID, identity.EventProfileUpdated)
	return ProfileSaved{Customer: c}, nil
}
