package authflow_test

import (
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/session"
)

// TestSMSRestricted: a texted code is a restricted authenticator (NIST SP
// 800-63B-4): its session is aal2, but it meets a methods rule only when
// the rule names sms — not totp, passkey or mfa — while a stronger second
// factor beside it still meets them.
func TestSMSRestricted(t *testing.T) {
	now := time.Now()
	sms := &session.Session{AMR: []string{"pwd", "sms", "mfa"}, ACR: "aal2", AuthTime: now}
	both := &session.Session{AMR: []string{"pwd", "sms", "mfa", "otp"}, ACR: "aal2", AuthTime: now}
	for _, c := range []struct {
		s     *session.Session
		req   authflow.Requirement
		unmet bool
	}{
		{sms, authflow.Requirement{AAL: "aal2"}, false},
		{sms, authflow.Requirement{Methods: []string{"sms"}}, false},
		{sms, authflow.Requirement{Methods: []string{"totp", "passkey"}}, true},
		{sms, authflow.Requirement{Methods: []string{"mfa"}}, true},
		{sms, authflow.Requirement{Methods: []string{"pwd"}}, false},
		{both, authflow.Requirement{Methods: []string{"mfa"}}, false},
		{both, authflow.Requirement{Methods: []string{"totp"}}, false},
	} {
		if got := c.req.Unmet(c.s, now); got != c.unmet {
			t.Errorf("%v against %+v: unmet %v, want %v", c.s.AMR, c.req, got, c.unmet)
		}
	}
}
