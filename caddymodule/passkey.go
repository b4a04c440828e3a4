package caddymodule

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Passkeys (WebAuthn through go-webauthn). Every ceremony's state is kept
// server-side as a one-time token stored under the hash of its challenge:
// the browser's answer names the challenge it signed, the token is
// consumed as the answer is checked, so an answer works once. Each
// ceremony is bound — to the session adding a passkey, to the wait for a
// second factor, or, for a sign-in, to a nonce cookie of the browser that
// asked — and the relying party id and origin come from the site's
// configuration, never from the request.

const (
	// ceremonyCookie binds a passkey sign-in ceremony to the browser.
	ceremonyCookie = "__Host-frontdoor-ceremony"
	// Ceremony purposes.
	purposePasskeyLogin = "login"
	purposeMFA          = "mfa"
	purposeRegister     = "register"
)

var errPasskeyRefused = authflow.ErrPasskeyRefused

// newWebAuthn builds the relying party of the site.
func newWebAuthn(rpID, origin, name string) (*webauthn.WebAuthn, error) {
	return webauthn.New(&webauthn.Config{
		RPID: rpID, RPDisplayName: name, RPOrigins: []string{origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: identity.CeremonyTTL, TimeoutUVD: identity.CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: identity.CeremonyTTL, TimeoutUVD: identity.CeremonyTTL},
		},
	})
}

// waUser presents a customer to go-webauthn. The user handle is the
// customer id: a discoverable credential names its owner.
type waUser struct{ c *identity.Customer }

func (u waUser) WebAuthnID() []byte          { return []byte(u.c.ID) }
func (u waUser) WebAuthnName() string        { return u.c.Email }
func (u waUser) WebAuthnDisplayName() string { return u.c.Email }

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

// passkeyAMR names a passkey in amr: a synced (backup-eligible) passkey is
// a software key, one bound to its device a hardware key (RFC 8176).
func passkeyAMR(p *identity.Passkey) string {
	if p.BackupEligible {
		return "swk"
	}
	return "hwk"
}

