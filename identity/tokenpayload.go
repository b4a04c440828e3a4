package identity

import (
	"encoding/json"
	"fmt"
	"time"
)

// Payload is what a token of one kind carries; TokenKind names that kind.
// Each kind has exactly one payload type, a value type below.
//
// Purposes are stored as their string values; their types and constants
// belong to the journeys (authflow), which refuse a value they do not know.
type Payload interface{ TokenKind() TokenKind }

// VerifyEmail is an email verification link's.
type VerifyEmail struct {
	// PasswordHash is the argon2id hash of the password chosen in the
	// sign-up that sent the link ("" for a passkey-first sign-up).
	// Verifying through the link makes that password the account's, so an
	// address's password only takes effect once someone proves they read
	// its mail: a stranger who signs up first with the address cannot keep
	// a password the owner never chose.
	PasswordHash string `json:"password_hash,omitempty"`
	// Binding is the hash of the nonce held by the browser that signed up.
	Binding []byte `json:"binding,omitempty"`
	// Purpose is the sign-up's (authflow.SignUpPurpose).
	Purpose string `json:"purpose,omitempty"`
	// Redirect is where a sign-up that signs in on confirming goes then.
	Redirect string `json:"redirect,omitempty"`
}

// ResetPassword is a password reset link's: the link alone, nothing more.
type ResetPassword struct{}

// NotMe is a "this wasn't me" link's: the link alone.
type NotMe struct{}

// CancelRemoval is the cancel link of a pending factor removal: the link
// alone.
type CancelRemoval struct{}

// AgentCase is a support agent's case: the customer they are helping, and
// whether the caller proved to be that customer (a code sent to a channel
// the customer has, read back).
type AgentCase struct {
	Agent    string `json:"agent"`
	Customer string `json:"customer"`
	Verified bool   `json:"verified,omitempty"`
	// CodeHash is the hash of the code mailed to the customer (bound to
	// the case), CodeUntil its end; Tries counts wrong codes.
	CodeHash  []byte    `json:"code_hash,omitempty"`
	CodeUntil time.Time `json:"code_until,omitzero"`
	Tries     int       `json:"tries,omitempty"`
}

// MagicLink is a mailed sign-in link's.
type MagicLink struct {
	// Binding is the hash of a nonce held in a cookie by the browser that
	// asked for the link: only that browser is signed in by it.
	Binding []byte `json:"binding,omitempty"`
	// Redirect is where to go once signed in.
	Redirect string `json:"redirect,omitempty"`
}

// EmailCode is a mailed sign-in code's.
type EmailCode struct {
	// Redirect is where to go once signed in.
	Redirect string `json:"redirect,omitempty"`
}

// EmailChange is a new address waiting for its confirmation link.
type EmailChange struct {
	Email string `json:"email"`
}

// PhoneChange is a number waiting for the code texted to it: the hash of
// the code (bound to the session that asked) and the wrong codes typed.
type PhoneChange struct {
	Phone    string `json:"phone"`
	CodeHash []byte `json:"code_hash"`
	Tries    int    `json:"tries,omitempty"`
}

// TokenKind implements Payload.
func (PhoneChange) TokenKind() TokenKind { return TokenPhoneChange }

// PhoneSignIn is a sign-in by phone waiting for the code texted to the
// number: the hash of the code (bound to the browser's nonce), where the
// customer goes after, and the wrong codes typed. It names no customer:
// who holds the number is looked up only once the code is right.
type PhoneSignIn struct {
	Phone    string `json:"phone"`
	CodeHash []byte `json:"code_hash"`
	Redirect string `json:"redirect,omitempty"`
	Tries    int    `json:"tries,omitempty"`
}

// TokenKind implements Payload.
func (PhoneSignIn) TokenKind() TokenKind { return TokenPhoneSignIn }

// CodeAttempts is the counter of wrong guesses at an email code.
type CodeAttempts struct {
	Attempts int `json:"attempts,omitempty"`
}

