package caddymodule

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
)

const (
	magicTitle        = "Sign in with email"
	magicConfirmTitle = "Finish signing in"
	// magicCookie holds the nonce binding a sign-in link and code to the
	// browser that asked for them. The token records keep only its hash.
	magicCookie = "__Host-frontdoor-magic"
)

func (h *Handler) magicPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, http.StatusOK, "magic", h.formPage(w, r, magicTitle))
}

// magic mails a sign-in link and a code to a verified account holding the
// address, if any, and asks for the code. A post with a `code` field is the
// second step instead. As with reset, every well-formed address gets the
// same page after the same work (one lookup, three token writes, a new
// binding cookie), so the page says nothing about who has an account.
func (h *Handler) magic(w http.ResponseWriter, r *http.Request) error {
	if r.PostForm.Has("code") {
		return h.magicCode(w, r)
	}
	email, rd, c, answered, err := h.customerOfForm(w, r, "magic", magicTitle)
	if answered {
		return err
	}
	ctx := r.Context()
	// An unverified address gets nothing either: its account may be a
	// squatter's, and signing in through the mailbox is what verifying it
	// would be for.
	target := &identity.Customer{}
	if c != nil && c.EmailVerified {
		target = c
	}
	// A fresh nonce for every request: reusing one would let each new
	// request add a valid code under the same binding and reset its count
	// of wrong guesses.
	nonce := newNonce()
	if err := h.sendMagic(ctx, target, nonce, rd); err != nil {
		h.logger.Error("storing sign-in link", zap.Error(err))
		return h.unavailable(w)
	}
	setCookie(w, magicCookie, nonce, int(identity.MagicLinkTTL.Seconds()))
	return h.render(w, http.StatusOK, "magic", &pageData{
		Title: "Check your email", CSRF: h.csrfFor(w, r), RD: rd, CodeStep: true,
		Message: "If an account uses " + email + ", we sent a sign-in link and a 6-digit code to that address. " +
			"Open the link in this browser, or type the code below. The link works once, for 15 minutes; the code for 10 minutes. " +
			"Nothing arrived? Check your spam folder, or ask for a new link in a few minutes.",
	})
}

// sendMagic stores a sign-in link, a code and the code's counter of wrong
// guesses, all bound to nonce, and queues the mail holding the link and
// the code. A customer without id is the decoy of an unknown address: the
// same writes, no mail.
func (h *Handler) sendMagic(ctx context.Context, c *identity.Customer, nonce, rd string) error {
	now := time.Now()
	binding := identity.HashToken(nonce)
	secret, link := identity.NewToken(identity.TokenMagicLink, c.ID, identity.MagicLinkTTL, now)
	link.Binding, link.Redirect = binding, rd
	code := newEmailCode()
	codeTok := &identity.Token{Kind: identity.TokenEmailCode, Hash: emailCodeHash(nonce, code), CustomerID: c.ID,
		ExpiresAt: now.Add(identity.EmailCodeTTL), Redirect: rd}
	// Written last: a code is only usable while its counter exists.
	counter := &identity.Token{Kind: identity.TokenEmailCodeAttempts, Hash: binding, CustomerID: c.ID,
		ExpiresAt: now.Add(identity.EmailCodeTTL)}
	for _, t := range []*identity.Token{link, codeTok, counter} {
		if err := h.app.backend.identity.PutToken(ctx, t); err != nil {
			return err
		}
	}
	if c.ID == "" {
		return nil
	}
	h.queueMail(c.Email, "magic_link", mailMagicLink, mailData{
		Link: h.origin + h.Prefix + "/magic/verify?token=" + url.QueryEscape(secret), Site: h.audience, Code: code,
	})
	return nil
}

// magicCode signs in the browser that asked for a code, if it types the
// right one. Each guess consumes the counter of wrong guesses and puts it
// back one higher; the fifth wrong guess leaves it out, and without its
// counter a code is dead. Two guesses at once: the second finds no
// counter and is refused — failing closed.
func (h *Handler) magicCode(w http.ResponseWriter, r *http.Request) error {
	code := strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("code")), " ", "")
	if !isEmailCode(code) {
		return h.magicCodeForm(w, r, http.StatusBadRequest, "Enter the 6-digit code from the email.")
	}
	nonce, ok := cookieNonce(r, magicCookie)
	if !ok {
		return h.magicCodeDead(w)
	}
	ctx, now := r.Context(), time.Now()
	binding := identity.HashToken(nonce)
	counter, err := h.app.backend.identity.ConsumeToken(ctx, identity.TokenEmailCodeAttempts, binding, now)
	if errors.Is(err, identity.ErrNotFound) {
		return h.magicCodeDead(w)
	}
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	tok, err := h.app.backend.identity.ConsumeToken(ctx, identity.TokenEmailCode, emailCodeHash(nonce, code), now)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		h.logger.Error("identity store failed", zap.Error(err))
		h.putBack(ctx, counter) // the guess was not checked: it does not count
		return h.unavailable(w)
	}
	if err != nil || tok.CustomerID == "" { // "" : a decoy (see magic)
		counter.Attempts++
		left := identity.EmailCodeMaxAttempts - counter.Attempts
		if left <= 0 {
			clearCookie(w, magicCookie)
			return h.message(w, http.StatusBadRequest, magicTitle,
				"Too many wrong codes: this code no longer works. Ask for a new sign-in link.", h.Prefix+"/magic", "Ask for a new link")
		}
		if err := h.app.backend.identity.PutToken(ctx, counter); err != nil {
			h.logger.Error("storing email code attempts", zap.Error(err))
			return h.unavailable(w)
		}
		msg := fmt.Sprintf("That code is not right. %d tries left.", left)
		if left == 1 {
			msg = "That code is not right. 1 try left."
		}
		return h.magicCodeForm(w, r, http.StatusBadRequest, msg)
	}
	clearCookie(w, magicCookie)
	return h.finishMagic(w, r, tok.CustomerID, tok.Redirect)
}

