package authflow

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Passkeys (WebAuthn through go-webauthn). Every ceremony's state is kept
// server-side as a one-time token stored under the hash of its challenge:
// the browser's answer names the challenge it signed, the token is
// consumed as the answer is checked, so an answer works once. Each
// ceremony is bound — to the session adding a passkey, to the wait for a
// second factor, or, for a sign-in, to a nonce of the browser that asked —
// and the relying party (Flows.WebAuthn) comes from the site's
// configuration, never from the request.

// waUser presents a customer to go-webauthn. The user handle is the
// customer id: a discoverable credential names its owner.
type waUser struct{ c *identity.Customer }

func (u waUser) WebAuthnID() []byte          { return []byte(u.c.ID) }
func (u waUser) WebAuthnName() string        { return u.c.Handle() }
func (u waUser) WebAuthnDisplayName() string { return u.c.Handle() }

// WebAuthnCredentials lists the usable passkeys: a flagged one cannot sign
// in.
func (u waUser) WebAuthnCredentials() []webauthn.Credential {
	var out []webauthn.Credential
	for _, p := range u.c.Passkeys {
		if p.Flagged {
			continue
		}
		cred := webauthn.Credential{
			ID: p.ID, PublicKey: p.PublicKey, AttestationType: p.AttestationType,
			Flags:         webauthn.CredentialFlags{UserPresent: p.UserPresent, UserVerified: p.UserVerified, BackupEligible: p.BackupEligible, BackupState: p.BackupState},
			Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
		}
		for _, t := range p.Transports {
			cred.Transport = append(cred.Transport, protocol.AuthenticatorTransport(t))
		}
		out = append(out, cred)
	}
	return out
}

// PasskeyAMR names a passkey in amr: a synced (backup-eligible) passkey is
// a software key, one bound to its device a hardware key (RFC 8176).
func PasskeyAMR(p *identity.Passkey) string {
	if p.BackupEligible {
		return "swk"
	}
	return "hwk"
}

// Outcomes of the passkey ceremonies.
type (
	// PasskeyCeremony: hand Options to navigator.credentials. A sign-in's
	// Nonce binds the ceremony to the browser, which keeps it.
	PasskeyCeremony struct {
		Options any
		Nonce   string
	}
	// NoPasskey: the account has no usable passkey for this.
	NoPasskey struct{}
	// TooManyPasskeys: the account holds as many as it can.
	TooManyPasskeys struct{}
	// PasskeyRefused: the answer did not pass (Reason: ErrPasskeyRefused,
	// or identity.ErrCounter for a passkey now flagged as copied).
	PasskeyRefused struct{ Reason error }
	// PasskeyEmailUnverified: a right passkey of an account whose address
	// is not confirmed yet; no session.
	PasskeyEmailUnverified struct{}
	// PasskeyNotAdded: the registration expired, was used, belongs to
	// another session or was not accepted.
	PasskeyNotAdded struct{}
)

func (PasskeyCeremony) outcome()        {}
func (NoPasskey) outcome()              {}
func (TooManyPasskeys) outcome()        {}
func (PasskeyRefused) outcome()         {}
func (PasskeyEmailUnverified) outcome() {}
func (PasskeyNotAdded) outcome()        {}

// BeginPasskeySignIn starts a discoverable sign-in (no address typed),
// user verification required, bound to nonce (a new one when ""); for
// autofill when conditional.
func (f *Flows) BeginPasskeySignIn(ctx context.Context, nonce string, conditional bool) (Outcome, error) {
	if nonce == "" {
		nonce = NewNonce()
	}
	uv := webauthn.WithUserVerification(protocol.VerificationRequired)
	var (
		opts *protocol.CredentialAssertion
		sd   *webauthn.SessionData
		err  error
	)
	if conditional {
		opts, sd, err = f.WebAuthn.BeginDiscoverableMediatedLogin(protocol.MediationConditional, uv)
	} else {
		opts, sd, err = f.WebAuthn.BeginDiscoverableLogin(uv)
	}
	if err != nil {
		return nil, err
	}
	if err := f.storeCeremony(ctx, CeremonySignIn, identity.HashToken(nonce), "", sd); err != nil {
		return nil, err
	}
	return PasskeyCeremony{Options: opts, Nonce: nonce}, nil
}