// passkeyOptions starts a ceremony (form field purpose: login, mfa or
// register; mediation "conditional" for autofill) and answers the options
// for navigator.credentials as JSON.
func (h *Handler) passkeyOptions(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var (
		opts any
		sd   *webauthn.SessionData
		tok  = &identity.Token{Kind: identity.TokenCeremony, Purpose: r.PostForm.Get("purpose")}
		err  error
	)
	switch tok.Purpose {
	case purposePasskeyLogin:
		nonce, ok := cookieNonce(r, ceremonyCookie)
		if !ok {
			nonce = newNonce()
		}
		uv := webauthn.WithUserVerification(protocol.VerificationRequired)
		if r.PostForm.Get("mediation") == "conditional" {
			opts, sd, err = h.webauthn.BeginDiscoverableMediatedLogin(protocol.MediationConditional, uv)
		} else {
			opts, sd, err = h.webauthn.BeginDiscoverableLogin(uv)
		}
		tok.Binding = identity.HashToken(nonce)
		http.SetCookie(w, &http.Cookie{Name: ceremonyCookie, Value: nonce, Path: "/", Secure: true, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, MaxAge: int(identity.CeremonyTTL.Seconds())})
	case purposeMFA:
		nonce, _ := cookieNonce(r, mfaCookie)
		out, werr := h.flows.SecondFactorWait(ctx, nonce, h.currentSessionOf(r))
		if werr != nil {
			h.logger.Error("identity store failed", zap.Error(werr))
			return h.unavailable(w)
		}
		due, ok := out.(authflow.SecondFactorDue)
		if !ok { // an HTML page, as before: the script reloads it
			return h.secondFactorOutcome(w, r, out)
		}
		c := due.Customer
		if !c.HasUsablePasskey() { // go-webauthn cannot begin a ceremony without one
			return writeJSON(w, http.StatusBadRequest, map[string]string{"error": "There is no passkey on this account to use."})
		}
		tok.Binding, tok.CustomerID = identity.HashToken(nonce), c.ID
		opts, sd, err = h.webauthn.BeginLogin(waUser{c}, webauthn.WithUserVerification(protocol.VerificationPreferred))
	case purposeRegister:
		s, err := h.currentSession(r)
		if err != nil {
			return h.unavailable(w)
		}
		if s == nil {
			return writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Please sign in again.", "location": h.Prefix + "/login"})
		}
		c, err := h.app.backend.identity.Customer(ctx, s.UserID)
		if err != nil {
			h.logger.Error("loading customer", zap.Error(err))
			return h.unavailable(w)
		}
		if h.flows.Unmet(authflow.AccountRequirement(c), s) {
			return writeJSON(w, http.StatusForbidden, map[string]string{"error": "Please confirm it is you first.",
				"location": h.Prefix + "/stepup?rd=" + url.QueryEscape(h.Prefix+"/account")})
		}
		if len(c.Passkeys) >= identity.MaxPasskeys {
			return writeJSON(w, http.StatusConflict, map[string]string{"error": "You have as many passkeys as an account can hold. Remove one first."})
		}
		tok.Binding, tok.CustomerID = identity.HashToken(s.Key), c.ID
		var exclude []protocol.CredentialDescriptor
		for _, cred := range (waUser{c}).WebAuthnCredentials() {
			exclude = append(exclude, cred.Descriptor())
		}
		opts, sd, err = h.webauthn.BeginRegistration(waUser{c},
			webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}),
			webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
			webauthn.WithExclusions(exclude))
		if err != nil {
			return fmt.Errorf("frontdoor: beginning passkey registration: %w", err)
		}
	default:
		return writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown purpose"})
	}
	if err != nil {
		return fmt.Errorf("frontdoor: beginning passkey ceremony: %w", err)
	}
	if tok.Data, err = json.Marshal(sd); err != nil {
		return err
	}
	tok.Hash = identity.HashToken(sd.Challenge)
	tok.ExpiresAt = time.Now().Add(identity.CeremonyTTL)
	if err := h.app.backend.identity.PutToken(ctx, tok); err != nil {
		h.logger.Error("storing passkey ceremony", zap.Error(err))
		return h.unavailable(w)
	}
	return writeJSON(w, http.StatusOK, opts)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// cookieNonce returns the nonce a binding cookie holds, if well formed.
func cookieNonce(r *http.Request, name string) (string, bool) {
	ck, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	nonce, err := identity.ParseTokenSecret(ck.Value)
	return nonce, err == nil
}

