package authflow

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/identity"
)

// Personal API keys (identity/apikey.go): a customer makes one from the
// account page (a recent sign-in required, as for factor changes — the
// HTTP side checks that), sees it once, and revokes it; the edge finds a
// presented key's customer (AuthenticateAPIKey).

// CreateAPIKeyInput is the account page's form.
type CreateAPIKeyInput struct {
	CustomerID string
	Name       string
	// ExpiresDays: 0 is 90; at most 365.
	ExpiresDays int
	// Paths, Methods and Scopes limit what the key may do.
	Paths, Methods, Scopes []string
	Client                 Client
}

// Outcomes of API key journeys.
type (
	// APIKeyCreated: Secret is shown once, never again.
	APIKeyCreated struct {
		Secret string
		Key    identity.APIKey
	}
	// APIKeyRevoked: the key no longer works (at once here; on other
	// nodes once their cache of it expires).
	APIKeyRevoked struct{ Key identity.APIKey }
	// APIKeyValid: the presented key is Key of Customer.
	APIKeyValid struct {
		Customer *identity.Customer
		Key      identity.APIKey
	}
	// APIKeyRefused: not a key, unknown, revoked or expired (the caller
	// says only invalid_token, whichever).
	APIKeyRefused struct{ Reason string }
)

func (APIKeyCreated) outcome() {}
func (APIKeyRevoked) outcome() {}
func (APIKeyValid) outcome()   {}
func (APIKeyRefused) outcome() {}

// Reasons an API key form is refused.
var (
	ErrKeyName    = errors.New("give the key a name of 1 to 60 characters, so you can tell your keys apart")
	ErrKeyExpiry  = fmt.Errorf("a key works for 1 to %d days", int(identity.APIKeyMaxTTL/(24*time.Hour)))
	ErrKeyPath    = errors.New("each path starts with / and may end with * (such as /api/orders/*)")
	ErrKeyScope   = errors.New("each scope is letters, digits and : . _ - (such as orders:read)")
	ErrKeyMethod  = errors.New("methods are HTTP methods such as GET or POST")
	ErrKeyTooMany = fmt.Errorf("you have %d keys, the most an account may hold: revoke one first", identity.MaxAPIKeys)
)

// Limits on a key's lists.
const (
	maxKeyList  = 20
	maxKeyEntry = 200
)

// CreateAPIKey makes a key for the customer.
func (f *Flows) CreateAPIKey(ctx context.Context, in CreateAPIKeyInput) (Outcome, error) {
	fields := map[string]error{}
	name := strings.TrimSpace(in.Name)
	if name == "" || len([]rune(name)) > 60 || strings.ContainsFunc(name, unicode.IsControl) {
		fields["name"] = ErrKeyName
	}
	days := in.ExpiresDays
	if days == 0 {
		days = int(identity.APIKeyDefaultTTL / (24 * time.Hour))
	}
	if days < 1 || time.Duration(days)*24*time.Hour > identity.APIKeyMaxTTL {
		fields["expires_days"] = ErrKeyExpiry
	}
	paths, ok := cleanList(in.Paths, validKeyPath)
	if !ok {
		fields["path"] = ErrKeyPath
	}
	scopes, ok := cleanList(in.Scopes, validScope)
	if !ok {
		fields["scope"] = ErrKeyScope
	}
	methods, ok := cleanList(upper(in.Methods), validMethod)
	if !ok {
		fields["method"] = ErrKeyMethod
	}
	if len(fields) > 0 {
		return Invalid{Fields: fields}, nil
	}
	secret, k := identity.NewAPIKey()
	now := f.now().UTC()
	k.Name, k.Paths, k.Scopes, k.Methods = name, paths, scopes, methods
	k.CreatedAt, k.ExpiresAt = now, now.Add(time.Duration(days)*24*time.Hour)
	if _, err := f.Customers.AddAPIKey(ctx, in.CustomerID, k); err != nil {
		if errors.Is(err, identity.ErrTooManyAPIKeys) {
			return Invalid{Fields: map[string]error{"name": ErrKeyTooMany}}, nil
		}
		if errors.Is(err, identity.ErrNotFound) {
			return NoSuchCustomer{}, nil
		}
		return nil, err
	}
	f.auditDetail(ctx, in.Client, in.CustomerID, identity.EventAPIKeyCreated, k.Name+" ("+k.ID+")")
	return APIKeyCreated{Secret: secret, Key: k}, nil
}

