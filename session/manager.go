package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// Config holds the session lifetimes. It can be replaced at run time (a
// config reload) without losing sessions or the cache.
type Config struct {
	// Idle ends a session after this long without a request.
	Idle time.Duration
	// Absolute ends a session this long after sign-in, whatever happens.
	Absolute time.Duration
	// CacheTTL bounds how long a looked-up session is served from memory;
	// a revocation on another node takes effect within it. Negative
	// disables the cache.
	CacheTTL time.Duration
	// EndedFor is how long a session ended on purpose is remembered as
	// ended (see Manager.Ended): as long as a refresh token can live.
	EndedFor time.Duration
}

// Defaults.
const (
	DefaultIdle     = 30 * time.Minute
	DefaultAbsolute = 12 * time.Hour
	DefaultCacheTTL = 2 * time.Second
	MaxCacheTTL     = 2 * time.Second
)

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Idle == 0 {
		c.Idle = DefaultIdle
	}
	if c.Absolute == 0 {
		c.Absolute = DefaultAbsolute
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultCacheTTL
	}
	if c.EndedFor == 0 {
		c.EndedFor = DefaultEndedFor
	}
	return c
}

// Validate checks the lifetimes.
func (c Config) Validate() error {
	switch {
	case c.Idle < time.Minute:
		return fmt.Errorf("session: idle timeout %s is below 1m", c.Idle)
	case c.Absolute < c.Idle:
		return fmt.Errorf("session: absolute timeout %s is below the idle timeout %s", c.Absolute, c.Idle)
	case c.CacheTTL > MaxCacheTTL:
		return fmt.Errorf("session: cache ttl %s is above %s", c.CacheTTL, MaxCacheTTL)
	}
	return nil
}

// touchEvery is how stale LastSeen may get before a lookup writes it back:
// a tenth of the idle timeout, at most a minute, so idle expiry stays
// accurate without a store write on every request.
func (c Config) touchEvery() time.Duration {
	return min(c.Idle/10, time.Minute)
}

// Manager creates, looks up and revokes sessions over a Store, with a short
// in-process cache for hot lookups.
type Manager struct {
	store Store
	cfg   atomic.Pointer[Config]
	now   func() time.Time

	mu      sync.RWMutex
	cache   map[string]cacheEntry
	inserts int

	// ends caches Ended's answers (manager_ended.go).
	ends endCache

	// onEnd hears of ended sessions (SetEndHook).
	onEnd atomic.Pointer[func(userID string, sids []string)]

	// created and revoked count sessions started and ended on purpose by
	// this manager (Counts): two atomic adds, so a metric of them costs
	// nothing per scrape, where counting the store's sessions would read
	// every one.
	created, revoked atomic.Uint64
}

// Counts returns how many sessions this manager started and how many it
// ended on purpose (Revoke, RevokeUser, RevokeFamily: sign-outs,
// revocations, eviction beyond the cap) since it was made. Sessions that
// expire or are retired for a successor are not ends.
func (m *Manager) Counts() (created, revoked uint64) {
	return m.created.Load(), m.revoked.Load()
}

// SetEndHook makes f hear of every session ended on purpose — Revoke,
// RevokeFamily, RevokeUser: a sign-out, "sign out everywhere", an
// operator's or the customer's revocation, eviction beyond the cap — with
// the customer and the sids (session.SID) of what ended. Expiry and
// Retire (a session replaced by its successor in the same family) are not
// ends. f runs on the caller's goroutine after the store change and must
// not block. nil removes it.
func (m *Manager) SetEndHook(f func(userID string, sids []string)) {
	if f == nil {
		m.onEnd.Store(nil)
		return
	}
	m.onEnd.Store(&f)
}

func (m *Manager) ended(userID string, sids ...string) {
	if f := m.onEnd.Load(); f != nil && len(sids) > 0 {
		slices.Sort(sids)
		(*f)(userID, slices.Compact(sids))
	}
}

