package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/identity"
)

// eventBus takes every event of a backend to its three outlets: the audit
// stream (the Caddy logger frontdoor.audit, one JSON object per line),
// the webhooks' outbox, and this node's counters (metrics, status page).
type eventBus struct {
	// audit is the running config's frontdoor.audit logger.
	audit     liveLogger
	deliverer *events.Deliverer
	// byType counts events by type (frontdoor_events_total).
	byType []atomic.Uint64
	// signIns counts sign-ins by method and result
	// (frontdoor_signins_total).
	signIns [len(signInMethods)][2]atomic.Uint64
	// onEvent hears of every event on this node, after the outlets
	// (the status page's series); set before the backend serves.
	onEvent []func(events.Event)
}

// eventTypes index events.Types for the counters.
var eventTypes = events.Types

var eventTypeIndex = func() map[string]int {
	m := make(map[string]int, len(eventTypes))
	for i, t := range eventTypes {
		m[t] = i
	}
	return m
}()

// signInMethods are the methods sign-ins are counted by (events.Method's
// answers); a failure's method is the stage that failed.
var signInMethods = [...]string{"password", "email_link", "passkey", "oidc", "sms", "second_factor", "other"}

func signInMethodIndex(m string) int {
	for i, s := range signInMethods {
		if s == m {
			return i
		}
	}
	return len(signInMethods) - 1
}

// nodeName names this process in webhook leases: the host and a random
// suffix (two processes on one host are two holders).
func nodeName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// newEventBus builds the bus over the backend's outbox; run starts its
// deliverer.
func (b *backend) newEventBus() *eventBus {
	d := events.NewDeliverer(b.stores.Outbox, nodeName(), b.clock.Now)
	d.OnError = func(msg string, err error) { b.logger.Warn(msg, zap.Error(err)) }
	d.Email = func(ctx context.Context, id string) (string, error) {
		c, err := b.identity.Customer(ctx, id)
		if errors.Is(err, identity.ErrNotFound) {
			return "", nil // erased since: the event goes without
		}
		if err != nil {
			return "", err
		}
		return c.Email, nil
	}
	return &eventBus{deliverer: d, byType: make([]atomic.Uint64, len(eventTypes))}
}

// eventWrite bounds keeping an event for the webhooks.
const eventWrite = 2 * time.Second

// publish sends e to the audit stream, the webhooks' outbox and the
// counters. Best effort: what the event records has happened, so a store
// that fails costs the webhooks that event (logged), never the request.
func (b *backend) publish(ctx context.Context, e events.Event) {
	if e.ID == "" {
		e.ID = events.NewID(e.Time)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eventWrite)
	err := b.events.deliverer.Publish(wctx, e)
	cancel()
	b.noteStore(err)
	if err != nil {
		b.logger.Warn("keeping an event for the webhooks", zap.String("id", e.ID), zap.String("type", e.Type), zap.Error(err))
	}
	b.announce(e)
}

// appendTrail records a trail entry of customer id and publishes its
// event: on a store that can (bolt), the entry and the event's webhook
// deliveries in one write, so the request pays one sync, not two.
func (b *backend) appendTrail(ctx context.Context, id string, e identity.Event, ev events.Event) error {
	combined := b.stores.AppendWithDeliveries
	if combined == nil {
		err := b.identity.AppendEvent(ctx, id, e)
		b.publish(ctx, ev)
		return err
	}
	names := b.events.deliverer.Targets(ev)
	if err := combined(ctx, id, e, names, ev); err != nil {
		// The trail entry is lost; the webhooks may still get the event.
		b.publish(ctx, ev)
		return err
	}
	b.events.deliverer.Added(names)
	b.announce(ev)
	return nil
}

// announce sends e to the audit stream and this node's counters.
func (b *backend) announce(e events.Event) {
	bus := b.events
	bus.count(e)
	fields := []zap.Field{zap.String("id", e.ID), zap.String("type", e.Type), zap.Time("timestamp", e.Time)}
	if e.Site != "" {
		fields = append(fields, zap.String("site", e.Site))
	}
	if e.Customer != "" {
		fields = append(fields, zap.String("customer_id", e.Customer))
	}
	if e.IP != "" {
		fields = append(fields, zap.String("ip", e.IP))
	}
	if e.UserAgent != "" {
		fields = append(fields, zap.String("user_agent", e.UserAgent))
	}
	if len(e.Data) > 0 {
		fields = append(fields, zap.Any("data", e.Data))
	}
	bus.audit.Get().Info("event", fields...)
	for _, fn := range bus.onEvent {
		fn(e)
	}
}

// siteEvents is a site's audit trail: each entry is recorded and
// published as its event (the site's) together (backend.appendTrail).
type siteEvents struct{ h *Handler }

