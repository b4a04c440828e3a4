package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/risk"
	"github.com/frontdoorhq/frontdoor/sms"
)

// The HTTP side of the journeys in authflow: their dependencies from the
// app's pooled state, mail for this site's origin and templates, and the
// words for the reasons they give.

// newFlows builds the site's journeys over the app's state.
func (h *Handler) newFlows() *authflow.Flows {
	b := h.app.backend
	return &authflow.Flows{
		Customers: b.identity, Tokens: b.identity, Hasher: h.app.hasher, Policy: h.app.policy,
		Notify: siteMail{h}, Later: b.later, Sessions: b.sessions, Events: siteEvents{h}, Publish: b.publish,
		Purposes: h.app.purposes, Consent: b.consent, // Site: in Validate
		Data: b.identity, SessionList: b.sessions, ErasureKey: b.erasureKey, ForgetAccount: b.forgetAccount,
		ConsentData: authflow.ConsentOf[consent.Record](b.consent), ErasureGrace: time.Duration(h.app.ErasureGrace),
		// The backend's one clock, which tests move (authenticator codes
		// are about time steps; expiries are moved past).
		Clock:             b.clock.Now,
		SecondFactorLimit: stepUpLimit{h},
		Risk:              h.riskSettings(),
		Phone:             h.phoneSettings(),
		Assist:            defenceAssist{h},
		CoolingOff:        h.coolingOff(),
		OnMigration:       b.migrations.note,
		Legacy:            h.legacyAuth(),
		OnError:           func(msg string, err error) { b.logger.Error(msg, zap.Error(err)) },
		OnWarn:            func(msg string, err error) { b.logger.Warn(msg, zap.Error(err)) },
		OnDebug:           func(msg string, err error) { h.logger.Debug(msg, zap.Error(err)) },
	}
}

// stepUpLimit counts wrong second-factor answers against the customer at
// the edge (the stepup route's account limit, failures only; serveOwn has
// counted the attempt against its address and network already).
type stepUpLimit struct{ h *Handler }

func (l stepUpLimit) Over(ctx context.Context, account string) (bool, time.Duration, error) {
	over, retry, err := l.h.app.backend.defense.FailuresOver(ctx, l.h.policy, botdefense.RouteStepUp, account)
	if err != nil {
		l.h.logger.Error("edge defence check failed", zap.String("route", botdefense.RouteStepUp), zap.Error(err))
	}
	return over, retry, err
}

func (l stepUpLimit) Failed(ctx context.Context, account string) error {
	return l.h.app.backend.defense.RecordFailure(ctx, l.h.policy, botdefense.RouteStepUp, account)
}

// siteMail sends the journeys' mail with this site's links and templates,
// in the language of the request that caused it (ctx).
type siteMail struct{ h *Handler }

func (m siteMail) Verify(ctx context.Context, c *identity.Customer, secret string, passkey bool) {
	link := m.h.origin + m.h.Prefix + "/verify?token=" + url.QueryEscape(secret)
	if passkey {
		link += "&passkey=1"
	}
	m.h.queueMail(ctx, c.Email, "verify", mailData{Link: link, Site: m.h.audience})
}

func (m siteMail) AlreadyRegistered(ctx context.Context, c *identity.Customer) {
	m.h.queueMail(ctx, c.Email, "already_registered",
		mailData{Link: m.h.origin + m.h.Prefix + "/login", Site: m.h.audience})
}

func (m siteMail) SignInLink(ctx context.Context, c *identity.Customer, secret, code string) {
	m.h.queueMail(ctx, c.Email, "magic_link", mailData{
		Link: m.h.origin + m.h.Prefix + "/magic/verify?token=" + url.QueryEscape(secret), Site: m.h.audience, Code: code,
	})
}

func (m siteMail) ConfirmNewEmail(ctx context.Context, email, secret string) {
	link := m.h.origin + m.h.Prefix + "/account/email/confirm?token=" + url.QueryEscape(secret)
	m.h.queueMail(ctx, email, "email_change", mailData{Link: link, Site: m.h.audience})
}

func (m siteMail) EmailInUse(ctx context.Context, email string) {
	m.h.queueMail(ctx, email, "email_in_use", mailData{Link: m.h.origin + m.h.Prefix + "/login", Site: m.h.audience})
}

func (m siteMail) EmailChanged(ctx context.Context, old, new string) {
	m.h.queueMail(ctx, old, "email_changed", mailData{Link: m.h.origin + m.h.Prefix + "/reset", Site: m.h.audience, Email: maskEmail(new)})
}

func (m siteMail) Invitation(ctx context.Context, email, secret, role string, expires time.Time) {
	link := m.h.origin + m.h.Prefix + "/invite?token=" + url.QueryEscape(secret)
	m.h.queueMail(ctx, email, "invitation", mailData{Link: link, Site: m.h.audience, Role: role, Expires: expires})
}

func (m siteMail) Reset(ctx context.Context, c *identity.Customer, secret string) {
	link := m.h.origin + m.h.Prefix + "/reset/confirm?token=" + url.QueryEscape(secret)
	m.h.queueMail(ctx, c.Email, "reset_password", mailData{Link: link, Site: m.h.audience})
}

