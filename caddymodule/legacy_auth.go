package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/internal/legacyauth"
)

// Lazy migration (legacy_auth in a site's frontdoor block): a password
// sign-in for an address Frontdoor does not know asks the legacy service
// (authflow/legacy.go decides what comes of the answer; the signed
// exchange and its guards are internal/legacyauth's). Here: the option,
// its checks, the client kept across reloads, and the counts.

// LegacyAuthConfig is a site's legacy_auth option.
type LegacyAuthConfig struct {
	// URL is the legacy service's verification endpoint: https, or plain
	// http to a loopback host (a sidecar, a test double).
	URL string `json:"url"`
	// Secret is the HMAC-SHA256 key shared with the service, at least 16
	// bytes. Placeholders ({env.LEGACY_SECRET}, {file./run/secrets/x}) are
	// expanded at start-up: write it so, and the secret never sits in the
	// config.
	Secret string `json:"secret"`
	// Timeout bounds one call, the answer read (default 2s, at most 10s).
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// parseLegacyAuth reads a site's legacy_auth option:
//
//	legacy_auth https://legacy.internal/verify {
//		secret {env.LEGACY_SECRET}
//		timeout 2s
//	}
func parseLegacyAuth(d *caddyfile.Dispenser) (*LegacyAuthConfig, error) {
	// Its own dispenser, so an error found after the block can point at
	// the option's first line.
	sd := caddyfile.NewDispenser(d.NextSegment())
	sd.Next()
	lc := &LegacyAuthConfig{}
	if !sd.NextArg() {
		return nil, sd.Errf("frontdoor: legacy_auth needs the legacy service's URL, e.g. legacy_auth https://legacy.internal/verify { secret {env.LEGACY_SECRET} }")
	}
	lc.URL = sd.Val()
	if sd.NextArg() {
		return nil, sd.Errf("frontdoor: legacy_auth takes one URL, got also %q", sd.Val())
	}
	if !strings.Contains(lc.URL, "{") {
		if err := legacyauth.CheckURL(lc.URL); err != nil {
			return nil, sd.Errf("frontdoor: legacy_auth: %v", err)
		}
	}
	for sd.NextBlock(0) {
		switch opt := sd.Val(); opt {
		case "secret":
			if lc.Secret != "" {
				return nil, sd.Errf("frontdoor: legacy_auth: secret is set twice")
			}
			if !sd.AllArgs(&lc.Secret) {
				return nil, sd.Errf("frontdoor: legacy_auth: secret needs one value, e.g. secret {env.LEGACY_SECRET}")
			}
			if !strings.Contains(lc.Secret, "{") && len(lc.Secret) < legacyauth.MinSecretBytes {
				return nil, sd.Errf("frontdoor: legacy_auth: the secret has %d bytes, at least %d needed (e.g. openssl rand -hex 32)", len(lc.Secret), legacyauth.MinSecretBytes)
			}
		case "timeout":
			var v string
			if !sd.AllArgs(&v) {
				return nil, sd.Errf("frontdoor: legacy_auth: timeout needs one duration, e.g. timeout 2s")
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return nil, sd.Errf("frontdoor: legacy_auth: timeout %q is not a duration (e.g. 2s)", v)
			}
			if err := checkLegacyTimeout(dur); err != nil {
				return nil, sd.Errf("frontdoor: legacy_auth: %v", err)
			}
			lc.Timeout = caddy.Duration(dur)
		default:
			return nil, sd.Errf("frontdoor: legacy_auth: unknown option %q (secret, timeout)", opt)
		}
	}
	if lc.Secret == "" {
		sd.Reset()
		sd.Next()
		return nil, sd.Errf("frontdoor: legacy_auth needs the secret shared with the legacy service: secret {env.LEGACY_SECRET} in its block")
	}
	return lc, nil
}

// checkLegacyTimeout checks a timeout written in the config: 0 means the
// default only when left out.
func checkLegacyTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("timeout %v: between %v and %v", d, legacyauth.MinTimeout, legacyauth.MaxTimeout)
	}
	return legacyauth.CheckTimeout(d)
}

// legacyClients pools the clients of the legacy services, so a reload
// keeps their breakers and their memory of refusals (and their
// connections). Keyed by what shapes a client: URL, timeout, and a hash
// of the secret.
var legacyClients = caddy.NewUsagePool()

// legacyValue is one pooled client; logger is the running config's (for
// the breaker's changes).
type legacyValue struct {
	client *legacyauth.Client
	url    string
	logger liveLogger
}

// Destruct implements caddy.Destructor.
func (v *legacyValue) Destruct() error {
	v.client.Close()
	return nil
}

