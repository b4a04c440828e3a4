package caddymodule

import (
	"context"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/frontdoorhq/frontdoor/session"
)

// RP-initiated logout: end_session with an id_token_hint ends the
// Frontdoor session the ID token was issued from (its sid). Back-channel
// logout to the clients is a later increment.

// SetUserinfoFromRequest fills the ID token's claims and adds the session
// it was issued from (sid), which end_session and, later, back-channel
// logout name it by.
func (s *opStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if scopes == nil {
		scopes = []string{}
	}
	if err := s.setUserinfo(ctx, ui, req.GetSubject(), scopes); err != nil {
		return err
	}
	if ar, ok := req.(*opAuthRequest); ok && ar.SID != "" {
		ui.AppendClaims("sid", ar.SID)
	}
	return nil
}

// TerminateSessionFromRequest ends the session the hint names. Without a
// hint nothing is ended: a bare link must not sign anyone out.
func (s *opStorage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	if req.IDTokenHintClaims == nil || req.IDTokenHintClaims.SessionID == "" || req.UserID == "" {
		return "", oidc.ErrInvalidRequest().WithDescription("id_token_hint required")
	}
	// Only an ID token this provider issued to one of its clients: the
	// identity assertion backends receive has the same issuer, keys and
	// sid, but its audience is the site, and a backend holding one must
	// not be able to sign its session out.
	if !s.o.issuedToClient(req.IDTokenHintClaims.Audience) {
		return "", oidc.ErrInvalidRequest().WithDescription("id_token_hint is not an ID token of this provider")
	}
	m := s.o.h.app.backend.sessions
	all, err := m.List(ctx, req.UserID)
	if err != nil {
		return "", oidc.ErrServerError().WithParent(err)
	}
	for _, sess := range all {
		if session.SID(sess) == req.IDTokenHintClaims.SessionID {
			if err := m.Revoke(ctx, sess.Key); err != nil {
				return "", oidc.ErrServerError().WithParent(err)
			}
		}
	}
	return req.RedirectURI, nil
}

// issuedToClient reports whether aud is that of an ID token the provider
// issued: every audience a registered client.
func (o *siteOP) issuedToClient(aud []string) bool {
	if len(aud) == 0 {
		return false
	}
	for _, a := range aud {
		if o.client(a) == nil {
			return false
		}
	}
	return true
}

var _ op.CanTerminateSessionFromRequest = (*opStorage)(nil)
var _ op.CanSetUserinfoFromRequest = (*opStorage)(nil)