type cacheEntry struct {
	sess     *Session
	loadedAt time.Time
}

// NewManager returns a Manager over store, judging every expiry by now
// (nil: wall time). The app hands every component the same clock, so a
// test moves them all by moving it.
func NewManager(store Store, cfg Config, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	m := &Manager{store: store, now: now, cache: make(map[string]cacheEntry)}
	m.SetConfig(cfg)
	return m
}

// Now returns the manager's current time.
func (m *Manager) Now() time.Time { return m.now() }

// SetConfig replaces the lifetimes; existing sessions are judged by the new
// values from the next lookup on.
func (m *Manager) SetConfig(cfg Config) {
	cfg = cfg.WithDefaults()
	m.cfg.Store(&cfg)
}

// Config returns the lifetimes in force.
func (m *Manager) Config() Config { return *m.cfg.Load() }

// Store returns the underlying store.
func (m *Manager) Store() Store { return m.store }

// tokenBytes: 256-bit bearer tokens, above the 128-bit floor.
const tokenBytes = 32

// KeyOf maps a bearer token to its storage key. Tokens are
// "<user id>.<random>"; the key keeps the user id in clear and replaces the
// secret by a hash: "<user id>.<base64url(sha256(token))>". The user id lets
// a store keep every record of one customer together (one Redis Cluster hash
// slot); the hash means a copy of the store hands out no live tokens.
func KeyOf(token string) string {
	h := sha256.Sum256([]byte(token))
	sum := base64.RawURLEncoding.EncodeToString(h[:])
	if i := strings.LastIndexByte(token, '.'); i > 0 {
		return token[:i] + "." + sum
	}
	return sum
}

// SplitKey returns the user id and the hash of a storage key; ok is false
// for a key that carries no valid user id.
func SplitKey(key string) (userID, hash string, ok bool) {
	i := strings.LastIndexByte(key, '.')
	if i <= 0 || i == len(key)-1 || !rediskey.ValidID(key[:i]) {
		return "", "", false
	}
	return key[:i], key[i+1:], true
}

// New holds what a new session records.
type New struct {
	UserID        string
	Email         string
	EmailVerified bool
	Site          string
	AMR           []string
	ACR           string
	UserAgent     string
	IP            string
	IdP           string
	// Family joins the new session to an existing family (see
	// Session.Family); empty starts a family of its own.
	Family string
	// AuthTime is when the customer proved who they are, when that was
	// not now (a single sign-on session takes the provider's).
	AuthTime time.Time
	// IDToken: see Session.IDToken.
	IDToken string
	// Risk and RiskSignals: see Session.
	Risk, RiskSignals string
	// Actor: see Session. TTL, when shorter than the absolute lifetime,
	// ends the session sooner.
	Actor string
	TTL   time.Duration
}

// Create starts a session and returns the bearer token for the cookie. A
// fresh random token every time: sign-in always rotates the session id.
func (m *Manager) Create(ctx context.Context, n New) (string, *Session, error) {
	if !rediskey.ValidID(n.UserID) {
		return "", nil, fmt.Errorf("session: create: invalid user id %q", n.UserID)
	}
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:])
	token := n.UserID + "." + base64.RawURLEncoding.EncodeToString(b[:])
	now := m.Now()
	cfg := m.Config()
	s := &Session{
		Key: KeyOf(token), UserID: n.UserID, Email: n.Email, EmailVerified: n.EmailVerified,
		Site: n.Site, CreatedAt: now, LastSeen: now, AuthTime: now, ExpiresAt: now.Add(cfg.Absolute),
		AMR: n.AMR, ACR: n.ACR, UserAgent: n.UserAgent, IP: n.IP, IdP: n.IdP, Family: n.Family, IDToken: n.IDToken,
		Risk: n.Risk, RiskSignals: n.RiskSignals, Actor: n.Actor,
	}
	if n.TTL > 0 && n.TTL < cfg.Absolute {
		s.ExpiresAt = now.Add(n.TTL)
	}
	if !n.AuthTime.IsZero() && n.AuthTime.Before(now) {
		s.AuthTime = n.AuthTime
	}
	if err := m.store.Create(ctx, s); err != nil {
		return "", nil, err
	}
	m.created.Add(1) // the session exists, even if eviction below fails
	if err := m.evictBeyond(ctx, n.UserID, MaxSessionsPerCustomer); err != nil {
		return "", nil, err
	}
	return token, s, nil
}

