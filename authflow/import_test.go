package authflow_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/authflow"
)

// TestImport: each line is judged alone — what is wrong with it says so,
// an address already there is left alone, and a weak legacy hash is
// marked for a reset only when the import asks.
func TestImport(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		sum := sha256.Sum256([]byte("saltpassword"))
		weak := "$sha256-salted$salt$" + hex.EncodeToString(sum[:])
		for _, tc := range []struct {
			line   string
			opt    authflow.ImportOptions
			status authflow.ImportStatus
			reason string
			reset  bool
		}{
			{`{"email": "Weak@Example.com", "email_verified": true, "password_hash": "` + weak + `"}`, authflow.ImportOptions{}, authflow.ImportCreated, "", false},
			{`{"email": "weak2@example.com", "password_hash": "` + weak + `"}`, authflow.ImportOptions{ResetWeak: true}, authflow.ImportCreated, "", true},
			{`{"email": "weak@example.com"}`, authflow.ImportOptions{}, authflow.ImportExists, "an account has this address", false},
			{`{"email": "x@example.com", "created_at": "2999-01-01T00:00:00Z"}`, authflow.ImportOptions{}, authflow.ImportSkipped, "created_at: in the future", false},
			{`{"email": "x@example.com", "profile": {"Bad Name": "v"}}`, authflow.ImportOptions{}, authflow.ImportSkipped, "profile: field name", false},
			{`{"email": "x@example.com", "name": "` + strings.Repeat("n", 201) + `"}`, authflow.ImportOptions{}, authflow.ImportSkipped, "name: longer than 200", false},
			{`{"email": "x@example.com"} {"email": "y@example.com"}`, authflow.ImportOptions{}, authflow.ImportSkipped, "more than one JSON value", false},
			{`{"email": "x@example.com", "password_hash": "$2b$31$` + strings.Repeat("a", 53) + `"}`, authflow.ImportOptions{}, authflow.ImportSkipped, "password_hash:", false},
			{`{}`, authflow.ImportOptions{}, authflow.ImportSkipped, "email: missing", false},
		} {
			res, err := e.flows.Import(ctx, 7, []byte(tc.line), tc.opt)
			if err != nil || res.Line != 7 || res.Status != tc.status || !strings.Contains(res.Reason, tc.reason) || res.ResetRequired != tc.reset {
				t.Errorf("%s: %+v %v", tc.line, res, err)
			}
		}
		c, err := e.store.CustomerByEmail(ctx, "weak2@example.com")
		if err != nil || !c.PasswordResetRequired || c.PasswordHash != weak {
			t.Fatalf("weak hash marked: %+v %v", c, err)
		}
	})
}