// ceremony consumes the state of the ceremony a browser's answer names by
// its challenge, checking its purpose and binding. nil if there is none:
// never started, already used (a replay), expired, or begun elsewhere.
func (h *Handler) ceremony(r *http.Request, challenge, purpose string, binding []byte) (*identity.Token, *webauthn.SessionData, error) {
	tok, err := h.app.backend.identity.ConsumeToken(r.Context(), identity.TokenCeremony, identity.HashToken(challenge), time.Now())
	if errors.Is(err, identity.ErrNotFound) {
		return nil, nil, errPasskeyRefused
	}
	if err != nil {
		return nil, nil, err
	}
	if tok.Purpose != purpose || len(binding) == 0 || subtle.ConstantTimeCompare(tok.Binding, binding) != 1 {
		return nil, nil, errPasskeyRefused
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(tok.Data, &sd); err != nil {
		return nil, nil, errPasskeyRefused
	}
	return tok, &sd, nil
}

// passkeyAssertion checks a sign-in answer (the JSON of a
// PublicKeyCredential) for a ceremony of purpose, and records the use
// (counter, backup state). customerID is whose passkey it must be for a
// second factor; a sign-in finds the customer by the user handle. It
// returns errPasskeyRefused or identity.ErrCounter for an answer that does
// not pass, another error when the store failed.
func (h *Handler) passkeyAssertion(r *http.Request, credJSON, purpose, customerID string) (*identity.Passkey, error) {
	_, p, _, err := h.checkAssertion(r, credJSON, purpose, customerID)
	return p, err
}

// checkAssertion is passkeyAssertion returning the customer too, and
// whether the authenticator verified the user.
func (h *Handler) checkAssertion(r *http.Request, credJSON, purpose, customerID string) (*identity.Customer, *identity.Passkey, bool, error) {
	ctx := r.Context()
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(credJSON))
	if err != nil {
		h.logger.Debug("malformed passkey answer", zap.Error(err))
		return nil, nil, false, errPasskeyRefused
	}
	cookie := ceremonyCookie
	if purpose == purposeMFA {
		cookie = mfaCookie
	}
	nonce, _ := cookieNonce(r, cookie)
	var binding []byte
	if nonce != "" {
		binding = identity.HashToken(nonce)
	}
	tok, sd, err := h.ceremony(r, parsed.Response.CollectedClientData.Challenge, purpose, binding)
	if err != nil {
		return nil, nil, false, err
	}
	var (
		c    *identity.Customer
		cred *webauthn.Credential
	)
	load := func(id string) (*identity.Customer, error) {
		c, err := h.app.backend.identity.Customer(ctx, id)
		if errors.Is(err, identity.ErrNotFound) {
			return nil, errPasskeyRefused
		}
		return c, err
	}
	if purpose == purposeMFA {
		if tok.CustomerID != customerID {
			return nil, nil, false, errPasskeyRefused
		}
		if c, err = load(customerID); err != nil {
			return nil, nil, false, err
		}
		cred, err = h.webauthn.ValidateLogin(waUser{c}, *sd, parsed)
	} else {
		var storeErr error
		cred, err = h.webauthn.ValidateDiscoverableLogin(func(_, userHandle []byte) (webauthn.User, error) {
			var err error
			if c, err = load(string(userHandle)); err != nil {
				storeErr = err
				return nil, err
			}
			return waUser{c}, nil
		}, *sd, parsed)
		if storeErr != nil && !errors.Is(storeErr, errPasskeyRefused) {
			return nil, nil, false, storeErr
		}
	}
	if err != nil {
		h.logger.Debug("passkey answer refused", zap.Error(err))
		return nil, nil, false, errPasskeyRefused
	}
	flags := parsed.Response.AuthenticatorData.Flags
	now := time.Now().UTC()
	// A refused update returns no customer: keep the id for flagging.
	id := c.ID
	c, err = h.app.backend.identity.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		if err := c.UsePasskey(cred.ID, parsed.Response.AuthenticatorData.Counter, flags.HasBackupState(), now); err != nil {
			return err
		}
		c.LastLoginAt = now
		return nil
	})
	if errors.Is(err, identity.ErrCounter) {
		// A counter that went backwards: a copy of the key may exist.
		// Flag it for good and tell the customer on their account page.
		if _, ferr := h.app.backend.identity.UpdateCustomer(ctx, id, func(c *identity.Customer) error { return c.FlagPasskey(cred.ID) }); ferr != nil {
			h.logger.Error("flagging passkey", zap.Error(ferr))
		}
		h.audit(r, id, identity.EventPasskeyFlagged)
		h.logger.Warn("passkey signature counter went backwards; passkey flagged", zap.String("user", id))
		return nil, nil, false, identity.ErrCounter
	}
	if err != nil {
		return nil, nil, false, err
	}
	p, _ := c.Passkey(cred.ID)
	return c, p, flags.HasUserVerified(), nil
}

// passkeyLogin signs in with a discoverable passkey (no email typed). User
// verification is required, so the session is aal2.
func (h *Handler) passkeyLogin(w http.ResponseWriter, r *http.Request) error {
	rd := safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	c, p, uv, err := h.checkAssertion(r, r.PostForm.Get("credential"), purposePasskeyLogin, "")
	if err != nil && !isFactorRefusal(err) {
		h.logger.Error("checking a passkey", zap.Error(err))
		return h.unavailable(w)
	}
	if err != nil || !c.EmailVerified {
		d := &pageData{Title: "Sign in", RD: rd, CSRF: h.csrfFor(w, r), Script: true, Error: factorRefusal(err)}
		if err == nil {
			d.Error = "Confirm your email address first: follow the link we sent you."
		}
		return h.render(w, http.StatusUnauthorized, "login", d)
	}
	clearCookie(w, ceremonyCookie)
	amr, acr := []string{passkeyAMR(p)}, "aal1"
	if uv {
		amr, acr = append(amr, "mfa"), "aal2"
	}
	if err := h.startSession(w, r, c, amr, acr); err != nil {
		h.logger.Error("starting session", zap.Error(err))
		return h.unavailable(w)
	}
	http.Redirect(w, r, rd, http.StatusSeeOther)
	return nil
}

