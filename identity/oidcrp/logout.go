package oidcrp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// LogoutToken is a verified back-channel logout token (OpenID Connect
// Back-Channel Logout 1.0): the provider says session SID of Subject
// ended.
type LogoutToken struct {
	Issuer, Subject, SID, JTI string
	Expiry                    time.Time
}

const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// VerifyLogoutToken checks a logout token as the specification's 2.6
// asks: signed by the provider's keys, for this client (aud), unexpired,
// typ logout+jwt when typed, the back-channel logout event, no nonce (so
// no ID token passes for one), a jti, a sid and a sub.
func (p *Provider) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutToken, error) {
	if raw == "" || len(raw) > 8192 {
		return nil, fmt.Errorf("%w: no usable logout token", ErrInvalidResponse)
	}
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	hdr, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.EdDSA})
	if err != nil || len(hdr.Signatures) != 1 {
		return nil, fmt.Errorf("%w: logout token is not a signed JWT", ErrInvalidResponse)
	}
	if typ, _ := hdr.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string); typ != "" && !strings.EqualFold(typ, "logout+jwt") && !strings.EqualFold(typ, "application/logout+jwt") {
		return nil, fmt.Errorf("%w: logout token typ %q", ErrInvalidResponse, safeWord(typ))
	}
	cctx := oidc.ClientContext(ctx, p.client)
	t, err := d.verifier.Verify(cctx, raw)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "fetching keys") {
			return nil, fmt.Errorf("%w: %v", ErrProvider, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidResponse, err)
	}
	var c struct {
		SID    string         `json:"sid"`
		JTI    string         `json:"jti"`
		Nonce  *string        `json:"nonce"`
		Events map[string]any `json:"events"`
	}
	if err := t.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: logout token claims: %v", ErrInvalidResponse, err)
	}
	if _, ok := c.Events[backchannelEvent]; !ok {
		return nil, fmt.Errorf("%w: logout token without the back-channel logout event", ErrInvalidResponse)
	}
	if c.Nonce != nil {
		return nil, fmt.Errorf("%w: a logout token has no nonce (an ID token?)", ErrInvalidResponse)
	}
	if c.JTI == "" || len(c.JTI) > 256 || c.SID == "" || len(c.SID) > 256 || t.Subject == "" || len(t.Subject) > 255 {
		return nil, fmt.Errorf("%w: logout token needs jti, sid and sub", ErrInvalidResponse)
	}
	if t.IssuedAt.IsZero() || t.IssuedAt.After(p.cfg.Now().Add(clockSkew)) {
		return nil, fmt.Errorf("%w: logout token iat is missing or in the future", ErrInvalidResponse)
	}
	return &LogoutToken{Issuer: t.Issuer, Subject: t.Subject, SID: c.SID, JTI: c.JTI, Expiry: t.Expiry}, nil
}

// EndSessionURL is where to send the browser to end the customer's session
// at the provider (RP-initiated logout), "" when the provider has no
// end_session_endpoint.
func (p *Provider) EndSessionURL(ctx context.Context, idTokenHint, postLogoutRedirectURI, state string) (string, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	if d.endSession == "" {
		return "", nil
	}
	u, err := url.Parse(d.endSession)
	if err != nil || (u.Scheme != "https" && checkIssuer(u.Scheme+"://"+u.Host) != nil) {
		return "", fmt.Errorf("%w: end_session_endpoint is not a usable URL", ErrProvider)
	}
	q := u.Query()
	q.Set("id_token_hint", idTokenHint)
	q.Set("client_id", p.cfg.ClientID)
	if postLogoutRedirectURI != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirectURI)
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
