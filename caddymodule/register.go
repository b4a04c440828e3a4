package caddymodule

import (
	"context"
	"crypto/subtle"
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
	// Hashed whatever the address's state, so every answer costs the
	// same. A passkey-first sign-up has no password: its link, once
	// followed, leads to creating the passkey.
	hash := ""
	if !passkey {
		if hash, err = h.app.hasher.Hash(r.Context(), password); err != nil {
			return h.hashFailed(w, err)
		}
	}
	// The link is bound to this browser: only here does it make the
	// password typed above the account's (or sign in to create the
	// passkey). Anywhere else the mailbox's reader chooses one.
	nonce := newNonce()
	binding := identity.HashToken(nonce)
	// Looking the address up and writing for it happen off the response
	// path: the work differs with the address's state, and its time
	// would tell (see writeBehind).
	queued := h.app.backend.later.Do(func(ctx context.Context) {
		existing, err := h.app.backend.identity.CustomerByEmail(ctx, email)
		if err != nil && !errors.Is(err, identity.ErrNotFound) {
			h.app.backend.logger.Error("registering customer: identity store failed", zap.Error(err))
			return
		}
		if err := h.signUp(ctx, existing, email, hash, binding); err != nil {
			h.app.backend.logger.Error("registering customer", zap.Error(err))
		}
	})
	if !queued {
		w.Header().Set("Retry-After", "5")
		return h.message(w, http.StatusServiceUnavailable, "Busy right now",
			"Many people are signing up at the moment. Please try again in a few seconds.", "", "")
	}
	setCookie(w, signupCookie, nonce, int(identity.VerifyTokenTTL.Seconds()))
	return h.render(w, http.StatusOK, "register_sent", &pageData{Title: "Check your email", Email: email, RD: d.RD})
}