// MaxSessionsPerCustomer bounds the sessions one customer can hold: a
// sign-in beyond it ends the least recently used ones, so a script that
// signs in over and over cannot grow the store without bound.
const MaxSessionsPerCustomer = 50

func (m *Manager) evictBeyond(ctx context.Context, userID string, max int) error {
	// Most customers hold a few sessions: a count says so without reading
	// them at every sign-in.
	if c, ok := m.store.(UserCounter); ok {
		if n, err := c.CountUser(ctx, userID); err != nil || n <= max {
			return err
		}
	}
	all, err := m.store.ListUser(ctx, userID)
	if err != nil || len(all) <= max {
		return err
	}
	slices.SortFunc(all, func(a, b *Session) int { return b.LastSeen.Compare(a.LastSeen) })
	for _, old := range all[max:] {
		if err := m.Revoke(ctx, old.Key); err != nil {
			return err
		}
	}
	return nil
}

// Lookup returns the live session for a bearer token. ErrNotFound means no
// valid session (unknown, expired or revoked); any other error means the
// store failed and the caller must fail closed. The returned Session is
// shared: do not modify it.
func (m *Manager) Lookup(ctx context.Context, token string) (*Session, error) {
	return m.LookupKey(ctx, KeyOf(token))
}

// Cached answers a lookup from the in-process cache alone: the session for
// key when the cache holds it fresh, it is live and no LastSeen write is
// due; nil when only LookupKey can tell. It never reaches the store, so the
// hot path needs no store context for the requests the cache answers.
func (m *Manager) Cached(key string) *Session {
	cfg := m.Config()
	if cfg.CacheTTL <= 0 {
		return nil
	}
	now := m.Now()
	s := m.cached(key, now, cfg)
	if s == nil || !now.Before(s.ExpiresAt) || now.Sub(s.LastSeen) >= cfg.touchEvery() {
		return nil
	}
	return s
}

// cached returns the session the cache holds for key if it was loaded
// within the TTL.
func (m *Manager) cached(key string, now time.Time, cfg Config) *Session {
	m.mu.RLock()
	e, ok := m.cache[key]
	m.mu.RUnlock()
	if ok && now.Sub(e.loadedAt) < cfg.CacheTTL {
		return e.sess
	}
	return nil
}

// LookupKey is Lookup by storage key (see KeyOf).
func (m *Manager) LookupKey(ctx context.Context, key string) (*Session, error) {
	cfg := m.Config()
	now := m.Now()

	var s *Session
	if cfg.CacheTTL > 0 {
		s = m.cached(key, now, cfg)
	}
	if s == nil {
		var err error
		s, err = m.store.Get(ctx, key)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				m.forget(key)
				return nil, ErrNotFound
			}
			return nil, fmt.Errorf("session: lookup: %w", err)
		}
		m.remember(key, s, now, cfg)
	}

	if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeen) >= cfg.Idle {
		if err := m.Retire(ctx, key); err != nil {
			return nil, fmt.Errorf("session: remove expired: %w", err)
		}
		return nil, ErrNotFound
	}
	if now.Sub(s.LastSeen) >= cfg.touchEvery() {
		if err := m.store.Touch(ctx, key, now); err != nil {
			if errors.Is(err, ErrNotFound) {
				m.forget(key)
				return nil, ErrNotFound
			}
			return nil, fmt.Errorf("session: touch: %w", err)
		}
		touched := *s
		touched.LastSeen = now
		s = &touched
		m.remember(key, s, now, cfg)
	}
	return s, nil
}

