package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix marks a Standard Webhooks secret: whsec_ then base64.
const secretPrefix = "whsec_"

// ParseSecret decodes a webhook secret as the Standard Webhooks libraries
// do: "whsec_" and base64 of 24 to 64 random bytes (the prefix may be
// left off). The error never repeats the secret.
func ParseSecret(s string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
	if err != nil {
		return nil, errors.New("events: a webhook secret is whsec_ and base64 (make one: echo whsec_$(openssl rand -base64 32))")
	}
	if len(raw) < 24 || len(raw) > 64 {
		return nil, fmt.Errorf("events: a webhook secret holds 24 to 64 bytes, this one %d (make one: echo whsec_$(openssl rand -base64 32))", len(raw))
	}
	return raw, nil
}

// Sign returns the webhook-signature value for a message: "v1," and the
// base64 HMAC-SHA256 of "<id>.<unix seconds>.<body>" under the secret.
func Sign(secret []byte, id string, at time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SetHeaders sets the three Standard Webhooks headers on h.
func SetHeaders(h http.Header, secret []byte, id string, at time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, Sign(secret, id, at, body))
}

// Tolerance is how far a message's timestamp may be from the receiver's
// clock, as the specification's reference libraries allow.
const Tolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrMissingHeaders = errors.New("events: webhook-id, webhook-timestamp and webhook-signature are required")
	ErrTimestamp      = errors.New("events: webhook-timestamp is not within five minutes of now")
	ErrSignature      = errors.New("events: no webhook signature matches")
)

// Verify is a receiver's check, written from the specification: the
// timestamp within Tolerance of now, and one of the space-separated
// signatures a v1 HMAC of the message under the secret, compared in
// constant time. Receivers in Go may use it as it is.
func Verify(secret []byte, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	at := time.Unix(sec, 0)
	if at.Before(now.Add(-Tolerance)) || at.After(now.Add(Tolerance)) {
		return ErrTimestamp
	}
	want := Sign(secret, id, at, body)
	for _, sig := range strings.Fields(sigs) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrSignature
}
