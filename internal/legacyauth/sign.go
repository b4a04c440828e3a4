package legacyauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers carrying the signature, on the request and on the answer alike.
const (
	TimestampHeader = "X-Frontdoor-Timestamp"
	SignatureHeader = "X-Frontdoor-Signature"
)

// MaxSkew is how far a signed timestamp may be from now, either way: an
// answer older than this is a replay or a clock gone wrong, refused
// either way.
const MaxSkew = 5 * time.Minute

// sigPrefix names the scheme, so a later one can be told apart.
const sigPrefix = "v1="

// Reasons Check refuses a message.
var (
	ErrNoSignature  = errors.New("legacyauth: no signature or no timestamp")
	ErrBadSignature = errors.New("legacyauth: signature does not match")
	ErrStale        = errors.New("legacyauth: timestamp more than 5 minutes from now")
)

// Timestamp is t as the timestamp header says it: unix seconds, decimal.
func Timestamp(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// Sign returns the signature header of body sent at timestamp (the
// header's exact text): v1=<hex HMAC-SHA256(secret, timestamp "." body)>.
func Sign(secret []byte, timestamp string, body []byte) string {
	return sigPrefix + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Check verifies that signature is body's at timestamp under secret, and
// that timestamp is within MaxSkew of now. The signature is checked
// first, so nothing unsigned is judged.
func Check(secret []byte, timestamp, signature string, body []byte, now time.Time) error {
	if timestamp == "" || signature == "" {
		return ErrNoSignature
	}
	hexSig, ok := strings.CutPrefix(signature, sigPrefix)
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return ErrBadSignature
	}
	secs, ok := parseUnix(timestamp)
	if !ok {
		return ErrBadSignature // signed, but not a timestamp: not ours
	}
	if d := now.Sub(time.Unix(secs, 0)); d > MaxSkew || d < -MaxSkew {
		return ErrStale
	}
	return nil
}

// parseUnix reads decimal unix seconds: digits only (no sign, no
// spaces), so one timestamp has one spelling.
func parseUnix(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 12 { // 12 digits: beyond year 33000
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
