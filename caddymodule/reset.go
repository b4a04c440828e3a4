package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

const (
	resetTitle        = "Reset your password"
	resetConfirmTitle = "Choose a new password"
)

func (h *Handler) resetPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, http.StatusOK, "reset", h.formPage(w, r, resetTitle))
}

// reset mails a reset link to the account holding the address, if any.
// Every well-formed address gets the same page after the same work (one
// store lookup, no hashing), so the page says nothing about who has an
// account. Nothing about the account changes: until the link is followed,
// the password the customer knows keeps working.
func (h *Handler) reset(w http.ResponseWriter, r *http.Request) error {
	email, rd, c, answered, err := h.customerOfForm(w, r, "reset", resetTitle)
	if answered {
		return err
	}
	ctx := r.Context()
	// An unknown address gets no mail at all: a "no account here" notice
	// would let anyone send mail to any address through this form. It still
	// costs the same store write — a token for nobody, whose secret nobody
	// has — so the answer's timing does not tell the two apart either.
	target := &identity.Customer{}
	if c != nil {
		target = c
	}
	if err := h.sendReset(ctx, target); err != nil {
		h.logger.Error("storing reset token", zap.Error(err))
		return h.unavailable(w)
	}
	login := h.Prefix + "/login"
	if rd != "/" {
		login += "?rd=" + url.QueryEscape(rd)
	}
	return h.message(w, http.StatusOK, "Check your email",
		"If an account uses "+email+", we sent a link to choose a new password to that address. "+
			"It works once, for 30 minutes. Until you follow it, your current password keeps working. "+
			"Nothing arrived? Check your spam folder, or try again in a few minutes.",
		login, "Back to sign in")
}

// sendReset stores a fresh reset token for c and queues the mail holding
// its link. Earlier links stay valid until used or expired.
func (h *Handler) sendReset(ctx context.Context, c *identity.Customer) error {
	secret, tok := identity.NewToken(identity.TokenResetPassword, c.ID, identity.ResetTokenTTL, time.Now())
	if err := h.app.backend.identity.PutToken(ctx, tok); err != nil {
		return err
	}
	if c.ID == "" {
		return nil // the decoy of an unknown address: no mail
	}
	link := h.origin + h.Prefix + "/reset/confirm?token=" + url.QueryEscape(secret)
	h.queueMail(c.Email, "reset_password", mailResetPassword, mailData{Link: link, Site: h.audience})
	return nil
}

// resetConfirmPage is where the mailed link lands. It only checks that the
// token is well formed: mail scanners and link previews follow GET links,
// so opening the link must not use it up. The POST does.
func (h *Handler) resetConfirmPage(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.resetLinkMalformed(w)
	}
	return h.render(w, http.StatusOK, "reset_confirm", &pageData{Title: resetConfirmTitle, CSRF: h.csrfFor(w, r), Token: secret})
}

// resetConfirm sets the new password. The password is checked before the
// token is consumed, so a typo does not burn the link. Completing a reset
// signs the customer out everywhere and records a security event.
func (h *Handler) resetConfirm(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.resetLinkMalformed(w)
	}
	password := r.PostForm.Get("password")
	if fields := h.flows.CheckNewPassword(password, r.PostForm.Get("password_confirm")); len(fields) > 0 {
		return h.render(w, http.StatusBadRequest, "reset_confirm", &pageData{
			Title: resetConfirmTitle, CSRF: h.csrfFor(w, r), Token: secret,
			Error: "Please correct the fields marked below.", Errors: fieldErrors(fields),
		})
	}

	ctx := r.Context()
	tok, err := h.app.backend.identity.ConsumeToken(ctx, identity.TokenResetPassword, identity.HashToken(secret), time.Now())
	if errors.Is(err, identity.ErrNotFound) || (err == nil && tok.CustomerID == "") { // "" : a decoy (see reset)
		return h.resetLinkExpired(w)
	}
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	hash, err := h.app.hasher.Hash(ctx, password)
	if err != nil {
		// Nothing changed yet: give the link back so the customer can
		// submit again instead of requesting a new one.
		h.putBack(ctx, tok)
		return h.hashFailed(w, err)
	}
	c, err := h.app.backend.identity.Customer(ctx, tok.CustomerID)
	if errors.Is(err, identity.ErrNotFound) { // the account was deleted since
		return h.resetLinkExpired(w)
	}
	if err != nil {
		h.logger.Error("loading customer", zap.Error(err))
		h.putBack(ctx, tok)
		return h.unavailable(w)
	}
	if c.HasSecondFactor() {
		// The mailbox alone is not enough for an account with a second
		// factor: the new password waits, server-side and bound to this
		// browser, until the factor is passed (see mfa).
		return h.askSecondFactor(w, r, c, &identity.Token{PasswordHash: hash, Purpose: purposeReset}, allFactors)
	}
	return h.applyReset(w, r, c.ID, hash)
}

