package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
)

// OpenID Connect Back-Channel Logout 1.0, the provider's side: when a
// session family ends (session.Manager's end hook: a sign-out anywhere,
// end_session, "sign out everywhere", a revocation), every client that
// was handed tokens of it and declares a backchannel_logout_uri is sent a
// logout token — a JWT (typ logout+jwt) naming the customer (sub) and the
// family (sid) — by a form POST, off the request path, with retries. A
// client that never had a session of the family hears nothing. Client
// sites served by this gateway share its store and ended with the family
// already: they are not sent one.

const (
	backchannelEvent   = "http://schemas.openid.net/event/backchannel-logout"
	logoutTokenType    = "logout+jwt"
	logoutTokenTTL     = 2 * time.Minute
	backchannelTimeout = 5 * time.Second
	// backchannelTries and the waits between them bound a delivery to
	// about 15 s; a client down longer keeps its session until it expires.
	backchannelTries = 3
	// backchannelInFlight bounds concurrent deliveries of one node.
	backchannelInFlight = 64
)

var backchannelWait = []time.Duration{time.Second, 4 * time.Second}

// backchannelSlots bounds deliveries in flight on this node (across
// reloads: a delivery outlives the config that started it).
var backchannelSlots = make(chan struct{}, backchannelInFlight)

// noteKey is where the note that client holds tokens of family sid lives.
func (o *siteOP) noteKey(sid, clientID string) []byte {
	return identity.HashToken("backchannel|" + o.issuer + "|" + sid + "|" + clientID)
}

// noteClientSession records that the client was handed tokens of the
// family, when it wants to hear of the family's end.
func (o *siteOP) noteClientSession(ctx context.Context, ar *opAuthRequest) error {
	c := o.client(ar.ClientID)
	if c == nil || c.BackchannelLogoutURI == "" || ar.SID == "" || o.h.app.localOrigin(c.BackchannelLogoutURI) {
		return nil
	}
	b := o.h.app.backend
	note := identity.OAuthSessionClient{ClientID: c.ID, SID: ar.SID, Subject: ar.Subject}
	return b.identity.PutToken(ctx, identity.NewTokenUnder(o.noteKey(ar.SID, c.ID), note, "", b.clock.Now().Add(identity.OAuthRefreshTTL)))
}

// sessionsEnded is the session manager's end hook while this config is
// live: each provider site tells its clients.
func (a *App) sessionsEnded(userID string, sids []string) {
	policiesMu.Lock()
	var ops []*siteOP
	for _, h := range a.sites {
		if h.op != nil {
			ops = append(ops, h.op)
		}
	}
	policiesMu.Unlock()
	for _, o := range ops {
		select {
		case backchannelSlots <- struct{}{}:
			go func() {
				defer func() { <-backchannelSlots }()
				o.backchannelLogout(userID, sids)
			}()
		default:
			o.h.logger.Warn("provider: back-channel logout dropped: too many in flight", zap.Int("in_flight", backchannelInFlight))
		}
	}
}

// backchannelLogout tells every client noted for one of the families.
func (o *siteOP) backchannelLogout(userID string, sids []string) {
	b := o.h.app.backend
	for _, sid := range sids {
		for _, c := range o.allClients() {
			if c.BackchannelLogoutURI == "" {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.h.app.StoreTimeout))
			_, err := b.identity.ConsumeToken(ctx, identity.TokenOAuthSessionClient, o.noteKey(sid, c.ID), b.clock.Now())
			cancel()
			if err != nil { // ErrNotFound: the client never had a session of it
				if !errors.Is(err, identity.ErrNotFound) {
					o.h.logger.Error("provider: reading a back-channel note", zap.Error(err))
				}
				continue
			}
			o.deliverLogout(c, userID, sid)
		}
	}
}

// deliverLogout posts a logout token to the client, retrying a few times.
func (o *siteOP) deliverLogout(c *ProviderClient, userID, sid string) {
	tok, err := o.logoutToken(c.ID, userID, sid)
	if err != nil {
		o.h.logger.Error("provider: signing a logout token", zap.Error(err))
		return
	}
	client := &http.Client{Timeout: backchannelTimeout, Transport: ssoTransport{app: o.h.app, next: http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"logout_token": {tok}}.Encode()
	var last string
	for try := range backchannelTries {
		if try > 0 {
			time.Sleep(backchannelWait[try-1])
		}
		resp, err := client.Post(c.BackchannelLogoutURI, "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent {
			o.h.logger.Debug("provider: back-channel logout delivered", zap.String("client", c.ID))
			return
		}
		last = resp.Status
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotImplemented {
			break // the client refuses it: trying again will not help
		}
	}
	o.h.logger.Warn("provider: back-channel logout not delivered", zap.String("client", c.ID),
		zap.String("uri", c.BackchannelLogoutURI), zap.String("last", last))
}

// logoutToken signs the logout token for the client (OpenID Connect
// Back-Channel Logout 1.0, 2.4): no nonce, the event, sub and sid.
func (o *siteOP) logoutToken(clientID, sub, sid string) (string, error) {
	now := o.h.app.backend.clock.Now()
	return o.signJWT(logoutTokenType, map[string]any{
		"iss": o.issuer, "aud": clientID, "sub": sub, "sid": sid, "jti": randomID(),
		"iat": now.Unix(), "exp": now.Add(logoutTokenTTL).Unix(),
		"events": map[string]any{backchannelEvent: map[string]any{}},
	})
}

// localOrigin reports whether raw is a URL of a site this configuration
// serves.
func (a *App) localOrigin(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	policiesMu.Lock()
	defer policiesMu.Unlock()
	return a.sites[u.Scheme+"://"+u.Host] != nil
}
