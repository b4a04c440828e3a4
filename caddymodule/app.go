package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/risk"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/caddymodule/stores"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/identity/oidcrp"
	"github.com/frontdoorhq/frontdoor/session"
	"github.com/frontdoorhq/frontdoor/sms"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the frontdoor app: the configuration shared by every site (store,
// mailer, session lifetimes, keys, password policy, header names) and the
// handle on state that outlives config reloads. That state — store
// connections, session cache, key ring, hashing slots — lives in usage
// pools keyed by its configuration, so a reload that keeps the same store
// keeps the same sessions, keys and cache; the mail queue is one per
// process, so a reload never drops or waits for pending mail; so is the
// text-message queue.
//
// Caddy provisions a new config while the old one serves, and throws it
// away if provisioning fails. So Provision only takes holds on pooled state
// and prepares this config's settings; Start, called once the config is
// committed, hands them to the pooled state (session lifetimes, key
// rotation, mailer, text-message sender, loggers).
type App struct {
	// Store is the storage backend (module namespace frontdoor.stores).
	// Default: bolt, one file in Caddy's data directory.
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=frontdoor.stores inline_key=backend"`
	// Mailer delivers verification and notice mail. Default: log.
	Mailer *MailerConfig `json:"mailer,omitempty"`
	// SMS sends text messages (module namespace frontdoor.sms). Default:
	// log, which withholds codes and delivers nothing.
	SMSRaw json.RawMessage `json:"sms,omitempty" caddy:"namespace=frontdoor.sms inline_key=sender"`
	// Session lifetimes.
	Session *SessionConfig `json:"session,omitempty"`
	// Keys for cookies and identity assertions.
	Keys *KeysConfig `json:"keys,omitempty"`
	// Password policy and hashing cost.
	Password *PasswordConfig `json:"password,omitempty"`
	// Headers are the default identity header names for every site.
	Headers *HeaderConfig `json:"headers,omitempty"`
	// StoreTimeout bounds the store work of one request (default 2s);
	// past it, protected routes answer 503.
	StoreTimeout caddy.Duration `json:"store_timeout,omitempty"`
	// ErasureGrace is how long an account its customer asked to delete
	// waits before it goes (default 0: at once); signing in meanwhile
	// keeps it. Operators' erasures (admin API) are immediate.
	ErasureGrace caddy.Duration `json:"erasure_grace,omitempty"`
	// OIDC are the OpenID Providers customers may sign in with.
	OIDC []*OIDCProvider `json:"oidc,omitempty"`
	// Profile declares the profile fields routes may ask for.
	Profile []ProfileField `json:"profile,omitempty"`
	// Consent lists the purposes customers are asked to agree to.
	Consent *ConsentConfig `json:"consent,omitempty"`
	// Webhooks receive events (see webhooks.go).
	Webhooks []*WebhookConfig `json:"webhooks,omitempty"`
	// GeoIP names the IP-to-place databases the risk signals read
	// (geoip <place.mmdb> [<asn.mmdb>]); none: the signals that need a
	// place are skipped.
	GeoIP *GeoIPConfig `json:"geoip,omitempty"`

	backend  *backend
	storeKey string
	mail     *mailQueue
	mailKey  string
	texts    *smsQueue
	textsKey string
	hasher   *identity.Hasher
	hashKey  string
	policy   identity.PasswordPolicy
	codec    *session.Codec
	csrfKey  []byte
	headers  headerNames
	logger   *zap.Logger
	ctx      caddy.Context

	// This config's settings for pooled state, applied by Start.
	sessionCfg session.Config
	rotate     time.Duration
	mailer     identity.Mailer
	smsSender  sms.Sender

	// prev is the app that was live when this one started, while that
	// one still runs; guarded by liveMu.
	prev *App

	// policies are the edge-defence policies of this config's sites,
	// published for the admin API when the config starts.
	policies map[string]*botdefense.Policy
	// sites are this config's site handlers by origin, published for the
	// admin API (invitations) when the config starts.
	sites map[string]*Handler

	// providers are the OpenID Providers by name (see oidc.go).
	providers map[string]*oidcrp.Provider
	// fields are the declared profile fields by name (see profile.go).
	fields map[string]authflow.FieldSpec

	// purposes are the consent purposes (see consent_config.go).
	purposes consent.Purposes

	// issuers are this config's provider sites by issuer, made at the
	// first access token an edge checks (provider_edge.go).
	issuers *atomic.Pointer[map[string]*siteOP]

	// webhooks are Webhooks as the deliverer takes them.
	webhooks []*events.Webhook

	// locator maps client addresses to places (nil: no geoip databases).
	locator *risk.Locator
}

// GeoIPConfig names the MMDB databases: Place (MaxMind GeoIP2/GeoLite2
// City or Country, or ip-location-db's layout, the one make deps
// installs into .cache/geo) and, optionally, ASN (GeoLite2-ASN layout).
type GeoIPConfig struct {
	Place string `json:"place"`
	ASN   string `json:"asn,omitempty"`
}

// live is the app whose settings the pooled state carries: the last one
// started, or the one before it again if a config failed to start.
var (
	liveMu sync.Mutex
	live   *App
)

// SessionConfig holds session lifetimes.
type SessionConfig struct {
	// Idle ends a session after this long without a request (default 30m).
	Idle caddy.Duration `json:"idle,omitempty"`
	// Absolute ends a session this long after sign-in (default 12h).
	Absolute caddy.Duration `json:"absolute,omitempty"`
	// Cache bounds how long a session may be served from memory (default
	// and maximum 2s; a negative value turns the cache off).
	Cache caddy.Duration `json:"cache,omitempty"`
}

// KeysConfig holds key material. Keys not given are generated once and
// kept in the store, so every node and every reload uses the same ones.
type KeysConfig struct {
	// CookieHashKey is a base64 HMAC key (≥32 bytes) for the session
	// cookie; placeholders such as {env.FRONTDOOR_COOKIE_HASH} are expanded.
	CookieHashKey string `json:"cookie_hash_key,omitempty"`
	// CookieBlockKey is a base64 AES-256 key (32 bytes).
	CookieBlockKey string `json:"cookie_block_key,omitempty"`
	// AssertionRotate is how often a new assertion signing key is made
	// (default 720h).
	AssertionRotate caddy.Duration `json:"assertion_rotate,omitempty"`
}

// PasswordConfig is the password policy and hashing cost.
type PasswordConfig struct {
	// MinLength in characters: 15 by default; as low as 8 for operators
	// who require a second factor.
	MinLength int `json:"min_length,omitempty"`
	// MaxLength in characters (default 128, at least 64).
	MaxLength int `json:"max_length,omitempty"`
	// Argon2 cost; never below m=19456 KiB, t=2, p=1.
	Argon2 *identity.Argon2Params `json:"argon2,omitempty"`
	// Concurrency is how many hashes may run at once (default: CPUs).
	Concurrency int `json:"concurrency,omitempty"`
	// Queue is how many sign-ins may wait for a hashing slot at most
	// (default 512 per slot); more get 503 with Retry-After at once.
	Queue int `json:"queue,omitempty"`
	// QueueWait is how long one may wait (default 5s); one whose turn
	// would come later, by the measured hashing time, gets 503 at once.
	QueueWait caddy.Duration `json:"queue_wait,omitempty"`
}

const (
	defaultAssertionRotate = 30 * 24 * time.Hour
	defaultStoreTimeout    = 2 * time.Second
)

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "frontdoor", New: func() caddy.Module { return new(App) }}
}

