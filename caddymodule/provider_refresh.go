package caddymodule

import (
	"context"
	"errors"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
)

// Refresh tokens (scope offline_access): one-time identity tokens that
// rotate on every use. Every token of one code shares a family; a used
// token leaves a "spent" mark under its hash, and presenting it again —
// someone holds a copy — marks the whole family revoked, so the token the
// rightful client holds now stops working too.

// newRefresh stores a refresh token of grant's family and returns it.
func (o *siteOP) newRefresh(ctx context.Context, grant identity.OAuthRefresh) (string, error) {
	b := o.h.app.backend
	grant.State = ""
	secret, tok := identity.NewToken(grant, grant.Subject, o.refreshTTL(grant), b.clock.Now())
	if err := b.identity.PutToken(ctx, tok); err != nil {
		return "", err
	}
	return secret, nil
}

// refreshFor makes the first refresh token of a code, when the grant
// holds offline_access, and returns it with its family.
func (o *siteOP) refreshFor(ctx context.Context, ar *opAuthRequest) (token, family string, err error) {
	if !slices.Contains(ar.Scopes, oidc.ScopeOfflineAccess) {
		return "", "", nil
	}
	family = randomID()
	token, err = o.newRefresh(ctx, identity.OAuthRefresh{
		Family: family, ClientID: ar.ClientID, Subject: ar.Subject, SID: ar.SID, Scopes: ar.Scopes, SessionAt: ar.SessionAt,
		AuthTime: ar.AuthTime, AMR: ar.AMR, ACR: ar.ACR, AgentGrant: ar.AgentGrant, AgentUntil: ar.AgentUntil,
		JKT: o.refreshJKT(ctx, ar.ClientID),
	})
	return token, family, err
}

// revokeFamily marks the family revoked for as long as any of its tokens
// can live.
func (o *siteOP) revokeFamily(ctx context.Context, family string) error {
	return revokeRefreshFamily(ctx, o.h.app.backend, family)
}

// revokeRefreshFamily is revokeFamily for a caller with no provider site
// at hand (the account page of any site revoking an app).
func revokeRefreshFamily(ctx context.Context, b *backend, family string) error {
	mark := identity.OAuthRefresh{State: "revoked", Family: family}
	return b.identity.PutToken(ctx, identity.NewTokenUnder(identity.HashToken(family), mark, "", b.clock.Now().Add(identity.OAuthRefreshTTL)))
}

