// Package consent owns consent: the purposes an operator asks customers to
// agree to (versioned), the append-only records of each customer's answers,
// and the current state derived from them. Later it also owns data export,
// erasure and the per-customer audit log.
//
// Records are never edited or deleted. The only mutation is Anonymise, for
// erasure: it replaces the customer id in that customer's records with a
// keyed hash (Pseudonym), so the records remain as proof of what was agreed
// without naming anyone.
//
// It must not render pages itself, and knows nothing of HTTP or Caddy: the
// caller says where a record came from (site, client network prefix,
// user-agent family, see NetworkPrefix and UserAgentFamily) and how (How).
package consent