// NewSignIn tells the customer of a sign-in the risk policy asked to be
// told of: what device, roughly where, when, and why it is worth a mail,
// in the language of the request that signed in.
func (m siteMail) NewSignIn(ctx context.Context, c *identity.Customer, s risk.Sighting, d risk.Decision) {
	l, ok := m.h.pages.localeIn(ctx)
	if !ok {
		l = m.h.pages.locales[0]
	}
	device := l.words.say("account.device_unknown")
	if browser, system, ok := strings.Cut(s.Browser, "/"); ok && browser != "other" {
		device = browser
		if system != "other" {
			device = l.words.say("account.device", "browser", browser, "system", system)
		}
	}
	place := l.words.say("mail.new_sign_in.place_unknown")
	if s.Place.Known() {
		where := s.Place.Country
		if s.Place.City != "" {
			where = s.Place.City + ", " + s.Place.Country
		}
		place = l.words.say("mail.new_sign_in.near", "place", where)
	}
	why := ""
	for _, sig := range []risk.Signal{risk.SessionMoved, risk.ImpossibleTravel, risk.NewCountry, risk.NewDevice} {
		if slices.ContainsFunc(d.Findings, func(f risk.Finding) bool { return f.Signal == sig }) {
			why = string(sig)
			break
		}
	}
	if c.Email == "" {
		m.textNewSignIn(ctx, c, l.words.say("sms.new_sign_in", "site", m.h.siteName(), "device", device, "place", place))
		return
	}
	notMe := ""
	if secret, err := m.h.flows.NotMeLink(ctx, c.ID); err != nil {
		m.h.logger.Error("making a mail's \"this wasn't me\" link", zap.Error(err))
	} else {
		notMe = m.h.origin + m.h.Prefix + "/not-me?token=" + url.QueryEscape(secret)
	}
	m.h.queueMail(ctx, c.Email, "new_sign_in", mailData{Link: m.h.origin + m.h.Prefix + "/account", Device: device, Place: place,
		When: s.At, Why: why, NotMe: notMe})
}

// textNewSignIn tells a customer without an address of a new sign-in by
// text instead, to their verified number in one of the site's countries
// and within the text limits (a text costs the operator; past a limit
// the notice is skipped). No link: a link in a text is what a phishing
// text looks like, and the customer signs in as usual to look.
func (m siteMail) textNewSignIn(ctx context.Context, c *identity.Customer, text string) {
	n, ok := m.h.flows.TextableNumber(c)
	if !ok {
		return
	}
	if retry, err := textLimit(m).AllowText(ctx, n); err != nil || retry > 0 {
		m.h.logger.Info("new sign-in notice not texted: text limits", zap.Error(err))
		return
	}
	if err := m.h.app.sendText(ctx, sms.Message{To: n.E164, Text: text, Kind: "new_sign_in"}); err != nil {
		m.h.logger.Warn("texting a new sign-in notice", zap.Error(err))
	}
}

// FactorRemoval tells the customer of a support agent's removal of their
// second factors: pending until at, with its cancel link; or done.
func (m siteMail) FactorRemoval(ctx context.Context, c *identity.Customer, at time.Time, cancelSecret string) {
	d := mailData{Site: m.h.audience, When: at, Link: m.h.origin + m.h.Prefix + "/account"}
	if cancelSecret != "" {
		d.Link = m.h.origin + m.h.Prefix + "/factor-removal/cancel?token=" + url.QueryEscape(cancelSecret)
	}
	m.h.queueMail(ctx, c.Email, "factor_removal", d)
}

// SupportCode mails the code a support agent's caller reads back.
func (m siteMail) SupportCode(ctx context.Context, c *identity.Customer, code string) {
	m.h.queueMail(ctx, c.Email, "support_code", mailData{Code: code, Site: m.h.audience})
}

// RiskCode mails the code of a risk step-up.
func (m siteMail) RiskCode(ctx context.Context, c *identity.Customer, code string) {
	m.h.queueMail(ctx, c.Email, "risk_code", mailData{Code: code})
}

// fieldErrors words the reasons a journey gives for its fields.
func (h *Handler) fieldErrors(r *http.Request, fields map[string]error) map[string]string {
	out := make(map[string]string, len(fields))
	for name, err := range fields {
		switch {
		case errors.Is(err, authflow.ErrEmailInvalid):
			out[name] = h.say(r, "field.email_invalid")
		case errors.Is(err, authflow.ErrPasswordMismatch):
			out[name] = h.say(r, "field.password_mismatch")
		case errors.Is(err, authflow.ErrPasswordMissing):
			out[name] = h.say(r, "field.password_missing")
		case errors.Is(err, authflow.ErrPasswordTooLong):
			out[name] = h.say(r, "field.password_too_long")
		case errors.Is(err, authflow.ErrConsentRequired):
			out[name] = h.say(r, "field.consent_required")
		// The password policy's reasons, with its limits.
		case errors.Is(err, identity.ErrPasswordTooShort):
			out[name] = h.say(r, "field.password_short", "min", strconv.Itoa(h.app.policy.MinLength))
		case errors.Is(err, identity.ErrPasswordTooLong):
			out[name] = h.say(r, "field.password_long", "max", strconv.Itoa(h.app.policy.MaxLength))
		case errors.Is(err, identity.ErrPasswordBreached):
			out[name] = h.say(r, "field.password_breached")
		case errors.Is(err, identity.ErrPasswordInvalid):
			out[name] = h.say(r, "field.password_invalid")
		default:
			h.logger.Error("a field refused for a reason without words", zap.String("field", name), zap.Error(err))
			out[name] = h.say(r, "field.invalid")
		}
	}
	return out
}

// unexpected answers an outcome a handler has no page for: a bug, logged,
// and the customer told to try again.
func (h *Handler) unexpected(w http.ResponseWriter, r *http.Request, out authflow.Outcome) error {
	h.logger.Error("journey outcome without a page", zap.String("outcome", fmt.Sprintf("%T", out)))
	return h.unavailable(w, r)
}

// isHashingError reports an error of the password hasher (a full queue,
// or a wait cut short), which hashFailed answers.
func isHashingError(err error) bool {
	return errors.Is(err, identity.ErrHasherBusy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
