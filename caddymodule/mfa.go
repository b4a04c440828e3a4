package caddymodule

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// The second step of a sign-in, and step-up: once a customer has proven a
// first factor (password, email link) and has a second factor, no session
// is started; a wait for the second factor is stored instead, under the
// hash of a nonce the browser holds in mfaCookie. A step-up uses the same
// wait, bound to the session asking for it.

const (
	mfaTitle = "Two-step verification"
	// mfaCookie binds a wait for a second factor to the browser.
	mfaCookie = "__Host-frontdoor-mfa"
	// deviceCookie remembers a browser after a second factor:
	// "<customer id>.<secret>", the customer record holding the secret's
	// hash (identity.TrustedDevice).
	deviceCookie = "__Host-frontdoor-device"
)

// Purposes of a wait for a second factor.
const (
	purposeLogin = "login"
	// purposeStepUp returns to a GET request; purposeResubmit asks the
	// customer to send again the form that needed the step-up.
	purposeStepUp   = "stepup"
	purposeResubmit = "stepup_resubmit"
	// purposeReset sets the new password held in the wait (PasswordHash).
	purposeReset = "reset"
)

// Second factors a wait may accept (its Data, comma separated).
const (
	factorTOTP     = "otp"
	factorPasskey  = "passkey"
	factorRecovery = "recovery"
)

// factorsView is what the second-factor page offers.
type factorsView struct {
	TOTP, Passkey, Recovery bool
	// Remember offers the trusted-device checkbox (sign-in only).
	Remember bool
}

// signedIn finishes a first factor: a customer with a second factor is
// asked for it — unless this browser is remembered for them — and any
// other gets a session.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, c *identity.Customer, amr []string, rd string) error {
	if c.HasSecondFactor() && !h.trustedDevice(r, c) {
		return h.askSecondFactor(w, r, c, &identity.Token{Methods: amr, Redirect: rd, Purpose: purposeLogin}, allFactors)
	}
	if err := h.startSession(w, r, c, amr, "aal1"); err != nil {
		h.logger.Error("starting session", zap.Error(err))
		return h.unavailable(w)
	}
	http.Redirect(w, r, safeRedirect(rd, h.allowHosts), http.StatusSeeOther)
	return nil
}

var allFactors = []string{factorTOTP, factorPasskey, factorRecovery}

// askSecondFactor stores tok — a wait for a second factor of c, one of
// factors, its purpose and what to do after filled in by the caller — and
// shows the page asking for it. A step-up's tok.Binding is the hash of the
// session it belongs to.
func (h *Handler) askSecondFactor(w http.ResponseWriter, r *http.Request, c *identity.Customer, tok *identity.Token, factors []string) error {
	nonce := newNonce()
	tok.Kind, tok.Hash, tok.CustomerID = identity.TokenSecondFactor, identity.HashToken(nonce), c.ID
	tok.ExpiresAt = time.Now().Add(identity.SecondFactorTTL)
	tok.Data = []byte(strings.Join(factors, ","))
	if err := h.app.backend.identity.PutToken(r.Context(), tok); err != nil {
		h.logger.Error("storing second-factor wait", zap.Error(err))
		return h.unavailable(w)
	}
	setCookie(w, mfaCookie, nonce, int(identity.SecondFactorTTL.Seconds()))
	return h.mfaForm(w, r, http.StatusOK, c, tok, "")
}

func (h *Handler) mfaForm(w http.ResponseWriter, r *http.Request, status int, c *identity.Customer, tok *identity.Token, errMsg string) error {
	allowed := strings.Split(string(tok.Data), ",")
	v := &factorsView{
		TOTP:     c.TOTP != nil && slices.Contains(allowed, factorTOTP),
		Passkey:  c.HasUsablePasskey() && slices.Contains(allowed, factorPasskey),
		Recovery: len(c.RecoveryCodes) > 0 && slices.Contains(allowed, factorRecovery),
		Remember: tok.Purpose == purposeLogin,
	}
	d := &pageData{Title: mfaTitle, CSRF: h.csrfFor(w, r), Factors: v, Script: v.Passkey}
	if errMsg != "" {
		d.Error = "That did not work."
		d.Errors = map[string]string{"code": errMsg}
	}
	return h.render(w, status, "mfa", d)
}

