package oidcrp

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

var readFile = os.ReadFile

// parseAppleKey reads the .p8 key Apple hands out: a PKCS #8 P-256 key.
func parseAppleKey(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("not a PEM file (Apple's .p8 key)")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if ek, err2 := x509.ParseECPrivateKey(block.Bytes); err2 == nil {
			k = ek
		} else {
			return nil, errors.New("not a PKCS #8 private key")
		}
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve.Params().Name != "P-256" {
		return nil, errors.New("not a P-256 (ES256) key")
	}
	return ec, nil
}

// appleSecretLife is how long one client secret JWT is used; Apple allows
// up to six months, a short life limits what a leaked one is worth.
const appleSecretLife = time.Hour

// appleSecret makes Apple's client secret: an ES256 JWT signed with the
// operator's key (iss team id, sub client id, aud Apple), reused for its
// life.
type appleSecret struct {
	key                               *ecdsa.PrivateKey
	teamID, keyID, clientID, audience string

	mu  sync.Mutex
	jwt string
	exp time.Time
}

func (a *appleSecret) secret(now time.Time) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.jwt != "" && now.Add(5*time.Minute).Before(a.exp) {
		return a.jwt, nil
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: a.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", a.keyID))
	if err != nil {
		return "", err
	}
	exp := now.Add(appleSecretLife)
	s, err := jwt.Signed(sig).Claims(jwt.Claims{
		Issuer: a.teamID, Subject: a.clientID, Audience: jwt.Audience{a.audience},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp),
	}).Serialize()
	if err != nil {
		return "", err
	}
	a.jwt, a.exp = s, exp
	return s, nil
}