// RevokeAPIKey revokes one of the customer's keys. NoSuchCustomer also
// when the customer has no key with the id.
func (f *Flows) RevokeAPIKey(ctx context.Context, customerID, keyID string, client Client) (Outcome, error) {
	before, err := f.Customers.Customer(ctx, customerID)
	if errors.Is(err, identity.ErrNotFound) {
		return NoSuchCustomer{}, nil
	}
	if err != nil {
		return nil, err
	}
	var k identity.APIKey
	for _, x := range before.APIKeys {
		if x.ID == keyID {
			k = x
		}
	}
	if _, err := f.Customers.RevokeAPIKey(ctx, customerID, keyID); err != nil {
		if errors.Is(err, identity.ErrNotFound) {
			return NoSuchCustomer{}, nil
		}
		return nil, err
	}
	f.auditDetail(ctx, client, customerID, identity.EventAPIKeyRevoked, k.Name+" ("+keyID+")")
	return APIKeyRevoked{Key: k}, nil
}

// keyTouchEvery is how often a key's last use is written (the edge may
// see a key thousands of times a second).
const keyTouchEvery = time.Minute

// AuthenticateAPIKey finds the customer of a presented key. A string
// without a key's form or checksum is refused before any store read.
// Valid keys record their use at most once a minute, and a use from a
// network the key was not last used from goes to the customer's trail.
func (f *Flows) AuthenticateAPIKey(ctx context.Context, secret string, client Client) (Outcome, error) {
	if !identity.LooksLikeAPIKey(secret) {
		return APIKeyRefused{Reason: "malformed"}, nil
	}
	hash := identity.APIKeyHash(secret)
	c, err := f.Customers.CustomerByAPIKey(ctx, hash)
	if errors.Is(err, identity.ErrNotFound) {
		return APIKeyRefused{Reason: "unknown"}, nil
	}
	if err != nil {
		return nil, err
	}
	k, ok := c.APIKey(hash)
	now := f.now().UTC()
	if !ok {
		return APIKeyRefused{Reason: "unknown"}, nil
	}
	if !now.Before(k.ExpiresAt) {
		return APIKeyRefused{Reason: "expired"}, nil
	}
	network := ""
	if addr, err := netip.ParseAddr(client.IP); err == nil {
		network = consent.NetworkPrefix(addr)
	}
	if now.Sub(k.LastUsedAt) >= keyTouchEvery || network != k.LastUsedNetwork {
		f.touchAPIKey(ctx, c.ID, k.ID, network, now, client)
	}
	return APIKeyValid{Customer: c, Key: k}, nil
}

// The many-networks signal: a key used from at least keyManyNetworks
// network prefixes within keyNetworkWindow has been copied or shared.
const (
	keyManyNetworks  = 4
	keyNetworkWindow = 10 * time.Minute
	keyNetworksKept  = 16
)

// APIKeyUsedFrom records that a valid key, already known to the caller,
// was used from client's network: a network the key was not last used
// from goes to the trail, and so do many networks at once. It reports
// whether this use gave the many-networks signal. Best effort (the edge
// calls it off the request path).
func (f *Flows) APIKeyUsedFrom(ctx context.Context, customerID, keyID string, client Client) bool {
	addr, err := netip.ParseAddr(client.IP)
	if err != nil {
		return false
	}
	return f.touchAPIKey(ctx, customerID, keyID, consent.NetworkPrefix(addr), f.now().UTC(), client)
}

