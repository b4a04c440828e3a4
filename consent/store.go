package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// Store keeps consent records. It has no way to edit or delete a record:
// Anonymise, for erasure, is the only change to what was appended.
type Store interface {
	// Append adds a record (Record.Validate must pass).
	Append(ctx context.Context, r Record) error
	// Records returns the customer's records in the order they were
	// appended; none is not an error.
	Records(ctx context.Context, customerID string) ([]Record, error)
	// Anonymise replaces the customer id in every record of that customer
	// with Pseudonym(key, customerID), keys included, so no record holds
	// the id afterwards; the records are then found under the pseudonym.
	// Running it again, or for a customer without records, does nothing.
	Anonymise(ctx context.Context, customerID string, key []byte) error
}

// Pseudonym is the keyed hash that replaces an erased customer's id in
// their consent records: HMAC-SHA256 of the id under key, in hex.
func Pseudonym(key []byte, customerID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(customerID))
	return hex.EncodeToString(m.Sum(nil))
}

// ErrNoKey: Anonymise needs a key, or the hash could be recomputed from
// the id by anyone.
var ErrNoKey = errors.New("consent: anonymise: empty key")

// anonymised returns the records with the customer id replaced.
func anonymised(rs []Record, pseudonym string) []Record {
	out := make([]Record, len(rs))
	for i, r := range rs {
		r.CustomerID = pseudonym
		out[i] = r
	}
	return out
}