// magicVerifyPage is where the mailed link lands. Like the reset link's,
// it only checks the format and asks for a click: mail scanners follow GET
// links, and must neither use the link up nor sign anyone in.
func (h *Handler) magicVerifyPage(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.URL.Query().Get("token"))
	if err != nil {
		return h.magicLinkMalformed(w)
	}
	return h.render(w, http.StatusOK, "magic_confirm", &pageData{Title: magicConfirmTitle, CSRF: h.csrfFor(w, r), Token: secret})
}

// magicVerify uses the link up and signs in the browser that asked for it.
// Any other browser (a phone's mail app, someone the mail was forwarded
// to) is not signed in: it is told to type the code where the request
// started.
func (h *Handler) magicVerify(w http.ResponseWriter, r *http.Request) error {
	secret, err := identity.ParseTokenSecret(r.PostForm.Get("token"))
	if err != nil {
		return h.magicLinkMalformed(w)
	}
	tok, err := h.app.backend.identity.ConsumeToken(r.Context(), identity.TokenMagicLink, identity.HashToken(secret), time.Now())
	if errors.Is(err, identity.ErrNotFound) || (err == nil && tok.CustomerID == "") { // "" : a decoy (see magic)
		return h.magicLinkExpired(w)
	}
	if err != nil {
		h.logger.Error("identity store failed", zap.Error(err))
		return h.unavailable(w)
	}
	nonce, ok := cookieNonce(r, magicCookie)
	if !ok || len(tok.Binding) == 0 || subtle.ConstantTimeCompare(identity.HashToken(nonce), tok.Binding) != 1 {
		return h.message(w, http.StatusForbidden, "Finish on the device where you asked",
			"This browser was not signed in: the link was opened in a different browser from the one that asked for it. "+
				"Enter the 6-digit code from the same email on the device where you asked for the link.", "", "")
	}
	clearCookie(w, magicCookie)
	return h.finishMagic(w, r, tok.CustomerID, tok.Redirect)
}

// finishMagic starts the session of a customer who proved they read their
// mailbox, and sends them where they were going.
func (h *Handler) finishMagic(w http.ResponseWriter, r *http.Request, customerID, rd string) error {
	now := time.Now().UTC()
	c, err := h.app.backend.identity.UpdateCustomer(r.Context(), customerID, func(c *identity.Customer) error {
		c.LastLoginAt = now
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) { // the account was deleted since
		return h.magicLinkExpired(w)
	}
	if err != nil {
		h.logger.Error("recording sign-in", zap.Error(err))
		return h.unavailable(w)
	}
	return h.signedIn(w, r, c, []string{"email"}, rd)
}

// putBack stores again a token consumed by a request that then failed
// before deciding anything. Best effort.
func (h *Handler) putBack(ctx context.Context, tok *identity.Token) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.app.backend.identity.PutToken(ctx, tok); err != nil {
		h.logger.Warn("restoring a one-time token after a failure", zap.String("kind", string(tok.Kind)), zap.Error(err))
	}
}

func (h *Handler) magicCodeForm(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	return h.render(w, status, "magic", &pageData{
		Title: "Check your email", CSRF: h.csrfFor(w, r), CodeStep: true,
		Error: "Please correct the fields marked below.", Errors: map[string]string{"code": msg},
	})
}

func (h *Handler) magicCodeDead(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, magicTitle,
		"This code has expired, was already used, or was asked for in another browser. Ask for a new sign-in link.",
		h.Prefix+"/magic", "Ask for a new link")
}

func (h *Handler) magicLinkMalformed(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, magicConfirmTitle,
		"This link is incomplete or malformed. Copy the whole link from the email, or ask for a new one.",
		h.Prefix+"/magic", "Ask for a new link")
}

func (h *Handler) magicLinkExpired(w http.ResponseWriter) error {
	return h.message(w, http.StatusBadRequest, magicConfirmTitle,
		"This link has expired or was already used. Ask for a new one.",
		h.Prefix+"/magic", "Ask for a new link")
}

// newNonce returns 256 random bits in the format of a token secret.
func newNonce() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newEmailCode returns six uniformly random digits.
func newEmailCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil { // crypto/rand does not fail on supported platforms
		panic(err)
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// emailCodeHash is the storage key of a code: bound to the nonce, which
// the store never holds, so a code is only reachable from the browser that
// asked for it, and a leaked store does not reveal codes offline.
func emailCodeHash(nonce, code string) []byte {
	return identity.HashToken("email_code\x00" + nonce + "\x00" + code)
}

func isEmailCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
