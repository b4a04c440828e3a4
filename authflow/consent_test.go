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
			// Passkey-first and email sign-ups ask the same.
			for _, m := range []authflow.SignUpPurpose{authflow.PurposePasskeySignUp, authflow.PurposeEmailSignUp} {
				out, _ := e.flows.SignUp(ctx, authflow.SignUpInput{Email: "no@example.com", Method: m, Consents: []string{"marketing"}, Client: client})
				if inv, ok := out.(authflow.Invalid); !ok || len(inv.Fields) != 1 {
					t.Fatalf("%q sign-up without terms: %#v", m, out)
				}
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
				method   authflow.SignUpPurpose
				accepted []string
				mkt      bool
			}{
				{"ann@example.com", authflow.PurposePasswordSignUp, []string{"terms"}, false},
				{"pia@example.com", authflow.PurposePasskeySignUp, []string{"terms", "marketing", "unknown"}, true},
				{"eve@example.com", authflow.PurposeEmailSignUp, []string{"marketing", "terms"}, true},
			} {
				out, err := e.flows.SignUp(ctx, authflow.SignUpInput{Email: tc.email, Password: ownerPassword, Method: tc.method, Consents: tc.accepted, Client: client})
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

// TestProviderSignUpConsent: a customer created by a provider sign-in is
// asked every purpose, in the browser that signed up, and nothing is
// recorded until they answer; required ones must be ticked; the answers
// are recorded as a sign-up's. Known customers and no purposes: no
// question.
func TestProviderSignUpConsent(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		client := authflow.Client{IP: "203.0.113.77", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}

		// No purposes: no question.
		out, err := e.flows.FederatedSignIn(ctx, fedIn("none-1", "none@example.com", true))
		if due := run[authflow.SessionDue](t, "no purposes", out, err); due.AskConsent != "" {
			t.Fatalf("asked without purposes: %+v", due)
		}

		e.flows.Purposes = testPurposes
		out, err = e.flows.FederatedSignIn(ctx, fedIn("fed-1", "fed@example.com", true))
		due := run[authflow.SessionDue](t, "new customer", out, err)
		id, nonce := due.Customer.ID, due.AskConsent
		if nonce == "" || due.Redirect != "/after" {
			t.Fatalf("a new customer is not asked: %+v", due)
		}
		if rs, _ := e.consent.Records(ctx, id); len(rs) != 0 {
			t.Fatalf("recorded before the customer answered: %+v", rs)
		}
		// Returning: no question.
		out, err = e.flows.FederatedSignIn(ctx, fedIn("fed-1", "fed@example.com", true))
		if due := run[authflow.SessionDue](t, "returning", out, err); due.AskConsent != "" {
			t.Fatalf("a returning customer is asked as at sign-up: %+v", due)
		}

		// Only that browser, only that customer.
		for _, tc := range []struct{ who, nonce string }{{id, "another browser"}, {"u_someone_else", nonce}, {id, ""}} {
			if ok, err := e.flows.SignUpConsentPending(ctx, tc.who, tc.nonce); ok || err != nil {
				t.Fatalf("pending for %q/%q: %v %v", tc.who, tc.nonce, ok, err)
			}
		}
		// The wrong customer's attempt dropped the mark: sign up again.
		out, err = e.flows.FederatedSignIn(ctx, fedIn("fed-2", "fed2@example.com", true))
		due = run[authflow.SessionDue](t, "new customer", out, err)
		id, nonce = due.Customer.ID, due.AskConsent
		if ok, err := e.flows.SignUpConsentPending(ctx, id, nonce); !ok || err != nil {
			t.Fatalf("pending: %v %v", ok, err)
		}
		// Required missing: refused, still pending, nothing recorded.
		out, err = e.flows.GiveSignUpConsent(ctx, authflow.SignUpConsentInput{CustomerID: id, Nonce: nonce, Accepted: []string{"marketing"}, Client: client})
		if inv := run[authflow.Invalid](t, "terms missing", out, err); !errors.Is(inv.Fields[authflow.ConsentField("terms")], authflow.ErrConsentRequired) {
			t.Fatalf("%+v", inv)
		}
		if ok, _ := e.flows.SignUpConsentPending(ctx, id, nonce); !ok {
			t.Fatal("a refused answer ended the question")
		}
		if rs, _ := e.consent.Records(ctx, id); len(rs) != 0 {
			t.Fatalf("a refused answer recorded %+v", rs)
		}
		out, err = e.flows.GiveSignUpConsent(ctx, authflow.SignUpConsentInput{CustomerID: id, Nonce: nonce, Accepted: []string{"terms", "bogus"}, Client: client})
		if rec := run[authflow.ConsentRecorded](t, "answered", out, err); rec.Changed != 2 {
			t.Fatalf("%+v", rec)
		}
		rs, _ := e.consent.Records(ctx, id)
		st := consent.StateOf(rs)
		if len(rs) != 2 || !st.Granted(testPurposes[0]) || st.Granted(testPurposes[1]) || st["marketing"].How != consent.HowSignup || rs[0].Network != "203.0.113.0/24" {
			t.Fatalf("records %+v", rs)
		}
		// Answered once only.
		out, err = e.flows.GiveSignUpConsent(ctx, authflow.SignUpConsentInput{CustomerID: id, Nonce: nonce, Accepted: []string{"terms", "marketing"}, Client: client})
		run[authflow.SignUpConsentGone](t, "answered again", out, err)
	})
}
