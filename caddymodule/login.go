package caddymodule

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) error {
	d := h.formPage(w, r, "Sign in")
	if r.URL.Query().Get("reauth") != "" {
		d.Message = "Please sign in again to continue."
	}
	return h.render(w, http.StatusOK, "login", d)
}

// login checks the password and starts a new session. Unknown addresses
// cost the same argon2id verification and get the same answer as a wrong
// password.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	rd := safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	rawEmail, password := r.PostForm.Get("email"), r.PostForm.Get("password")
	d := &pageData{Title: "Sign in", RD: rd, Email: truncate(rawEmail, 254), Errors: map[string]string{}}
	email, err := identity.NormalizeEmail(rawEmail)
	if err != nil {
		d.Errors["email"] = "Enter an email address like name@example.com."
	}
	if password == "" {
		d.Errors["password"] = "Enter your password."
	} else if len(password) > 4*h.app.policy.MaxLength {
		d.Errors["password"] = "That password is longer than any we accept."
	}
	if len(d.Errors) > 0 {
		d.Error = "Please correct the fields marked below."
		d.CSRF = h.csrfFor(w, r)
		return h.render(w, http.StatusBadRequest, "login", d)
	}

	ctx := r.Context()
	c, err := h.app.backend.identity.CustomerByEmail(ctx, email)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	stored := ""
	if c != nil {
		stored = c.PasswordHash
	}
	rehash, err := h.app.hasher.Verify(ctx, stored, password)
	if err != nil {
		if !errors.Is(err, identity.ErrPasswordMismatch) {
			// A full hashing queue is what a surge of sign-ins looks
			// like from here: it counts as a failure for surge detection.
			h.recordOutcome(r, errors.Is(err, identity.ErrHasherBusy))
			return h.hashFailed(w, err)
		}
		h.recordOutcome(r, true)
		d.Error = "The email address or password is incorrect."
		d.CSRF = h.csrfFor(w, r)
		return h.render(w, http.StatusUnauthorized, "login", d)
	}
	h.recordOutcome(r, false)
	// No session for an unverified address: its password may be a
	// squatter's (see signUp). The link keeps the password just proven.
	if !c.EmailVerified {
		// Bound to this browser, which just proved the password: only
		// here does the link make it effective.
		nonce := newNonce()
		if err := h.sendVerification(ctx, c, c.PasswordHash, identity.HashToken(nonce)); err != nil {
			h.logger.Error("resending verification", zap.Error(err))
			return h.unavailable(w)
		}
		setCookie(w, signupCookie, nonce, int(identity.VerifyTokenTTL.Seconds()))
		return h.message(w, http.StatusForbidden, "Confirm your email first",
			"We sent a new confirmation link to your address. Follow it, then sign in.", "", "")
	}

	var newHash string
	if rehash {
		if newHash, err = h.app.hasher.Hash(ctx, password); err != nil {
			return h.hashFailed(w, err)
		}
	}
	now := time.Now().UTC()
	c, err = h.app.backend.identity.UpdateCustomer(ctx, c.ID, func(c *identity.Customer) error {
		c.LastLoginAt = now
		if newHash != "" {
			c.PasswordHash = newHash
		}
		return nil
	})
	if err != nil {
		h.logger.Error("recording sign-in", zap.Error(err))
		return h.unavailable(w)
	}
	return h.signedIn(w, r, c, []string{"pwd"}, rd)
}

// startSession ends whatever session the browser had (so a session planted
// before sign-in is worthless) and starts a new one with a new id.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, c *identity.Customer, amr []string, acr string) error {
	ctx := r.Context()
	if ck, err := r.Cookie(session.CookieName); err == nil {
		if token, err := h.app.codec.Decode(h.origin, ck.Value); err == nil {
			if err := h.app.backend.sessions.Revoke(ctx, session.KeyOf(token)); err != nil {
				return err
			}
		}
	}
	token, _, err := h.app.backend.sessions.Create(ctx, session.New{
		UserID: c.ID, Email: c.Email, EmailVerified: c.EmailVerified, Site: h.origin,
		AMR: amr, ACR: acr, UserAgent: truncate(r.UserAgent(), 256), IP: clientIP(r),
	})
	if err != nil {
		return err
	}
	return h.setSessionCookie(w, token)
}

func (h *Handler) logoutPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, http.StatusOK, "logout", &pageData{Title: "Sign out", CSRF: h.csrfFor(w, r)})
}

// logout ends the session server-side and clears the cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	if ck, err := r.Cookie(session.CookieName); err == nil {
		if token, err := h.app.codec.Decode(h.origin, ck.Value); err == nil {
			if err := h.app.backend.sessions.Revoke(r.Context(), session.KeyOf(token)); err != nil {
				h.logger.Error("revoking session", zap.Error(err))
				return h.unavailable(w)
			}
		}
	}
	clearSessionCookie(w)
	return h.message(w, http.StatusOK, "Signed out", "You are signed out.", h.Prefix+"/login", "Sign in again")
}

// hashFailed answers when a password could not be hashed or checked: the
// hashing queue is full or waited too long (a burst of sign-ins: 503 with
// Retry-After, logged at debug so a flood is not a flood of log lines), or
// the client went away.
func (h *Handler) hashFailed(w http.ResponseWriter, err error) error {
	if errors.Is(err, identity.ErrHasherBusy) {
		h.logger.Debug("password hashing busy", zap.Error(err))
		// When a slot would be free for someone asking now: usually a
		// second, not the longest wait.
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(h.app.hasher.RetryAfter().Seconds()))))
		return h.message(w, http.StatusServiceUnavailable, "Busy right now",
			"Many people are signing in at the moment. Please try again in a few seconds.", "", "")
	}
	h.logger.Warn("password hashing did not complete", zap.Error(err))
	return h.unavailable(w)
}
