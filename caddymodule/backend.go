package caddymodule

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/caddymodule/stores"
	"github.com/frontdoorhq/frontdoor/caddymodule/stores/storeopen"
	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/clock"
	"github.com/frontdoorhq/frontdoor/session"
)

// Pools of state that outlives a config reload. Backends and hashers are
// keyed by the configuration that shapes them; a reload with the same
// configuration gets the same value, and the last config to let go destroys
// it. The mail queue is one per process (see loadMailQueue).
var (
	backends   = caddy.NewUsagePool()
	mailQueues = caddy.NewUsagePool()
	hashers    = caddy.NewUsagePool()
)

// backend is everything built on one opened store: the stores, the session
// manager with its cache, the assertion key ring and its signature cache,
// and the housekeeping loop. Its settings (session lifetimes, rotation
// period, logger) are the running config's: App.Start sets them.
type backend struct {
	// clock is the one time every expiry and window on this backend is
	// judged by: sessions, assertion keys, the cookie codec, the journeys
	// (tokens, codes, TOTP steps), the edge defences and mail dates. Tests
	// move it (clock.Set) and everything moves together.
	clock    *clock.Clock
	stores   *storeopen.Stores
	identity identity.Store
	consent  consent.Store
	// consentCache and customerCache keep, per customer, what protected
	// requests need beside the session (see hotCache).
	consentCache  hotCache[consent.State]
	customerCache hotCache[*hotCustomer]
	// keyCache keeps checked API keys by hash (apikeys.go).
	keyCache hotCache[*keyCaller]
	// clients are the provider clients registered through the admin API
	// (provider_clients.go).
	clients *clientRegistry
	// tokenCache keeps checked access tokens by the presented string
	// (provider_edge.go).
	tokenCache hotCache[*tokenCaller]
	// dpopSeen spends DPoP proofs' jti (dpop.go): the store's shared set
	// on Redis, this node's bounded memory on bolt.
	dpopSeen   botdefense.Seen
	sessions   *session.Manager
	assertions *session.Assertions
	defense    *botdefense.Defender
	// erasureKey keys the hash erased customers' consent records are
	// anonymised to (a store secret, the same on every node).
	erasureKey  []byte
	decisions   decisionCounts
	decisionLog decisionLog
	// riskDecisions counts risk decisions (risk_decisions.go); moves
	// keeps the verdicts on sessions used from elsewhere (risk_edge.go).
	riskDecisions riskDecisionLog
	moves         moves
	// migrations counts legacy password hashes (migration_metrics.go).
	migrations migrationCounts
	// legacyCounts counts what came of asking legacy services
	// (legacy_auth.go).
	legacyCounts legacyCounts
	// recent keeps the last hour per minute for the status page
	// (status.go), fed by the events and the edge defences' decisions.
	recent statusSeries
	// events takes every event to the audit stream, the webhooks and the
	// counters (events.go); eventsStop ends its deliverer, eventsDone
	// closes when it has.
	events     *eventBus
	eventsStop context.CancelFunc
	eventsDone chan struct{}
	// later runs sign-ups' store work off the response path.
	later       *writeBehind
	kind        string               // bolt, redis
	pingSeconds prometheus.Histogram // the housekeeping ping (node_metrics.go)
	healthy     atomic.Bool
	failures    atomic.Uint64
	lastFailure atomic.Int64
	logger      liveLogger
	stop        chan struct{}
	done        chan struct{}
}

// liveLogger is the logger of pooled state. A reload that changes the log
// output replaces it (App.Start) while goroutines log through it; a logger
// kept from the config that created the state would write to a file the
// running config no longer uses.
type liveLogger struct{ p atomic.Pointer[zap.Logger] }

// Set replaces the logger; nil discards.
func (l *liveLogger) Set(logger *zap.Logger) {
	if logger == nil {
		logger = zap.NewNop()
	}
	l.p.Store(logger)
}

// Get returns the logger in force.
func (l *liveLogger) Get() *zap.Logger {
	if logger := l.p.Load(); logger != nil {
		return logger
	}
	return zap.NewNop()
}

func (l *liveLogger) Warn(msg string, fields ...zap.Field)  { l.Get().Warn(msg, fields...) }
func (l *liveLogger) Error(msg string, fields ...zap.Field) { l.Get().Error(msg, fields...) }

// loadBackend takes a hold on the backend for key, opening it with the
// given settings if no config holds it yet. A backend that already exists
// is not touched: it serves the running config until this one starts.
func loadBackend(ctx context.Context, key string, sb stores.Backend, sc session.Config, rotate time.Duration, logger *zap.Logger) (*backend, error) {
	v, _, err := backends.LoadOrNew(key, func() (caddy.Destructor, error) {
		return openBackend(ctx, sb, sc, rotate, logger)
	})
	if err != nil {
		return nil, err
	}
	b, ok := v.(*backend)
	if !ok {
		return nil, fmt.Errorf("frontdoor: pooled backend has type %T", v)
	}
	return b, nil
}

