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
	passkey := r.PostForm.Get("method") == "passkey"
	email, err := identity.NormalizeEmail(rawEmail)
	if err != nil {
		d.Errors["email"] = "Enter an email address like name@example.com."
	}
	if err := h.app.policy.Check(password); err != nil && !passkey {
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
	// A passkey-first sign-up has no password: its link, once followed,
	// leads to creating the passkey.
	hash := ""
	if !passkey {
		if hash, err = h.app.hasher.Hash(ctx, password); err != nil {
			return h.hashFailed(w, err)
		}
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
// (the password verifying through it makes effective; none for a
// passkey-first sign-up) and queues the mail.
func (h *Handler) sendVerification(ctx context.Context, c *identity.Customer, passwordHash string) error {
	secret, tok := identity.NewToken(identity.TokenVerifyEmail, c.ID, identity.VerifyTokenTTL, time.Now())
	tok.PasswordHash = passwordHash
	if passwordHash == "" {
		tok.Purpose = purposePasskeySignup
	}
	if err := h.app.backend.identity.PutToken(ctx, tok); err != nil {
		return err
	}
	link := h.origin + h.Prefix + "/verify?token=" + url.QueryEscape(secret)
	if passwordHash == "" {
		link += "&passkey=1"
	}
	h.queueMail(c.Email, "verify", mailVerify, mailData{Link: link, Site: h.audience})
	return nil
}

func (h *Handler) sendAlreadyRegistered(c *identity.Customer) {
	h.queueMail(c.Email, "already_registered", mailAlreadyRegistered,
		mailData{Link: h.origin + h.Prefix + "/login", Site: h.audience})
}

// purposePasskeySignup marks the verification token of a passkey-first
// sign-up.
const purposePasskeySignup = "passkey_signup"

// verify confirms an address from the mailed link. The link of a
// passkey-first sign-up (passkey=1) only shows a button: following it
// signs the browser in to create the passkey, which a mail scanner's GET
// must not do.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.verifyMalformed(w)
	}
	if r.URL.Query().Get("passkey") != "" {
		return h.render(w, http.StatusOK, "verify_passkey", &pageData{Title: "Confirm your email", CSRF: h.csrfFor(w, r), Token: secret})
	}
	if _, _, answered, err := h.confirmEmail(w, r, secret); answered {
		return err
	}
	return h.emailConfirmed(w)
}

func (h *Handler) emailConfirmed(w http.ResponseWriter) error {
	return h.render(w, http.StatusOK, "verify", &pageData{Title: "Email confirmed", Message: "Thank you — your email address is confirmed. You can sign in now."})
}

// verifyPasskeySignup confirms the address of a passkey-first sign-up and
// signs the browser in to create its passkey.
func (h *Handler) verifyPasskeySignup(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.verifyMalformed(w)
	}
	c, purpose, answered, err := h.confirmEmail(w, r, secret)
	if answered {
		return err
	}
	if purpose != purposePasskeySignup { // a password sign-up's link only confirms
		return h.emailConfirmed(w)
	}
	return h.signedIn(w, r, c, []string{"email"}, h.Prefix+"/account?welcome=passkey")
}

func (h *Handler) verifyMalformed(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, "Confirm your email", "This link is incomplete or malformed. Copy the whole link from the email.", h.Prefix+"/login", "Go to sign in")
}

// confirmEmail uses up a verification link and marks the address
// verified. answered is true when it answered the request itself (the link
// is spent, or the store failed); err is then what to return. purpose is
// the token's (purposePasskeySignup for a passkey-first sign-up).
func (h *Handler) confirmEmail(w http.ResponseWriter, r *http.Request, secret string) (c *identity.Customer, purpose string, answered bool, err error) {
	const title = "Confirm your email"
	ctx := r.Context()
	tok, err := h.app.backend.identity.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), time.Now())
	if errors.Is(err, identity.ErrNotFound) {
		return nil, "", true, h.message(w, http.StatusBadRequest, title,
			"This link has expired or was already used. Sign in to get a new one.", h.Prefix+"/login", "Go to sign in")
	}
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return nil, "", true, h.unavailable(w)
	}
	c, err = h.app.backend.identity.UpdateCustomer(ctx, tok.CustomerID, func(c *identity.Customer) error {
		// The first link followed sets the password of the sign-up that
		// sent it — none, for a passkey-first sign-up: a password set by
		// whoever signed up first with the address does not survive.
		// Links still in the mailbox after that (a squatter's among them)
		// only confirm again: a verified account's password never changes
		// through a verification link.
		if !c.EmailVerified {
			c.PasswordHash = tok.PasswordHash
		}
		c.EmailVerified = true
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) {
		return nil, "", true, h.message(w, http.StatusBadRequest, title,
			"This link has expired or was already used. Sign in to get a new one.", h.Prefix+"/login", "Go to sign in")
	}
	if err != nil {
		h.logger.Error("marking email verified", zap.Error(err))
		return nil, "", true, h.unavailable(w)
	}
	return c, tok.Purpose, false, nil
}