// provisionLegacy checks the option and takes a hold on its client (a
// JSON config bypasses parseLegacyAuth: everything is checked again, the
// placeholders expanded).
func (h *Handler) provisionLegacy() error {
	lc := h.LegacyAuth
	if lc == nil {
		return nil
	}
	repl := caddy.NewReplacer()
	url, secret := repl.ReplaceKnown(lc.URL, ""), repl.ReplaceKnown(lc.Secret, "")
	if err := legacyauth.CheckURL(url); err != nil {
		return fmt.Errorf("frontdoor: legacy_auth: %w", err)
	}
	timeout := time.Duration(lc.Timeout)
	if timeout == 0 {
		timeout = legacyauth.DefaultTimeout
	}
	if err := checkLegacyTimeout(timeout); err != nil {
		return fmt.Errorf("frontdoor: legacy_auth: %w", err)
	}
	switch {
	case lc.Secret == "":
		return fmt.Errorf("frontdoor: legacy_auth: the secret is empty; it is shared with the legacy service (secret {env.LEGACY_SECRET})")
	case secret == "":
		return fmt.Errorf("frontdoor: legacy_auth: the secret is empty (is the variable of %s set?)", lc.Secret)
	case len(secret) < legacyauth.MinSecretBytes:
		return fmt.Errorf("frontdoor: legacy_auth: the secret has %d bytes, at least %d needed", len(secret), legacyauth.MinSecretBytes)
	}
	sum := sha256.Sum256([]byte(secret))
	key := fmt.Sprintf("legacy_auth|%s|%d|%s", url, timeout, hex.EncodeToString(sum[:8]))
	v, _, err := legacyClients.LoadOrNew(key, func() (caddy.Destructor, error) {
		lv := &legacyValue{url: url}
		c, err := legacyauth.New(legacyauth.Config{URL: url, Secret: []byte(secret), Timeout: timeout, OnBreaker: lv.breakerChanged})
		if err != nil {
			return nil, fmt.Errorf("frontdoor: legacy_auth: %w", err)
		}
		lv.client = c
		return lv, nil
	})
	if err != nil {
		return err
	}
	lv, ok := v.(*legacyValue)
	if !ok {
		_, _ = legacyClients.Delete(key)
		return fmt.Errorf("frontdoor: pooled legacy_auth client has type %T", v)
	}
	lv.logger.Set(h.logger)
	h.legacy, h.legacyKey = lv, key
	return nil
}

// breakerChanged logs the breaker's changes (only those: an outage is two
// lines, not one per sign-in).
func (v *legacyValue) breakerChanged(open bool) {
	if open {
		v.logger.Warn("legacy_auth: the legacy service failed repeatedly; not asking it for a while (unknown addresses are answered as a wrong password meanwhile)",
			zap.String("url", v.url), zap.Int("failures_in_a_row", legacyauth.BreakerThreshold), zap.Duration("cool_down", legacyauth.BreakerCooldown))
		return
	}
	v.logger.Get().Info("legacy_auth: the legacy service answers again", zap.String("url", v.url))
}

// releaseLegacy lets go of the site's hold on its client.
func (h *Handler) releaseLegacy() error {
	if h.legacyKey == "" {
		return nil
	}
	key := h.legacyKey
	h.legacyKey, h.legacy = "", nil
	_, err := legacyClients.Delete(key)
	return err
}

// legacyAuth is the journeys' legacy system: nil (no interface value at
// all) without the option.
func (h *Handler) legacyAuth() authflow.LegacyAuth {
	if h.legacy == nil {
		return nil
	}
	return siteLegacy{h: h, v: h.legacy}
}

// siteLegacy is the site's legacy service as authflow.LegacyAuth: the
// backend's clock, and the counts.
type siteLegacy struct {
	h *Handler
	v *legacyValue
}

func (s siteLegacy) Verify(ctx context.Context, email, password string) (authflow.LegacyAccount, bool, error) {
	b := s.h.app.backend
	acct, res, err := s.v.client.Verify(ctx, b.clock.Now, email, password)
	if res != legacyauth.Accepted {
		b.legacyCounts.add(res.Label())
		return authflow.LegacyAccount{}, false, err
	}
	// A yes is counted once the customer exists (Migrated).
	return authflow.LegacyAccount{EmailVerified: acct.EmailVerified, Name: acct.Name, CreatedAt: acct.CreatedAt}, true, nil
}

func (s siteLegacy) Migrated(context.Context, string) {
	s.h.app.backend.legacyCounts.add(legacyMigrated)
}

// legacyMigrated is the label of a customer created from a legacy
// answer.
const legacyMigrated = "migrated"

// legacyResults are the result labels of frontdoor_legacy_auth_total, in
// the order they are exported: bounded, every one exported from the
// start.
var legacyResults = [...]string{
	legacyMigrated,
	legacyauth.Refused.Label(),
	legacyauth.Failed.Label(),
	legacyauth.SkippedOpen.Label(),
	legacyauth.SkippedRecent.Label(),
	legacyauth.SkippedBusy.Label(),
}

// legacyCounts counts what came of asking legacy services (a backend's,
// for every site on it).
type legacyCounts struct {
	n [len(legacyResults)]atomic.Uint64
}

func (c *legacyCounts) add(result string) {
	for i, r := range legacyResults {
		if r == result {
			c.n[i].Add(1)
			return
		}
	}
}

var legacyDesc = prometheus.NewDesc("frontdoor_legacy_auth_total",
	"Password sign-ins of addresses Frontdoor did not know, by what the legacy service made of them: migrated (a customer created), "+
		"refused (the service said no), error (no valid answer: timeout, error status, unsigned or stale answer), "+
		"skipped_open_breaker, skipped_recent (refused lately), skipped_busy (too many calls out).", []string{"result"}, nil)

// Describe implements prometheus.Collector.
func (c *legacyCounts) Describe(ch chan<- *prometheus.Desc) { ch <- legacyDesc }

// Collect implements prometheus.Collector.
func (c *legacyCounts) Collect(ch chan<- prometheus.Metric) {
	for i, r := range legacyResults {
		ch <- prometheus.MustNewConstMetric(legacyDesc, prometheus.CounterValue, float64(c.n[i].Load()), r)
	}
}
