// Package legacyauth asks a legacy sign-in service whether a password is
// an address's, for lazy migration (the site option legacy_auth): the
// signed HTTP exchange (Sign, Check), and the guards that keep the
// service from being hammered or from slowing sign-ins — a circuit
// breaker, a short per-node memory of refusals, a bound on calls in
// flight (Client).
//
// The wire format, both ways: a JSON body, the header
// X-Frontdoor-Timestamp holding unix seconds, and the header
// X-Frontdoor-Signature holding v1=<hex HMAC-SHA256(secret,
// timestamp "." body)>. The request's body is {"email", "password",
// "nonce"}; the answer is 200 with {"ok", "nonce", "email_verified",
// "name", "created_at"}, its nonce the request's.
//
// It knows nothing of customers, stores, Caddy or pages: caddymodule
// configures a Client and hands it to the journeys (authflow.LegacyAuth).
// It never logs; what it returns never holds the password or the secret.
package legacyauth
