package identity

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"time"
)

// Agents: clients that act for the customer (an AI assistant, a bot),
// recorded as AppGrant with Agent set. A grant lasts until Until, a
// term the customer agreed to (the consent screen states it), or a
// token exchange's subject token allowed; its GrantID is carried by
// every access token issued under it, so that ending the grant ends
// them at the edge.

// Security events of agents (Detail: the agent's client id).
const (
	// EventAgentGranted: the customer let an agent act for them.
	EventAgentGranted = "agent_granted"
	// EventAgentExchanged: an agent exchanged a token of the customer
	// for one of its own (RFC 8693).
	EventAgentExchanged = "agent_token_exchanged"
	// EventAgentRevoked: the customer ended an agent's grant.
	EventAgentRevoked = "agent_revoked"
)

// Live reports whether the grant is an agent's, in force at now.
func (a AppGrant) Live(now time.Time) bool {
	return a.Agent && a.GrantID != "" && now.Before(a.Until)
}

// NoteAgent records that client of issuer may act for the customer with
// scopes until until, at now, and returns the grant. A grant in force
// keeps its GrantID (scopes are added, the term never shortened); an
// ended one is replaced by a new grant; an app's grant (the same client
// signed the customer in before) becomes an agent's, keeping its refresh
// token families.
func (c *Customer) NoteAgent(issuer, clientID string, scopes []string, until, now time.Time) AppGrant {
	i := slices.IndexFunc(c.Apps, func(a AppGrant) bool { return a.Issuer == issuer && a.ClientID == clientID })
	if i >= 0 && c.Apps[i].Agent && !c.Apps[i].Live(now) {
		c.Apps = slices.Delete(c.Apps, i, i+1)
	}
	c.NoteApp(issuer, clientID, scopes, "", now)
	i = slices.IndexFunc(c.Apps, func(a AppGrant) bool { return a.Issuer == issuer && a.ClientID == clientID })
	a := &c.Apps[i]
	if !a.Live(now) {
		var b [16]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		a.Agent, a.GrantID, a.GrantedAt, a.Until = true, base64.RawURLEncoding.EncodeToString(b[:]), now, time.Time{}
	}
	if until.After(a.Until) {
		a.Until = until
	}
	return *a
}

// NoteAgentUse records an agent's use of its grant at now from network
// (best effort: nothing when the grant is no longer the one named).
func (c *Customer) NoteAgentUse(grantID, network string, now time.Time) bool {
	for i := range c.Apps {
		if a := &c.Apps[i]; a.GrantID == grantID && a.Agent {
			if now.After(a.LastUsedAt) {
				a.LastUsedAt = now
			}
			if network != "" {
				a.LastUsedNetwork = network
			}
			return true
		}
	}
	return false
}
