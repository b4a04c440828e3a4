package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
)

func (h *Handler) registerPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, http.StatusOK, "register", h.formPage(w, r, "Create your account"))
}

// register creates an account, or — when the address is taken — mails the
// owner instead. Every answer is the same page after the same work (one
// argon2id hash), so the page says nothing about who has an account.
func (h *Handler) register(w http.ResponseWriter, r *http.Request) error {
	d := &pageData{Title: "Create your account", RD: safeRedirect(r.PostForm.Get("rd"), h.allowHosts), Errors: map[string]string{}}
	rawEmail, password := r.PostForm.Get("email"), r.PostForm.Get("password")
	email, err := identity.NormalizeEmail(rawEmail)
	if err != nil {
		d.Errors["email"] = "Enter an email address like name@example.com."
	}
	if err := h.app.policy.Check(password); err != nil {
		d.Errors["password"] = capitalise(err.Error()) + "."
	}
	if len(d.Errors) > 0 {
		d.Email = truncate(rawEmail, 254)
		d.Error = "Please correct the fields marked below."
		d.CSRF = h.csrfFor(w, r)
		return h.render(w, http.StatusBadRequest, "register", d)
	}
	ctx := r.Context()
	existing, err := h.app.backend.identity.CustomerByEmail(ctx, email)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	// Hashed whatever the address's state, so every answer costs the same.
	hash, err := h.app.hasher.Hash(ctx, password)
	if err != nil {
		return h.hashFailed(w, err)
	}
	if err := h.signUp(ctx, existing, email, hash); err != nil {
		h.logger.Error("registering customer", zap.Error(err))
		return h.unavailable(w)
	}
	return h.render(w, http.StatusOK, "register_sent", &pageData{Title: "Check your email", Email: email, RD: d.RD})
}

// signUp acts on a sign-up for email with a password hashing to hash; c is
// the account holding the address, nil if none.
//
// An account whose address is not verified yet may have been opened by
// someone who does not own the address (pre-account hijacking): its
// password proves nothing. So a sign-up for it is answered like a new one —
// a verification link bound to this sign-up's password — and whichever
// link the mailbox's reader follows decides the password (see verify).
// Only a verified account is left alone, its owner told of the attempt.
func (h *Handler) signUp(ctx context.Context, c *identity.Customer, email, hash string) error {
	if c == nil {
		c = &identity.Customer{ID: identity.NewID(), Email: email, CreatedAt: time.Now().UTC(), PasswordHash: hash}
		err := h.app.backend.identity.CreateCustomer(ctx, c)
		if err == nil {
			return h.sendVerification(ctx, c, hash)
		}
		if !errors.Is(err, identity.ErrEmailTaken) {
			return err
		}
		// Lost a race with another sign-up for the same address: answer
		// as if that one had come first.
		c, err = h.app.backend.identity.CustomerByEmail(ctx, email)
		if errors.Is(err, identity.ErrNotFound) {
			return nil // the other sign-up failed after all; nothing to mail
		}
		if err != nil {
			return err
		}
	}
	if c.EmailVerified {
		h.sendAlreadyRegistered(c)
		return nil
	}
	return h.sendVerification(ctx, c, hash)
}

// sendVerification stores a fresh verification token bound to passwordHash
// (the password verifying through it makes effective) and queues the mail.
func (h *Handler) sendVerification(ctx context.Context, c *identity.Customer, passwordHash string) error {
	secret, tok := identity.NewToken(identity.TokenVerifyEmail, c.ID, identity.VerifyTokenTTL, time.Now())
	tok.PasswordHash = passwordHash
	if err := h.app.backend.identity.PutToken(ctx, tok); err != nil {
		return err
	}
	link := h.origin + h.Prefix + "/verify?token=" + url.QueryEscape(secret)
	h.queueMail(c.Email, "verify", mailVerify, mailData{Link: link, Site: h.audience})
	return nil
}

func (h *Handler) sendAlreadyRegistered(c *identity.Customer) {
	h.queueMail(c.Email, "already_registered", mailAlreadyRegistered,
		mailData{Link: h.origin + h.Prefix + "/login", Site: h.audience})
}

// verify confirms an address from the mailed link.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) error {
	const title = "Confirm your email"
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.message(w, http.StatusBadRequest, title, "This link is incomplete or malformed. Copy the whole link from the email.", h.Prefix+"/login", "Go to sign in")
	}
	ctx := r.Context()
	tok, err := h.app.backend.identity.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), time.Now())
	if errors.Is(err, identity.ErrNotFound) {
		return h.message(w, http.StatusBadRequest, title,
			"This link has expired or was already used. Sign in to get a new one.", h.Prefix+"/login", "Go to sign in")
	}
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	_, err = h.app.backend.identity.UpdateCustomer(ctx, tok.CustomerID, func(c *identity.Customer) error {
		// The first link followed sets the password of the sign-up that
		// sent it. Links still in the mailbox after that (a squatter's
		// among them) only confirm again: a verified account's password
		// never changes through a verification link.
		if !c.EmailVerified && tok.PasswordHash != "" {
			c.PasswordHash = tok.PasswordHash
		}
		c.EmailVerified = true
		return nil
	})
	if err != nil {
		h.logger.Error("marking email verified", zap.Error(err))
		return h.unavailable(w)
	}
	return h.render(w, http.StatusOK, "verify", &pageData{Title: "Email confirmed", Message: "Thank you — your email address is confirmed. You can sign in now."})
}