// SecondFactorWait is a sign-in, step-up or reset waiting for a second
// factor.
type SecondFactorWait struct {
	// Purpose is what the wait is for (authflow.WaitPurpose).
	Purpose string `json:"purpose,omitempty"`
	// Methods are the methods already proven (RFC 8176 names).
	Methods []string `json:"methods,omitempty"`
	// Factors are the second factors that may answer (authflow.Factor).
	Factors []string `json:"factors,omitempty"`
	// Redirect is where to go once answered.
	Redirect string `json:"redirect,omitempty"`
	// PasswordHash is the new password of a reset.
	PasswordHash string `json:"password_hash,omitempty"`
	// Binding, on a step-up, is the hash of the key of the session that
	// asked: only it may answer.
	Binding []byte `json:"binding,omitempty"`
	// Attempts is how many wrong answers were given.
	Attempts int `json:"attempts,omitempty"`
	// IdP is the provider of a provider sign-in (the assertion's idp).
	IdP string `json:"idp,omitempty"`
	// Risk is the sign-in's risk decision, acted on once it completes.
	Risk *RiskNote `json:"risk,omitempty"`
	// EmailCode is the hash of a code mailed to the verified address: the
	// step-up of a customer without a second factor.
	EmailCode []byte `json:"email_code,omitempty"`
	// SMSCode is the hash of the code last texted to the verified phone
	// (sent only when the customer asks), good until SMSUntil.
	SMSCode  []byte    `json:"sms_code,omitempty"`
	SMSUntil time.Time `json:"sms_until,omitzero"`
}

// TOTPEnrol is an authenticator secret shown to the customer until they
// confirm it with a code.
type TOTPEnrol struct {
	Secret string `json:"secret,omitempty"`
	// Binding is the hash of the key of the session setting it up.
	Binding []byte `json:"binding,omitempty"`
}

// Ceremony is a WebAuthn ceremony's state.
type Ceremony struct {
	// Purpose is what the ceremony is for (authflow.CeremonyPurpose).
	Purpose string `json:"purpose,omitempty"`
	// Binding is the hash of what the ceremony is bound to: the session
	// adding a passkey, the wait for a second factor, or the nonce of the
	// browser signing in.
	Binding []byte `json:"binding,omitempty"`
	// SessionData is go-webauthn's session data, as JSON.
	SessionData []byte `json:"session_data,omitempty"`
}

// FederatedAttempt is a provider sign-in under way.
type FederatedAttempt struct {
	Provider string `json:"provider"`
	// Protocol is the relying party's record (nonce, PKCE verifier,
	// redirect URI), as JSON.
	Protocol []byte `json:"protocol"`
	Redirect string `json:"redirect,omitempty"`
	// Binding is the hash of the nonce of the browser that began it.
	Binding []byte `json:"binding"`
	// LinkFor is the signed-in customer linking the provider from the
	// account page ("" for a sign-in).
	LinkFor string `json:"link_for,omitempty"`
}

// Invitation grants Role to the account of Email (normalised) once that
// account's customer, signed in, accepts it. By says who invited, for
// the trail.
type Invitation struct {
	Email string `json:"email"`
	Role  string `json:"role"`
	By    string `json:"by,omitempty"`
}

// TokenKind implements Payload.
func (Invitation) TokenKind() TokenKind { return TokenInvitation }

// OAuthRequest is an authorization request to this gateway as an OpenID
// Provider: waiting for its customer to sign in (kind TokenOAuthRequest,
// stored under the hash of its id), then, once answered, bound to the
// authorization code handed to the client (kind TokenOAuthCode, stored
// under the hash of the code). Code is true for the latter: a payload is
// of one kind only.
type OAuthRequest struct {
	Code                bool     `json:"code,omitempty"`
	ID                  string   `json:"id"`
	ClientID            string   `json:"client_id"`
	RedirectURI         string   `json:"redirect_uri"`
	Scopes              []string `json:"scopes,omitempty"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	ResponseType        string   `json:"response_type"`
	ResponseMode        string   `json:"response_mode,omitempty"`
	Prompt              []string `json:"prompt,omitempty"`
	CodeChallenge       string   `json:"code_challenge"`
	CodeChallengeMethod string   `json:"code_challenge_method"`
	// Asked is when the request came (Unix seconds); MaxAge is its
	// max_age (nil: none; 0, or prompt=login: a sign-in after Asked);
	// ACRValues its acr_values.
	Asked     int64    `json:"asked,omitempty"`
	MaxAge    *uint    `json:"max_age,omitempty"`
	ACRValues []string `json:"acr_values,omitempty"`
	// Set when the customer's session answers the request.
	Subject  string    `json:"subject,omitempty"`
	SID      string    `json:"sid,omitempty"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	AMR      []string  `json:"amr,omitempty"`
	ACR      string    `json:"acr,omitempty"`
	// SessionAt is when the session that answered began.
	SessionAt time.Time `json:"session_at,omitzero"`
	// AgentGrant and AgentUntil: the client is an agent acting for
	// Subject under that grant, until then (identity.AppGrant).
	AgentGrant string    `json:"agent_grant,omitempty"`
	AgentUntil time.Time `json:"agent_until,omitzero"`
}

