package storetest

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
)

// LegacyRecord is a token as the version before per-kind payloads stored
// it: every kind's optional fields flat in one record (password_hash,
// binding, redirect, attempts, methods, data, purpose). Such tokens are
// still in the stores after an upgrade — links in customers' mailboxes,
// waits and ceremonies under way — and must come back with their kind's
// payload.
type LegacyRecord struct {
	Name string
	Kind identity.TokenKind
	// Hash and CustomerID are the ones in JSON; the record is stored under
	// Hash.
	Hash       []byte
	CustomerID string
	JSON       string
	// Check checks the token decoded from JSON.
	Check func(t *testing.T, tok *identity.Token)
}

// legacyBinding is "binding-of-the-browser-nonce-32b", base64
// YmluZGluZy1vZi10aGUtYnJvd3Nlci1ub25jZS0zMmI= in the records.
var legacyBinding = []byte("binding-of-the-browser-nonce-32b")

func legacyHash(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// LegacyRecords holds a record of every kind, literally as the previous
// version encoded it, each expiring an hour after t0 and owned by "u_1"
// (or "", a decoy).
var LegacyRecords = []LegacyRecord{
	{
		Name: "verification link of a password sign-up", Kind: identity.TokenVerifyEmail, Hash: legacyHash(1), CustomerID: "u_1",
		JSON: `{"kind":"verify_email","hash":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z",` +
			`"password_hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5","binding":"YmluZGluZy1vZi10aGUtYnJvd3Nlci1ub25jZS0zMmI="}`,
		Check: expect(identity.VerifyEmail{PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5", Binding: legacyBinding}),
	},
	{
		Name: "verification link of a passkey-first sign-up", Kind: identity.TokenVerifyEmail, Hash: legacyHash(2), CustomerID: "u_1",
		JSON: `{"kind":"verify_email","hash":"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z",` +
			`"binding":"YmluZGluZy1vZi10aGUtYnJvd3Nlci1ub25jZS0zMmI=","purpose":"passkey_signup"}`,
		Check: expect(identity.VerifyEmail{Binding: legacyBinding, Purpose: "passkey_signup"}),
	},
	{
		Name: "reset link", Kind: identity.TokenResetPassword, Hash: legacyHash(3), CustomerID: "u_1",
		JSON:  `{"kind":"reset_password","hash":"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z"}`,
		Check: expect(identity.ResetPassword{}),
	},
	{
		Name: "sign-in link", Kind: identity.TokenMagicLink, Hash: legacyHash(4), CustomerID: "u_1",
		JSON: `{"kind":"magic_link","hash":"BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z",` +
			`"binding":"YmluZGluZy1vZi10aGUtYnJvd3Nlci1ub25jZS0zMmI=","redirect":"/orders"}`,
		Check: expect(identity.MagicLink{Binding: legacyBinding, Redirect: "/orders"}),
	},
	{
		Name: "sign-in code", Kind: identity.TokenEmailCode, Hash: legacyHash(5), CustomerID: "u_1",
		JSON: `{"kind":"email_code","hash":"BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z",` +
			`"redirect":"/orders"}`,
		Check: expect(identity.EmailCode{Redirect: "/orders"}),
	},
	{
		Name: "sign-in code's wrong guesses", Kind: identity.TokenEmailCodeAttempts, Hash: legacyHash(6), CustomerID: "",
		JSON: `{"kind":"email_code_attempts","hash":"BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=","customer_id":"","expires_at":"2026-01-02T04:04:05Z",` +
			`"attempts":3}`,
		Check: expect(identity.CodeAttempts{Attempts: 3}),
	},
	{
		Name: "sign-in waiting for a second factor", Kind: identity.TokenSecondFactor, Hash: legacyHash(7), CustomerID: "u_1",
		JSON: `{"kind":"second_factor","hash":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z",` +
			`"redirect":"/shop","attempts":2,"methods":["pwd"],"data":"b3RwLHBhc3NrZXkscmVjb3Zlcnk=","purpose":"login"}`,
		Check: expect(identity.SecondFactorWait{Purpose: "login", Methods: []string{"pwd"}, Factors: []string{"otp", "passkey", "recovery"},
			Redirect: "/shop", Attempts: 2}),
	},
	{
		Name: "step-up waiting for a second factor", Kind: identity.TokenSecondFactor, Hash: legacyHash(8), CustomerID: "u_1",
		JSON: `{"kind":"second_factor","hash":"CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z",` +
			`"binding":"YmluZGluZy1vZi10aGUtYnJvd3Nlci1ub25jZS0zMmI=","redirect":"/pay","methods":["pwd","otp","mfa"],"data":"b3Rw","purpose":"stepup_resubmit"}`,
		Check: expect(identity.SecondFactorWait{Purpose: "stepup_resubmit", Methods: []string{"pwd", "otp", "mfa"}, Factors: []string{"otp"},
			Redirect: "/pay", Binding: legacyBinding}),
	},
	{
		Name: "reset waiting for a second factor", Kind: identity.TokenSecondFactor, Hash: legacyHash(9), CustomerID: "u_1",
		JSON: `{"kind":"second_factor","hash":"CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z",` +
			`"password_hash":"$argon2id$new","data":"b3RwLHBhc3NrZXkscmVjb3Zlcnk=","purpose":"reset"}`,
		Check: expect(identity.SecondFactorWait{Purpose: "reset", Factors: []string{"otp", "passkey", "recovery"}, PasswordHash: "$argon2id$new"}),
	},
	{
		Name: "authenticator being set up", Kind: identity.TokenTOTPEnrol, Hash: legacyHash(10), CustomerID: "u_1",
		JSON: `{"kind":"totp_enrol","hash":"CgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgo=","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z",` +
			`"binding":"YmluZGluZy1vZi10aGUtYnJvd3Nlci1ub25jZS0zMmI=","data":"SkJTV1kzRFBFSFBLM1BYUA=="}`,
		Check: expect(identity.TOTPEnrol{Secret: "JBSWY3DPEHPK3PXP", Binding: legacyBinding}),
	},
	{
		Name: "passkey ceremony", Kind: identity.TokenCeremony, Hash: legacyHash(11), CustomerID: "u_1",
		JSON: `{"kind":"webauthn_ceremony","hash":"CwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCws=","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z",` +
			`"binding":"YmluZGluZy1vZi10aGUtYnJvd3Nlci1ub25jZS0zMmI=","data":"eyJjaGFsbGVuZ2UiOiJZMmhoYkd4bGJtZGwiLCJ1c2VyX2lkIjoiZFY4eCJ9","purpose":"mfa"}`,
		Check: expect(identity.Ceremony{Purpose: "mfa", Binding: legacyBinding,
			SessionData: []byte(`{"challenge":"Y2hhbGxlbmdl","user_id":"dV8x"}`)}),
	},
}

// expect checks that a token holds want, read through PayloadOf as a P,
// and nothing as a payload of another type.
func expect[P identity.Payload](want P) func(t *testing.T, tok *identity.Token) {
	return func(t *testing.T, tok *identity.Token) {
		t.Helper()
		if tok.Kind != want.TokenKind() {
			t.Fatalf("kind %q, want %q", tok.Kind, want.TokenKind())
		}
		got, err := identity.PayloadOf[P](tok)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("payload %#v (%v), want %#v", got, err, want)
		}
		if _, isVerify := any(want).(identity.VerifyEmail); isVerify {
			if _, err := identity.PayloadOf[identity.MagicLink](tok); err == nil {
				t.Fatal("a verification link read as a sign-in link")
			}
		} else if _, err := identity.PayloadOf[identity.VerifyEmail](tok); err == nil {
			t.Fatalf("a %s token read as a verification link", tok.Kind)
		}
	}
}

// PutRaw stores record as it is under kind and hash, where the store keeps
// tokens, bypassing the store's encoding.
type PutRaw func(t *testing.T, kind identity.TokenKind, hash, record []byte)

// RunLegacyTokens checks that tokens stored by the previous version are
// consumed, once, with the payload of their kind, from a store made by
// newStore with a way to write its raw records.
func RunLegacyTokens(t *testing.T, newStore func(t *testing.T) (identity.Store, PutRaw)) {
	for _, r := range LegacyRecords {
		t.Run(r.Name, func(t *testing.T) {
			s, putRaw := newStore(t)
			ctx := context.Background()
			putRaw(t, r.Kind, r.Hash, []byte(r.JSON))
			got, err := s.ConsumeToken(ctx, r.Kind, r.Hash, t0)
			if err != nil {
				t.Fatalf("consume: %v", err)
			}
			if !bytes.Equal(got.Hash, r.Hash) || got.CustomerID != r.CustomerID || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
				t.Fatalf("token %+v", got)
			}
			r.Check(t, got)
			if _, err := s.ConsumeToken(ctx, r.Kind, r.Hash, t0); !errors.Is(err, identity.ErrNotFound) {
				t.Fatalf("second consume: %v", err)
			}
			// Put back (a wrong guess counted, a wait kept), it is
			// stored in the current encoding and reads the same.
			if err := s.PutToken(ctx, got); err != nil {
				t.Fatal(err)
			}
			again, err := s.ConsumeToken(ctx, r.Kind, r.Hash, t0)
			if err != nil {
				t.Fatalf("consume after putting back: %v", err)
			}
			r.Check(t, again)
		})
	}
}
