package identity

import "time"

// The device authorization grant (RFC 8628): a device without a keyboard
// asks for a device code and a user code; its customer types the user
// code on another screen and approves or denies; the device polls with the
// device code until then. Four one-time tokens carry it, each single use.

// Lifetimes of a device authorization.
const (
	// DeviceCodeTTL is how long the customer has to type the user code
	// and answer.
	DeviceCodeTTL = 10 * time.Minute
	// DeviceRecordGrace is how long the device code's record outlives
	// DeviceCodeTTL, so a late poll is told expired_token, not
	// invalid_grant.
	DeviceRecordGrace = 10 * time.Minute
)

// OAuthDevice is a device authorization request (kind TokenOAuthDevice,
// under the hash of its device code): who asked and for what. Expires
// is when the user code stops working; the record lives
// DeviceRecordGrace longer.
type OAuthDevice struct {
	Issuer   string    `json:"iss"`
	ClientID string    `json:"client_id"`
	Scopes   []string  `json:"scopes,omitempty"`
	Expires  time.Time `json:"expires"`
}

// TokenKind implements Payload.
func (OAuthDevice) TokenKind() TokenKind { return TokenOAuthDevice }

// OAuthUserCode is the code the customer types for a device request
// (kind TokenOAuthUserCode, under a hash of the issuer and the code):
// Device is the hash of the device code, ClientID and Scopes what the
// approval page shows.
type OAuthUserCode struct {
	Device   []byte   `json:"device"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes,omitempty"`
}

// TokenKind implements Payload.
func (OAuthUserCode) TokenKind() TokenKind { return TokenOAuthUserCode }

// OAuthDeviceAnswer is the customer's answer to a device request (kind
// TokenOAuthDeviceAnswer, under the hash of the device code): denied, or
// approved with the customer's session, as an authorization code is.
type OAuthDeviceAnswer struct {
	Denied   bool      `json:"denied,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	SID      string    `json:"sid,omitempty"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	AMR      []string  `json:"amr,omitempty"`
	ACR      string    `json:"acr,omitempty"`
	// SessionAt is when the approving session began.
	SessionAt time.Time `json:"session_at,omitzero"`
}

// TokenKind implements Payload.
func (OAuthDeviceAnswer) TokenKind() TokenKind { return TokenOAuthDeviceAnswer }

// OAuthDevicePoll marks a device's poll (kind TokenOAuthDevicePoll, under
// the hash of the device code) for one polling interval: the mark alone.
type OAuthDevicePoll struct{}

// TokenKind implements Payload.
func (OAuthDevicePoll) TokenKind() TokenKind { return TokenOAuthDevicePoll }