// OAuthSessionClient: client ClientID holds tokens of the provider
// session family SID of Subject (kind TokenOAuthSessionClient, under a
// hash of issuer, sid and client).
type OAuthSessionClient struct {
	ClientID string `json:"client_id"`
	SID      string `json:"sid"`
	Subject  string `json:"subject"`
}

// TokenKind implements Payload.
func (OAuthSessionClient) TokenKind() TokenKind { return TokenOAuthSessionClient }

// LogoutSeen is a back-channel logout token already taken (kind
// TokenLogoutSeen, under a hash of its issuer and jti).
type LogoutSeen struct {
	Issuer string `json:"iss"`
}

// TokenKind implements Payload.
func (LogoutSeen) TokenKind() TokenKind { return TokenLogoutSeen }

// OAuthRefresh is a refresh token's grant (State ""), the mark of one
// already rotated (State "spent": kind TokenOAuthRefreshSpent), or of a
// revoked family (State "revoked": kind TokenOAuthFamilyRevoked). Every
// refresh token of one code shares Family.
type OAuthRefresh struct {
	State    string    `json:"state,omitempty"`
	Family   string    `json:"family"`
	ClientID string    `json:"client_id,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	SID      string    `json:"sid,omitempty"`
	Scopes   []string  `json:"scopes,omitempty"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	AMR      []string  `json:"amr,omitempty"`
	ACR      string    `json:"acr,omitempty"`
	// SessionAt is when the session the grant came from began (a
	// customer's "sign out everywhere" after it ends the grant).
	SessionAt time.Time `json:"session_at,omitzero"`
	// AgentGrant and AgentUntil: an agent's grant (see OAuthRequest).
	AgentGrant string    `json:"agent_grant,omitempty"`
	AgentUntil time.Time `json:"agent_until,omitzero"`
	// JKT binds the grant to a DPoP key (RFC 9449 §5): refreshing
	// takes a proof by the key with this SHA-256 thumbprint.
	JKT string `json:"jkt,omitempty"`
}

// TokenKind implements Payload.
func (r OAuthRefresh) TokenKind() TokenKind {
	switch r.State {
	case "spent":
		return TokenOAuthRefreshSpent
	case "revoked":
		return TokenOAuthFamilyRevoked
	}
	return TokenOAuthRefresh
}

// TokenKind implements Payload.
func (r OAuthRequest) TokenKind() TokenKind {
	if r.Code {
		return TokenOAuthCode
	}
	return TokenOAuthRequest
}

// PendingLink is a provider identity waiting for the customer whose
// address it asserted to sign in and link it.
type PendingLink struct {
	Identity LinkedIdentity `json:"identity"`
	Redirect string         `json:"redirect,omitempty"`
	// HeldAt: only a sign-in after it proves the account.
	HeldAt time.Time `json:"held_at"`
}

// SignUpConsent is a sign-up whose customer is still to be asked every
// consent purpose: the mark alone, nothing more.
type SignUpConsent struct{}

// TokenKind implements Payload.
func (SignUpConsent) TokenKind() TokenKind { return TokenSignUpConsent }

// TokenKind implements Payload.
func (FederatedAttempt) TokenKind() TokenKind { return TokenFederatedAttempt }

// TokenKind implements Payload.
func (PendingLink) TokenKind() TokenKind { return TokenPendingLink }

// TokenKind implements Payload.
func (EmailChange) TokenKind() TokenKind { return TokenEmailChange }

// TokenKind implements Payload.
func (VerifyEmail) TokenKind() TokenKind { return TokenVerifyEmail }

// TokenKind implements Payload.
func (ResetPassword) TokenKind() TokenKind { return TokenResetPassword }

// TokenKind implements Payload.
func (NotMe) TokenKind() TokenKind { return TokenNotMe }

// TokenKind implements Payload.
func (CancelRemoval) TokenKind() TokenKind { return TokenCancelRemoval }

// TokenKind implements Payload.
func (AgentCase) TokenKind() TokenKind { return TokenAgentCase }

// TokenKind implements Payload.
func (MagicLink) TokenKind() TokenKind { return TokenMagicLink }

// TokenKind implements Payload.
func (EmailCode) TokenKind() TokenKind { return TokenEmailCode }

// TokenKind implements Payload.
func (CodeAttempts) TokenKind() TokenKind { return TokenEmailCodeAttempts }

// TokenKind implements Payload.
func (SecondFactorWait) TokenKind() TokenKind { return TokenSecondFactor }

// TokenKind implements Payload.
func (TOTPEnrol) TokenKind() TokenKind { return TokenTOTPEnrol }

