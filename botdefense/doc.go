// Package botdefense owns Frontdoor's edge defences. A Defender decides on
// each attempt at a defended route (sign-in, sign-up, mail requests, typed
// codes, links, second factors, passkeys, Caddyfile challenge routes)
// before any expensive work is done for it: allow, limit (429 with a wait),
// block, refuse (a throw-away address under "refuse"), or ask for a
// proof-of-work challenge, harder as the risk grows.
//
//   - Rate limits per route by client address, network prefix, account,
//     site and globally (defender.go, counter.go), counted on ulule/limiter
//     stores: bounded memory on one node (memstore.go), Redis when nodes
//     share their counts. Second-factor and user-code account limits count
//     wrong answers only (failures.go).
//   - Proof-of-work challenges, signed, bound to the client and single use
//     (pow.go, seen_redis.go; the browser solver is solver.js), and passes
//     for Caddyfile challenge routes (pass.go).
//   - Risk signals: credential stuffing (many accounts from one address),
//     failure surges, registration velocity, throw-away mail domains,
//     scripted clients (signals.go).
//   - Block lists in memory or Redis (blocks.go) and the top offenders
//     (offenders.go), for the admin API.
//
// A Policy is one site's settings; it is replaced on a config reload while
// the Defender's counters, blocks and used solutions live on. The clock is
// injected (NewDefender) and handed on to what it owns, so windows and
// expiries are moved in tests.
//
// It must not know about customers beyond an opaque key: accounts are
// hashed before they reach a counter, a log line or the offender table.
// It knows no HTTP: caddymodule's route table says which request counts as
// which route and renders the answers.
package botdefense
