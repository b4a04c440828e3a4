package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"math/big"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// Personal API keys: a customer's scripts call the operator's APIs with
// `Authorization: Bearer fdk_…`. The format is made for secret scanners
// (as GitHub's tokens are): a fixed prefix, 32 random base62 characters
// and a 6-character base62 CRC-32 checksum of the rest, so a scanner — and
// the edge, before any store lookup — can tell a real key from a typo.
// Only a SHA-256 hash of the key is stored, on the customer's record, with
// an index from the hash to the customer.

// APIKeyPrefix starts every key.
const APIKeyPrefix = "fdk_"

const (
	apiKeyRandom   = 32
	apiKeyChecksum = 6
	// APIKeyLen is a key's length.
	APIKeyLen = len(APIKeyPrefix) + apiKeyRandom + apiKeyChecksum
	// MaxAPIKeys bounds a customer's keys.
	MaxAPIKeys = 20
	// APIKeyDefaultTTL and APIKeyMaxTTL bound a key's life.
	APIKeyDefaultTTL = 90 * 24 * time.Hour
	APIKeyMaxTTL     = 365 * 24 * time.Hour
)

// Audit event kinds of API keys.
const (
	EventAPIKeyCreated = "api_key_created"
	EventAPIKeyRevoked = "api_key_revoked"
	// EventAPIKeyNewNetwork: a key was used from a network it had not
	// been used from before.
	EventAPIKeyNewNetwork = "api_key_new_network"
	// EventAPIKeyManyNetworks: a key was used from many networks within
	// a few minutes — a key copied to where it should not be, or shared.
	EventAPIKeyManyNetworks = "api_key_many_networks"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// APIKey is a key's record: never the key itself.
type APIKey struct {
	// ID names the key in lists and forms ("k_…"), not a secret.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Hash is the SHA-256 of the key.
	Hash []byte `json:"hash"`
	// Hint is the key's last four characters, to recognise it by.
	Hint string `json:"hint"`
	// Paths, Methods and Scopes limit what the key may do (none: no
	// limit of that kind beyond the route's).
	Paths     []string  `json:"paths,omitempty"`
	Methods   []string  `json:"methods,omitempty"`
	Scopes    []string  `json:"scopes,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// LastUsedAt and LastUsedNetwork are when and from which network
	// prefix it was last used (recorded at most once a minute).
	LastUsedAt      time.Time `json:"last_used_at,omitzero"`
	LastUsedNetwork string    `json:"last_used_network,omitempty"`
	// RecentNetworks are the network prefixes it was used from lately
	// (a few minutes, a few entries), for the many-networks signal.
	RecentNetworks []KeyNetwork `json:"recent_networks,omitempty"`
	// ManyNetworksAt is when the key was last found in use from many
	// networks at once (the signal is given once per window).
	ManyNetworksAt time.Time `json:"many_networks_at,omitzero"`
}

// KeyNetwork is a network prefix a key was used from, and when last.
type KeyNetwork struct {
	Prefix string    `json:"prefix"`
	At     time.Time `json:"at"`
}

// NewAPIKey returns a fresh key and its record's ID, Hash and Hint; the
// caller fills in the rest.
func NewAPIKey() (secret string, k APIKey) {
	var sb strings.Builder
	sb.WriteString(APIKeyPrefix)
	max := big.NewInt(int64(len(base62)))
	for range apiKeyRandom {
		n, _ := rand.Int(rand.Reader, max) // crypto/rand does not fail
		sb.WriteByte(base62[n.Int64()])
	}
	check := apiKeyCheck(sb.String())
	sb.Write(check[:])
	secret = sb.String()
	var id [8]byte
	_, _ = rand.Read(id[:])
	return secret, APIKey{ID: "k_" + hex.EncodeToString(id[:]), Hash: APIKeyHash(secret), Hint: secret[len(secret)-4:]}
}

// apiKeyCheck is the checksum of a key's prefix and random part: CRC-32
// in six base62 digits.
func apiKeyCheck(body string) [apiKeyChecksum]byte {
	n := crc32.Update(0, crc32.IEEETable, unsafeBytes(body))
	var out [apiKeyChecksum]byte
	for i := apiKeyChecksum - 1; i >= 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return out
}

// unsafeBytes views s as bytes without copying (crc32 only reads them).
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// LooksLikeAPIKey reports whether s has a key's form: the prefix, the
// length, base62 only, and a checksum that matches. A key with one
// character changed fails here, before any store lookup.
func LooksLikeAPIKey(s string) bool {
	if len(s) != APIKeyLen || !strings.HasPrefix(s, APIKeyPrefix) {
		return false
	}
	for i := len(APIKeyPrefix); i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	cut := len(s) - apiKeyChecksum
	check := apiKeyCheck(s[:cut])
	return string(check[:]) == s[cut:]
}

// APIKeyHash is what the store keeps of a key.
func APIKeyHash(secret string) []byte {
	h := APIKeySum(secret)
	return h[:]
}

// APIKeySum is APIKeyHash as an array, without copying the key.
func APIKeySum(secret string) [sha256.Size]byte { return sha256.Sum256(unsafeBytes(secret)) }

// APIKey returns the customer's key with the hash.
func (c *Customer) APIKey(hash []byte) (APIKey, bool) {
	for _, k := range c.APIKeys {
		if string(k.Hash) == string(hash) {
			return k, true
		}
	}
	return APIKey{}, false
}

// apiKeyHashes names the customer's keys, to check that an update left
// them alone (they change only through AddAPIKey and RevokeAPIKey, which
// keep the index).
func apiKeyHashes(c *Customer) string {
	hs := make([]string, 0, len(c.APIKeys))
	for _, k := range c.APIKeys {
		hs = append(hs, string(k.Hash))
	}
	slices.Sort(hs)
	return strings.Join(hs, ",")
}

// ErrTooManyAPIKeys: the customer holds MaxAPIKeys already.
var ErrTooManyAPIKeys = errors.New("identity: too many API keys")

// APIKeyStore keeps customers' API keys and finds a key's customer.
type APIKeyStore interface {
	// AddAPIKey puts a key on the customer's record and indexes its hash;
	// ErrTooManyAPIKeys past MaxAPIKeys, ErrNotFound if the customer is
	// gone.
	AddAPIKey(ctx context.Context, customerID string, k APIKey) (*Customer, error)
	// CustomerByAPIKey returns the customer holding the key with the hash,
	// or ErrNotFound.
	CustomerByAPIKey(ctx context.Context, hash []byte) (*Customer, error)
	// RevokeAPIKey takes the key with the id off the record and out of the
	// index; ErrNotFound if the customer has no such key.
	RevokeAPIKey(ctx context.Context, customerID, keyID string) (*Customer, error)
}

// dropAPIKey takes the key with the id off the record and returns its
// hash.
func (c *Customer) dropAPIKey(keyID string) ([]byte, bool) {
	for i, k := range c.APIKeys {
		if k.ID == keyID {
			c.APIKeys = slices.Delete(c.APIKeys, i, i+1)
			if len(c.APIKeys) == 0 {
				c.APIKeys = nil
			}
			return k.Hash, true
		}
	}
	return nil, false
}
