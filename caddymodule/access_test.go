package caddymodule

import (
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// TestAccessCheck: each kind of rule, and the CEL verdict kept on the
// customer's cache record until a new sign-in.
func TestAccessCheck(t *testing.T) {
	now := time.Now()
	c := newHotCustomer(&identity.Customer{ID: "u_1", Email: "ann@acme.com", EmailVerified: true, Roles: []string{"beta"},
		Attributes: map[string]string{"org": "acme"},
		Identities: []identity.LinkedIdentity{{Issuer: "i", Subject: "s", Roles: []string{"staff"}}}})
	s := &session.Session{Key: "k1", UserID: "u_1", Email: "ann@acme.com", EmailVerified: true, AuthTime: now.Add(-time.Minute), AMR: []string{"pwd"}}
	check := func(r Rule) string {
		t.Helper()
		a, err := compileAccess(r)
		if err != nil {
			t.Fatal(err)
		}
		return a.missing(s, c, now)
	}
	for _, tc := range []struct {
		rule Rule
		want string
	}{
		{Rule{Roles: []string{"member", "staff"}}, ""}, // a provider's role counts
		{Rule{Roles: []string{"member"}}, missingRole},
		{Rule{Attributes: []AttributeRule{{"org", []string{"acme", "globex"}}}}, ""},
		{Rule{Attributes: []AttributeRule{{"org", []string{"globex"}}}}, missingAttribute},
		{Rule{Attributes: []AttributeRule{{"plan", []string{"premium"}}}}, missingAttribute},
		{Rule{EmailDomains: []string{"ACME.com"}}, ""},
		{Rule{EmailDomains: []string{"sub.acme.com"}}, missingEmailDomain},
		{Rule{Expression: "'beta' in roles && attrs.org == 'acme' && email_domain == 'acme.com' && 'pwd' in amr"}, ""},
		{Rule{Expression: "attrs.plan == 'premium'"}, missingExpression}, // no such key: an evaluation error, not met
		{Rule{Roles: []string{"beta"}, EmailDomains: []string{"globex.com"}}, missingEmailDomain},
	} {
		if got := check(tc.rule); got != tc.want {
			t.Errorf("%+v: missing %q, want %q", tc.rule, got, tc.want)
		}
	}
	unverified := newHotCustomer(&identity.Customer{ID: "u_2", Email: "bob@acme.com"})
	a, _ := compileAccess(Rule{EmailDomains: []string{"acme.com"}})
	if a.missing(s, unverified, now) != missingEmailDomain {
		t.Error("an unverified address passed an email_domain rule")
	}

	// The verdict is kept for the record's life, and a new sign-in is
	// judged afresh.
	recent, _ := compileAccess(Rule{Expression: "auth_time > now - duration('1h')"})
	if recent.missing(s, c, now) != "" {
		t.Fatal("a recent sign-in was refused")
	}
	if recent.missing(s, c, now.Add(2*time.Hour)) != "" {
		t.Fatal("the verdict was not kept on the record")
	}
	if newHotCustomer(c.Customer) != nil && recent.missing(s, newHotCustomer(c.Customer), now.Add(2*time.Hour)) != missingExpression {
		t.Fatal("a fresh record did not judge afresh")
	}
	s2 := *s
	s2.AuthTime = now.Add(-3 * time.Hour)
	if recent.missing(&s2, c, now) != missingExpression {
		t.Fatal("an older sign-in of the same session reused the verdict")
	}
	// Bounded.
	for i := range verdictsMax + 10 {
		s3 := *s
		s3.Key = "k" + string(rune('a'+i%26)) + time.Duration(i).String()
		recent.missing(&s3, c, now)
	}
	if n := len(c.verdicts); n > verdictsMax {
		t.Fatalf("%d verdicts kept, at most %d", n, verdictsMax)
	}
}