// mfaWait takes the browser's wait for a second factor out of the store
// (the caller puts it back if it is not finished). It answers the request
// itself and returns nil when there is none.
func (h *Handler) mfaWait(w http.ResponseWriter, r *http.Request) (*identity.Token, *identity.Customer) {
	nonce, ok := cookieNonce(r, mfaCookie)
	if !ok {
		_ = h.mfaExpired(w)
		return nil, nil
	}
	ctx := r.Context()
	tok, err := h.app.backend.identity.ConsumeToken(ctx, identity.TokenSecondFactor, identity.HashToken(nonce), time.Now())
	if errors.Is(err, identity.ErrNotFound) {
		_ = h.mfaExpired(w)
		return nil, nil
	}
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		_ = h.unavailable(w)
		return nil, nil
	}
	if len(tok.Binding) > 0 { // a step-up: only for the session that asked
		s, err := h.currentSession(r)
		if err != nil {
			h.putBack(ctx, tok)
			_ = h.unavailable(w)
			return nil, nil
		}
		if s == nil || s.UserID != tok.CustomerID || subtle.ConstantTimeCompare(identity.HashToken(s.Key), tok.Binding) != 1 {
			_ = h.mfaExpired(w)
			return nil, nil
		}
	}
	c, err := h.app.backend.identity.Customer(ctx, tok.CustomerID)
	if err != nil {
		if !errors.Is(err, identity.ErrNotFound) {
			h.putBack(ctx, tok)
			h.logger.Error("loading customer", zap.Error(err))
			_ = h.unavailable(w)
		} else {
			_ = h.mfaExpired(w)
		}
		return nil, nil
	}
	return tok, c
}

// mfaPage shows the second-factor form again (a reload).
func (h *Handler) mfaPage(w http.ResponseWriter, r *http.Request) error {
	tok, c := h.mfaWait(w, r)
	if tok == nil {
		return nil
	}
	h.putBack(r.Context(), tok)
	return h.mfaForm(w, r, http.StatusOK, c, tok, "")
}

// mfa checks a second factor: an authenticator code (`code`), a recovery
// code (`recovery_code`) or a passkey assertion (`credential`). Wrong
// answers count against the wait; the fifth ends it (and, for a step-up,
// the session).
func (h *Handler) mfa(w http.ResponseWriter, r *http.Request) error {
	tok, c := h.mfaWait(w, r)
	if tok == nil {
		return nil
	}
	// The sessions' clock, which tests move: authenticator codes are
	// about time steps.
	ctx, now := r.Context(), h.app.backend.sessions.Now()
	// Wrong answers count against the customer, whichever wait, browser
	// or address they come from (serveOwn has counted the attempt
	// against its address and network already).
	account := "customer " + c.ID
	over, retry, err := h.app.backend.defense.FailuresOver(ctx, h.policy, botdefense.RouteStepUp, account)
	if err != nil {
		h.putBack(ctx, tok)
		h.logger.Error("edge defence check failed", zap.String("route", botdefense.RouteStepUp), zap.Error(err))
		return h.unavailable(w)
	}
	if over {
		h.putBack(ctx, tok) // not checked: the wait stays for after the window
		h.app.backend.decisions.note(botdefense.RouteStepUp, botdefense.Limited)
		return h.tooMany(w, r, http.StatusTooManyRequests, retry, "Too many attempts",
			"There have been too many wrong answers for this account. Please wait a little and try again.")
	}
	allowed := strings.Split(string(tok.Data), ",")
	var method string
	switch code, rc, cred := r.PostForm.Get("code"), r.PostForm.Get("recovery_code"), r.PostForm.Get("credential"); {
	case cred != "" && slices.Contains(allowed, factorPasskey):
		var p *identity.Passkey
		p, err = h.passkeyAssertion(r, cred, purposeMFA, c.ID)
		if err == nil {
			method = passkeyAMR(p)
		}
	case rc != "" && slices.Contains(allowed, factorRecovery):
		_, err = h.app.backend.identity.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.UseRecoveryCode(rc) })
		method = "" // no RFC 8176 name: "mfa" alone
		if err == nil {
			h.audit(r, c.ID, identity.EventRecoveryCodeUsed)
		}
	case code != "" && slices.Contains(allowed, factorTOTP):
		_, err = h.app.backend.identity.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error { return c.UseTOTP(code, now) })
		method = "otp"
	default:
		err = identity.ErrBadCode
	}
	if err != nil && !isFactorRefusal(err) {
		h.putBack(ctx, tok)
		h.logger.Error("checking a second factor", zap.Error(err))
		return h.unavailable(w)
	}
	if err != nil {
		if err := h.app.backend.defense.RecordFailure(ctx, h.policy, botdefense.RouteStepUp, account); err != nil {
			h.logger.Warn("recording a wrong second factor", zap.Error(err))
		}
		tok.Attempts++
		if tok.Attempts >= identity.SecondFactorMaxAttempts {
			return h.mfaLockedOut(w, r, tok)
		}
		if err := h.app.backend.identity.PutToken(ctx, tok); err != nil {
			h.logger.Error("storing second-factor wait", zap.Error(err))
			return h.unavailable(w)
		}
		return h.mfaForm(w, r, http.StatusUnauthorized, c, tok, factorRefusal(err))
	}
	clearCookie(w, mfaCookie)
	if tok.Purpose == purposeReset {
		return h.applyReset(w, r, c.ID, tok.PasswordHash)
	}
	amr := slices.Clone(tok.Methods)
	for _, m := range []string{method, "mfa"} {
		if m != "" && !slices.Contains(amr, m) {
			amr = append(amr, m)
		}
	}
	if err := h.startSession(w, r, c, amr, "aal2"); err != nil {
		h.logger.Error("starting session", zap.Error(err))
		return h.unavailable(w)
	}
	if tok.Purpose == purposeLogin && r.PostForm.Get("remember") != "" {
		h.rememberDevice(w, r, c.ID)
	}
	return h.afterStepUp(w, r, tok.Purpose, tok.Redirect)
}

