// Package authflow holds the customer journeys as plain Go: sign-up and
// verification, password sign-in, and — as they move here from
// caddymodule — email links and codes, reset, the second factor, passkey
// ceremonies, step-up and account changes, then social sign-in, SSO,
// consent and profile prompts.
//
// Each journey is a method of Flows taking a typed input and returning a
// typed outcome ("signed up", "choose a password", "link expired", …) or
// an error for what failed underneath (a store, the hashing queue). What a
// journey needs of the packages below it is a small interface declared
// here, on the consumer's side: Customers, Tokens, Hasher, Notifier,
// Queue, and one injected Clock, so every journey runs in tests without
// Caddy, over the real bbolt and Redis stores.
//
// authflow must not import Caddy or net/http (a test checks), nor be
// imported by identity, session, botdefense or consent. Words the
// customer reads are not here: outcomes carry reasons, and the HTTP side
// (caddymodule) renders them.
package authflow
