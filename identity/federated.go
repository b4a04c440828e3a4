package identity

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"
)

// LinkedIdentity is an account at an OpenID Provider through which the
// customer signs in ("Continue with Google"). Issuer and Subject identify
// it; the rest is what the provider said when it was linked.
type LinkedIdentity struct {
	// Provider is the operator's name for it (the `oidc <name>` block).
	Provider string `json:"provider"`
	Issuer   string `json:"issuer"`
	Subject  string `json:"subject"`
	// Email the provider asserted, and whether it vouched for it.
	Email         string    `json:"email,omitempty"`
	EmailVerified bool      `json:"email_verified,omitempty"`
	LinkedAt      time.Time `json:"linked_at"`
	LastUsedAt    time.Time `json:"last_used_at,omitzero"`
	// Roles are the roles the provider's claims gave at the last sign-in
	// with it (the operator's roles_claim mapping); they follow the claim.
	Roles []string `json:"roles,omitempty"`
}

// ErrIdentityTaken: the provider identity is already linked to another
// customer.
var ErrIdentityTaken = errors.New("identity: provider identity linked to another customer")

// IdentityStore is what a Store offers for linked provider identities.
// The index from (issuer, subject) to a customer is kept by the store: a
// customer created with Identities set is indexed atomically with it.
type IdentityStore interface {
	// CustomerByIdentity returns the customer linked to the provider
	// identity, or ErrNotFound.
	CustomerByIdentity(ctx context.Context, issuer, subject string) (*Customer, error)
	// LinkIdentity adds li to the customer: ErrIdentityTaken if another
	// customer has it, ErrNotFound if the customer does not exist; linking
	// one the customer already has updates nothing and succeeds.
	LinkIdentity(ctx context.Context, customerID string, li LinkedIdentity) (*Customer, error)
	// UnlinkIdentity removes it from the customer after guard (which may
	// refuse, e.g. the last way to sign in) approved the customer as
	// stored; ErrNotFound if the customer does not have it.
	UnlinkIdentity(ctx context.Context, customerID, issuer, subject string, guard func(*Customer) error) (*Customer, error)
}

// identityKey is the index key of a provider identity: a hash, so any
// issuer and subject fit a key and none is readable in the store.
func identityKey(issuer, subject string) string {
	h := sha256.New()
	h.Write([]byte(issuer))
	h.Write([]byte{0})
	h.Write([]byte(subject))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Identity returns the customer's linked identity, if any.
func (c *Customer) Identity(issuer, subject string) (LinkedIdentity, bool) {
	for _, li := range c.Identities {
		if li.Issuer == issuer && li.Subject == subject {
			return li, true
		}
	}
	return LinkedIdentity{}, false
}

func (c *Customer) dropIdentity(issuer, subject string) bool {
	for i, li := range c.Identities {
		if li.Issuer == issuer && li.Subject == subject {
			c.Identities = append(c.Identities[:i:i], c.Identities[i+1:]...)
			return true
		}
	}
	return false
}

// identityKeys summarises which identities c has, to detect a change.
func identityKeys(c *Customer) string {
	keys := make([]string, 0, len(c.Identities))
	for _, li := range c.Identities {
		keys = append(keys, identityKey(li.Issuer, li.Subject))
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}