// signUp acts on a sign-up for email with a password hashing to hash; c is
// the account holding the address, nil if none.
//
// An account whose address is not verified yet may have been opened by
// someone who does not own the address (pre-account hijacking): its
// password proves nothing. So a sign-up for it is answered like a new one —
// a verification link carrying this sign-up's password, bound to its
// browser — and the link the mailbox's reader confirms decides the
// password (see verifyConfirm). Only a verified account is left alone, its
// owner told of the attempt. binding is the hash of the nonce the sign-up's
// browser holds.
func (h *Handler) signUp(ctx context.Context, c *identity.Customer, email, hash string, binding []byte) error {
	if c == nil {
		c = &identity.Customer{ID: identity.NewID(), Email: email, CreatedAt: time.Now().UTC(), PasswordHash: hash}
		err := h.app.backend.identity.CreateCustomer(ctx, c)
		if err == nil {
			return h.sendVerification(ctx, c, hash, binding)
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
	return h.sendVerification(ctx, c, hash, binding)
}

// sendVerification stores a fresh verification token carrying
// passwordHash (the password confirming it in the browser holding the
// nonce of binding makes effective; none for a passkey-first sign-up) and
// queues the mail.
func (h *Handler) sendVerification(ctx context.Context, c *identity.Customer, passwordHash string, binding []byte) error {
	secret, tok := identity.NewToken(identity.TokenVerifyEmail, c.ID, identity.VerifyTokenTTL, time.Now())
	tok.PasswordHash, tok.Binding = passwordHash, binding
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

// signupCookie binds a verification link to the browser that signed up:
// only there does confirming it make the sign-up's password the account's
// (or sign in to create the passkey).
const signupCookie = "__Host-frontdoor-signup"

const verifyTitle = "Confirm your email"

// verify is where the mailed link lands. It only checks the format and
// asks for a click: mail scanners and link previews follow GET (and HEAD)
// links, and must neither use the link up nor make any password
// effective.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.verifyMalformed(w)
	}
	page := "verify_confirm"
	if r.URL.Query().Get("passkey") != "" {
		page = "verify_passkey"
	}
	return h.render(w, http.StatusOK, page, &pageData{Title: verifyTitle, CSRF: h.csrfFor(w, r), Token: secret})
}

// verifyConfirm uses up a verification link and confirms the address.
//
// In the browser that signed up (it holds the sign-up's nonce) the
// sign-up's password becomes the account's, or — passkey-first — the
// browser is signed in to create its passkey. Anywhere else the mailbox's
// reader is not the person who typed that password, who may be a stranger
// who signed up first with the address: the password is discarded and the
// reader chooses one here (a `password` post), and a passkey-first link
// only confirms the address, signing no one in — so a link sent to a
// victim cannot put them into the sender's account.
func (h *Handler) verifyConfirm(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.verifyMalformed(w)
	}
	chosen := r.PostForm.Has("password")
	if chosen {
		if errs := h.checkNewPassword(r); len(errs) > 0 {
			return h.render(w, http.StatusBadRequest, "verify_password", &pageData{Title: verifyTitle, CSRF: h.csrfFor(w, r),
				Token: secret, Error: "Please correct the fields marked below.", Errors: errs})
		}
	}
	ctx := r.Context()
	tok, err := h.app.backend.identity.ConsumeToken(ctx, identity.TokenVerifyEmail, identity.HashToken(secret), time.Now())
	if errors.Is(err, identity.ErrNotFound) {
		return h.verifyExpired(w)
	}
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	nonce, ok := cookieNonce(r, signupCookie)
	bound := ok && len(tok.Binding) > 0 && subtle.ConstantTimeCompare(identity.HashToken(nonce), tok.Binding) == 1
	passwordHash := tok.PasswordHash
	switch {
	case bound:
		clearCookie(w, signupCookie)
	case tok.Purpose == purposePasskeySignup:
		passwordHash = ""
	default:
		c, err := h.app.backend.identity.Customer(ctx, tok.CustomerID)
		if errors.Is(err, identity.ErrNotFound) {
			return h.verifyExpired(w)
		}
		if err != nil {
			h.putBack(ctx, tok)
			h.logger.Error("loading customer", zap.Error(err))
			return h.unavailable(w)
		}
		if c.EmailVerified { // a stale link: it only confirms again
			return h.emailConfirmed(w, "")
		}
		if !chosen {
			h.putBack(ctx, tok) // kept until a password is chosen
			return h.render(w, http.StatusOK, "verify_password", &pageData{Title: verifyTitle, CSRF: h.csrfFor(w, r), Token: secret})
		}
		if passwordHash, err = h.app.hasher.Hash(ctx, r.PostForm.Get("password")); err != nil {
			h.putBack(ctx, tok)
			return h.hashFailed(w, err)
		}
	}
	c, err := h.app.backend.identity.UpdateCustomer(ctx, tok.CustomerID, func(c *identity.Customer) error {
		// Links still in the mailbox after the first one confirmed (a
		// squatter's among them) only confirm again: a verified account's
		// password never changes through a verification link.
		if !c.EmailVerified {
			c.PasswordHash = passwordHash
		}
		c.EmailVerified = true
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) {
		return h.verifyExpired(w)
	}
	if err != nil {
		h.logger.Error("marking email verified", zap.Error(err))
		return h.unavailable(w)
	}
	if tok.Purpose != purposePasskeySignup {
		msg := ""
		if chosen && !bound {
			msg = "Thank you — your email address is confirmed and your password is set. You can sign in now."
		}
		return h.emailConfirmed(w, msg)
	}
	if !bound {
		return h.message(w, http.StatusOK, "Email confirmed",
			"Thank you — your email address is confirmed. To create your passkey, sign in with an email link "+
				"on the device you will use, then add the passkey on your account page.", h.Prefix+"/magic", "Sign in with email")
	}
	return h.signedIn(w, r, c, []string{"email"}, h.Prefix+"/account?welcome=passkey")
}

// checkNewPassword checks a new password and its repetition, returning
// the errors by field.
func (h *Handler) checkNewPassword(r *http.Request) map[string]string {
	password, confirm := r.PostForm.Get("password"), r.PostForm.Get("password_confirm")
	errs := map[string]string{}
	if err := h.app.policy.Check(password); err != nil {
		errs["password"] = capitalise(err.Error()) + "."
	}
	if identity.NormalizePassword(password) != identity.NormalizePassword(confirm) {
		errs["password_confirm"] = "The two passwords do not match. Type the same new password twice."
	}
	return errs
}

func (h *Handler) emailConfirmed(w http.ResponseWriter, msg string) error {
	if msg == "" {
		msg = "Thank you — your email address is confirmed. You can sign in now."
	}
	return h.render(w, http.StatusOK, "verify", &pageData{Title: "Email confirmed", Message: msg})
}

func (h *Handler) verifyMalformed(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, verifyTitle, "This link is incomplete or malformed. Copy the whole link from the email.", h.Prefix+"/login", "Go to sign in")
}

func (h *Handler) verifyExpired(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, verifyTitle,
		"This link has expired or was already used. Sign in to get a new one.", h.Prefix+"/login", "Go to sign in")
}