// Provision sets up the app.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	a.issuers = new(atomic.Pointer[map[string]*siteOP])
	if a.Session == nil {
		a.Session = new(SessionConfig)
	}
	if a.Keys == nil {
		a.Keys = new(KeysConfig)
	}
	if a.Password == nil {
		a.Password = new(PasswordConfig)
	}
	if a.Mailer == nil {
		a.Mailer = &MailerConfig{Type: "log"}
	}
	if err := a.provisionPolicy(); err != nil {
		return err
	}
	if err := a.provisionOIDC(); err != nil {
		return err
	}
	if err := a.provisionProfile(); err != nil {
		return err
	}
	if err := a.provisionConsent(); err != nil {
		return err
	}
	if err := a.provisionWebhooks(); err != nil {
		return err
	}
	sc := a.sessionConfig()
	if err := sc.Validate(); err != nil {
		return err
	}
	var err error
	if a.headers, err = a.Headers.names(presetHeaders["frontdoor"]); err != nil {
		return err
	}

	var sb stores.Backend = &stores.BoltBackend{}
	if a.StoreRaw != nil {
		mod, err := ctx.LoadModule(a, "StoreRaw")
		if err != nil {
			return fmt.Errorf("frontdoor: loading store: %w", err)
		}
		var ok bool
		if sb, ok = mod.(stores.Backend); !ok {
			return fmt.Errorf("frontdoor: module %T is not a store backend", mod)
		}
	} else if p, ok := any(sb).(caddy.Provisioner); ok {
		if err := p.Provision(ctx); err != nil {
			return err
		}
	}
	a.sessionCfg = sc
	a.rotate = time.Duration(a.Keys.AssertionRotate)
	if a.rotate <= 0 {
		a.rotate = defaultAssertionRotate
	}
	a.storeKey = "store:" + sb.StoreKey()
	a.backend, err = loadBackend(ctx, a.storeKey, sb, sc, a.rotate, a.logger)
	if err != nil {
		a.storeKey = ""
		return err
	}
	if a.StoreTimeout <= 0 {
		a.StoreTimeout = caddy.Duration(defaultStoreTimeout)
	}
	if a.GeoIP != nil {
		repl := caddy.NewReplacer()
		place, asn := repl.ReplaceKnown(a.GeoIP.Place, ""), repl.ReplaceKnown(a.GeoIP.ASN, "")
		if place == "" {
			return errors.New("frontdoor: geoip: the place database's path is empty")
		}
		if a.locator, err = risk.OpenLocator(place, asn); err != nil {
			return fmt.Errorf("frontdoor: geoip: %w", err)
		}
	}
	if err := a.registerMetrics(ctx); err != nil {
		return err
	}

	if a.codec, err = a.loadCodec(ctx, sc.Absolute); err != nil {
		return err
	}
	a.csrfKey, err = a.backend.sessions.Store().Secret(ctx, "csrf-key", func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := rand.Read(k)
		return k, err
	})
	if err != nil {
		return fmt.Errorf("frontdoor: csrf key: %w", err)
	}
	if a.mailer, err = newMailer(a.Mailer, a.logger); err != nil {
		return err
	}
	if a.mail, err = loadMailQueue(a.mailer, a.logger.Named("mail")); err != nil {
		return err
	}
	a.mailKey = mailQueueKey
	return a.provisionSMS(ctx)
}

