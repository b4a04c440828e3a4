package authflow_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/authflow"
)

func TestCheckField(t *testing.T) {
	cases := []struct {
		spec authflow.FieldSpec
		in   string
		want string
		err  error
	}{
		{authflow.FieldSpec{Type: authflow.FieldText}, "  Ann Example ", "Ann Example", nil},
		{authflow.FieldSpec{Type: authflow.FieldText}, "", "", authflow.ErrFieldMissing},
		{authflow.FieldSpec{Type: authflow.FieldText, Max: 5}, "abcdef", "", authflow.ErrFieldTooLong},
		{authflow.FieldSpec{Type: authflow.FieldText}, "a\r\nX-Injected: 1", "", authflow.ErrFieldBadChars},
		{authflow.FieldSpec{Type: authflow.FieldText}, "a\u2028b", "", authflow.ErrFieldBadChars},
		{authflow.FieldSpec{Type: authflow.FieldText}, strings.Repeat("é", 100), strings.Repeat("é", 100), nil},
		{authflow.FieldSpec{Type: authflow.FieldTel}, "+44 20 7946 0958", "+44 20 7946 0958", nil},
		{authflow.FieldSpec{Type: authflow.FieldTel}, "call me", "", authflow.ErrFieldTel},
		{authflow.FieldSpec{Type: authflow.FieldTel}, "12", "", authflow.ErrFieldTel},
		{authflow.FieldSpec{Type: authflow.FieldDate}, "1990-02-28", "1990-02-28", nil},
		{authflow.FieldSpec{Type: authflow.FieldDate}, "1990-02-30", "", authflow.ErrFieldDate},
		{authflow.FieldSpec{Type: authflow.FieldDate}, "28/02/1990", "", authflow.ErrFieldDate},
		{authflow.FieldSpec{Type: authflow.FieldEmail}, "A@Example.com", "a@example.com", nil},
		{authflow.FieldSpec{Type: authflow.FieldNumber}, "42", "42", nil},
		{authflow.FieldSpec{Type: authflow.FieldNumber}, "Inf", "", authflow.ErrFieldNumber},
	}
	for _, tc := range cases {
		got, err := authflow.CheckField(tc.spec, tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s %q: %q %v, want %q %v", tc.spec.Type, tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestSaveProfile: all or nothing; name is the customer's Name; missing
// fields are the ones without a value.
func TestSaveProfile(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		c := e.verified(t, "profile@example.com")
		specs := []authflow.FieldSpec{{Name: "name", Type: authflow.FieldText}, {Name: "phone", Type: authflow.FieldTel}}
		if m := authflow.MissingFields(c, []string{"name", "phone"}); !slices.Equal(m, []string{"name", "phone"}) {
			t.Fatalf("missing %v", m)
		}
		out, err := e.flows.SaveProfile(ctx, authflow.SaveProfileInput{CustomerID: c.ID, Fields: specs, Values: map[string]string{"name": "Ann", "phone": "nope"}})
		inv := run[authflow.Invalid](t, "a bad phone", out, err)
		if !errors.Is(inv.Fields["phone"], authflow.ErrFieldTel) || len(inv.Fields) != 1 {
			t.Fatalf("fields %v", inv.Fields)
		}
		if got, _ := e.store.Customer(ctx, c.ID); got.Name != "" {
			t.Fatal("a refused form stored a value")
		}
		out, err = e.flows.SaveProfile(ctx, authflow.SaveProfileInput{CustomerID: c.ID, Fields: specs, Values: map[string]string{"name": " Ann ", "phone": "+44 20 7946 0958"}})
		saved := run[authflow.ProfileSaved](t, "save", out, err)
		if saved.Customer.Name != "Ann" || saved.Customer.Profile["phone"] != "+44 20 7946 0958" || len(authflow.MissingFields(saved.Customer, []string{"name", "phone"})) != 0 {
			t.Fatalf("saved %+v", saved.Customer)
		}
	})
}