// touchAPIKey records a key's use (best effort) and reports whether it
// gave the many-networks signal.
func (f *Flows) touchAPIKey(ctx context.Context, customerID, keyID, network string, now time.Time, client Client) (many bool) {
	var before, after identity.APIKey
	_, err := f.Customers.UpdateCustomer(ctx, customerID, func(c *identity.Customer) error {
		for i := range c.APIKeys {
			if k := &c.APIKeys[i]; k.ID == keyID {
				before = *k
				k.RecentNetworks = slices.Clone(k.RecentNetworks)
				many = noteKeyNetwork(k, network, now)
				k.LastUsedAt, k.LastUsedNetwork = now, network
				after = *k
			}
		}
		return nil
	})
	if err != nil {
		f.warn("recording an API key's use", err)
		return false
	}
	if after.ID == "" {
		return false // revoked or gone meanwhile
	}
	if network != "" && network != before.LastUsedNetwork && before.LastUsedNetwork != "" {
		f.auditDetail(ctx, client, customerID, identity.EventAPIKeyNewNetwork, after.Name+" ("+after.ID+") from "+network)
	}
	if many {
		f.auditDetail(ctx, client, customerID, identity.EventAPIKeyManyNetworks,
			fmt.Sprintf("%s (%s) used from %d networks within %s", after.Name, after.ID, len(after.RecentNetworks), keyNetworkWindow))
	}
	return many
}

// noteKeyNetwork keeps the key's recent networks (the window's, at most
// keyNetworksKept) with network used at now, and reports whether they
// now make the many-networks signal, given once per window.
func noteKeyNetwork(k *identity.APIKey, network string, now time.Time) bool {
	if network == "" {
		return false
	}
	kept := k.RecentNetworks[:0]
	for _, n := range k.RecentNetworks {
		if n.Prefix != network && now.Sub(n.At) < keyNetworkWindow {
			kept = append(kept, n)
		}
	}
	kept = append(kept, identity.KeyNetwork{Prefix: network, At: now})
	if len(kept) > keyNetworksKept {
		kept = kept[len(kept)-keyNetworksKept:]
	}
	k.RecentNetworks = kept
	if len(kept) >= keyManyNetworks && now.Sub(k.ManyNetworksAt) >= keyNetworkWindow {
		k.ManyNetworksAt = now
		return true
	}
	return false
}

// KeyAllows reports whether the key may make a request with this method
// to this path and holds every scope in need.
func KeyAllows(k identity.APIKey, method, path string, need []string) bool {
	if len(k.Methods) > 0 && !slices.Contains(k.Methods, method) {
		return false
	}
	if len(k.Paths) > 0 && !slices.ContainsFunc(k.Paths, func(p string) bool { return keyPathMatch(p, path) }) {
		return false
	}
	for _, s := range need {
		if !slices.Contains(k.Scopes, s) {
			return false
		}
	}
	return true
}

// keyPathMatch: "/api/orders/*" covers /api/orders and below; any other
// pattern is exact.
func keyPathMatch(pattern, path string) bool {
	if base, ok := strings.CutSuffix(pattern, "/*"); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func validKeyPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " ?#\\") || strings.ContainsFunc(p, unicode.IsControl) {
		return false
	}
	body := strings.TrimSuffix(p, "/*")
	return !strings.Contains(body, "*") && !strings.Contains(p, "/../") && !strings.HasSuffix(p, "/..")
}

func validScope(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":._-", r))
	})
}

func validMethod(m string) bool {
	return slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, m)
}

func upper(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToUpper(strings.TrimSpace(s))
	}
	return out
}

// cleanList trims, drops empties and repeats, and checks each entry.
func cleanList(in []string, valid func(string) bool) ([]string, bool) {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || slices.Contains(out, s) {
			continue
		}
		if len(s) > maxKeyEntry || !valid(s) {
			return nil, false
		}
		out = append(out, s)
	}
	return out, len(out) <= maxKeyList
}
