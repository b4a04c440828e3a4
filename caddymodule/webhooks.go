package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/internal/cfgargs"
	"github.com/frontdoorhq/frontdoor/internal/urlcheck"
)

// WebhookConfig is one receiver of events (global option webhook).
type WebhookConfig struct {
	// Name names the webhook in the admin API, metrics and the store
	// (letters, digits, '_' and '-'; unique).
	Name string `json:"name"`
	// URL receives the events: https, or http to a loopback address.
	URL string `json:"url"`
	// Secret signs every delivery (Standard Webhooks: whsec_ and base64
	// of 24–64 bytes); placeholders such as {env.CRM_WEBHOOK_SECRET} are
	// expanded.
	Secret string `json:"secret"`
	// Events are the types delivered: types or patterns such as
	// customer.* (default: every type).
	Events []string `json:"events,omitempty"`
	// IncludeEmail adds the customer's address to each event delivered
	// (looked up at delivery; default off: events name customers by id).
	IncludeEmail bool `json:"include_email,omitempty"`
	// Timeout bounds one delivery attempt (default 10s).
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// MaxBacklog bounds the events waiting for the receiver (default
	// 1,000,000); past it new events are dropped and counted
	// (frontdoor_webhook_deliveries_total{result="dropped"}).
	MaxBacklog int `json:"max_backlog,omitempty"`
}

// parseWebhook reads
//
//	webhook <name> <url> {
//		secret <whsec_…>
//		events <type|pattern>…
//		include_email
//		timeout <duration>
//		max_backlog <n>
//	}
func parseWebhook(d *caddyfile.Dispenser, prev []*WebhookConfig) (*WebhookConfig, error) {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return nil, d.Errf("frontdoor: webhook takes a name and a URL: webhook crm https://crm.internal/hooks/frontdoor { secret …; events … }")
	}
	w := &WebhookConfig{Name: args[0], URL: args[1]}
	// Checks of the whole block name the webhook's own line.
	line := d.Line()
	errAt := func(format string, a ...any) error {
		return fmt.Errorf("%s, at %s:%d", fmt.Sprintf(format, a...), d.File(), line)
	}
	for _, p := range prev {
		if p.Name == w.Name {
			return nil, d.Errf("frontdoor: webhook %q is declared twice", w.Name)
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "secret":
			if !d.AllArgs(&w.Secret) {
				return nil, d.Errf("frontdoor: webhook %s: secret takes one value, e.g. secret {env.CRM_WEBHOOK_SECRET}", w.Name)
			}
		case "events":
			w.Events = append(w.Events, d.RemainingArgs()...)
			if _, err := events.ParseFilter(w.Events); err != nil || len(w.Events) == 0 {
				if err == nil {
					err = errors.New("events: name at least one type or pattern")
				}
				return nil, d.Errf("frontdoor: webhook %s: %v", w.Name, err)
			}
		case "include_email":
			if d.NextArg() {
				return nil, d.Errf("frontdoor: webhook %s: include_email takes no value", w.Name)
			}
			w.IncludeEmail = true
		case "timeout":
			if err := cfgargs.Duration(d, &w.Timeout); err != nil {
				return nil, err
			}
		case "max_backlog":
			if err := cfgargs.Int(d, &w.MaxBacklog); err != nil {
				return nil, err
			}
			if w.MaxBacklog < 1 {
				return nil, d.Errf("frontdoor: webhook %s: max_backlog is at least 1", w.Name)
			}
		default:
			return nil, d.Errf("frontdoor: webhook %s: unknown option %q (secret, events, include_email, timeout, max_backlog)", w.Name, opt)
		}
	}
	if w.Secret == "" {
		return nil, errAt("frontdoor: webhook %s needs a secret (make one: echo whsec_$(openssl rand -base64 32))", w.Name)
	}
	if err := checkWebhookURL(w.URL); err != nil {
		return nil, errAt("frontdoor: webhook %s: %v", w.Name, err)
	}
	if !events.ValidName(w.Name) {
		return nil, errAt("frontdoor: webhook name %q: use 1–64 letters, digits, '_' or '-'", w.Name)
	}
	return w, nil
}

// checkWebhookURL allows https, and http only to this machine (a
// receiver beside the gateway): events travel signed but not encrypted
// otherwise.
func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.User != nil {
		return errors.New("the URL must not hold credentials: the secret signs every delivery")
	}
	switch {
	case urlcheck.SecureOrLoopback(u):
		return nil
	case u.Scheme == "http":
		return errors.New("use https (http only to a loopback address)")
	}
	return fmt.Errorf("scheme %q: use https", u.Scheme)
}

