package caddymodule

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
)

// Clients registered through the admin API (provider_clients_admin.go),
// beside those a Caddyfile declares: kept in the store as one document —
// the session store's named secrets, swapped whole with compare-and-swap,
// so every node sees the same registry — and read by each node at most
// every clientRegistryTTL. A client's secret is generated here, handed to
// the operator once and kept only as its SHA-256; a rotation keeps the
// previous secret working for secretOverlap, so the client's servers can
// move over without an outage.

const (
	clientRegistryName = "oauth_clients"
	clientRegistryTTL  = 2 * time.Second
	// secretOverlap is how long a rotated secret keeps working.
	secretOverlap = 24 * time.Hour
	// maxRegisteredClients bounds the registry document.
	maxRegisteredClients = 500
)

// registeredClient is one admin-registered client as stored.
type registeredClient struct {
	Issuer                 string    `json:"issuer"`
	ID                     string    `json:"id"`
	Name                   string    `json:"name,omitempty"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris,omitempty"`
	Scopes                 []string  `json:"scopes,omitempty"`
	FirstParty             bool      `json:"first_party,omitempty"`
	BackchannelLogoutURI   string    `json:"backchannel_logout_uri,omitempty"`
	Grants                 []string  `json:"grants,omitempty"`
	DPoP                   bool      `json:"dpop,omitempty"`
	SecretSum              []byte    `json:"secret_sum,omitempty"`
	PrevSecretSum          []byte    `json:"prev_secret_sum,omitempty"`
	PrevSecretUntil        time.Time `json:"prev_secret_until,omitzero"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`

	// An agent's (provider_agents.go).
	Agent    bool           `json:"agent,omitempty"`
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
	// JWKS (the client's public keys, private_key_jwt) or Certificate
	// (its TLS client certificate's SHA-256 thumbprint), instead of a
	// secret (provider_service.go); checked when registered.
	JWKS        json.RawMessage `json:"jwks,omitempty"`
	Certificate string          `json:"certificate,omitempty"`
}

// registryDoc is the stored document: clients by issuer, then id.
type registryDoc map[string]map[string]*registeredClient

// providerClient is the client as the provider uses it.
func (rc *registeredClient) providerClient() *ProviderClient {
	c := &ProviderClient{ID: rc.ID, Name: rc.Name, RedirectURIs: rc.RedirectURIs, PostLogoutRedirectURIs: rc.PostLogoutRedirectURIs,
		Scopes: rc.Scopes, FirstParty: rc.FirstParty, BackchannelLogoutURI: rc.BackchannelLogoutURI, Grants: rc.Grants,
		Agent: rc.Agent, Lifetime: rc.Lifetime, DPoP: rc.DPoP,
		secretSum: rc.SecretSum, prevSecretSum: rc.PrevSecretSum, prevSecretUntil: rc.PrevSecretUntil, registered: true}
	// Checked when registered; a stored set that no longer reads leaves
	// the client unable to authenticate, never open.
	if len(rc.JWKS) > 0 {
		c.jwks, _ = parseClientJWKS(rc.JWKS)
		if c.jwks == nil {
			c.jwks = []jose.JSONWebKey{}
		}
	}
	if rc.Certificate != "" {
		c.x5t, _ = parseThumbprint(rc.Certificate)
		if c.x5t == nil {
			c.x5t = []byte{}
		}
	}
	return c
}

// clientRegistry is a node's view of the registry (one per backend).
type clientRegistry struct {
	b *backend

	// snap is the registry as last read; mu lets one caller at a time
	// read it again when it is stale.
	snap atomic.Pointer[registrySnapshot]
	mu   sync.Mutex
}

type registrySnapshot struct {
	loaded  time.Time
	clients map[string]map[string]*ProviderClient
}

// client returns the registered client id of issuer, nil if none. A store
// failure keeps the last snapshot (logged): a client known a moment ago
// stays known, an unknown one stays unknown.
func (reg *clientRegistry) client(issuer, id string) *ProviderClient {
	return reg.clients(issuer)[id]
}

