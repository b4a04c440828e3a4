// Package storeopen opens the storage systems Frontdoor runs on — a bbolt
// file or a Redis deployment — and returns the identity, session and
// edge-defence stores over them, with the gateway's own options (timeouts,
// retries, key prefix).
//
// It is the plain half of the store modules: the Caddy modules
// frontdoor.stores.bolt and frontdoor.stores.redis (package
// caddymodule/stores) parse their configuration and call it, and the
// benchmarks call it directly, so they measure the gateway's code without
// importing Caddy.
//
// It must not import Caddy or hold business rules: those live in identity,
// session and botdefense.
package storeopen
