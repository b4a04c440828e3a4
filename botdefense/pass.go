package botdefense

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// A pass is what a client gets for solving the challenge of a Caddyfile
// `challenge` route: a signed note of who (a hash of the client address)
// and until when, kept in a cookie, so the route lets it through without
// a new challenge on every request.

// IssuePass returns a pass for the client binding, valid for ttl.
func (d *Defender) IssuePass(binding string, ttl time.Duration) string {
	var msg [8 + 16]byte
	binary.BigEndian.PutUint64(msg[:8], uint64(d.Now().Add(ttl).Unix()))
	bh := sha256.Sum256([]byte("pass\x00" + binding))
	copy(msg[8:], bh[:16])
	m := hmac.New(sha256.New, d.passKey)
	m.Write(msg[:])
	return base64.RawURLEncoding.EncodeToString(append(msg[:8:8], m.Sum(nil)[:16]...))
}

// ValidPass reports whether pass was issued to binding and has not
// expired.
func (d *Defender) ValidPass(pass, binding string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(pass)
	if err != nil || len(raw) != 8+16 {
		return false
	}
	var msg [8 + 16]byte
	copy(msg[:8], raw[:8])
	bh := sha256.Sum256([]byte("pass\x00" + binding))
	copy(msg[8:], bh[:16])
	m := hmac.New(sha256.New, d.passKey)
	m.Write(msg[:])
	if !hmac.Equal(m.Sum(nil)[:16], raw[8:]) {
		return false
	}
	return d.Now().Unix() < int64(binary.BigEndian.Uint64(raw[:8]))
}