func (a *App) provisionPolicy() error {
	p := a.Password
	a.policy = identity.DefaultPasswordPolicy
	if p.MinLength != 0 {
		a.policy.MinLength = p.MinLength
	}
	if p.MaxLength != 0 {
		a.policy.MaxLength = p.MaxLength
	}
	if err := a.policy.Validate(); err != nil {
		return fmt.Errorf("frontdoor: password: %w", err)
	}
	params := identity.DefaultArgon2
	if p.Argon2 != nil {
		params = *p.Argon2
	}
	var err error
	a.hasher, a.hashKey, err = loadHasher(params, p.Concurrency)
	return err
}

func (a *App) sessionConfig() session.Config {
	return session.Config{
		Idle:     time.Duration(a.Session.Idle),
		Absolute: time.Duration(a.Session.Absolute),
		CacheTTL: time.Duration(a.Session.Cache),
		// An end is remembered as long as a refresh token of it can live.
		EndedFor: identity.OAuthRefreshTTL,
	}.WithDefaults()
}

// loadCodec builds the cookie codec from configured keys, or from keys
// generated once and kept in the store.
func (a *App) loadCodec(ctx context.Context, maxAge time.Duration) (*session.Codec, error) {
	repl := caddy.NewReplacer()
	hk, bk := repl.ReplaceAll(a.Keys.CookieHashKey, ""), repl.ReplaceAll(a.Keys.CookieBlockKey, "")
	if (hk == "") != (bk == "") {
		return nil, errors.New("frontdoor: keys: set both cookie keys or neither")
	}
	var hash, block []byte
	if hk != "" {
		var err error
		if hash, err = base64.StdEncoding.DecodeString(hk); err != nil {
			return nil, fmt.Errorf("frontdoor: keys: cookie hash key is not base64: %w", err)
		}
		if block, err = base64.StdEncoding.DecodeString(bk); err != nil {
			return nil, fmt.Errorf("frontdoor: keys: cookie block key is not base64: %w", err)
		}
	} else {
		raw, err := a.backend.sessions.Store().Secret(ctx, "cookie-keys", session.GenerateCookieKeys)
		if err != nil {
			return nil, fmt.Errorf("frontdoor: cookie keys: %w", err)
		}
		if hash, block, err = session.SplitCookieKeys(raw); err != nil {
			return nil, err
		}
	}
	c, err := session.NewCodec(hash, block, maxAge)
	if err != nil {
		return nil, fmt.Errorf("frontdoor: keys: %w", err)
	}
	return c, nil
}

