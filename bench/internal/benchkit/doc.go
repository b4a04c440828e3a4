// Package benchkit is what Frontdoor's loopback benchmarks share: the
// frame of a benchmark's run (Ctrl-C handling, building bin/frontdoor, a
// temporary directory, the command line for the report), starting the
// gateway on a Caddyfile in that directory and waiting until it answers
// (or timing that itself), reading the gateway's admin API and metrics,
// reading a process's CPU time and memory from /proc, and a browser-like
// HTTP client that registers through the real flows (form CSRF token,
// .eml verification link) and signs in.
//
// It must stay a test harness: loopback only, no product logic, and
// nothing a benchmark reports is computed here. The mail and browser
// parts build on every platform (bench/peers' mint uses them); the rest
// is Linux only.
package benchkit
