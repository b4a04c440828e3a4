package caddymodule

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
)

// The device authorization grant (RFC 8628), for a client declared with
// `grant device_code`: a TV asks at <prefix>/oauth2/device_authorization
// and shows the customer a user code and <prefix>/device; the customer,
// signed in there, types the code and approves or denies
// (provider_device_page.go); the TV polls the token endpoint with its
// device code until then, and gets the tokens of an authorization code —
// once. op's own device handling is not used: its clock is the wall's,
// and its storage would read the request in two steps.
//
// The request lives in the identity store as one-time tokens: the request
// under the device code's hash, the user code under a hash of the issuer
// and the code, the customer's answer and the device's last poll under the
// device code's hash. The answer is consumed by the poll that hands out
// the tokens, so of two racing polls one gets them.

const (
	devicePath = "/device"
	// deviceInterval is how often a device may poll; a poll sooner
	// (less pollAllowance, for network delay) is told slow_down.
	deviceInterval = 5 * time.Second
	pollAllowance  = time.Second
	// userCodeAlphabet is Crockford's base 32: digits and capitals
	// without I, L, O and U, so a code read off a TV screen is not
	// mistyped (I and L are read as 1, O as 0). Eight symbols are 40
	// bits.
	userCodeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	userCodeLen      = 8
)

// deviceGranted reports whether some client of the provider may use the
// device grant (discovery advertises it then).
func (o *siteOP) deviceGranted() bool {
	return slices.ContainsFunc(o.h.Provider.Clients, func(c *ProviderClient) bool { return c.allows(grantDevice) })
}

// DeviceAuthorization starts a device request: a device code for the
// client, a user code for its customer.
func (s *opServer) DeviceAuthorization(ctx context.Context, r *op.ClientRequest[oidc.DeviceAuthorizationRequest]) (*op.Response, error) {
	o := s.o
	c := o.client(r.Client.GetID())
	if c == nil || !c.allows(grantDevice) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("client may not use the device_code grant")
	}
	var scopes []string
	for _, sc := range r.Data.Scopes {
		if slices.Contains(c.Scopes, sc) && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		return nil, oidc.ErrInvalidScope().WithDescription("scope must include openid")
	}
	b := o.h.app.backend
	now := b.clock.Now()
	dev := identity.OAuthDevice{Issuer: o.issuer, ClientID: c.ID, Scopes: scopes, Expires: now.Add(identity.DeviceCodeTTL)}
	deviceCode, tok := identity.NewToken(dev, "", identity.DeviceCodeTTL+identity.DeviceRecordGrace, now)
	userCode, err := o.newUserCode(ctx, identity.OAuthUserCode{Device: tok.Hash, ClientID: c.ID, Scopes: scopes}, dev.Expires)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if err := b.identity.PutToken(ctx, tok); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	uri := o.issuer + o.h.Prefix + devicePath
	return op.NewResponse(&oidc.DeviceAuthorizationResponse{
		DeviceCode: deviceCode, UserCode: userCode, VerificationURI: uri, VerificationURIComplete: uri + "?user_code=" + userCode,
		ExpiresIn: int(identity.DeviceCodeTTL / time.Second), Interval: int(deviceInterval / time.Second),
	}), nil
}

// newUserCode stores uc under a fresh user code, shown as XXXX-XXXX. A
// code already waiting (one chance in 2^40 per waiting code) is not
// overwritten: another is drawn.
func (o *siteOP) newUserCode(ctx context.Context, uc identity.OAuthUserCode, expires time.Time) (string, error) {
	b := o.h.app.backend
	for range 4 {
		code := newUserCode()
		hash := userCodeHash(o.issuer, code)
		old, err := b.identity.ConsumeToken(ctx, identity.TokenOAuthUserCode, hash, b.clock.Now())
		if err == nil {
			if err := b.identity.PutToken(ctx, old); err != nil {
				return "", err
			}
			continue
		}
		if !errors.Is(err, identity.ErrNotFound) {
			return "", err
		}
		if err := b.identity.PutToken(ctx, identity.NewTokenUnder(hash, uc, "", expires)); err != nil {
			return "", err
		}
		return code[:4] + "-" + code[4:], nil
	}
	return "", errors.New("frontdoor: provider: no free user code")
}

// newUserCode is userCodeLen symbols of userCodeAlphabet, 5 random bits
// each.
func newUserCode() string {
	var r [5]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand)
	bits := uint64(r[0])<<32 | uint64(r[1])<<24 | uint64(r[2])<<16 | uint64(r[3])<<8 | uint64(r[4])
	out := make([]byte, userCodeLen)
	for i := range out {
		out[i] = userCodeAlphabet[bits>>(5*(userCodeLen-1-i))&31]
	}
	return string(out)
}

