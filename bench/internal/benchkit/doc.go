// Package benchkit is what Frontdoor's loopback benchmarks share: building
// bin/frontdoor, starting it on a Caddyfile in a temporary directory and
// waiting until it answers, reading the gateway's admin API and metrics,
// reading a process's CPU time and peak memory from /proc, and a
// browser-like HTTP client that registers through the real flows (form
// CSRF token, .eml verification link) and signs in.
//
// It must stay a test harness: loopback only, no product logic, and
// nothing a benchmark reports is computed here.
package benchkit