// applyReset sets the new password of a completed reset, ends every
// session of the customer and records the event.
func (h *Handler) applyReset(w http.ResponseWriter, r *http.Request, id, hash string) error {
	ctx := r.Context()
	_, err := h.app.backend.identity.UpdateCustomer(ctx, id, func(c *identity.Customer) error {
		c.PasswordHash = hash
		// The link was mailed to the address, so following it proves the
		// customer reads that mailbox — what verifying the address proves.
		// It also turns off any verification link still in the mailbox:
		// those only set a password on an unverified account (see verify).
		c.EmailVerified = true
		// A remembered browser skips the second factor; whoever knew
		// the old password may have been remembered too.
		c.ForgetDevices()
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) { // the account was deleted since
		return h.resetLinkExpired(w)
	}
	if err != nil {
		h.logger.Error("setting new password", zap.Error(err))
		return h.unavailable(w)
	}
	// Whoever knew the old password may hold a session: end them all,
	// including any in this browser.
	if _, err := h.app.backend.sessions.RevokeUser(ctx, id); err != nil {
		h.logger.Error("revoking sessions after a password reset", zap.Error(err))
		return h.unavailable(w)
	}
	h.endBrowserSession(ctx, r)
	clearSessionCookie(w)
	h.audit(r, id, identity.EventPasswordReset)
	return h.message(w, http.StatusOK, "Password changed",
		"Your new password is set, and every device that was signed in to your account has been signed out. Sign in with your new password.",
		h.Prefix+"/login", "Sign in")
}

// endBrowserSession revokes the session this browser holds, when it is
// another customer's (the reset's customer's are gone already). Best
// effort: the cookie is cleared either way.
func (h *Handler) endBrowserSession(ctx context.Context, r *http.Request) {
	ck, err := r.Cookie(session.CookieName)
	if err != nil {
		return
	}
	token, err := h.app.codec.Decode(h.origin, ck.Value)
	if err != nil {
		return
	}
	if err := h.app.backend.sessions.Revoke(ctx, session.KeyOf(token)); err != nil {
		h.logger.Warn("revoking this browser's session after a password reset", zap.Error(err))
	}
}

func (h *Handler) resetLinkMalformed(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, resetConfirmTitle,
		"This link is incomplete or malformed. Copy the whole link from the email, or request a new one.",
		h.Prefix+"/reset", "Request a new link")
}

func (h *Handler) resetLinkExpired(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, resetConfirmTitle,
		"This link has expired or was already used. Request a new one.",
		h.Prefix+"/reset", "Request a new link")
}

// customerOfForm reads the rd and email fields of a posted form that acts
// on an address (reset, magic link) and looks the address up. A malformed
// address re-renders page with a field error, a store failure answers
// 503: then answered is true and err is what to return. c is nil for an
// address with no account.
func (h *Handler) customerOfForm(w http.ResponseWriter, r *http.Request, page, title string) (email, rd string, c *identity.Customer, answered bool, err error) {
	rd = safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	rawEmail := r.PostForm.Get("email")
	if email, err = identity.NormalizeEmail(rawEmail); err != nil {
		return "", rd, nil, true, h.render(w, http.StatusBadRequest, page, &pageData{
			Title: title, CSRF: h.csrfFor(w, r), RD: rd, Email: truncate(rawEmail, 254),
			Error:  "Please correct the fields marked below.",
			Errors: map[string]string{"email": "Enter an email address like name@example.com."},
		})
	}
	c, err = h.app.backend.identity.CustomerByEmail(r.Context(), email)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		h.logger.Error("identity store failed", zap.Error(err))
		return email, rd, nil, true, h.unavailable(w)
	}
	return email, rd, c, false, nil
}
