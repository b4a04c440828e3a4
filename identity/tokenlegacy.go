package identity

import (
	"encoding/json"
	"fmt"
	"strings"
)

// legacyFields are the optional fields every token kind shared, flat in the
// record, before each kind had its payload. Tokens stored that way — links
// in customers' mailboxes, waits and ceremonies under way during an
// upgrade — decode into their kind's payload.
type legacyFields struct {
	PasswordHash string   `json:"password_hash"`
	Binding      []byte   `json:"binding"`
	Redirect     string   `json:"redirect"`
	Attempts     int      `json:"attempts"`
	Methods      []string `json:"methods"`
	// Data was the TOTP secret of an enrolment, the WebAuthn session data
	// of a ceremony, and the comma-separated factors a wait accepted.
	Data    []byte `json:"data"`
	Purpose string `json:"purpose"`
}

// decodeLegacyPayload decodes the payload of a token of kind from the
// flat record b: each kind takes the fields it used.
func decodeLegacyPayload(kind TokenKind, b []byte) (Payload, error) {
	var l legacyFields
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, err
	}
	switch kind {
	case TokenVerifyEmail:
		return VerifyEmail{PasswordHash: l.PasswordHash, Binding: l.Binding, Purpose: l.Purpose}, nil
	case TokenResetPassword:
		return ResetPassword{}, nil
	case TokenMagicLink:
		return MagicLink{Binding: l.Binding, Redirect: l.Redirect}, nil
	case TokenEmailCode:
		return EmailCode{Redirect: l.Redirect}, nil
	case TokenEmailCodeAttempts:
		return CodeAttempts{Attempts: l.Attempts}, nil
	case TokenSecondFactor:
		var factors []string
		if len(l.Data) > 0 {
			factors = strings.Split(string(l.Data), ",")
		}
		return SecondFactorWait{
			Purpose: l.Purpose, Methods: l.Methods, Factors: factors, Redirect: l.Redirect,
			PasswordHash: l.PasswordHash, Binding: l.Binding, Attempts: l.Attempts,
		}, nil
	case TokenTOTPEnrol:
		return TOTPEnrol{Secret: string(l.Data), Binding: l.Binding}, nil
	case TokenCeremony:
		return Ceremony{Purpose: l.Purpose, Binding: l.Binding, SessionData: l.Data}, nil
	}
	return nil, fmt.Errorf("identity: unknown token kind %q", kind)
}
