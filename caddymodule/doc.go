// Package caddymodule is the Caddy glue of Frontdoor: the frontdoor app
// (global options and state shared across config reloads), the frontdoor
// HTTP handler, Caddyfile parsing, the HTTP endpoints and HTML pages, and
// admin API routes. Business rules live in identity, session, botdefense and
// consent; this package only wires them to HTTP.
package caddymodule