// clients returns issuer's registered clients (shared: do not change). A
// fresh snapshot is one atomic load: lookups are on the bearer hot path.
func (reg *clientRegistry) clients(issuer string) map[string]*ProviderClient {
	now := reg.b.clock.Now()
	if snap := reg.snap.Load(); snap.fresh(now) {
		return snap.clients[issuer]
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	snap := reg.snap.Load()
	if !snap.fresh(now) { // not read again by whoever held the lock
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		doc, err := reg.read(ctx)
		cancel()
		if err != nil {
			reg.b.logger.Get().Error("provider: reading the client registry", zap.Error(err))
		} else {
			next := &registrySnapshot{loaded: now, clients: make(map[string]map[string]*ProviderClient, len(doc))}
			for iss, cs := range doc {
				next.clients[iss] = make(map[string]*ProviderClient, len(cs))
				for id, rc := range cs {
					next.clients[iss][id] = rc.providerClient()
				}
			}
			reg.snap.Store(next)
			snap = next
		}
	}
	if snap == nil {
		return nil
	}
	return snap.clients[issuer]
}

// fresh reports whether the snapshot was read within clientRegistryTTL.
func (snap *registrySnapshot) fresh(now time.Time) bool {
	return snap != nil && !now.Before(snap.loaded) && now.Sub(snap.loaded) < clientRegistryTTL
}

// forget makes the next lookup read the store (after a change here).
func (reg *clientRegistry) forget() {
	if snap := reg.snap.Load(); snap != nil {
		reg.snap.Store(&registrySnapshot{clients: snap.clients}) // loaded zero: stale, still there if the store fails
	}
}

func (reg *clientRegistry) read(ctx context.Context) (registryDoc, error) {
	raw, err := reg.b.sessions.Store().Secret(ctx, clientRegistryName, func() ([]byte, error) { return []byte("{}"), nil })
	if err != nil {
		return nil, err
	}
	doc := registryDoc{}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("provider: client registry: %w", err)
	}
	return doc, nil
}

// errRegistryBusy: the document kept changing under us.
var errRegistryBusy = errors.New("provider: the client registry changed too often to update; try again")

// update applies fn to the document and stores it (compare-and-swap,
// retried), then forgets this node's snapshot.
func (reg *clientRegistry) update(ctx context.Context, fn func(registryDoc) error) error {
	defer reg.forget()
	for range 8 {
		prev, err := reg.b.sessions.Store().Secret(ctx, clientRegistryName, func() ([]byte, error) { return []byte("{}"), nil })
		if err != nil {
			return err
		}
		doc := registryDoc{}
		if err := json.Unmarshal(prev, &doc); err != nil {
			return fmt.Errorf("provider: client registry: %w", err)
		}
		if err := fn(doc); err != nil {
			return err
		}
		next, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		ok, err := reg.b.sessions.Store().SwapSecret(ctx, clientRegistryName, prev, next)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return errRegistryBusy
}

// count is how many clients the document holds.
func (doc registryDoc) count() int {
	n := 0
	for _, cs := range doc {
		n += len(cs)
	}
	return n
}

// newClientSecret is 256 random bits and their SHA-256.
func newClientSecret() (secret string, sum []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	s := sha256.Sum256([]byte(secret))
	return secret, s[:]
}

// client returns the provider's client id: declared in the Caddyfile, or
// registered through the admin API for this issuer.
func (o *siteOP) client(id string) *ProviderClient {
	if c := o.clients[id]; c != nil {
		return c
	}
	if o.h.app.backend.clients == nil {
		return nil
	}
	return o.h.app.backend.clients.client(o.issuer, id)
}

// allClients is every client of the provider, declared ones first.
func (o *siteOP) allClients() []*ProviderClient {
	out := slices.Clone(o.h.Provider.Clients)
	if o.h.app.backend.clients != nil {
		reg := o.h.app.backend.clients.clients(o.issuer)
		for _, id := range slices.Sorted(maps.Keys(reg)) {
			if o.clients[id] == nil {
				out = append(out, reg[id])
			}
		}
	}
	return out
}
