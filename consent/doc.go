// Package consent will own versioned consent purposes, consent records,
// data export, erasure and the per-customer audit log.
//
// It must not render pages itself. Nothing is implemented yet: see the
// consent and self-service issues.
package consent