// TokenKind implements Payload.
func (Ceremony) TokenKind() TokenKind { return TokenCeremony }

// decodePayload decodes the payload of a token of kind.
func decodePayload(kind TokenKind, raw []byte) (Payload, error) {
	switch kind {
	case TokenVerifyEmail:
		return decodeAs[VerifyEmail](raw)
	case TokenResetPassword:
		return decodeAs[ResetPassword](raw)
	case TokenNotMe:
		return decodeAs[NotMe](raw)
	case TokenCancelRemoval:
		return decodeAs[CancelRemoval](raw)
	case TokenAgentCase:
		return decodeAs[AgentCase](raw)
	case TokenMagicLink:
		return decodeAs[MagicLink](raw)
	case TokenEmailCode:
		return decodeAs[EmailCode](raw)
	case TokenEmailCodeAttempts:
		return decodeAs[CodeAttempts](raw)
	case TokenSecondFactor:
		return decodeAs[SecondFactorWait](raw)
	case TokenTOTPEnrol:
		return decodeAs[TOTPEnrol](raw)
	case TokenCeremony:
		return decodeAs[Ceremony](raw)
	case TokenFederatedAttempt:
		return decodeAs[FederatedAttempt](raw)
	case TokenPendingLink:
		return decodeAs[PendingLink](raw)
	case TokenEmailChange:
		return decodeAs[EmailChange](raw)
	case TokenPhoneChange:
		return decodeAs[PhoneChange](raw)
	case TokenPhoneSignIn:
		return decodeAs[PhoneSignIn](raw)
	case TokenSignUpConsent:
		return decodeAs[SignUpConsent](raw)
	case TokenInvitation:
		return decodeAs[Invitation](raw)
	case TokenOAuthRequest:
		return decodeAs[OAuthRequest](raw)
	case TokenOAuthCode:
		return decodeAs[OAuthRequest](raw)
	case TokenOAuthRefresh, TokenOAuthRefreshSpent, TokenOAuthFamilyRevoked:
		return decodeAs[OAuthRefresh](raw)
	case TokenOAuthSessionClient:
		return decodeAs[OAuthSessionClient](raw)
	case TokenLogoutSeen:
		return decodeAs[LogoutSeen](raw)
	case TokenOAuthDevice:
		return decodeAs[OAuthDevice](raw)
	case TokenOAuthUserCode:
		return decodeAs[OAuthUserCode](raw)
	case TokenOAuthDeviceAnswer:
		return decodeAs[OAuthDeviceAnswer](raw)
	case TokenOAuthDevicePoll:
		return decodeAs[OAuthDevicePoll](raw)
	}
	return nil, fmt.Errorf("identity: unknown token kind %q", kind)
}

func decodeAs[P Payload](raw []byte) (Payload, error) {
	var p P
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	return p, nil
}

// tokenRecord is a token as stored: the record's fields and the payload of
// its kind under "payload". A record without "payload" was stored by a
// version that kept every kind's fields flat in the record (legacyFields).
type tokenRecord struct {
	Kind       TokenKind       `json:"kind"`
	Hash       []byte          `json:"hash"`
	CustomerID string          `json:"customer_id"`
	ExpiresAt  time.Time       `json:"expires_at"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

// MarshalJSON encodes the token with its payload, which must be of its kind.
func (t Token) MarshalJSON() ([]byte, error) {
	if t.payload == nil || t.payload.TokenKind() != t.Kind {
		return nil, fmt.Errorf("%w: %s token holding %T", ErrPayloadKind, t.Kind, t.payload)
	}
	p, err := json.Marshal(t.payload)
	if err != nil {
		return nil, fmt.Errorf("identity: encode %s token: %w", t.Kind, err)
	}
	return json.Marshal(tokenRecord{Kind: t.Kind, Hash: t.Hash, CustomerID: t.CustomerID, ExpiresAt: t.ExpiresAt, Payload: p})
}

// UnmarshalJSON decodes a token and the payload of its kind, from the
// current encoding or the flat one of earlier versions.
func (t *Token) UnmarshalJSON(b []byte) error {
	var r tokenRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	var (
		p   Payload
		err error
	)
	if len(r.Payload) == 0 || string(r.Payload) == "null" {
		p, err = decodeLegacyPayload(r.Kind, b)
	} else {
		p, err = decodePayload(r.Kind, r.Payload)
	}
	if err != nil {
		return fmt.Errorf("identity: decode %s token: %w", r.Kind, err)
	}
	*t = Token{Kind: r.Kind, Hash: r.Hash, CustomerID: r.CustomerID, ExpiresAt: r.ExpiresAt, payload: p}
	return nil
}
