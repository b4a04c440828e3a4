package caddymodule

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) error {
	d := h.formPage(w, r, "login.title")
	// A page that sends the customer here may name the account (the
	// pending provider link does).
	if email, err := identity.NormalizeEmail(r.URL.Query().Get("email")); err == nil {
		d.Email = email
	}
	if r.URL.Query().Get("reauth") != "" {
		d.Message = h.say(r, "login.reauth")
	}
	return h.render(w, r, http.StatusOK, "login", d)
}

// login checks the password (authflow.PasswordSignIn) and goes on to the
// second factor or a new session.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	rd := safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	rawEmail := r.PostForm.Get("email")
	out, err := h.flows.PasswordSignIn(r.Context(), authflow.PasswordSignInInput{Email: rawEmail, Password: r.PostForm.Get("password"), Client: h.client(r)})
	if err != nil {
		if isHashingError(err) {
			// A full hashing queue is what a surge of sign-ins looks
			// like from here: it counts as a failure for surge detection.
			h.recordOutcome(r, errors.Is(err, identity.ErrHasherBusy))
			return h.hashFailed(w, r, err)
		}
		h.logger.Error("signing in", zap.Error(err))
		return h.unavailable(w, r)
	}
	d := &pageData{Title: h.say(r, "login.title"), RD: rd, Email: truncate(rawEmail, 254)}
	switch o := out.(type) {
	case authflow.Invalid:
		d.Error, d.Errors, d.CSRF = h.say(r, "form.correct_fields"), h.fieldErrors(r, o.Fields), h.csrfFor(w, r)
		return h.render(w, r, http.StatusBadRequest, "login", d)
	case authflow.WrongCredentials:
		h.recordOutcome(r, true)
		d.Error, d.CSRF = h.say(r, "login.wrong"), h.csrfFor(w, r)
		return h.render(w, r, http.StatusUnauthorized, "login", d)
	case authflow.PasswordResetDue:
		h.recordOutcome(r, false)
		return h.message(w, r, http.StatusForbidden, "login.reset_required.title", "login.reset_required", "", "")
	case authflow.Unverified:
		h.recordOutcome(r, false)
		setCookie(w, signupCookie, o.Nonce, int(identity.VerifyTokenTTL.Seconds()))
		return h.message(w, r, http.StatusForbidden, "login.unverified.title", "login.unverified", "", "")
	case authflow.FirstFactorPassed:
		h.recordOutcome(r, false)
		return h.firstFactorDone(w, r, authflow.FirstFactorInput{Customer: o.Customer, AMR: o.AMR, Redirect: rd,
			Breached: h.Risk != nil && identity.IsBreachedPassword(identity.NormalizePassword(r.PostForm.Get("password")))})
	}
	return h.unexpected(w, r, out)
}

// startSession starts the session a journey came to
// (authflow.StartSession, which ends any session the browser held) and
// hands the browser its cookie.
// It reports whether the sign-in kept an account its customer had asked
// to delete (the grace period's cancellation).
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, due authflow.SessionDue) (bool, error) {
	return h.startSessionIn(w, r, authflow.StartSessionInput{Due: due})
}

// startSessionIn is startSession with the rest of the input (a single
// sign-on's family and auth time). A customer who signs in again (a
// step-up) keeps the family of the session they had, so the sites that
// single sign-on tied to it stay tied.
func (h *Handler) startSessionIn(w http.ResponseWriter, r *http.Request, in authflow.StartSessionInput) (bool, error) {
	due := in.Due
	if ck, err := r.Cookie(session.CookieName); err == nil {
		if token, err := h.app.codec.Decode(h.origin, ck.Value); err == nil {
			in.PreviousKey = session.KeyOf(token)
			if prev, err := h.app.backend.sessions.LookupKey(r.Context(), in.PreviousKey); err == nil && prev.UserID == due.Customer.ID && in.Family == "" {
				in.Family = session.SID(prev)
			}
		}
	}
	in.Site, in.Client = h.origin, h.client(r)
	token, kept, err := h.flows.StartSessionCancelling(r.Context(), in)
	if err != nil {
		return false, err
	}
	// A sign-in may have changed the record (a provider's roles, a
	// cancelled erasure): this node reads it afresh.
	h.app.backend.forgetCustomer(due.Customer.ID)
	return kept, h.setSessionCookie(w, token)
}

func (h *Handler) logoutPage(w http.ResponseWriter, r *http.Request) error {
	return h.render(w, r, http.StatusOK, "logout", &pageData{Title: h.say(r, "logout.title"), CSRF: h.csrfFor(w, r)})
}

// logout ends the session server-side and clears the cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	var idToken string
	if ck, err := r.Cookie(session.CookieName); err == nil {
		if token, err := h.app.codec.Decode(h.origin, ck.Value); err == nil {
			s, err := h.endSession(r.Context(), session.KeyOf(token))
			if err != nil {
				h.logger.Error("revoking session", zap.Error(err))
				return h.unavailable(w, r)
			}
			if s != nil && s.Site == h.origin {
				idToken = s.IDToken
			}
		}
	}
	clearSessionCookie(w)
	if u := h.ssoEndSessionURL(r, idToken); u != "" {
		// Signed in by a provider of another deployment: signed out there
		// too, and back.
		http.Redirect(w, r, u, http.StatusSeeOther)
		return nil
	}
	return h.message(w, r, http.StatusOK, "logout.done.title", "logout.done", h.Prefix+"/login", "link.sign_in_again")
}

// endSession ends the session stored under key and its family: the
// provider's session and every site's single sign-on session tied to it
// (session.Manager.RevokeFamily), and returns the session it ended. A
// session already gone is no error (nil, nil).
func (h *Handler) endSession(ctx context.Context, key string) (*session.Session, error) {
	m := h.app.backend.sessions
	s, err := m.Store().Get(ctx, key)
	if errors.Is(err, session.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	_, err = m.RevokeFamily(ctx, s.UserID, session.SID(s))
	return s, err
}

// hashFailed answers when a password could not be hashed or checked: the
// hashing queue is full or waited too long (a burst of sign-ins: 503 with
// Retry-After, logged at debug so a flood is not a flood of log lines), or
// the client went away.
func (h *Handler) hashFailed(w http.ResponseWriter, r *http.Request, err error) error {
	if errors.Is(err, identity.ErrHasherBusy) {
		h.logger.Debug("password hashing busy", zap.Error(err))
		// When a slot would be free for someone asking now: usually a
		// second, not the longest wait.
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(h.app.hasher.RetryAfter().Seconds()))))
		return h.message(w, r, http.StatusServiceUnavailable, "page.busy.title", "page.busy.sign_in", "", "")
	}
	h.logger.Warn("password hashing did not complete", zap.Error(err))
	return h.unavailable(w, r)
}
