package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
)

// Invitations (authflow.Invite): the admin API mails a link,
// /.frontdoor/invite?token=…, that grants a role to the account of the
// invited address. Opening it changes nothing (link scanners open links):
// a signed-in customer presses a button; anyone else is asked to sign in
// or sign up first, and comes back.

// invitePage shows the invitation: a button for a signed-in customer,
// the way to sign in or sign up for anyone else.
func (h *Handler) invitePage(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 100 {
		return h.message(w, r, http.StatusBadRequest, "invite.title", "invite.malformed", "/", "link.home_page")
	}
	s, err := h.customerSession(r)
	if err != nil {
		return h.unavailable(w, r)
	}
	if s == nil {
		back := h.Prefix + "/invite?" + url.Values{"token": {token}}.Encode()
		return h.message(w, r, http.StatusOK, "invite.title", "invite.sign_in", h.Prefix+"/login?"+url.Values{"rd": {back}}.Encode(), "link.sign_in")
	}
	d := &pageData{Title: h.say(r, "invite.title"), CSRF: h.csrfFor(w, r), Message: h.say(r, "invite.accept", "email", s.Email),
		Confirm: &confirmView{Action: h.Prefix + "/invite", Fields: []hiddenField{{"token", token}}, Button: h.say(r, "invite.button")}}
	return h.render(w, r, http.StatusOK, "invite", d)
}

// inviteAccept grants the invitation's role to the signed-in customer, if
// it is theirs.
func (h *Handler) inviteAccept(w http.ResponseWriter, r *http.Request) error {
	s, err := h.customerSession(r)
	if err != nil {
		return h.unavailable(w, r)
	}
	token := r.PostForm.Get("token")
	if s == nil {
		back := h.Prefix + "/invite?" + url.Values{"token": {token}}.Encode()
		http.Redirect(w, r, h.Prefix+"/login?"+url.Values{"rd": {back}}.Encode(), http.StatusSeeOther)
		return nil
	}
	out, err := h.flows.AcceptInvitation(r.Context(), token, s.UserID, h.client(r))
	if err != nil {
		h.logger.Error("accepting an invitation", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.InvitationAccepted:
		h.app.backend.forgetCustomer(s.UserID)
		return h.message(w, r, http.StatusOK, "invite.done.title", "invite.done", "/", "link.home_page", "role", o.Role)
	case authflow.InvitationForOther:
		return h.message(w, r, http.StatusForbidden, "invite.title", "invite.other", h.Prefix+"/logout", "link.other_account",
			"email", maskEmail(o.Email), "signed_in", s.Email)
	}
	return h.message(w, r, http.StatusGone, "invite.title", "invite.expired", "/", "link.home_page")
}

// liveSites maps each site origin to the handler of the config in force
// (see App.apply), for the admin API's mails.
var (
	sitesMu   sync.Mutex
	liveSites = map[string]*Handler{}
)

// siteFor is the handler of origin, or the only site when origin is ""
// and there is one.
func siteFor(origin string) (*Handler, error) {
	sitesMu.Lock()
	defer sitesMu.Unlock()
	if origin == "" {
		if len(liveSites) == 1 {
			for _, h := range liveSites {
				return h, nil
			}
		}
		names := make([]string, 0, len(liveSites))
		for o := range liveSites {
			names = append(names, o)
		}
		return nil, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("site: name the site whose link to send, one of %v", names)}
	}
	h, ok := liveSites[origin]
	if !ok {
		return nil, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("site: no site %q", origin)}
	}
	return h, nil
}

// serveInvitations answers POST /frontdoor/invitations:
//
//	{"email":"ann@acme.com","role":"beta","site":"https://shop.example.com","expires_days":7,"reason":"…"}
//
// It mails the invitation from that site (site may be left out when there
// is one) and answers the address, role and expiry.
func serveInvitations(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	if r.Method != http.MethodPost {
		return methodNotAllowed("POST")
	}
	var body struct {
		Email       string `json:"email"`
		Role        string `json:"role"`
		Site        string `json:"site"`
		ExpiresDays int    `json:"expires_days"`
		Reason      string `json:"reason"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf(`body: %v (want {"email":…,"role":…,"site":…,"expires_days":7,"reason":…})`, err)}
	}
	h, err := siteFor(body.Site)
	if err != nil {
		return err
	}
	out, err := h.flows.Invite(r.Context(), authflow.InviteInput{Email: body.Email, Role: body.Role,
		TTL: time.Duration(body.ExpiresDays) * 24 * time.Hour, By: operatorBy(truncate(body.Reason, maxReason)), Client: adminClient})
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	switch o := out.(type) {
	case authflow.Invited:
		w.WriteHeader(http.StatusCreated)
		return writeAdminJSON(w, map[string]any{"email": o.Email, "role": o.Role, "site": h.origin, "expires_at": o.ExpiresAt.UTC()})
	case authflow.Invalid:
		var errs []error
		for f, e := range o.Fields {
			errs = append(errs, fmt.Errorf("%s: %w", f, e))
		}
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.Join(errs...)}
	}
	return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("unexpected outcome %T", out)}
}