// provisionWebhooks checks the webhooks and builds their settings.
func (a *App) provisionWebhooks() error {
	repl := caddy.NewReplacer()
	seen := map[string]bool{}
	a.webhooks = nil
	for _, w := range a.Webhooks {
		if !events.ValidName(w.Name) || seen[w.Name] {
			return fmt.Errorf("frontdoor: webhook name %q: use 1–64 letters, digits, '_' or '-', each once", w.Name)
		}
		seen[w.Name] = true
		if err := checkWebhookURL(w.URL); err != nil {
			return fmt.Errorf("frontdoor: webhook %s: %w", w.Name, err)
		}
		secret, err := events.ParseSecret(repl.ReplaceKnown(w.Secret, ""))
		if err != nil {
			return fmt.Errorf("frontdoor: webhook %s: %w", w.Name, err)
		}
		filter, err := events.ParseFilter(w.Events)
		if err != nil {
			return fmt.Errorf("frontdoor: webhook %s: %w", w.Name, err)
		}
		a.webhooks = append(a.webhooks, &events.Webhook{Name: w.Name, URL: w.URL, Secret: secret, Filter: filter,
			IncludeEmail: w.IncludeEmail, Timeout: time.Duration(w.Timeout), MaxBacklog: w.MaxBacklog})
	}
	return nil
}

// Admin API of the webhooks, on Caddy's admin endpoint (loopback only):
//
//	GET  /frontdoor/webhooks                         each webhook: URL, events, backlog, dead letters, this node's counts
//	GET  /frontdoor/webhooks/<name>/dead             its dead letters (the events and why they failed)
//	POST /frontdoor/webhooks/<name>/redeliver        dead letters back to the queue: {"ids": ["evt_…"]} or {} for all
func webhookRoutes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/frontdoor/webhooks", Handler: caddy.AdminHandlerFunc(serveWebhooks)},
		{Pattern: "/frontdoor/webhooks/", Handler: caddy.AdminHandlerFunc(serveWebhook)},
	}
}

// webhookView is a webhook as the admin API shows it (never its secret).
type webhookView struct {
	Name         string   `json:"name"`
	URL          string   `json:"url"`
	Events       []string `json:"events"`
	IncludeEmail bool     `json:"include_email,omitempty"`
	Store        string   `json:"store"`
	Backlog      int      `json:"backlog"`
	DeadLetters  int      `json:"dead_letters"`
	Delivered    uint64   `json:"delivered"`
	Failed       uint64   `json:"failed"`
	LastError    string   `json:"last_error,omitempty"`
}

func serveWebhooks(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed("GET")
	}
	out := []webhookView{}
	for _, b := range defenders() {
		for _, h := range b.events.deliverer.Webhooks() {
			pending, dead, err := b.stores.Outbox.Counts(r.Context(), h.Name)
			if err != nil {
				return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
			}
			st := b.events.deliverer.StatsOf(h.Name)
			v := webhookView{Name: h.Name, URL: redactURL(h.URL), Events: h.Filter, IncludeEmail: h.IncludeEmail, Store: b.kind,
				Backlog: pending, DeadLetters: dead, Delivered: st.Delivered.Load(), Failed: st.Failed.Load()}
			if v.Events == nil {
				v.Events = []string{"*"}
			}
			if e := st.LastError.Load(); e != nil {
				v.LastError = *e
			}
			out = append(out, v)
		}
	}
	return writeAdminJSON(w, map[string]any{"webhooks": out})
}

// redactURL drops a URL's query, which may hold a receiver's token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

// webhookNamed finds the backend and webhook of a name.
func webhookNamed(name string) (*backend, *events.Webhook, error) {
	for _, b := range defenders() {
		for _, h := range b.events.deliverer.Webhooks() {
			if h.Name == name {
				return b, h, nil
			}
		}
	}
	return nil, nil, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no webhook is named %q", name)}
}

func serveWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	name, sub, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/frontdoor/webhooks/"), "/")
	b, h, err := webhookNamed(name)
	if err != nil {
		return err
	}
	switch sub {
	case "dead":
		if r.Method != http.MethodGet {
			return methodNotAllowed("GET")
		}
		dead, err := b.stores.Outbox.Dead(r.Context(), h.Name, events.MaxDead)
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
		}
		if dead == nil {
			dead = []events.Delivery{}
		}
		return writeAdminJSON(w, map[string]any{"webhook": h.Name, "dead_letters": dead})
	case "redeliver":
		if r.Method != http.MethodPost {
			return methodNotAllowed("POST")
		}
		var body struct {
			IDs []string `json:"ids"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New(`body: {"ids": ["evt_…"]}, or {} for every dead letter`)}
		}
		n, err := b.stores.Outbox.Revive(r.Context(), h.Name, body.IDs)
		if err != nil {
			return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
		}
		b.events.deliverer.Kick(h.Name)
		return writeAdminJSON(w, map[string]any{"webhook": h.Name, "requeued": n})
	}
	return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no such path: %s (want /frontdoor/webhooks/<name>/dead or …/redeliver)", r.URL.Path)}
}
