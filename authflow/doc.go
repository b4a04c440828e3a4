// Package authflow holds the customer journeys as plain Go: sign-up and
// email confirmation, password sign-in, email link and code, password
// reset, the second factor (the wait, remembered browsers, attempts and
// limits, AMR/ACR, starting the session), passkey ceremonies, step-up
// evaluation, account changes, consent (the sign-up's answers, the
// prompt, the account page's give and withdraw, Global Privacy Control:
// consent.go) — and, as they land, SSO and profile prompts.
//
// Each journey is a method of Flows taking a typed input and returning a
// typed outcome ("signed in", "second factor due", "link expired", "the
// same answer for every address", …) or an error for what failed
// underneath (a store, the hashing queue). What a journey needs of the
// packages below it is a small interface declared here, on the consumer's
// side: Customers, Tokens, Sessions, Events, Hasher, Notifier, Queue,
// FailureLimit, ConsentRecords, and one injected Clock, so every journey runs in tests
// without Caddy, over the real bbolt and Redis stores.
//
// authflow must not import Caddy or net/http (a test checks), nor be
// imported by identity, session, botdefense or consent. Words the
// customer reads are not here: outcomes carry reasons, and the HTTP side
// (caddymodule) renders them.
package authflow