// passkeyRegister adds the passkey the browser created to the signed-in
// customer's account.
func (h *Handler) passkeyRegister(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	ctx := r.Context()
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(r.PostForm.Get("credential")))
	if err != nil {
		h.logger.Debug("malformed passkey registration", zap.Error(err))
		return h.passkeyNotAdded(w)
	}
	tok, sd, err := h.ceremony(r, parsed.Response.CollectedClientData.Challenge, purposeRegister, identity.HashToken(s.Key))
	if errors.Is(err, errPasskeyRefused) || (err == nil && tok.CustomerID != s.UserID) {
		return h.passkeyNotAdded(w)
	}
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	c, err := h.app.backend.identity.Customer(ctx, s.UserID)
	if err != nil {
		h.logger.Error("loading customer", zap.Error(err))
		return h.unavailable(w)
	}
	cred, err := h.webauthn.CreateCredential(waUser{c}, *sd, parsed)
	if err != nil {
		h.logger.Debug("passkey registration refused", zap.Error(err))
		return h.passkeyNotAdded(w)
	}
	p := identity.Passkey{
		ID: cred.ID, PublicKey: cred.PublicKey, AttestationType: cred.AttestationType, AAGUID: cred.Authenticator.AAGUID,
		SignCount: cred.Authenticator.SignCount, UserPresent: cred.Flags.UserPresent, UserVerified: cred.Flags.UserVerified,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, CreatedAt: time.Now().UTC(),
		Name: "on " + deviceName(&session.Session{UserAgent: r.UserAgent()}),
	}
	for _, t := range cred.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	if _, err := h.app.backend.identity.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.AddPasskey(p) }); err != nil {
		if errors.Is(err, identity.ErrFactorExists) || errors.Is(err, identity.ErrTooMany) {
			return h.passkeyNotAdded(w)
		}
		h.logger.Error("storing passkey", zap.Error(err))
		return h.unavailable(w)
	}
	h.audit(r, c.ID, identity.EventPasskeyAdded)
	http.Redirect(w, r, h.Prefix+"/account", http.StatusSeeOther)
	return nil
}

func (h *Handler) passkeyNotAdded(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, "Passkey not added",
		"Your passkey could not be added: the request expired, was already used, or was not accepted. Please try again.",
		h.Prefix+"/account", "Back to your account")
}

// passkeyRemove deletes a passkey. Removing the last way to sign in
// (besides an email link) asks for confirmation first.
func (h *Handler) passkeyRemove(w http.ResponseWriter, r *http.Request) error {
	_, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	id, err := base64.RawURLEncoding.DecodeString(r.PostForm.Get("id"))
	p, ok := c.Passkey(id)
	if err != nil || !ok {
		return h.message(w, http.StatusNotFound, "Passkey", "That passkey is not on your account.", h.Prefix+"/account", "Back to your account")
	}
	if c.SignInMethods() == 1 && !p.Flagged && r.PostForm.Get("confirm") == "" {
		return h.render(w, http.StatusOK, "confirm", &pageData{Title: "Remove your last passkey?", CSRF: h.csrfFor(w, r),
			Error: "This passkey is the only way you can sign in besides an email link. Without it, you will sign in only through links sent to " + c.Email + ".",
			Confirm: &confirmView{Action: h.Prefix + "/account/passkey/remove", Button: "Remove it anyway",
				Fields: []hiddenField{{"id", r.PostForm.Get("id")}, {"confirm", "1"}}}})
	}
	if _, err := h.flows.RemovePasskey(r.Context(), c.ID, id, h.client(r)); err != nil {
		h.logger.Error("removing passkey", zap.Error(err))
		return h.unavailable(w)
	}
	return h.message(w, http.StatusOK, "Passkey removed", "The passkey was removed from your account.", h.Prefix+"/account", "Back to your account")
}
