package authflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Importing customers from a legacy system (`frontdoor import customers`):
// one JSON object per line,
//
//	{"email": "ann@example.com", "email_verified": true, "name": "Ann Lee",
//	 "profile": {"phone": "+44 20 7946 0000"}, "created_at": "2019-03-01T10:00:00Z",
//	 "password_hash": "$2b$12$…", "reset_required": false}
//
// Only email is required. The legacy password hash is kept as it is
// (identity.CheckPasswordHash lists the schemes) and replaced by argon2id
// at the customer's first sign-in; reset_required (or a weak scheme when
// the import asks it) lets the sign-in go on only through a password
// reset. A line whose address has an account already is left alone, so a
// re-run imports nothing twice and an interrupted import resumes.

// ImportCustomer is one line of an import file.
type ImportCustomer struct {
	Email         string            `json:"email"`
	EmailVerified bool              `json:"email_verified"`
	Name          string            `json:"name"`
	Profile       map[string]string `json:"profile"`
	CreatedAt     time.Time         `json:"created_at"`
	PasswordHash  string            `json:"password_hash"`
	ResetRequired bool              `json:"reset_required"`
}

// ImportStatus is what became of a line.
type ImportStatus string

const (
	// ImportCreated: a new customer.
	ImportCreated ImportStatus = "imported"
	// ImportExists: the address has an account already (left alone).
	ImportExists ImportStatus = "exists"
	// ImportSkipped: the line is wrong (Reason says how).
	ImportSkipped ImportStatus = "skipped"
)

// ImportResult is one line's outcome.
type ImportResult struct {
	Line   int          `json:"line"`
	Status ImportStatus `json:"status"`
	Reason string       `json:"reason,omitempty"`
	ID     string       `json:"id,omitempty"`
	// Scheme names the password hash's scheme; ResetRequired says the
	// customer will be asked to choose a new password.
	Scheme        string `json:"scheme,omitempty"`
	ResetRequired bool   `json:"reset_required,omitempty"`
}

// ImportOptions shape an import.
type ImportOptions struct {
	// ResetWeak: customers whose hash is of a weak scheme must reset
	// their password (identity.CheckPasswordHash says which are weak).
	ResetWeak bool
}

// Bounds of an imported line.
const (
	MaxImportLine        = 64 << 10
	maxImportName        = 200
	maxImportProfile     = 50
	maxImportProfileName = 64
	maxImportValue       = 1000
)

var profileName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Import creates the customer of one line (number line, for the report).
// Errors of the store are returned; everything wrong with the line is a
// skipped result saying what.
func (f *Flows) Import(ctx context.Context, line int, raw []byte, opt ImportOptions) (ImportResult, error) {
	res := ImportResult{Line: line, Status: ImportSkipped}
	in, reason := parseImportLine(raw, f.now())
	if reason != "" {
		res.Reason = reason
		return res, nil
	}
	email, err := identity.NormalizeEmail(in.Email)
	if err != nil {
		res.Reason = "email: not an address"
		return res, nil
	}
	c := &identity.Customer{ID: identity.NewID(), Email: email, EmailVerified: in.EmailVerified, CreatedAt: in.CreatedAt.UTC(),
		Name: in.Name, Profile: in.Profile, PasswordResetRequired: in.ResetRequired}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = f.now().UTC()
	}
	if in.PasswordHash != "" {
		scheme, weak, err := identity.CheckPasswordHash(in.PasswordHash)
		if err != nil {
			res.Reason = "password_hash: " + err.Error()
			return res, nil
		}
		c.PasswordHash, res.Scheme = in.PasswordHash, scheme
		c.PasswordResetRequired = c.PasswordResetRequired || weak && opt.ResetWeak
	}
	switch err := f.Customers.CreateCustomer(ctx, c); {
	case errors.Is(err, identity.ErrEmailTaken):
		res.Status, res.Reason = ImportExists, "an account has this address"
		return res, nil
	case err != nil:
		return res, err
	}
	detail := "legacy import"
	if res.Scheme != "" {
		detail += ": " + res.Scheme
	}
	f.auditDetail(ctx, Client{}, c.ID, identity.EventImported, detail)
	res.Status, res.ID, res.ResetRequired = ImportCreated, c.ID, c.PasswordResetRequired
	if res.Scheme != "" && res.Scheme != "argon2id" && f.OnMigration != nil {
		f.OnMigration("imported")
	}
	return res, nil
}

// parseImportLine reads and checks a line; the reason says what is wrong
// ("" when nothing is).
func parseImportLine(raw []byte, now time.Time) (ImportCustomer, string) {
	var in ImportCustomer
	if len(raw) > MaxImportLine {
		return in, fmt.Sprintf("longer than %d bytes", MaxImportLine)
	}
	if !utf8.Valid(raw) {
		return in, "not UTF-8"
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, "not a customer object: " + err.Error()
	}
	if dec.More() {
		return in, "more than one JSON value"
	}
	switch {
	case in.Email == "":
		return in, "email: missing"
	case utf8.RuneCountInString(in.Name) > maxImportName:
		return in, fmt.Sprintf("name: longer than %d characters", maxImportName)
	case len(in.Profile) > maxImportProfile:
		return in, fmt.Sprintf("profile: more than %d fields", maxImportProfile)
	case in.CreatedAt.After(now.Add(time.Minute)):
		return in, "created_at: in the future"
	}
	for k, v := range in.Profile {
		if len(k) > maxImportProfileName || !profileName.MatchString(k) {
			return in, fmt.Sprintf("profile: field name %q (lower-case letters, digits, _)", k)
		}
		if utf8.RuneCountInString(v) > maxImportValue {
			return in, fmt.Sprintf("profile: %s longer than %d characters", k, maxImportValue)
		}
	}
	if len(in.Profile) == 0 {
		in.Profile = nil
	}
	return in, ""
}

// PasswordResetDue: the password was right, but the account must choose a
// new one (an imported weak hash); the reset link is mailed.
type PasswordResetDue struct{}

func (PasswordResetDue) outcome() {}