// BeginPasskeySecondFactor starts a passkey answer to the browser's wait
// for a second factor: WaitGone, NoPasskey or the ceremony.
func (f *Flows) BeginPasskeySecondFactor(ctx context.Context, waitNonce string, current CurrentSession) (Outcome, error) {
	out, err := f.SecondFactorWait(ctx, waitNonce, current)
	due, ok := out.(SecondFactorDue)
	if err != nil || !ok {
		return out, err
	}
	c := due.Customer
	if !c.HasUsablePasskey() { // go-webauthn cannot begin a ceremony without one
		return NoPasskey{}, nil
	}
	opts, sd, err := f.WebAuthn.BeginLogin(waUser{c}, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, err
	}
	if err := f.storeCeremony(ctx, CeremonySecondFactor, identity.HashToken(waitNonce), c.ID, sd); err != nil {
		return nil, err
	}
	return PasskeyCeremony{Options: opts}, nil
}

// BeginPasskeyRegistration starts adding a passkey to c's account, bound
// to the session s (which the caller has checked is recent enough, see
// AccountRequirement). Passkeys already held are excluded.
func (f *Flows) BeginPasskeyRegistration(ctx context.Context, s *session.Session, c *identity.Customer) (Outcome, error) {
	if len(c.Passkeys) >= identity.MaxPasskeys {
		return TooManyPasskeys{}, nil
	}
	var exclude []protocol.CredentialDescriptor
	for _, cred := range (waUser{c}).WebAuthnCredentials() {
		exclude = append(exclude, cred.Descriptor())
	}
	opts, sd, err := f.WebAuthn.BeginRegistration(waUser{c},
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, err
	}
	if err := f.storeCeremony(ctx, CeremonyRegister, identity.HashToken(s.Key), c.ID, sd); err != nil {
		return nil, err
	}
	return PasskeyCeremony{Options: opts}, nil
}

func (f *Flows) storeCeremony(ctx context.Context, purpose CeremonyPurpose, binding []byte, customerID string, sd *webauthn.SessionData) error {
	data, err := json.Marshal(sd)
	if err != nil {
		return err
	}
	return f.Tokens.PutToken(ctx, identity.NewTokenUnder(identity.HashToken(sd.Challenge),
		identity.Ceremony{Purpose: string(purpose), Binding: binding, SessionData: data},
		customerID, f.now().Add(identity.CeremonyTTL)))
}

// ceremony consumes the state of the ceremony an answer names by its
// challenge, checking its purpose and binding: ErrPasskeyRefused if there
// is none — never started, already used (a replay), expired, or begun
// elsewhere.
func (f *Flows) ceremony(ctx context.Context, challenge string, purpose CeremonyPurpose, binding []byte) (*identity.Token, *webauthn.SessionData, error) {
	tok, err := f.Tokens.ConsumeToken(ctx, identity.TokenCeremony, identity.HashToken(challenge), f.now())
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil, ErrPasskeyRefused
	}
	if err != nil {
		return nil, nil, err
	}
	cer, err := identity.PayloadOf[identity.Ceremony](tok)
	if err != nil {
		return nil, nil, err
	}
	stored, err := parsePurpose(cer.Purpose, ceremonyPurposes)
	if err != nil {
		f.warn("refusing a passkey ceremony", err)
		return nil, nil, ErrPasskeyRefused
	}
	if stored != purpose || len(binding) == 0 || subtle.ConstantTimeCompare(cer.Binding, binding) != 1 {
		return nil, nil, ErrPasskeyRefused
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(cer.SessionData, &sd); err != nil {
		return nil, nil, ErrPasskeyRefused
	}
	return tok, &sd, nil
}