func openBackend(ctx context.Context, sb stores.Backend, sc session.Config, rotate time.Duration, logger *zap.Logger) (*backend, error) {
	stores, err := sb.OpenStores(ctx)
	if err != nil {
		return nil, err
	}
	clk := clock.New()
	ring, err := session.NewKeyRing(ctx, stores.Sessions, rotate, session.AssertionTTL+5*time.Minute, clk.Now)
	if err != nil {
		stores.Close()
		return nil, err
	}
	defense, err := openDefender(ctx, stores, clk)
	if err != nil {
		stores.Close()
		return nil, err
	}
	erasureKey, err := stores.Sessions.Secret(ctx, "erasure-key", func() ([]byte, error) {
		k := make([]byte, 32)
		_, err := rand.Read(k)
		return k, err
	})
	if err != nil {
		stores.Close()
		return nil, fmt.Errorf("frontdoor: erasure key: %w", err)
	}
	b := &backend{
		erasureKey: erasureKey,
		clock:      clk,
		defense:    defense,
		stores:     stores,
		identity:   stores.Identity,
		consent:    stores.Consent,
		sessions:   session.NewManager(stores.Sessions, sc, clk.Now),
		assertions: session.NewAssertions(ring),
		kind:       storeKind(sb.StoreKey()),
		later:      newWriteBehind(writeBehindWorkers, writeBehindQueue, writeBehindTimeout),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	b.clients = &clientRegistry{b: b}
	b.pingSeconds = newPingHistogram(b.kind)
	b.riskDecisions.since = clk.Now().UTC()
	if b.dpopSeen = stores.Seen; b.dpopSeen == nil {
		b.dpopSeen = botdefense.NewMemorySeen()
	}
	b.logger.Set(logger)
	b.healthy.Store(true)
	b.events = b.newEventBus()
	b.recent.now = clk.Now
	b.events.onEvent = append(b.events.onEvent, b.recent.noteEvent)
	b.decisions.onNote = b.recent.noteDecision
	var deliver context.Context
	deliver, b.eventsStop = context.WithCancel(context.Background())
	b.eventsDone = make(chan struct{})
	go func() {
		defer close(b.eventsDone)
		b.events.deliverer.Run(deliver)
	}()
	go b.housekeeping()
	return b, nil
}

// housekeeping rotates signing keys, sweeps expired records and tracks the
// store's health.
// openDefender builds the edge defences over the stores' state (this
// process's memory when the store keeps none). The key signing challenges
// is a store secret, the same on every node.
func openDefender(ctx context.Context, stores *storeopen.Stores, clk *clock.Clock) (*botdefense.Defender, error) {
	key, err := stores.Sessions.Secret(ctx, "pow-key", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("frontdoor: challenge key: %w", err)
	}
	counter, blocks, seen := stores.Counter, stores.Blocks, stores.Seen
	if counter == nil {
		counter = botdefense.NewMemoryCounter()
	}
	if blocks == nil {
		blocks = botdefense.NewMemoryBlocks()
	}
	if seen == nil {
		seen = botdefense.NewMemorySeen()
	}
	return botdefense.NewDefender(counter, blocks, seen, key, clk.Now), nil
}

func (b *backend) housekeeping() {
	defer close(b.done)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	const sweepEvery, rotateEvery = 10 * time.Minute, time.Minute
	// Everything below ends when the backend does: a sweep of millions of
	// sessions must not hold up a stop or a reload.
	running, stopped := context.WithCancel(context.Background())
	defer stopped()
	go func() {
		<-b.stop
		stopped()
	}()
	// The first sweep waits a minute or two (spread across nodes), so
	// start-up — and the first requests — never share the machine with a
	// read of every session.
	// How often the chores run is wall time (a moved clock must not make
	// them run back to back, or stop); what they judge expired is the
	// backend's clock.
	lastSweep := time.Now().Add(-sweepEvery + time.Minute + mrand.N(time.Minute))
	var lastRotate time.Time
	surging := false
	for {
		b.watchSurge(&surging)
		ctx, cancel := context.WithTimeout(running, 30*time.Second)
		b.pingStore(ctx)
		if time.Since(lastRotate) >= rotateEvery {
			lastRotate = time.Now() // the chores' schedule: wall time (above)
			// Refresh too: another node may have rotated.
			if err := b.assertions.Ring().MaybeRotate(ctx); err != nil {
				b.logger.Error("rotating assertion keys", zap.Error(err))
			}
		}
		cancel()
		b.eraseDue(running)
		b.decisionLog.flush(b.logger.Get(), b.clock.Now())
		if b.stores.Sweep != nil && time.Since(lastSweep) >= sweepEvery {
			lastSweep = time.Now() // the chores' schedule: wall time (above)
			// Its own bound: a large store takes longer than a ping.
			ctx, cancel := context.WithTimeout(running, sweepEvery/2)
			if err := b.stores.Sweep(ctx, b.clock.Now(), b.sessions.Config().Idle); err != nil && running.Err() == nil {
				b.logger.Error("sweeping expired records", zap.Error(err))
			}
			cancel()
		}
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
	}
}

// Destruct implements caddy.Destructor.
func (b *backend) Destruct() error {
	close(b.stop)
	<-b.done
	b.later.Close() // queued sign-ups reach the store before it closes
	// A delivery cut short here is made again by the next holder.
	b.eventsStop()
	<-b.eventsDone
	return b.stores.Close()
}

// hasherValue pools the argon2id hasher, so hashing slots are bounded
// process-wide, across sites and reloads.
type hasherValue struct{ *identity.Hasher }

func (hasherValue) Destruct() error { return nil }

func loadHasher(p identity.Argon2Params, concurrency int) (*identity.Hasher, string, error) {
	key := fmt.Sprintf("argon2id:m=%d,t=%d,p=%d,c=%d", p.MemoryKiB, p.Iterations, p.Parallelism, concurrency)
	v, _, err := hashers.LoadOrNew(key, func() (caddy.Destructor, error) {
		h, err := identity.NewHasher(p, concurrency)
		if err != nil {
			return nil, fmt.Errorf("frontdoor: password: %w", err)
		}
		return hasherValue{h}, nil
	})
	if err != nil {
		return nil, "", err
	}
	hv, ok := v.(hasherValue)
	if !ok {
		return nil, "", fmt.Errorf("frontdoor: pooled hasher has type %T", v)
	}
	return hv.Hasher, key, nil
}
