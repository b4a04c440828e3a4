package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Second factors and what else proves a customer: TOTP, recovery codes,
// passkeys and remembered (trusted) devices. Each check that uses a factor
// up is a method on *Customer meant to run inside Store.UpdateCustomer, so
// "check and record" is one atomic step: two requests racing with one code
// cannot both win.

// TOTP is an enrolled authenticator app (RFC 6238: SHA-1, 6 digits, 30 s).
type TOTP struct {
	// Secret is the shared key, base32 as shown to the customer.
	Secret string `json:"secret"`
	// LastStep is the time step of the last code accepted: a code of that
	// step or an earlier one is never accepted again.
	LastStep  int64     `json:"last_step,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Passkey is a WebAuthn credential registered to the customer.
type Passkey struct {
	ID              []byte    `json:"id"`
	Name            string    `json:"name,omitempty"`
	PublicKey       []byte    `json:"public_key"`
	AttestationType string    `json:"attestation_type,omitempty"`
	AAGUID          []byte    `json:"aaguid,omitempty"`
	Transports      []string  `json:"transports,omitempty"`
	SignCount       uint32    `json:"sign_count"`
	UserPresent     bool      `json:"up,omitempty"`
	UserVerified    bool      `json:"uv,omitempty"`
	BackupEligible  bool      `json:"be,omitempty"`
	BackupState     bool      `json:"bs,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	LastUsedAt      time.Time `json:"last_used_at,omitzero"`
	// Flagged is set when the credential's signature counter went
	// backwards (a sign of a cloned key); a flagged passkey is refused
	// until the customer removes it.
	Flagged bool `json:"flagged,omitempty"`
}