// assertion checks a sign-in answer (the JSON of a PublicKeyCredential)
// for a ceremony of purpose bound to nonce, and records the use (counter,
// backup state). customerID is whose passkey it must be for a second
// factor; a sign-in finds the customer by the user handle. It returns the
// customer, the passkey and whether the authenticator verified the user;
// ErrPasskeyRefused or identity.ErrCounter for an answer that does not
// pass, another error when a store failed. A counter that went backwards
// flags the passkey for good: a copy of it may exist.
func (f *Flows) assertion(ctx context.Context, credJSON string, purpose CeremonyPurpose, nonce, customerID string, client Client) (*identity.Customer, *identity.Passkey, bool, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(credJSON))
	if err != nil {
		f.debug("malformed passkey answer", err)
		return nil, nil, false, ErrPasskeyRefused
	}
	var binding []byte
	if nonce != "" {
		binding = identity.HashToken(nonce)
	}
	tok, sd, err := f.ceremony(ctx, parsed.Response.CollectedClientData.Challenge, purpose, binding)
	if err != nil {
		return nil, nil, false, err
	}
	var (
		c    *identity.Customer
		cred *webauthn.Credential
	)
	load := func(id string) (*identity.Customer, error) {
		c, err := f.Customers.Customer(ctx, id)
		if errors.Is(err, identity.ErrNotFound) {
			return nil, ErrPasskeyRefused
		}
		return c, err
	}
	if purpose == CeremonySecondFactor {
		if tok.CustomerID != customerID {
			return nil, nil, false, ErrPasskeyRefused
		}
		if c, err = load(customerID); err != nil {
			return nil, nil, false, err
		}
		cred, err = f.WebAuthn.ValidateLogin(waUser{c}, *sd, parsed)
	} else {
		var storeErr error
		cred, err = f.WebAuthn.ValidateDiscoverableLogin(func(_, userHandle []byte) (webauthn.User, error) {
			var err error
			if c, err = load(string(userHandle)); err != nil {
				storeErr = err
				return nil, err
			}
			return waUser{c}, nil
		}, *sd, parsed)
		if storeErr != nil && !errors.Is(storeErr, ErrPasskeyRefused) {
			return nil, nil, false, storeErr
		}
	}
	if err != nil {
		f.debug("passkey answer refused", err)
		return nil, nil, false, ErrPasskeyRefused
	}
	flags := parsed.Response.AuthenticatorData.Flags
	now := f.now().UTC()
	// A refused update returns no customer: keep the id for flagging.
	id := c.ID
	c, err = f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		if err := c.UsePasskey(cred.ID, parsed.Response.AuthenticatorData.Counter, flags.HasBackupState(), now); err != nil {
			return err
		}
		c.LastLoginAt = now
		return nil
	})
	if errors.Is(err, identity.ErrCounter) {
		// Flag it for good and tell the customer on their account page.
		if _, ferr := f.Customers.UpdateCustomer(ctx, id, func(c *identity.Customer) error { return c.FlagPasskey(cred.ID) }); ferr != nil {
			f.failed("flagging passkey", ferr)
		}
		f.audit(ctx, client, id, identity.EventPasskeyFlagged)
		f.warn("passkey signature counter went backwards; passkey flagged (customer "+id+")", err)
		return nil, nil, false, identity.ErrCounter
	}
	if err != nil {
		return nil, nil, false, err
	}
	p, _ := c.Passkey(cred.ID)
	return c, p, flags.HasUserVerified(), nil
}

// PasskeySignInInput is a discoverable passkey's answer from the browser
// keeping Nonce (the ceremony's).
type PasskeySignInInput struct {
	Credential, Nonce, Redirect string
	Client                      Client
	// DeviceID is the keyed hash of the browser's device cookie (the
	// risk judgement; "" none).
	DeviceID string
}

