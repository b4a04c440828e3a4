package botdefense

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// A pass is what a client gets for solving the challenge of a Caddyfile
// `challenge` route: a signed note of where (the site's origin), who (a
// hash of the client address), at what difficulty and until when, kept in
// a cookie, so the route lets it through without a new challenge on every
// request. Sites sharing a store share the signing key, so the site is in
// the MAC: a pass earned on one does not open another; and the difficulty
// is, so raising a site's pow_bits retires the passes earned below it.

const passLen = 8 + 1 + 16 // expiry, bits, MAC

func (d *Defender) passMAC(expiry []byte, bits byte, site, binding string) []byte {
	m := hmac.New(sha256.New, d.passKey)
	m.Write(expiry)
	m.Write([]byte{bits})
	// Lengths first: no site and binding pair reads as another.
	var n [8]byte
	binary.BigEndian.PutUint32(n[:4], uint32(len(site)))
	binary.BigEndian.PutUint32(n[4:], uint32(len(binding)))
	m.Write(n[:])
	m.Write([]byte(site))
	m.Write([]byte(binding))
	return m.Sum(nil)[:16]
}

// IssuePass returns a pass for the client binding on site, earned by a
// challenge of bits difficulty, valid for ttl.
func (d *Defender) IssuePass(site, binding string, bits int, ttl time.Duration) string {
	b := byte(min(max(bits, 0), 255))
	msg := make([]byte, 8, passLen)
	binary.BigEndian.PutUint64(msg, uint64(d.Now().Add(ttl).Unix()))
	msg = append(msg, b)
	msg = append(msg, d.passMAC(msg[:8], b, site, binding)...)
	return base64.RawURLEncoding.EncodeToString(msg)
}

// ValidPass reports whether pass was issued to binding on site, was
// earned at bits or more, and has not expired.
func (d *Defender) ValidPass(pass, site, binding string, bits int) bool {
	raw, err := base64.RawURLEncoding.DecodeString(pass)
	if err != nil || len(raw) != passLen {
		return false
	}
	if !hmac.Equal(d.passMAC(raw[:8], raw[8], site, binding), raw[9:]) {
		return false
	}
	return int(raw[8]) >= bits && d.Now().Unix() < int64(binary.BigEndian.Uint64(raw[:8]))
}
