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
	// ActivateAt is set on a pre-published key: it is in the JWKS but does
	// not sign before this time.
	ActivateAt time.Time `json:"activate_at,omitzero"`
	PKCS8      []byte    `json:"pkcs8"`
}

// publishLead is how long a new key is published before it signs: longer
// than the JWKS cache lifetime (max-age 300 s) plus the one-minute rotation
// check, so verifiers that cache the JWKS know the key before they see it.
const publishLead = 10 * time.Minute

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
	now  func() time.Time

	mu    sync.Mutex // serialises rotation
	state atomic.Pointer[ringState]
}

type ringState struct {
	raw     []byte
	current storedKey
	signer  jose.Signer
	jwks    []byte
	// priv is the current key; keys is every published public key.
	priv *ecdsa.PrivateKey
	keys []jose.JSONWebKey
}

// NewKeyRing loads the ring from store, creating the first key if there is
// none. rotate is how often a new key is made; now is the clock keys are
// made, published and retired by (nil: wall time), which assertions
// signed over the ring share.
func NewKeyRing(ctx context.Context, store Store, rotate, keep time.Duration, now func() time.Time) (*KeyRing, error) {
	if now == nil {
		now = time.Now
	}
	k := &KeyRing{store: store, keep: keep, now: now}
	k.SetRotate(rotate)
	if err := k.Refresh(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Refresh reloads the ring from the store (another node may have rotated).
func (k *KeyRing) Refresh(ctx context.Context) error {
	raw, err := k.store.Secret(ctx, assertionKeysSecret, func() ([]byte, error) {
		key, err := newStoredKey(k.now())
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

// MaybeRotate keeps the ring on schedule: publishLead before the current
// key is due to retire, it publishes the next key (in the JWKS, not yet
// signing); when that key's time comes, it becomes the signing key and the
// old one is retired; retired keys nobody can need any more are dropped.
// Several nodes may call it at once: the store's compare-and-swap lets one
// win and the others load its result.
func (k *KeyRing) MaybeRotate(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.Refresh(ctx); err != nil {
		return err
	}
	st := k.state.Load()
	now := k.now()
	var keys []storedKey
	if err := json.Unmarshal(st.raw, &keys); err != nil {
		return fmt.Errorf("session: assertion keys: %w", err)
	}
	rotate := k.Rotate()
	lead := min(publishLead, rotate/2)
	next, changed, promoted := make([]storedKey, 0, len(keys)+1), false, false
	pending := len(keys) > 0 && !keys[0].ActivateAt.IsZero()
	switch {
	case pending && !now.Before(keys[0].ActivateAt):
		// Promote the pre-published key; retire the one it replaces.
		k0 := keys[0]
		k0.ActivateAt = time.Time{}
		next = append(next, k0)
		keys = keys[1:]
		changed, promoted = true, true
	case !pending && now.Sub(st.current.Created) >= rotate-lead:
		due := st.current.Created.Add(rotate)
		if earliest := now.Add(lead); due.Before(earliest) {
			due = earliest // overdue (the ring sat idle): still publish first
		}
		fresh, err := newStoredKey(now)
		if err != nil {
			return fmt.Errorf("session: new assertion key: %w", err)
		}
		fresh.ActivateAt = due.UTC()
		next = append(next, fresh)
		changed = true
	}
	for _, old := range keys {
		if promoted && old.Retired.IsZero() {
			old.Retired = now // the key the promoted one replaces
		}
		if !old.Retired.IsZero() && now.Sub(old.Retired) >= k.keep {
			changed = true
			continue
		}
		next = append(next, old)
	}
	if !changed {
		return nil
	}
	raw, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("session: assertion keys: %w", err)
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

// SigningKey returns the current key and its id, for a signer that must set
// its own header (an OpenID Provider's ID and access tokens). The key is
// shared: callers must not change it.
func (k *KeyRing) SigningKey() (kid string, key *ecdsa.PrivateKey) {
	st := k.state.Load()
	return st.current.KID, st.priv
}

// PublicKeys returns every published key (the JWKS), read only.
func (k *KeyRing) PublicKeys() []jose.JSONWebKey { return k.state.Load().keys }

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
	st := &ringState{raw: raw}
	var set jose.JSONWebKeySet
	for _, sk := range keys {
		k, err := x509.ParsePKCS8PrivateKey(sk.PKCS8)
		if err != nil {
			return nil, fmt.Errorf("session: assertion key %s: %w", sk.KID, err)
		}
		priv, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("session: assertion key %s is not ECDSA", sk.KID)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: sk.KID, Algorithm: string(jose.ES256), Use: "sig"})
		if st.signer == nil && sk.ActivateAt.IsZero() {
			st.current = sk
			st.priv = priv
			st.signer, err = jose.NewSigner(
				jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: sk.KID}},
				(&jose.SignerOptions{}).WithType("JWT"))
			if err != nil {
				return nil, fmt.Errorf("session: assertion signer: %w", err)
			}
		}
	}
	if st.signer == nil {
		return nil, errors.New("session: assertion key ring has no active key")
	}
	st.keys = set.Keys
	var err error
	if st.jwks, err = json.Marshal(set); err != nil {
		return nil, err
	}
	return st, nil
}