// normalUserCode reads a typed user code: any case, dashes and spaces
// ignored, I and L read as 1, O as 0. ok is false when it cannot be one.
func normalUserCode(typed string) (code string, ok bool) {
	if len(typed) > 4*userCodeLen {
		return "", false
	}
	var sb strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r == 'I' || r == 'L':
			r = '1'
		case r == 'O':
			r = '0'
		}
		if r > 127 || !strings.ContainsRune(userCodeAlphabet, r) {
			return "", false
		}
		sb.WriteRune(r)
	}
	if sb.Len() != userCodeLen {
		return "", false
	}
	return sb.String(), true
}

// userCodeHash is where a user code is stored: a user code is short, so
// the issuer is hashed with it and two provider sites sharing a store do
// not meet.
func userCodeHash(issuer, code string) []byte {
	return identity.HashToken(issuer + "\x00" + code)
}

// DeviceToken answers a device's poll: slow_down when it polls sooner
// than the interval, authorization_pending until its customer answers,
// access_denied once denied, expired_token once the user code has
// expired, and the tokens once approved — consumed, so only once.
func (s *opServer) DeviceToken(ctx context.Context, r *op.ClientRequest[oidc.DeviceAccessTokenRequest]) (*op.Response, error) {
	o := s.o
	b := o.h.app.backend
	ids := b.identity
	now := b.clock.Now()
	if _, err := identity.ParseTokenSecret(r.Data.DeviceCode); err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("unknown device_code")
	}
	hash := identity.HashToken(r.Data.DeviceCode)
	// The poll mark first: a device polling twice at once is told to
	// slow down before either reads the request.
	_, err := ids.ConsumeToken(ctx, identity.TokenOAuthDevicePoll, hash, now)
	if err != nil && !errors.Is(err, identity.ErrNotFound) {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	tooSoon := err == nil
	if err := ids.PutToken(ctx, identity.NewTokenUnder(hash, identity.OAuthDevicePoll{}, "", now.Add(deviceInterval-pollAllowance))); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if tooSoon {
		return nil, oidc.ErrSlowDown()
	}
	tok, err := ids.ConsumeToken(ctx, identity.TokenOAuthDevice, hash, now)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, oidc.ErrInvalidGrant().WithDescription("unknown or used device_code")
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	dev, err := identity.PayloadOf[identity.OAuthDevice](tok)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if dev.Issuer != o.issuer || dev.ClientID != r.Client.GetID() {
		// Shown to the wrong party: burnt, as a code is.
		return nil, oidc.ErrInvalidGrant().WithDescription("device_code was issued to another client")
	}
	ans, err := ids.ConsumeToken(ctx, identity.TokenOAuthDeviceAnswer, hash, now)
	if errors.Is(err, identity.ErrNotFound) {
		if err := ids.PutToken(ctx, tok); err != nil {
			return nil, oidc.ErrServerError().WithParent(err)
		}
		if !now.Before(dev.Expires) {
			return nil, oidc.ErrExpiredDeviceCode()
		}
		return nil, oidc.ErrAuthorizationPending()
	}
	if err != nil {
		_ = ids.PutToken(ctx, tok)
		return nil, oidc.ErrServerError().WithParent(err)
	}
	a, err := identity.PayloadOf[identity.OAuthDeviceAnswer](ans)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if a.Denied {
		// Told again on every poll until the request expires.
		if err := errors.Join(ids.PutToken(ctx, ans), ids.PutToken(ctx, tok)); err != nil {
			return nil, oidc.ErrServerError().WithParent(err)
		}
		return nil, oidc.ErrAccessDenied().WithDescription("the customer denied the request")
	}
	ar := &opAuthRequest{identity.OAuthRequest{
		ClientID: dev.ClientID, Scopes: dev.Scopes, Subject: a.Subject, SID: a.SID, SessionAt: a.SessionAt,
		AuthTime: a.AuthTime, AMR: a.AMR, ACR: a.ACR,
	}}
	resp, err := o.issue(ctx, ar, r.Client, "")
	if err != nil {
		// Nothing handed out: the device may poll again.
		if perr := errors.Join(ids.PutToken(ctx, ans), ids.PutToken(ctx, tok)); perr != nil {
			o.h.logger.Error("provider: keeping a device request", zap.Error(perr))
		}
		return nil, err
	}
	return resp, nil
}
