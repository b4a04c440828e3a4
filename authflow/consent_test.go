package authflow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/consent"
)

var testPurposes = consent.Purposes{
	{ID: "terms", Title: "Terms of service", Version: 3, Required: true},
	{ID: "marketing", Title: "News and offers by email", Version: 1},
}

// TestSignUpConsent: required purposes must be ticked; the answers are
// recorded, with where and how, only for a customer the sign-up creates.
func TestSignUpConsent(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.flows.Purposes = testPurposes
		client := authflow.Client{IP: "203.0.113.77", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}

		t.Run("required missing", func(t *testing.T) {
			for _, accepted := range [][]string{nil, {"marketing"}, {"Terms"}} {
				out, err := e.flows.SignUp(ctx, authflow.SignUpInput{Email: "no@example.com", Password: ownerPassword, Consents: accepted, Client: client})
				if err != nil {
					t.Fatal(err)
				}
				inv, ok := out.(authflow.Invalid)
				if !ok || !errors.Is(inv.Fields[authflow.ConsentField("terms")], authflow.ErrConsentRequired) || len(inv.Fields) != 1 {
					t.Fatalf("accepted %v: %#v, want one field error on consent_terms", accepted, out)
				}
			}
			// Passkey-first asks the same.
			out, _ := e.flows.SignUp(ctx, authflow.SignUpInput{Email: "no@example.com", Passkey: true, Client: client})
			if _, ok := out.(authflow.Invalid); !ok {
				t.Fatalf("passkey sign-up without terms: %#v", out)
			}
			if mails := e.mail.take(); len(mails) != 0 {
				t.Fatalf("a refused sign-up mailed %+v", mails)
			}
			if c, _ := e.store.CustomerByEmail(ctx, "no@example.com"); c != nil {
				t.Fatal("a refused sign-up created a customer")
			}
		})

		t.Run("recorded", func(t *testing.T) {
			for _, tc := range []struct {
				email    string
				passkey  bool
				accepted []string
				mkt      bool
			}{
				{"ann@example.com", false, []string{"terms"}, false},
				{"pia@example.com", true, []string{"terms", "marketing", "unknown"}, true},
			} {
				out, err := e.flows.SignUp(ctx, authflow.SignUpInput{Email: tc.email, Password: ownerPassword, Passkey: tc.passkey, Consents: tc.accepted, Client: client})
				if _, ok := out.(authflow.SignUpAccepted); err != nil || !ok {
					t.Fatalf("%s: %#v, %v", tc.email, out, err)
				}
				e.mail.take()
				c, err := e.store.CustomerByEmail(ctx, tc.email)
				if err != nil {
					t.Fatal(err)
				}
				rs, err := e.consent.Records(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) != 2 {
					t.Fatalf("%s: records %+v, want terms and marketing", tc.email, rs)
				}
				for _, r := range rs {
					if r.How != consent.HowSignup || r.Site != "shop.example.com" || r.Network != "203.0.113.0/24" || r.UserAgent != "Firefox" || !r.At.Equal(e.clock.now().UTC()) {
						t.Errorf("record %+v: where/how/when wrong", r)
					}
				}
				st := consent.StateOf(rs)
				if !st.Granted(testPurposes[0]) || st.Granted(testPurposes[1]) != tc.mkt || len(st.Missing(testPurposes)) != 0 {
					t.Fatalf("%s: state %+v", tc.email, st)
				}
			}
		})

		t.Run("existing account untouched", func(t *testing.T) {
			c, err := e.store.CustomerByEmail(ctx, "ann@example.com")
			if err != nil {
				t.Fatal(err)
			}
			before, _ := e.consent.Records(ctx, c.ID)
			out, err := e.flows.SignUp(ctx, authflow.SignUpInput{Email: "ann@example.com", Password: attackerPassword, Consents: []string{"terms", "marketing"}, Client: client})
			if _, ok := out.(authflow.SignUpAccepted); err != nil || !ok {
				t.Fatalf("%#v, %v", out, err)
			}
			e.mail.take()
			after, _ := e.consent.Records(ctx, c.ID)
			if len(after) != len(before) {
				t.Fatalf("a sign-up for an existing address recorded consents: %+v", after)
			}
		})
	})
}
