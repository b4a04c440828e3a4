// Package caddymodule is the Caddy glue of Frontdoor: the frontdoor app
// (global options and state shared across config reloads), the frontdoor
// HTTP handler, Caddyfile parsing, the HTTP endpoints and HTML pages, and
// admin API routes. Business rules live in identity, session, botdefense and
// consent; this package only wires them to HTTP.
//
// The store modules (frontdoor.stores.bolt and frontdoor.stores.redis) are
// in the sub-package stores; the app loads the configured one through
// stores.Backend, and imports the package for its default, bbolt. The
// request authenticators (frontdoor.authenticators.*, the cookie session
// first) are in the sub-package authn; the handler asks them in order.
package caddymodule