// familyRevoked reads the family's mark (consumed and put back: the store
// has no plain read of a one-time token; only the holder of the family's
// current token, one at a time, reads it).
func (o *siteOP) familyRevoked(ctx context.Context, family string) (bool, error) {
	b := o.h.app.backend
	tok, err := b.identity.ConsumeToken(ctx, identity.TokenOAuthFamilyRevoked, identity.HashToken(family), b.clock.Now())
	if errors.Is(err, identity.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, b.identity.PutToken(ctx, tok)
}

// RefreshToken rotates a refresh token: the presented one is consumed
// (atomic single use), a new one of the same family is handed out with
// fresh access and ID tokens. Reuse of a spent one revokes the family.
func (s *opServer) RefreshToken(ctx context.Context, r *op.ClientRequest[oidc.RefreshTokenRequest]) (*op.Response, error) {
	o := s.o
	b := o.h.app.backend
	now := b.clock.Now()
	hash := identity.HashToken(r.Data.RefreshToken)
	tok, err := b.identity.ConsumeToken(ctx, identity.TokenOAuthRefresh, hash, now)
	if errors.Is(err, identity.ErrNotFound) {
		spent, err := b.identity.ConsumeToken(ctx, identity.TokenOAuthRefreshSpent, hash, now)
		if err == nil {
			_ = b.identity.PutToken(ctx, spent) // a third try is reuse too
			if mark, err := identity.PayloadOf[identity.OAuthRefresh](spent); err == nil {
				if err := o.revokeFamily(ctx, mark.Family); err != nil {
					o.h.logger.Error("provider: revoking a refresh token family", zap.Error(err))
				}
				o.h.logger.Warn("provider: a rotated refresh token was used again; its family is revoked",
					zap.String("client", r.Client.GetID()))
			}
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	grant, err := identity.PayloadOf[identity.OAuthRefresh](tok)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if grant.JKT != "" && dpopJKT(ctx) != grant.JKT {
		// Bound to a DPoP key this request did not prove: a copy of the
		// token alone is worth nothing, and cannot use it up either.
		if err := b.identity.PutToken(ctx, tok); err != nil {
			return nil, oidc.ErrServerError().WithParent(err)
		}
		return nil, dpopError("the refresh token is bound to another DPoP key")
	}
	// Spent from here on, whatever follows.
	spent := identity.OAuthRefresh{State: "spent", Family: grant.Family}
	if err := b.identity.PutToken(ctx, identity.NewTokenUnder(hash, spent, "", now.Add(identity.OAuthRefreshTTL))); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if grant.ClientID != r.Client.GetID() {
		_ = o.revokeFamily(ctx, grant.Family)
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token was issued to another client")
	}
	if revoked, err := o.familyRevoked(ctx, grant.Family); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	} else if revoked {
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token family revoked")
	}
	// The session the grant came from ended on purpose (a sign-out, "sign
	// out everywhere", a revocation; not an expiry): so does the grant.
	if ended, err := b.sessions.Ended(ctx, grant.Subject, grant.SID); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	} else if ended {
		if err := o.revokeFamily(ctx, grant.Family); err != nil {
			o.h.logger.Error("provider: revoking a refresh token family", zap.Error(err))
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("the session of this grant has ended")
	}
	if err := o.appStillGranted(ctx, grant); err != nil {
		return nil, err
	}
	if err := o.agentStillGranted(ctx, &grant); err != nil {
		return nil, err
	}
	if len(r.Data.Scopes) > 0 {
		for _, sc := range r.Data.Scopes {
			if !slices.Contains(grant.Scopes, sc) {
				return nil, oidc.ErrInvalidScope().WithDescription("scope beyond the original grant")
			}
		}
		grant.Scopes = r.Data.Scopes
	}
	ar := &opAuthRequest{identity.OAuthRequest{
		ClientID: grant.ClientID, Subject: grant.Subject, SID: grant.SID, Scopes: grant.Scopes,
		AuthTime: grant.AuthTime, AMR: grant.AMR, ACR: grant.ACR, AgentGrant: grant.AgentGrant, AgentUntil: grant.AgentUntil,
	}}
	rt, err := o.newRefresh(ctx, grant)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	// The client still holds tokens of the family: it still hears of its end.
	if err := o.noteClientSession(ctx, ar); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	at, err := o.accessToken(ctx, ar)
	if err != nil {
		return nil, err
	}
	idt, err := op.CreateIDToken(ctx, o.issuer, ar, r.Client.IDTokenLifetime(), at, "", o.st, r.Client)
	if err != nil {
		return nil, err
	}
	return op.NewResponse(&oidc.AccessTokenResponse{
		AccessToken: at, IDToken: idt, RefreshToken: rt, TokenType: tokenTypeFor(ctx),
		ExpiresIn: uint64(accessTokenTTL.Seconds()), Scope: grant.Scopes,
	}), nil
}

// Revocation (RFC 7009) revokes a refresh token and its whole family. An
// access token is answered unsupported_token_type: it is a short JWT that
// ends with its session. Anything else is answered 200, as the RFC asks.
func (s *opServer) Revocation(ctx context.Context, r *op.ClientRequest[oidc.RevocationRequest]) (*op.Response, error) {
	o := s.o
	b := o.h.app.backend
	hash := identity.HashToken(r.Data.Token)
	tok, err := b.identity.ConsumeToken(ctx, identity.TokenOAuthRefresh, hash, b.clock.Now())
	switch {
	case err == nil:
		grant, err := identity.PayloadOf[identity.OAuthRefresh](tok)
		if err != nil {
			return nil, op.RevocationError(oidc.ErrServerError().WithParent(err))
		}
		if grant.ClientID != r.Client.GetID() {
			// Not this client's to revoke: it stays.
			if err := b.identity.PutToken(ctx, tok); err != nil {
				return nil, op.RevocationError(oidc.ErrServerError().WithParent(err))
			}
			return nil, op.RevocationError(oidc.ErrUnauthorizedClient().WithDescription("token was issued to another client"))
		}
		if err := o.revokeFamily(ctx, grant.Family); err != nil {
			return nil, op.RevocationError(oidc.ErrServerError().WithParent(err))
		}
	case !errors.Is(err, identity.ErrNotFound):
		return nil, op.RevocationError(oidc.ErrServerError().WithParent(err))
	default:
		if _, ok := o.verifyAccessToken(r.Data.Token); ok {
			return nil, op.RevocationError(&oidc.Error{ErrorType: "unsupported_token_type", Description: "access tokens end with their session"})
		}
	}
	return op.NewResponse(nil), nil
}