// PublishesTrail marks siteEvents as publishing what it records.
func (siteEvents) PublishesTrail() {}

// AppendEvent implements authflow.Events.
func (s siteEvents) AppendEvent(ctx context.Context, id string, e identity.Event) error {
	b := s.h.app.backend
	ev, ok := events.FromTrail(id, e)
	if !ok || id == identity.ErasureLog {
		return b.identity.AppendEvent(ctx, id, e)
	}
	ev.Site = s.h.flows.Site
	return b.appendTrail(ctx, id, e, ev)
}

func (bus *eventBus) count(e events.Event) {
	if i, ok := eventTypeIndex[e.Type]; ok {
		bus.byType[i].Add(1)
	}
	switch e.Type {
	case events.SignInSucceeded:
		bus.signIns[signInMethodIndex(e.Data["method"])][0].Add(1)
	case events.SignInFailed:
		m := e.Data["stage"]
		if m != "second_factor" {
			m = "password"
		}
		bus.signIns[signInMethodIndex(m)][1].Add(1)
	}
}

var (
	eventsDesc = prometheus.NewDesc("frontdoor_events_total",
		"Events published on this node, by type.", []string{"type"}, nil)
	signInsDesc = prometheus.NewDesc("frontdoor_signins_total",
		"Sign-ins on this node by method and result (a failure's method is the stage that failed: password or second_factor).",
		[]string{"method", "result"}, nil)
	webhookDeliveriesDesc = prometheus.NewDesc("frontdoor_webhook_deliveries_total",
		"Webhook delivery attempts made by this node, by webhook and result (delivered, failed, dead; dropped: not kept, the backlog was full).", []string{"webhook", "result"}, nil)
	webhookBacklogDesc = prometheus.NewDesc("frontdoor_webhook_backlog",
		"Events waiting in a webhook's outbox (shared by every node on one store).", []string{"webhook"}, nil)
	webhookDeadDesc = prometheus.NewDesc("frontdoor_webhook_dead_letters",
		"Events a webhook gave up on after three days, waiting for an operator's redelivery.", []string{"webhook"}, nil)
)

// Describe implements prometheus.Collector.
func (bus *eventBus) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{eventsDesc, signInsDesc, webhookDeliveriesDesc, webhookBacklogDesc, webhookDeadDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Labels are bounded: event
// types, methods and the configured webhooks' names.
func (bus *eventBus) Collect(ch chan<- prometheus.Metric) {
	for i, t := range eventTypes {
		ch <- prometheus.MustNewConstMetric(eventsDesc, prometheus.CounterValue, float64(bus.byType[i].Load()), t)
	}
	for i, m := range signInMethods {
		for r, result := range []string{"succeeded", "failed"} {
			ch <- prometheus.MustNewConstMetric(signInsDesc, prometheus.CounterValue, float64(bus.signIns[i][r].Load()), m, result)
		}
	}
	for _, h := range bus.deliverer.Webhooks() {
		st := bus.deliverer.StatsOf(h.Name)
		ch <- prometheus.MustNewConstMetric(webhookDeliveriesDesc, prometheus.CounterValue, float64(st.Delivered.Load()), h.Name, "delivered")
		ch <- prometheus.MustNewConstMetric(webhookDeliveriesDesc, prometheus.CounterValue, float64(st.Failed.Load()), h.Name, "failed")
		ch <- prometheus.MustNewConstMetric(webhookDeliveriesDesc, prometheus.CounterValue, float64(st.Buried.Load()), h.Name, "dead")
		ch <- prometheus.MustNewConstMetric(webhookDeliveriesDesc, prometheus.CounterValue, float64(st.Dropped.Load()), h.Name, "dropped")
		ch <- prometheus.MustNewConstMetric(webhookBacklogDesc, prometheus.GaugeValue, float64(st.Pending.Load()), h.Name)
		ch <- prometheus.MustNewConstMetric(webhookDeadDesc, prometheus.GaugeValue, float64(st.Dead.Load()), h.Name)
	}
}

// watchSurge publishes defense.surge_started and defense.surge_ended as
// this node's edge defence starts and stops challenging everyone new.
func (b *backend) watchSurge(surging *bool) {
	now := b.defense.Surge()
	if now == *surging {
		return
	}
	*surging = now
	typ := events.SurgeEnded
	if now {
		typ = events.SurgeStarted
	}
	t := b.clock.Now().UTC()
	// Each node judges its own surge (its counters may be its memory):
	// the node says which one.
	b.publish(context.Background(), events.Event{ID: events.NewID(t), Type: typ, Time: t, Data: map[string]string{"node": b.events.deliverer.Holder}})
}