// afterStepUp sends the customer on: back to the page (a GET), or to a
// page asking them to send their form again.
func (h *Handler) afterStepUp(w http.ResponseWriter, r *http.Request, purpose, rd string) error {
	rd = safeRedirect(rd, h.allowHosts)
	if purpose == purposeResubmit {
		return h.message(w, http.StatusOK, "Verified",
			"Thank you. For your safety, what you were sending was not sent: go back and send it again.", rd, "Go back")
	}
	http.Redirect(w, r, rd, http.StatusSeeOther)
	return nil
}

func isFactorRefusal(err error) bool {
	return errors.Is(err, identity.ErrBadCode) || errors.Is(err, identity.ErrCodeReused) ||
		errors.Is(err, identity.ErrCounter) || errors.Is(err, identity.ErrNoFactor) || errors.Is(err, errPasskeyRefused)
}

func factorRefusal(err error) string {
	switch {
	case errors.Is(err, identity.ErrCodeReused):
		return "That code was already used. Wait for your app to show the next one."
	case errors.Is(err, identity.ErrCounter):
		return "This passkey was refused: it may have been copied. Use another way, then remove it from your account."
	case errors.Is(err, errPasskeyRefused), errors.Is(err, identity.ErrNoFactor):
		return "That passkey was not accepted. Try again, or use another way."
	}
	return "That code is not right. Check it and try again."
}

// mfaLockedOut ends a wait after too many wrong answers. A step-up's
// session ends too: whoever holds it could not prove who they are.
func (h *Handler) mfaLockedOut(w http.ResponseWriter, r *http.Request, tok *identity.Token) error {
	clearCookie(w, mfaCookie)
	h.audit(r, tok.CustomerID, identity.EventSecondFactorFailed)
	if len(tok.Binding) > 0 {
		if s, err := h.currentSession(r); err == nil && s != nil {
			if err := h.app.backend.sessions.Revoke(r.Context(), s.Key); err != nil {
				h.logger.Error("revoking session", zap.Error(err))
				return h.unavailable(w)
			}
		}
		clearSessionCookie(w)
	}
	return h.message(w, http.StatusUnauthorized, mfaTitle,
		"Too many wrong answers. For your safety, please sign in again.", h.Prefix+"/login", "Sign in")
}

func (h *Handler) mfaExpired(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, mfaTitle,
		"This verification has expired or was finished in another tab. Please sign in again.", h.Prefix+"/login", "Sign in")
}

// rememberDevice gives the browser a trusted-device cookie for customer
// id. Best effort: the sign-in has succeeded either way.
func (h *Handler) rememberDevice(w http.ResponseWriter, r *http.Request, id string) {
	secret := newNonce()
	name := deviceName(&session.Session{UserAgent: r.UserAgent()})
	_, err := h.app.backend.identity.UpdateCustomer(r.Context(), id, func(c *identity.Customer) error {
		c.TrustDevice(secret, name, time.Now().UTC(), identity.TrustedDeviceTTL)
		return nil
	})
	if err != nil {
		h.logger.Warn("remembering a device", zap.Error(err))
		return
	}
	setCookie(w, deviceCookie, id+"."+secret, int(identity.TrustedDeviceTTL.Seconds()))
}

// trustedDevice reports whether the browser holds a trusted-device cookie
// of c that c still trusts: a cookie of another customer, forgotten or
// expired is worth nothing.
func (h *Handler) trustedDevice(r *http.Request, c *identity.Customer) bool {
	ck, err := r.Cookie(deviceCookie)
	if err != nil {
		return false
	}
	id, secret, ok := strings.Cut(ck.Value, ".")
	if !ok || id != c.ID {
		return false
	}
	if _, err := identity.ParseTokenSecret(secret); err != nil {
		return false
	}
	return c.TrustsDevice(secret, time.Now())
}

// audit records a security event for customer id. Best effort: the
// action it records has happened.
func (h *Handler) audit(r *http.Request, id, kind string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	ev := identity.Event{At: time.Now().UTC(), Kind: kind, IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 256)}
	if err := h.app.backend.identity.AppendEvent(ctx, id, ev); err != nil {
		h.logger.Warn("recording a security event", zap.String("kind", kind), zap.Error(err))
	}
}

// setCookie sets one of Frontdoor's own cookies (binding nonces, the
// remembered device, the challenge pass): __Host- named, Secure,
// HttpOnly, SameSite=Lax, for maxAge seconds (-1 deletes it).
func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

func clearCookie(w http.ResponseWriter, name string) { setCookie(w, name, "", -1) }