// PasskeySignIn signs in with a discoverable passkey (no address typed):
// SessionDue — aal2 with "mfa" when the authenticator verified the user
// (required by the ceremony), aal1 otherwise — or PasskeyRefused, or
// PasskeyEmailUnverified.
func (f *Flows) PasskeySignIn(ctx context.Context, in PasskeySignInInput) (Outcome, error) {
	c, p, uv, err := f.assertion(ctx, in.Credential, CeremonySignIn, in.Nonce, "", in.Client)
	if IsFactorRefusal(err) {
		return PasskeyRefused{Reason: err}, nil
	}
	if err != nil {
		return nil, err
	}
	if !c.ContactVerified() {
		return PasskeyEmailUnverified{}, nil
	}
	amr, acr := []string{PasskeyAMR(p)}, "aal1"
	if uv {
		amr, acr = append(amr, "mfa"), "aal2"
	}
	// A passkey is phishing-resistant: the policy may refuse it or ask to
	// tell the customer, but a step-up would ask for what it proved.
	return f.judgeStrong(ctx, SessionDue{Customer: c, AMR: amr, ACR: acr, Redirect: in.Redirect, Purpose: PurposeSignIn},
		FirstFactorInput{AMR: amr, Redirect: in.Redirect, Client: in.Client, DeviceID: in.DeviceID})
}

// passkeySecondFactor checks a passkey answer to the wait keeping nonce,
// as customerID's, and names it in AMR.
func (f *Flows) passkeySecondFactor(ctx context.Context, credJSON, nonce, customerID string, client Client) (string, error) {
	_, p, _, err := f.assertion(ctx, credJSON, CeremonySecondFactor, nonce, customerID, client)
	if err != nil {
		return "", err
	}
	return PasskeyAMR(p), nil
}

// RegisterPasskeyInput is a new passkey's answer from the session s.
type RegisterPasskeyInput struct {
	Session    *session.Session
	Credential string
	// Name is what the account page calls it ("on Firefox on Linux").
	Name   string
	Client Client
}

// RegisterPasskey adds the passkey the browser created to the session's
// customer: Done, or PasskeyNotAdded.
func (f *Flows) RegisterPasskey(ctx context.Context, in RegisterPasskeyInput) (Outcome, error) {
	s := in.Session
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(in.Credential))
	if err != nil {
		f.debug("malformed passkey registration", err)
		return PasskeyNotAdded{}, nil
	}
	tok, sd, err := f.ceremony(ctx, parsed.Response.CollectedClientData.Challenge, CeremonyRegister, identity.HashToken(s.Key))
	if errors.Is(err, ErrPasskeyRefused) || (err == nil && tok.CustomerID != s.UserID) {
		return PasskeyNotAdded{}, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := f.Customers.Customer(ctx, s.UserID)
	if err != nil {
		return nil, err
	}
	cred, err := f.WebAuthn.CreateCredential(waUser{c}, *sd, parsed)
	if err != nil {
		f.debug("passkey registration refused", err)
		return PasskeyNotAdded{}, nil
	}
	p := identity.Passkey{
		ID: cred.ID, PublicKey: cred.PublicKey, AttestationType: cred.AttestationType, AAGUID: cred.Authenticator.AAGUID,
		SignCount: cred.Authenticator.SignCount, UserPresent: cred.Flags.UserPresent, UserVerified: cred.Flags.UserVerified,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, CreatedAt: f.now().UTC(), Name: in.Name,
	}
	for _, t := range cred.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	if _, err := f.Customers.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.AddPasskey(p) }); err != nil {
		if errors.Is(err, identity.ErrFactorExists) || errors.Is(err, identity.ErrTooMany) {
			return PasskeyNotAdded{}, nil
		}
		return nil, err
	}
	f.audit(ctx, in.Client, c.ID, identity.EventPasskeyAdded)
	return Done{}, nil
}
