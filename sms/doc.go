// Package sms sends text messages and reads phone numbers: the Message a
// journey hands over (its one-time code named, so every sender and log can
// keep the code out of logs), the Sender interface and its three senders
// — LogSender (development: the log, with codes withheld), DirSender (one
// file per message, for development and tests) and HTTPSender (a
// provider's API: a Twilio-compatible form post, or a JSON webhook signed
// by the Standard Webhooks specification) — a bounded Queue that sends
// off the request path with retries, and ParseNumber, which turns what a
// customer typed into an E.164 number with its region and calling code
// (github.com/nyaruka/phonenumbers).
//
// No code ever reaches a log from this package: LogSender replaces it,
// the queue logs kind, masked number and message id only, and errors
// never carry the text, the code, an auth token or a secret.
//
// The package does not import Caddy or know about customers: caddymodule
// configures the sender (module namespace frontdoor.sms) and owns the
// queue; the journeys decide what to send to whom.
package sms
