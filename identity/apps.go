package identity

import (
	"slices"
	"time"
)

// Apps: the clients of the gateway's OpenID Providers that hold tokens of
// a customer — what the account page lists and lets the customer revoke.

// AppGrant is one client of one provider (Issuer) that was handed tokens
// of the customer.
type AppGrant struct {
	Issuer     string    `json:"issuer"`
	ClientID   string    `json:"client_id"`
	Scopes     []string  `json:"scopes,omitempty"`
	GrantedAt  time.Time `json:"granted_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	// Families are its refresh token families, newest last (at most
	// MaxAppFamilies; older ones stay valid until they expire unused).
	Families []string `json:"families,omitempty"`
	// Agent grants (identity/agents.go): the client acts for the
	// customer until Until; GrantID names the grant in its tokens.
	Agent           bool      `json:"agent,omitempty"`
	GrantID         string    `json:"grant_id,omitempty"`
	Until           time.Time `json:"until,omitzero"`
	LastUsedNetwork string    `json:"last_used_network,omitempty"`
}

// Bounds on what one customer's record holds.
const (
	MaxApps        = 50
	MaxAppFamilies = 20
	// EventAppRevoked: the customer took an app's access away.
	EventAppRevoked = "app_revoked"
)

// App returns the customer's grant to client of issuer.
func (c *Customer) App(issuer, clientID string) (AppGrant, bool) {
	for _, a := range c.Apps {
		if a.Issuer == issuer && a.ClientID == clientID {
			return a, true
		}
	}
	return AppGrant{}, false
}

// NoteApp records that client of issuer was handed tokens with scopes at
// now (family: a new refresh token family, "" none). The least recently
// used grant goes when the record holds MaxApps.
func (c *Customer) NoteApp(issuer, clientID string, scopes []string, family string, now time.Time) {
	i := slices.IndexFunc(c.Apps, func(a AppGrant) bool { return a.Issuer == issuer && a.ClientID == clientID })
	if i < 0 {
		if len(c.Apps) >= MaxApps {
			oldest := 0
			for j, a := range c.Apps {
				if a.LastUsedAt.Before(c.Apps[oldest].LastUsedAt) {
					oldest = j
				}
			}
			c.Apps = slices.Delete(c.Apps, oldest, oldest+1)
		}
		c.Apps = append(c.Apps, AppGrant{Issuer: issuer, ClientID: clientID, GrantedAt: now})
		i = len(c.Apps) - 1
	}
	a := &c.Apps[i]
	a.LastUsedAt = now
	for _, s := range scopes {
		if !slices.Contains(a.Scopes, s) {
			a.Scopes = append(a.Scopes, s)
		}
	}
	if family != "" && !slices.Contains(a.Families, family) {
		a.Families = append(a.Families, family)
		if n := len(a.Families); n > MaxAppFamilies {
			a.Families = slices.Clone(a.Families[n-MaxAppFamilies:])
		}
	}
}

// DropApp removes the grant of client of issuer and returns it.
func (c *Customer) DropApp(issuer, clientID string) (AppGrant, bool) {
	i := slices.IndexFunc(c.Apps, func(a AppGrant) bool { return a.Issuer == issuer && a.ClientID == clientID })
	if i < 0 {
		return AppGrant{}, false
	}
	a := c.Apps[i]
	c.Apps = slices.Delete(c.Apps, i, i+1)
	return a, true
}
