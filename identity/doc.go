// Package identity owns customers and their credentials: profiles, email
// verification, passwords (argon2id), one-time tokens, and the mailer that
// delivers verification mail. It defines the Store interface with its bbolt
// implementation; the shared behaviour suite in identity/storetest runs
// against every implementation.
//
// It must not know about HTTP or Caddy.
package identity
