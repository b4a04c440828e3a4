package events

import (
	"strings"

	"github.com/frontdoorhq/frontdoor/identity"
)

// fromTrail maps each kind of the per-customer audit trail to its event
// type and the fields its detail becomes. The trail is a view of the
// events: every entry of it is published as one, with the same id.
var fromTrail = map[string]struct {
	typ   string
	field string // the data field the entry's detail goes to
	fixed map[string]string
}{
	identity.EventPasswordReset:          {PasswordChanged, "", map[string]string{"how": "reset"}},
	identity.EventSignedOutEverywhere:    {SessionRevoked, "", map[string]string{"scope": "all"}},
	identity.EventSessionRevoked:         {SessionRevoked, "", map[string]string{"scope": "one"}},
	identity.EventTOTPAdded:              {FactorAdded, "", map[string]string{"factor": "totp"}},
	identity.EventTOTPRemoved:            {FactorRemoved, "", map[string]string{"factor": "totp"}},
	identity.EventRecoveryCodesNew:       {FactorAdded, "", map[string]string{"factor": "recovery_codes"}},
	identity.EventRecoveryCodeUsed:       {FactorUsed, "", map[string]string{"factor": "recovery_code"}},
	identity.EventPasskeyAdded:           {FactorAdded, "", map[string]string{"factor": "passkey"}},
	identity.EventPasskeyRemoved:         {FactorRemoved, "", map[string]string{"factor": "passkey"}},
	identity.EventPasskeyFlagged:         {FactorFlagged, "", map[string]string{"factor": "passkey", "reason": "counter_rollback"}},
	identity.EventSecondFactorFailed:     {SignInFailed, "", map[string]string{"stage": "second_factor"}},
	identity.EventDevicesForgotten:       {DevicesForgotten, "", nil},
	identity.EventIdentityLinked:         {IdentityLinked, "provider", nil},
	identity.EventIdentityUnlinked:       {IdentityUnlinked, "provider", nil},
	identity.EventEmailChanged:           {EmailChanged, "", nil},
	identity.EventPhoneAdded:             {PhoneVerified, "phone", map[string]string{"change": "added"}},
	identity.EventPhoneChanged:           {PhoneVerified, "phone", map[string]string{"change": "changed"}},
	identity.EventPhoneRemoved:           {PhoneRemoved, "phone", nil},
	identity.EventSMSFactorAdded:         {FactorAdded, "", map[string]string{"factor": "sms"}},
	identity.EventSMSFactorRemoved:       {FactorRemoved, "", map[string]string{"factor": "sms"}},
	identity.EventSignedIn:               {SignInSucceeded, "amr", nil},
	identity.EventSignInFailed:           {SignInFailed, "", map[string]string{"stage": "password"}},
	identity.EventProfileUpdated:         {ProfileUpdated, "", nil},
	identity.EventMigrated:               {CustomerCreated, "source", nil},
	identity.EventImported:               {CustomerCreated, "detail", map[string]string{"source": "import"}},
	identity.EventExported:               {CustomerExported, "by", nil},
	identity.EventErasureScheduled:       {CustomerDeletionAsked, "", nil},
	identity.EventErasureCancelled:       {CustomerDeletionCanceled, "", nil},
	identity.EventAdminLookup:            {CustomerLookedUp, "by", nil},
	identity.EventAgentLookup:            {AgentAction, "detail", map[string]string{"action": "lookup"}},
	identity.EventAgentVerified:          {AgentAction, "detail", map[string]string{"action": "verified"}},
	identity.EventAgentVerifyFailed:      {AgentAction, "detail", map[string]string{"action": "verification_failed"}},
	identity.EventAgentAction:            {AgentAction, "detail", nil},
	identity.EventAgentViewAs:            {AgentAction, "detail", map[string]string{"action": "view_as"}},
	identity.EventAgentActed:             {AgentAction, "detail", map[string]string{"by_agent": "true"}},
	identity.EventFactorRemovalAsked:     {FactorRemovalAsked, "detail", nil},
	identity.EventFactorRemovalCancelled: {FactorRemovalCanceled, "", nil},
	identity.EventFactorsRemoved:         {FactorRemoved, "how", map[string]string{"factor": "all"}},
	identity.EventRiskDecision:           {RiskDecision, "decision", nil},
	identity.EventRiskRefused:            {RiskDecision, "decision", map[string]string{"refused": "true"}},
	identity.EventNotMe:                  {RiskNotMe, "", nil},
	identity.EventRoleGranted:            {RoleGranted, "detail", nil},
	identity.EventRoleRemoved:            {RoleRemoved, "detail", nil},
	identity.EventAttributesSet:          {AttributesSet, "names", nil},
	identity.EventInvited:                {CustomerInvited, "detail", nil},
	identity.EventAPIKeyCreated:          {APIKeyCreated, "key", nil},
	identity.EventAPIKeyRevoked:          {APIKeyRevoked, "key", nil},
	identity.EventAPIKeyNewNetwork:       {APIKeyNewNetwork, "detail", nil},
	identity.EventAPIKeyManyNetworks:     {APIKeyNewNetwork, "detail", map[string]string{"many": "true"}},
	identity.EventAppRevoked:             {AppRevoked, "client_id", nil},
	identity.EventAgentGranted:           {DelegationGranted, "client_id", nil},
	identity.EventAgentExchanged:         {DelegationGranted, "client_id", map[string]string{"via": "token_exchange"}},
	identity.EventAgentRevoked:           {DelegationRevoked, "client_id", nil},
	identity.EventCustomerErased:         {CustomerDeleted, "", nil},
}

// FromTrail turns an entry of customer id's audit trail into its event
// (same id and time); ok is false for a kind without one.
func FromTrail(customer string, e identity.Event) (ev Event, ok bool) {
	m, ok := fromTrail[e.Kind]
	if !ok {
		return Event{}, false
	}
	data := make(map[string]string, len(m.fixed)+2)
	for k, v := range m.fixed {
		data[k] = v
	}
	if m.field != "" && e.Detail != "" {
		data[m.field] = e.Detail
	}
	if e.Kind == identity.EventSignedIn {
		data["method"] = Method(strings.Fields(e.Detail))
	}
	data["trail"] = e.Kind
	return Event{ID: e.ID, Type: m.typ, Time: e.At, Customer: customer, IP: e.IP, UserAgent: e.UserAgent, Data: data}, true
}

// Method names how a customer signed in, from the session's
// authentication methods (RFC 8176 values and Frontdoor's own).
func Method(amr []string) string {
	if len(amr) == 0 {
		return "other"
	}
	switch amr[0] {
	case "pwd":
		return "password"
	case "email":
		return "email_link"
	case "hwk", "swk":
		return "passkey"
	case "fed":
		return "oidc"
	case "sms":
		return "sms"
	}
	return "other"
}
