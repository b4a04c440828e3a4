// Package stores holds Frontdoor's storage modules, in the Caddy namespace
// frontdoor.stores: frontdoor.stores.bolt (the embedded default, one bbolt
// file) and frontdoor.stores.redis (one server, Sentinel or Redis Cluster,
// for several gateway nodes). A module parses its JSON or Caddyfile
// configuration (`store bolt <path>`, `store redis <url> { … }` in the
// frontdoor global options) and opens the storage through package
// storeopen, which does the work without Caddy.
//
// Importing this package registers the modules; caddymodule's frontdoor app
// loads the configured one through the Backend interface.
//
// It must not hold business rules (identity, session and botdefense own
// them) or know about HTTP.
package stores