// TrustedDevice is a browser the customer asked to remember after a
// second factor: its cookie skips the second factor at sign-in (never a
// step-up) until it expires or the customer forgets it.
type TrustedDevice struct {
	// Hash is the hex SHA-256 of the secret the browser holds.
	Hash      string    `json:"hash"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Limits on what one customer record holds.
const (
	// RecoveryCodeCount is how many recovery codes a set has.
	RecoveryCodeCount = 10
	// MaxPasskeys bounds the passkeys of one customer.
	MaxPasskeys = 20
	// MaxTrustedDevices bounds remembered browsers; the oldest goes first.
	MaxTrustedDevices = 20
	// TrustedDeviceTTL is how long a remembered browser skips the second
	// factor.
	TrustedDeviceTTL = 30 * 24 * time.Hour
	// TOTPPeriod is the time step of authenticator codes.
	TOTPPeriod = 30
	// TOTPSkew is how many steps either side of now a code may come from.
	TOTPSkew = 1
)

// Errors of the factor checks.
var (
	ErrBadCode      = errors.New("identity: wrong code")
	ErrCodeReused   = errors.New("identity: code already used")
	ErrNoFactor     = errors.New("identity: no such factor")
	ErrFactorExists = errors.New("identity: factor already enrolled")
	ErrTooMany      = errors.New("identity: too many of this factor")
	ErrCounter      = errors.New("identity: passkey signature counter went backwards")
)

// HasSecondFactor reports whether signing in with a password or an email
// link needs a second step.
func (c *Customer) HasSecondFactor() bool {
	return c.TOTP != nil || c.usablePasskeys() > 0
}

// HasSMSFactor reports whether the customer asked for texted codes as a
// second factor and still has the verified number to text. Whether a
// site texts that number at all (its country allow-list, sms_mfa) is the
// site's to decide, so HasSecondFactor does not count it.
func (c *Customer) HasSMSFactor() bool { return c.SMSFactor && c.Phone != "" && c.PhoneVerified }

// HasUsablePasskey reports whether the customer has a passkey that is not
// flagged.
func (c *Customer) HasUsablePasskey() bool { return c.usablePasskeys() > 0 }

func (c *Customer) usablePasskeys() int {
	n := 0
	for _, p := range c.Passkeys {
		if !p.Flagged {
			n++
		}
	}
	return n
}

// SignInMethods counts the ways the customer can sign in on their own
// besides an email link: a password, each usable passkey and each linked
// provider identity.
func (c *Customer) SignInMethods() int {
	n := c.usablePasskeys() + len(c.Identities)
	if c.PasswordHash != "" {
		n++
	}
	return n
}

// NewTOTPKey makes a new authenticator secret for the customer; issuer
// names the site in the authenticator app.
func NewTOTPKey(issuer, account string) (*otp.Key, error) {
	return totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: TOTPPeriod, SecretSize: 20,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
}

// TOTPKey rebuilds the key of an existing base32 secret (to show its QR
// code again).
func TOTPKey(issuer, account, secret string) (*otp.Key, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		return nil, err
	}
	return totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: TOTPPeriod, Secret: raw,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
}

// MatchTOTP returns the time step whose code equals code, trying now's
// step and TOTPSkew steps either side.
func MatchTOTP(secret, code string, now time.Time) (int64, bool) {
	code = NormalizeCode(code)
	if len(code) != 6 {
		return 0, false
	}
	step := now.Unix() / TOTPPeriod
	found, matched := int64(0), false
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((step+d)*TOTPPeriod, 0), totp.ValidateOpts{
			Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
		})
		// Every step is computed and compared in constant time, so timing
		// does not say which one matched.
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !matched {
			found, matched = step+d, true
		}
	}
	return found, matched
}

// UseTOTP accepts code if it is the authenticator's code for a time step
// later than the last one accepted, and records that step.
func (c *Customer) UseTOTP(code string, now time.Time) error {
	if c.TOTP == nil {
		return ErrNoFactor
	}
	step, ok := MatchTOTP(c.TOTP.Secret, code, now)
	if !ok {
		return ErrBadCode
	}
	if step <= c.TOTP.LastStep {
		return ErrCodeReused
	}
	c.TOTP.LastStep = step
	return nil
}

// NormalizeCode strips the spaces and dashes people type inside codes and
// lower-cases them.
func NormalizeCode(s string) string {
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, s))
}

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewRecoveryCodes returns RecoveryCodeCount fresh codes to show the
// customer once (80 bits each, as xxxx-xxxx-xxxx-xxxx) and their hashes to
// store.
func NewRecoveryCodes() (codes, hashes []string) {
	for range RecoveryCodeCount {
		var b [10]byte
		_, _ = rand.Read(b[:])
		s := strings.ToLower(recoveryEncoding.EncodeToString(b[:]))
		codes = append(codes, s[0:4]+"-"+s[4:8]+"-"+s[8:12]+"-"+s[12:16])
		hashes = append(hashes, hashRecoveryCode(s))
	}
	return codes, hashes
}

// hashRecoveryCode hashes a normalised code. 80 random bits make a fast
// hash enough; the fixed key keeps the hashes from matching anything else.
func hashRecoveryCode(normalised string) string {
	m := hmac.New(sha256.New, []byte("frontdoor recovery code"))
	m.Write([]byte(normalised))
	return hex.EncodeToString(m.Sum(nil))
}

// UseRecoveryCode accepts a recovery code once: it is removed as it is
// used.
func (c *Customer) UseRecoveryCode(code string) error {
	code = NormalizeCode(code)
	if len(code) != 16 {
		return ErrBadCode
	}
	h := hashRecoveryCode(code)
	for i, stored := range c.RecoveryCodes {
		if subtle.ConstantTimeCompare([]byte(stored), []byte(h)) == 1 {
			c.RecoveryCodes = append(c.RecoveryCodes[:i:i], c.RecoveryCodes[i+1:]...)
			return nil
		}
	}
	return ErrBadCode
}

// Passkey returns the customer's passkey with the credential id.
func (c *Customer) Passkey(id []byte) (*Passkey, bool) {
	for i := range c.Passkeys {
		if subtle.ConstantTimeCompare(c.Passkeys[i].ID, id) == 1 {
			return &c.Passkeys[i], true
		}
	}
	return nil, false
}

// AddPasskey registers a new passkey.
func (c *Customer) AddPasskey(p Passkey) error {
	if _, dup := c.Passkey(p.ID); dup {
		return ErrFactorExists
	}
	if len(c.Passkeys) >= MaxPasskeys {
		return ErrTooMany
	}
	c.Passkeys = append(c.Passkeys, p)
	return nil
}

// UsePasskey records a successful assertion with signature counter count
// and backup state bs. A counter that does not move forward while either
// side counts (a cloned authenticator) is refused — the caller then flags
// the passkey with FlagPasskey in an update of its own, since a refused
// update writes nothing — as is any use of a flagged passkey.
func (c *Customer) UsePasskey(id []byte, count uint32, bs bool, now time.Time) error {
	p, ok := c.Passkey(id)
	if !ok {
		return ErrNoFactor
	}
	if p.Flagged {
		return ErrCounter
	}
	if (count != 0 || p.SignCount != 0) && count <= p.SignCount {
		return ErrCounter
	}
	p.SignCount, p.BackupState, p.LastUsedAt = count, bs, now
	return nil
}

// FlagPasskey marks a passkey whose counter went backwards: refused from
// then on, shown to the customer as needing removal.
func (c *Customer) FlagPasskey(id []byte) error {
	p, ok := c.Passkey(id)
	if !ok {
		return ErrNoFactor
	}
	p.Flagged = true
	return nil
}

// RemovePasskey deletes a passkey.
func (c *Customer) RemovePasskey(id []byte) error {
	for i := range c.Passkeys {
		if subtle.ConstantTimeCompare(c.Passkeys[i].ID, id) == 1 {
			c.Passkeys = append(c.Passkeys[:i:i], c.Passkeys[i+1:]...)
			return nil
		}
	}
	return ErrNoFactor
}

// HashDeviceSecret is how a trusted device's secret is stored.
func HashDeviceSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// TrustDevice remembers a browser holding secret until now+ttl, dropping
// expired entries and, past MaxTrustedDevices, the oldest.
func (c *Customer) TrustDevice(secret, name string, now time.Time, ttl time.Duration) {
	keep := c.TrustedDevices[:0:0]
	for _, d := range c.TrustedDevices {
		if now.Before(d.ExpiresAt) {
			keep = append(keep, d)
		}
	}
	if len(keep) >= MaxTrustedDevices {
		keep = keep[len(keep)-MaxTrustedDevices+1:]
	}
	c.TrustedDevices = append(keep, TrustedDevice{Hash: HashDeviceSecret(secret), Name: name, CreatedAt: now, ExpiresAt: now.Add(ttl)})
}

// TrustsDevice reports whether a browser holding secret is remembered and
// not expired at now.
func (c *Customer) TrustsDevice(secret string, now time.Time) bool {
	h := HashDeviceSecret(secret)
	ok := false
	for _, d := range c.TrustedDevices {
		if subtle.ConstantTimeCompare([]byte(d.Hash), []byte(h)) == 1 && now.Before(d.ExpiresAt) {
			ok = true
		}
	}
	return ok
}

// ForgetDevices forgets every remembered browser.
func (c *Customer) ForgetDevices() { c.TrustedDevices = nil }
