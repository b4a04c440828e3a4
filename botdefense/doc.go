// Package botdefense will own Frontdoor's edge defences: rate limits
// (ulule/limiter; memory store on one node, Redis store in clusters),
// proof-of-work challenges, risk signals (credential stuffing, registration
// velocity, new device) and block lists, all tunable live.
//
// It must not know about customers beyond an opaque key. Nothing is
// implemented yet: see the edge-defence issue.
package botdefense
