package caddymodule

import (
	"errors"
	"net/http"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// The device page of a provider site (provider_device.go): the signed-in
// customer types the code their device shows, sees which app asks for
// what, and approves or denies — CSRF-protected posts; GET never
// decides, even with ?user_code= (verification_uri_complete), which only
// fills the field in.
//
//	GET  <prefix>/device[?user_code=…]
//	POST <prefix>/device   csrf_token, user_code[, decision approve|deny]
//
// Every post counts against the code route's address and network limits
// (the route table); every code that is not a waiting one counts against
// the customer's (wrong codes only, like a second factor's), checked
// before the store is read. A wrong code is told so, the same way whether
// it never existed, expired or was answered already.

// deviceRoute is the device page's entry in a provider site's routes.
var deviceRoute = route{path: devicePath, get: (*Handler).devicePage, post: (*Handler).deviceAnswer,
	postDefence: defence{route: botdefense.RouteCode}}

// deviceView is what the device page shows: the code field, or, once a
// waiting code is typed, the request to approve.
type deviceView struct {
	// Code is the code typed (or from the link), as shown.
	Code string
	// App is the client's name; empty on the code step.
	App, Site string
	// Scopes are the scopes asked, each in words.
	Scopes []string
	// Agent: the client acts for the customer until Until if approved
	// (provider_agents.go).
	Agent bool
	Until time.Time
}

// deviceAccount is what the code route's account limit counts a customer
// by.
func deviceAccount(customerID string) string { return "device " + customerID }

// devicePage shows the code field (the sign-in page first, then back).
func (h *Handler) devicePage(w http.ResponseWriter, r *http.Request) error {
	if h.op == nil {
		return h.message(w, r, http.StatusNotFound, "page.not_found.title", "page.not_found", "/", "link.home")
	}
	if _, ok := h.sessionOrLogin(w, r); !ok {
		return nil
	}
	code := ""
	if c, ok := normalUserCode(r.URL.Query().Get("user_code")); ok {
		code = c[:4] + "-" + c[4:]
	}
	return h.deviceForm(w, r, http.StatusOK, code, "")
}

func (h *Handler) deviceForm(w http.ResponseWriter, r *http.Request, status int, code, problem string) error {
	return h.render(w, r, status, "device", &pageData{Title: h.say(r, "device.title"), CSRF: h.csrfFor(w, r),
		Error: problem, Device: &deviceView{Code: code}})
}

// deviceAnswer takes a typed code, then the customer's decision on it.
func (h *Handler) deviceAnswer(w http.ResponseWriter, r *http.Request) error {
	o, s, err := h.providerSession(w, r)
	if s == nil {
		return err
	}
	ctx := r.Context()
	b := h.app.backend
	account := deviceAccount(s.UserID)
	over, retry, err := b.defense.FailuresOver(ctx, h.policy, botdefense.RouteCode, account)
	if err != nil {
		h.logger.Error("edge defence check failed", zap.String("route", botdefense.RouteCode), zap.Error(err))
		return h.unavailable(w, r)
	}
	if over {
		b.decisions.note(botdefense.RouteCode, botdefense.Limited)
		return h.tooMany(w, r, http.StatusTooManyRequests, retry, "too_many_attempts", "limit.too_many.title", "limit.too_many.answers")
	}
	typed := r.PostForm.Get("user_code")
	code, ok := normalUserCode(typed)
	var tok *identity.Token
	if ok {
		tok, err = b.identity.ConsumeToken(ctx, identity.TokenOAuthUserCode, userCodeHash(o.issuer, code), b.clock.Now())
		if err != nil && !errors.Is(err, identity.ErrNotFound) {
			h.logger.Error("provider: loading a device request", zap.Error(err))
			return h.unavailable(w, r)
		}
	}
	var uc identity.OAuthUserCode
	var c *ProviderClient
	if tok != nil {
		if uc, err = identity.PayloadOf[identity.OAuthUserCode](tok); err != nil {
			return h.unavailable(w, r)
		}
		c = o.client(uc.ClientID)
	}
	if c == nil {
		if err := b.defense.RecordFailure(ctx, h.policy, botdefense.RouteCode, account); err != nil {
			h.logger.Warn("recording a wrong device code", zap.Error(err))
		}
		return h.deviceForm(w, r, http.StatusBadRequest, truncate(typed, 4*userCodeLen), h.say(r, "device.wrong_code"))
	}
	shown := code[:4] + "-" + code[4:]
	name := c.Name
	if name == "" {
		name = c.ID
	}
	switch r.PostForm.Get("decision") {
	case "":
		// The code step: put back for the decision, which consumes it.
		if err := b.identity.PutToken(ctx, tok); err != nil {
			h.logger.Error("provider: keeping a device request", zap.Error(err))
			return h.unavailable(w, r)
		}
		v := &deviceView{Code: shown, App: name, Site: h.audience, Scopes: h.scopeWords(r, uc.Scopes)}
		if c.Agent {
			v.Agent, v.Until, v.Scopes = true, b.clock.Now().Add(c.lifetime()), h.scopeWords(r, agentConsentScopes(uc.Scopes))
		}
		return h.render(w, r, http.StatusOK, "device", &pageData{Title: h.say(r, "device.confirm_title", "app", name), CSRF: h.csrfFor(w, r), Device: v})
	case "approve":
		if err := h.answerDevice(r, uc, tok, s, false); err != nil {
			return h.unavailable(w, r)
		}
		return h.message(w, r, http.StatusOK, "device.approved.title", "device.approved", h.Prefix+"/account", "link.go_to_account", "app", name)
	default:
		if err := h.answerDevice(r, uc, tok, s, true); err != nil {
			return h.unavailable(w, r)
		}
		return h.message(w, r, http.StatusOK, "device.denied.title", "device.denied", h.Prefix+"/account", "link.go_to_account", "app", name)
	}
}

// answerDevice stores the customer's answer to the request of uc (its
// user code tok consumed): denied, or approved with the session s, as an
// authorization code is.
func (h *Handler) answerDevice(r *http.Request, uc identity.OAuthUserCode, tok *identity.Token, s *session.Session, denied bool) error {
	a := identity.OAuthDeviceAnswer{Denied: true}
	owner := ""
	if !denied {
		a = identity.OAuthDeviceAnswer{Subject: s.UserID, SID: session.SID(s), AuthTime: s.AuthTime, AMR: s.AMR, ACR: s.ACR, SessionAt: s.CreatedAt}
		owner = s.UserID
	}
	err := h.app.backend.identity.PutToken(r.Context(), identity.NewTokenUnder(uc.Device, a, owner, tok.ExpiresAt))
	if err != nil {
		h.logger.Error("provider: storing the answer to a device request", zap.Error(err))
	}
	return err
}

// scopeWords says what each scope lets an app do.
func (h *Handler) scopeWords(r *http.Request, scopes []string) []string {
	var out []string
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeOpenID:
			out = append(out, h.say(r, "scope.openid"))
		case oidc.ScopeEmail:
			out = append(out, h.say(r, "scope.email"))
		case oidc.ScopeProfile:
			out = append(out, h.say(r, "scope.profile"))
		case oidc.ScopeOfflineAccess:
			out = append(out, h.say(r, "scope.offline_access"))
		default:
			// An API scope, in the operator's words.
			if h.Provider != nil {
				if api := h.Provider.apiScope(sc); api != nil {
					if api.Description != "" {
						out = append(out, api.Description)
					} else {
						out = append(out, api.Name)
					}
				}
			}
		}
	}
	return out
}
