package session

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// assertionKeysSecret names the key ring in the Store.
const assertionKeysSecret = "assertion-keys"

// storedKey is one signing key as persisted. Keys are kept newest first.
type storedKey struct {
	KID     string    `json:"kid"`
	Created time.Time `json:"created"`
	// Retired is when a newer key replaced this one; zero for the current.
	Retired time.Time `json:"retired,omitzero"`
	PKCS8   []byte    `json:"pkcs8"`
}

// KeyRing holds the ES256 keys that sign identity assertions. The current
// key signs; retired keys stay published in the JWKS until every assertion
// they signed has expired. Keys live in the Store, so every node and every
// config reload sees the same ring.
type KeyRing struct {
	store Store
	// rotate is how often a new key is made, in nanoseconds; a config
	// reload may change it while housekeeping reads it.
	rotate atomic.Int64
	// keep is how long a retired key stays published: the assertion
	// lifetime plus margin for clock skew and JWKS caching.
	keep time.Duration
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu    sync.Mutex // serialises rotation
	state atomic.Pointer[ringState]
}

type ringState struct {
	raw     []byte
	current storedKey
	signer  jose.Signer
	jwks    []byte
}

// NewKeyRing loads the ring from store, creating the first key if there is
// none. rotate is how often a new key is made.
func NewKeyRing(ctx context.Context, store Store, rotate, keep time.Duration) (*KeyRing, error) {
	k := &KeyRing{store: store, keep: keep, Now: time.Now}
	k.SetRotate(rotate)
	if err := k.Refresh(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Refresh reloads the ring from the store (another node may have rotated).
func (k *KeyRing) Refresh(ctx context.Context) error {
	raw, err := k.store.Secret(ctx, assertionKeysSecret, func() ([]byte, error) {
		key, err := newStoredKey(k.Now())
		if err != nil {
			return nil, err
		}
		return json.Marshal([]storedKey{key})
	})
	if err != nil {
		return fmt.Errorf("session: load assertion keys: %w", err)
	}
	if st := k.state.Load(); st != nil && string(st.raw) == string(raw) {
		return nil
	}
	st, err := parseRing(raw)
	if err != nil {
		return err
	}
	k.state.Store(st)
	return nil
}

// MaybeRotate makes a new current key when the current one is older than
// the rotation period, and drops retired keys nobody can need any more.
func (k *KeyRing) MaybeRotate(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.Refresh(ctx); err != nil {
		return err
	}
	st := k.state.Load()
	now := k.Now()
	if now.Sub(st.current.Created) < k.Rotate() {
		return nil
	}
	var keys []storedKey
	if err := json.Unmarshal(st.raw, &keys); err != nil {
		return fmt.Errorf("session: assertion keys: %w", err)
	}
	fresh, err := newStoredKey(now)
	if err != nil {
		return err
	}
	next := []storedKey{fresh}
	for _, old := range keys {
		if old.Retired.IsZero() {
			old.Retired = now
		}
		if now.Sub(old.Retired) < k.keep {
			next = append(next, old)
		}
	}
	raw, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if _, err := k.store.SwapSecret(ctx, assertionKeysSecret, st.raw, raw); err != nil {
		return fmt.Errorf("session: rotate assertion keys: %w", err)
	}
	// Whether we or another node won the swap, the store now holds the ring.
	return k.Refresh(ctx)
}

// SetRotate changes how often a new key is made; the next MaybeRotate
// judges the current key by it. Safe while the ring is in use.
func (k *KeyRing) SetRotate(d time.Duration) { k.rotate.Store(int64(d)) }

// Rotate returns how often a new key is made.
func (k *KeyRing) Rotate() time.Duration { return time.Duration(k.rotate.Load()) }

// JWKS returns the public key set as JSON.
func (k *KeyRing) JWKS() []byte { return k.state.Load().jwks }

// CurrentKID returns the id of the signing key.
func (k *KeyRing) CurrentKID() string { return k.state.Load().current.KID }

func newStoredKey(now time.Time) (storedKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return storedKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storedKey{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return storedKey{}, err
	}
	sum := sha256.Sum256(pub)
	return storedKey{KID: base64.RawURLEncoding.EncodeToString(sum[:12]), Created: now.UTC(), PKCS8: der}, nil
}

func parseRing(raw []byte) (*ringState, error) {
	var keys []storedKey
	if err := json.Unmarshal(raw, &keys); err != nil || len(keys) == 0 {
		return nil, errors.New("session: assertion key ring is empty or corrupt")
	}
	st := &ringState{raw: raw, current: keys[0]}
	var set jose.JSONWebKeySet
	for i, sk := range keys {
		k, err := x509.ParsePKCS8PrivateKey(sk.PKCS8)
		if err != nil {
			return nil, fmt.Errorf("session: assertion key %s: %w", sk.KID, err)
		}
		priv, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("session: assertion key %s is not ECDSA", sk.KID)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: sk.KID, Algorithm: string(jose.ES256), Use: "sig"})
		if i == 0 {
			st.signer, err = jose.NewSigner(
				jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: sk.KID}},
				(&jose.SignerOptions{}).WithType("JWT"))
			if err != nil {
				return nil, fmt.Errorf("session: assertion signer: %w", err)
			}
		}
	}
	var err error
	if st.jwks, err = json.Marshal(set); err != nil {
		return nil, err
	}
	return st, nil
}
