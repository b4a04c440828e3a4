// Package events is Frontdoor's one model of what happens to a customer or
// a site — customer.created, signin.succeeded, consent.changed,
// defense.surge_started and the rest — and the machinery that takes each
// event to business systems: a durable outbox per webhook (a Redis stream
// or a bbolt bucket), a deliverer that posts each event once per webhook,
// signed by the Standard Webhooks specification, in order per customer,
// with exponential back-off for up to three days before a dead-letter
// list, and one deliverer per webhook across nodes (a lease in the store).
//
// An event never holds a secret: no password, token, code, cookie or
// assertion. It names the customer by id; an address is added at delivery
// time, and only for webhooks whose operator asked for it, so the outbox
// holds no address an erasure would have to find.
//
// The package does not import Caddy: caddymodule configures webhooks,
// publishes events and serves the admin API over it.
package events