// Start implements caddy.App. Caddy starts a config only once all of it has
// provisioned, so this is where its settings reach the state it shares with
// the config still running.
func (a *App) Start() error {
	liveMu.Lock()
	defer liveMu.Unlock()
	a.prev, live = live, a
	a.apply()
	a.discoverProviders()
	return nil
}

// apply hands this config's settings and logger to the pooled state.
func (a *App) apply() {
	a.backend.logger.Set(a.logger)
	a.backend.events.audit.Set(a.logger.Named("audit"))
	a.backend.events.deliverer.SetWebhooks(a.webhooks)
	a.backend.sessions.SetConfig(a.sessionCfg)
	a.backend.sessions.SetEndHook(a.sessionsEnded)
	a.backend.assertions.Ring().SetRotate(a.rotate)
	a.mail.SetLogger(a.logger.Named("mail"))
	a.mail.SetMailer(a.mailer)
	a.texts.SetLogger(a.logger.Named("sms"))
	a.texts.SetSender(a.smsSender)
	a.hasher.SetQueueLimits(a.Password.Queue, time.Duration(a.Password.QueueWait))
	policiesMu.Lock()
	livePolicies.Clear()
	for origin, p := range a.policies {
		livePolicies.Store(origin, p)
	}
	policiesMu.Unlock()
	sitesMu.Lock()
	liveSites = a.sites
	sitesMu.Unlock()
}

// noteSite records a site's handler (see apply).
func (a *App) noteSite(h *Handler) {
	policiesMu.Lock()
	defer policiesMu.Unlock()
	if a.sites == nil {
		a.sites = make(map[string]*Handler)
	}
	a.sites[h.origin] = h
}

// policiesMu guards every App's policies (handlers provision one config at
// a time, but a reload provisions while the old config serves).
var policiesMu sync.Mutex

// notePolicy records a site's edge-defence policy (see apply).
func (a *App) notePolicy(origin string, p *botdefense.Policy) {
	policiesMu.Lock()
	defer policiesMu.Unlock()
	if a.policies == nil {
		a.policies = make(map[string]*botdefense.Policy)
	}
	a.policies[origin] = p
}

// Stop implements caddy.App. If no newer config has taken over, either the
// server is shutting down or another app of this config failed to start,
// and Caddy keeps the previous config running: it gets its settings back.
func (a *App) Stop() error {
	liveMu.Lock()
	defer liveMu.Unlock()
	switch {
	case live == a:
		if live = a.prev; live != nil {
			live.apply()
		}
	case live != nil && live.prev == a:
		// The reload that replaced this config is complete.
		live.prev = nil
	}
	a.prev = nil
	return nil
}

// Cleanup releases this config's hold on pooled state; the last holder
// closes it.
func (a *App) Cleanup() error {
	var errs []error
	if a.locator != nil {
		errs = append(errs, a.locator.Close())
		a.locator = nil
	}
	for _, hold := range []struct {
		pool *caddy.UsagePool
		key  *string
	}{{backends, &a.storeKey}, {mailQueues, &a.mailKey}, {smsQueues, &a.textsKey}, {hashers, &a.hashKey}} {
		if *hold.key == "" {
			continue
		}
		// Forget the key first: a second Cleanup must not drop another
		// config's hold.
		key := *hold.key
		*hold.key = ""
		if _, err := hold.pool.Delete(key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// frontdoorApp returns the config's frontdoor app, loading it with its
// defaults if the Caddyfile has no global frontdoor block.
func frontdoorApp(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("frontdoor")
	if err != nil {
		return nil, fmt.Errorf("frontdoor: %w", err)
	}
	a, ok := v.(*App)
	if !ok {
		return nil, fmt.Errorf("frontdoor: app has type %T", v)
	}
	return a, nil
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
