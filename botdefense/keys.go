package botdefense

import (
	"crypto/sha256"
	"encoding/hex"
)

// Counter keys and offender keys of an attempt. Addresses are read by
// ClientKey and Prefix (signals.go); accounts are hashed, so no email
// reaches a counter key, a log line or the offender table.

func hashKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}

// counterKey names a limit's counter for an attempt; "" when the attempt
// has nothing to count by in that dimension.
func counterKey(l Limit, a *Attempt) string {
	base := "l|" + l.Route + "|" + l.Dimension + "|"
	switch l.Dimension {
	case DimIP:
		return base + a.client
	case DimPrefix:
		return base + a.prefix
	case DimAccount:
		if a.Account == "" {
			return ""
		}
		return base + hashKey(a.Account)
	case DimRoute:
		return base + a.Site
	case DimKey:
		if a.Key == "" {
			return ""
		}
		return base + hashKey(a.Key)
	case DimClient:
		if a.ClientID == "" {
			return ""
		}
		return base + hashKey(a.ClientID)
	}
	return base
}

// AccountKey names an account in decisions, logs and the offender
// table: "account " and the first 24 hex digits of the SHA-256 of the
// normalised email (printf %s "$email" | sha256sum | cut -c1-24), never
// the email itself.
func AccountKey(account string) string { return "account " + hashKey(account) }

func offenderKey(l Limit, a *Attempt) string {
	switch l.Dimension {
	case DimIP:
		return "ip " + a.client
	case DimPrefix:
		return "prefix " + a.prefix
	case DimAccount:
		return AccountKey(a.Account)
	case DimRoute:
		return "route " + a.Site + " " + l.Route
	case DimKey:
		return "key " + a.Key
	case DimClient:
		return "client " + a.ClientID
	}
	return "global " + l.Route
}