func (m *Manager) remember(key string, s *Session, now time.Time, cfg Config) {
	if cfg.CacheTTL <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cache[key] = cacheEntry{sess: s, loadedAt: now}
	m.inserts++
	if m.inserts >= 1024 {
		// Amortised sweep keeps the cache to roughly the sessions seen in
		// the last TTL.
		m.inserts = 0
		for k, e := range m.cache {
			if now.Sub(e.loadedAt) >= cfg.CacheTTL {
				delete(m.cache, k)
			}
		}
	}
}

func (m *Manager) forget(key string) {
	m.mu.Lock()
	delete(m.cache, key)
	m.mu.Unlock()
}

// Revoke ends one session, leaving its mark (see Ended).
func (m *Manager) Revoke(ctx context.Context, key string) error {
	s, err := m.store.Get(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("session: revoke: %w", err)
	}
	if s != nil {
		if err := m.markEnded(ctx, s.UserID, SID(s)); err != nil {
			return fmt.Errorf("session: revoke: %w", err)
		}
	}
	if err := m.Retire(ctx, key); err != nil {
		return fmt.Errorf("session: revoke: %w", err)
	}
	if s != nil {
		m.revoked.Add(1)
		m.ended(s.UserID, SID(s))
	}
	return nil
}

// Retire removes a session that did not end: it expired, or a successor
// in its family replaces it (a sign-in again). No end is heard of.
func (m *Manager) Retire(ctx context.Context, key string) error {
	m.forget(key)
	return m.store.Delete(ctx, key)
}

// RevokeUser ends every session of a customer ("sign out everywhere"),
// leaving the mark of each (see Ended).
func (m *Manager) RevokeUser(ctx context.Context, userID string) (int, error) {
	m.mu.Lock()
	for k, e := range m.cache {
		if e.sess.UserID == userID {
			delete(m.cache, k)
		}
	}
	m.mu.Unlock()
	all, err := m.store.ListUser(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("session: revoke all of a user: %w", err)
	}
	var sids []string
	for _, s := range all {
		sids = append(sids, SID(s))
	}
	slices.Sort(sids)
	sids = slices.Compact(sids)
	if err := m.markEnded(ctx, userID, sids...); err != nil {
		return 0, fmt.Errorf("session: revoke all of a user: %w", err)
	}
	n, err := m.store.DeleteUser(ctx, userID)
	if err != nil {
		return n, fmt.Errorf("session: revoke all of a user: %w", err)
	}
	m.revoked.Add(uint64(max(n, 0)))
	m.ended(userID, sids...)
	return n, nil
}

// RevokeFamily ends every session of the user in family sid (see
// Session.Family and SID): signing out of one site of a single sign-on
// ends the provider's session and every other site's. It returns how
// many sessions it ended.
func (m *Manager) RevokeFamily(ctx context.Context, userID, sid string) (int, error) {
	all, err := m.store.ListUser(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("session: revoke a family: %w", err)
	}
	if slices.ContainsFunc(all, func(s *Session) bool { return SID(s) == sid }) {
		if err := m.markEnded(ctx, userID, sid); err != nil {
			return 0, fmt.Errorf("session: revoke a family: %w", err)
		}
	}
	n := 0
	for _, s := range all {
		if SID(s) == sid {
			if err := m.Retire(ctx, s.Key); err != nil {
				return n, fmt.Errorf("session: revoke a family: %w", err)
			}
			m.revoked.Add(1)
			n++
		}
	}
	if n > 0 {
		m.ended(userID, sid)
	}
	return n, nil
}

// List returns a customer's live sessions.
func (m *Manager) List(ctx context.Context, userID string) ([]*Session, error) {
	all, err := m.store.ListUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	cfg, now := m.Config(), m.Now()
	live := all[:0]
	for _, s := range all {
		if now.Before(s.ExpiresAt) && now.Sub(s.LastSeen) < cfg.Idle {
			live = append(live, s)
		}
	}
	return live, nil
}
