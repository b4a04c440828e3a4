package identity_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/identity/storetest"
)

var tokenNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestTokenLegacyDecoding: a record of the previous version (every kind's
// fields flat) decodes into its kind's payload, for every kind.
func TestTokenLegacyDecoding(t *testing.T) {
	for _, r := range storetest.LegacyRecords {
		t.Run(r.Name, func(t *testing.T) {
			var tok identity.Token
			if err := json.Unmarshal([]byte(r.JSON), &tok); err != nil {
				t.Fatal(err)
			}
			if tok.Kind != r.Kind || !bytes.Equal(tok.Hash, r.Hash) || tok.CustomerID != r.CustomerID ||
				!tok.ExpiresAt.Equal(tokenNow.Add(time.Hour)) {
				t.Fatalf("record: %+v", tok)
			}
			r.Check(t, &tok)
		})
	}
	t.Run("a wait that accepted no factor", func(t *testing.T) {
		var tok identity.Token
		rec := `{"kind":"second_factor","hash":"AQ==","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z","purpose":"login"}`
		if err := json.Unmarshal([]byte(rec), &tok); err != nil {
			t.Fatal(err)
		}
		if w, err := identity.PayloadOf[identity.SecondFactorWait](&tok); err != nil || len(w.Factors) != 0 || w.Purpose != "login" {
			t.Fatalf("%#v %v", w, err)
		}
	})
	t.Run("a purpose is kept as stored, for the journeys to judge", func(t *testing.T) {
		var tok identity.Token
		rec := `{"kind":"webauthn_ceremony","hash":"AQ==","customer_id":"","expires_at":"2026-01-02T04:04:05Z","purpose":"no_such_purpose"}`
		if err := json.Unmarshal([]byte(rec), &tok); err != nil {
			t.Fatal(err)
		}
		if c, err := identity.PayloadOf[identity.Ceremony](&tok); err != nil || c.Purpose != "no_such_purpose" {
			t.Fatalf("%#v %v", c, err)
		}
	})
	t.Run("unknown kind", func(t *testing.T) {
		var tok identity.Token
		rec := `{"kind":"no_such_kind","hash":"AQ==","customer_id":"u_1","expires_at":"2026-01-02T04:04:05Z","redirect":"/"}`
		if err := json.Unmarshal([]byte(rec), &tok); err == nil {
			t.Fatalf("decoded %+v", tok)
		}
	})
}

// TestTokenEncoding: every payload survives encoding and decoding, nested
// under "payload" with nothing of it flat in the record.
func TestTokenEncoding(t *testing.T) {
	payloads := []identity.Payload{
		identity.VerifyEmail{PasswordHash: "$argon2id$x", Binding: []byte("b"), Purpose: "passkey_signup"},
		identity.ResetPassword{},
		identity.MagicLink{Binding: []byte("b"), Redirect: "/r"},
		identity.EmailCode{Redirect: "/r"},
		identity.CodeAttempts{Attempts: 4},
		identity.SecondFactorWait{Purpose: "stepup", Methods: []string{"pwd"}, Factors: []string{"otp", "recovery"}, Redirect: "/r",
			PasswordHash: "$argon2id$y", Binding: []byte("s"), Attempts: 1},
		identity.TOTPEnrol{Secret: "JBSWY3DPEHPK3PXP", Binding: []byte("s")},
		identity.Ceremony{Purpose: "register", Binding: []byte("s"), SessionData: []byte(`{"challenge":"c"}`)},
		identity.OAuthDevice{Issuer: "https://login.test", ClientID: "tv", Scopes: []string{"openid"}, Expires: tokenNow.Add(time.Minute).UTC()},
		identity.OAuthUserCode{Device: []byte("h"), ClientID: "tv", Scopes: []string{"openid", "offline_access"}},
		identity.OAuthDeviceAnswer{Subject: "u_1", SID: "s", AuthTime: tokenNow.UTC(), AMR: []string{"pwd"}, ACR: "aal1"},
		identity.OAuthDeviceAnswer{Denied: true},
		identity.OAuthDevicePoll{},
	}
	for _, p := range payloads {
		t.Run(string(p.TokenKind()), func(t *testing.T) {
			_, tok := identity.NewToken(p, "u_1", time.Hour, tokenNow)
			if tok.Kind != p.TokenKind() {
				t.Fatalf("kind %q", tok.Kind)
			}
			b, err := json.Marshal(tok)
			if err != nil {
				t.Fatal(err)
			}
			var flat map[string]json.RawMessage
			if err := json.Unmarshal(b, &flat); err != nil {
				t.Fatal(err)
			}
			for k := range flat {
				if !strings.Contains(" kind hash customer_id expires_at payload ", " "+k+" ") {
					t.Errorf("field %q flat in the record %s", k, b)
				}
			}
			var back identity.Token
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Kind != tok.Kind || !bytes.Equal(back.Hash, tok.Hash) || back.CustomerID != "u_1" || !back.ExpiresAt.Equal(tok.ExpiresAt) ||
				!reflect.DeepEqual(back.Payload(), p) {
				t.Fatalf("decoded %+v (payload %#v), want payload %#v", back, back.Payload(), p)
			}
		})
	}
}

// TestPayloadOfWrongKind: reading or setting a payload of another kind is
// an error, never a zero value; a token without a payload is not stored.
func TestPayloadOfWrongKind(t *testing.T) {
	_, tok := identity.NewToken(identity.MagicLink{Redirect: "/r"}, "u_1", time.Hour, tokenNow)
	if p, err := identity.PayloadOf[identity.EmailCode](tok); !errors.Is(err, identity.ErrPayloadKind) || p != (identity.EmailCode{}) {
		t.Fatalf("a sign-in link read as a code: %#v %v", p, err)
	}
	if _, err := identity.PayloadOf[*identity.MagicLink](tok); !errors.Is(err, identity.ErrPayloadKind) {
		t.Fatalf("read through a pointer type: %v", err)
	}
	if _, err := identity.PayloadOf[identity.MagicLink](nil); !errors.Is(err, identity.ErrPayloadKind) {
		t.Fatalf("no token: %v", err)
	}
	if err := tok.SetPayload(identity.EmailCode{Redirect: "/x"}); !errors.Is(err, identity.ErrPayloadKind) {
		t.Fatalf("set a code's payload on a sign-in link: %v", err)
	}
	if err := tok.SetPayload(identity.MagicLink{Redirect: "/x"}); err != nil {
		t.Fatal(err)
	}
	if p, err := identity.PayloadOf[identity.MagicLink](tok); err != nil || p.Redirect != "/x" {
		t.Fatalf("after SetPayload: %#v %v", p, err)
	}

	// A kind changed under the payload, or no payload at all.
	tok.Kind = identity.TokenEmailCode
	if _, err := identity.PayloadOf[identity.MagicLink](tok); !errors.Is(err, identity.ErrPayloadKind) {
		t.Fatalf("payload of a token whose kind changed: %v", err)
	}
	if _, err := json.Marshal(tok); !errors.Is(err, identity.ErrPayloadKind) {
		t.Fatalf("encoded a token whose payload is of another kind: %v", err)
	}
	if _, err := json.Marshal(&identity.Token{Kind: identity.TokenResetPassword, Hash: []byte{1}}); !errors.Is(err, identity.ErrPayloadKind) {
		t.Fatalf("encoded a token without a payload: %v", err)
	}
}
