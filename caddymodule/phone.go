package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/sms"
)

// The HTTP side of the account's phone number (authflow.RequestPhoneChange,
// ConfirmPhoneChange, RemovePhone):
//
//	GET  <prefix>/account/phone          the number and the form to add or change it (signed in)
//	POST <prefix>/account/phone          field phone → a code texted to it (recent sign-in required)
//	POST <prefix>/account/phone/confirm  field code → the number is the account's
//	POST <prefix>/account/phone/remove   the number goes (recent sign-in required)
//
// A site texts only the countries of its `sms_countries` line; without
// one, phone numbers are off (the pages answer 404 and the account page
// shows no form).

// phoneView is the phone page's data.
type phoneView struct {
	// Current is the account's number as people read it ("" for none).
	Current  string
	Verified bool
	// CodeStep asks for the texted code; Sent is the number it went to.
	CodeStep bool
	Sent     string
	// Countries are the calling regions the site texts, for the hint.
	Countries string
	// Value is what the customer typed, shown again with an error.
	Value string
}

// parseSMSCountries reads `sms_countries GB IE FR`: ISO 3166-1 alpha-2
// codes of the countries the site texts.
func parseSMSCountries(h httpcaddyfile.Helper, fd *Handler) error {
	if len(fd.SMSCountries) > 0 {
		return h.Errf("frontdoor: sms_countries is set twice; list every country on one line")
	}
	args := h.RemainingArgs()
	if len(args) == 0 {
		return h.Errf("frontdoor: sms_countries needs at least one ISO 3166-1 country code, e.g. sms_countries GB IE")
	}
	for _, a := range args {
		c := strings.ToUpper(a)
		if !sms.ValidRegion(c) {
			return h.Errf("frontdoor: sms_countries: %q is not an ISO 3166-1 alpha-2 country code with phone numbers", a)
		}
		if slices.Contains(fd.SMSCountries, c) {
			return h.Errf("frontdoor: sms_countries: %s is named twice", c)
		}
		fd.SMSCountries = append(fd.SMSCountries, c)
	}
	return nil
}

// parseSMSRegion reads `sms_region GB`: the country of numbers typed
// without their calling code.
func parseSMSRegion(h httpcaddyfile.Helper, fd *Handler) error {
	var r string
	if !h.AllArgs(&r) {
		return h.Errf("frontdoor: sms_region needs one ISO 3166-1 country code, e.g. sms_region GB")
	}
	fd.SMSRegion = strings.ToUpper(r)
	if !sms.ValidRegion(fd.SMSRegion) {
		return h.Errf("frontdoor: sms_region: %q is not an ISO 3166-1 alpha-2 country code with phone numbers", r)
	}
	return nil
}

// parseOnOff reads `<option> on|off` (sms_mfa, phone_login).
func parseOnOff(h httpcaddyfile.Helper, option string) (bool, error) {
	var v string
	if !h.AllArgs(&v) || (v != "on" && v != "off") {
		return false, h.Errf("frontdoor: %s needs on or off, e.g. %s on", option, option)
	}
	return v == "on", nil
}

// validatePhone checks the text-message options as JSON gives them too.
func (h *Handler) validatePhone() error {
	if h.SMSMFA && len(h.SMSCountries) == 0 {
		return errors.New("frontdoor: sms_mfa needs sms_countries (the countries the site texts)")
	}
	if h.PhoneLogin && len(h.SMSCountries) == 0 {
		return errors.New("frontdoor: phone_login needs sms_countries (the countries the site texts)")
	}
	for _, c := range h.SMSCountries {
		if !sms.ValidRegion(c) {
			return fmt.Errorf("frontdoor: sms_countries: %q is not an upper-case ISO 3166-1 alpha-2 country code with phone numbers", c)
		}
	}
	if _, err := textLimitsOf(h.SMSLimits, h.SMSDailyCap); err != nil {
		return err
	}
	if h.SMSRegion != "" && !slices.Contains(h.SMSCountries, h.SMSRegion) {
		return fmt.Errorf("frontdoor: sms_region %q must be one of sms_countries (%s)", h.SMSRegion, strings.Join(h.SMSCountries, " "))
	}
	return nil
}

// phoneSettings turns the phone number on when the site names countries.
func (h *Handler) phoneSettings() *authflow.PhoneSettings {
	if len(h.SMSCountries) == 0 {
		return nil
	}
	return &authflow.PhoneSettings{Countries: h.SMSCountries, Region: h.SMSRegion, Notify: sitePhone{h}, Limit: textLimit{h}, MFA: h.SMSMFA,
		Login: h.PhoneLogin}
}

// smsLimitNames are the bounds `sms_limits` may change.
var smsLimitNames = []string{"number", "number_day", "range", "country"}

// textLimitsOf is the site's text bounds: the defaults, with SMSLimits
// and SMSDailyCap applied; an error names the bad line's bound.
func textLimitsOf(set map[string]string, dailyCap int) (botdefense.TextLimits, error) {
	l := botdefense.DefaultTextLimits
	if dailyCap > 0 {
		l.PerDay = int64(dailyCap)
	}
	for name, v := range set {
		var n int64
		var per time.Duration
		if v != "off" {
			var err error
			if n, per, err = botdefense.ParseRate(v); err != nil {
				return l, fmt.Errorf("frontdoor: sms_limits %s: %v", name, err)
			}
		}
		switch name {
		case "number":
			l.PerNumber, l.NumberWindow = n, per
		case "number_day":
			l.PerNumberDay, l.NumberDayWindow = n, per
		case "range":
			l.PerPrefix, l.PrefixWindow = n, per
		case "country":
			l.PerCountry, l.CountryWindow = n, per
		default:
			return l, fmt.Errorf("frontdoor: sms_limits: unknown bound %q (want one of %s)", name, strings.Join(smsLimitNames, ", "))
		}
	}
	return l, nil
}

// parseSMSLimits reads
//
//	sms_limits {
//		number 3/15m
//		number_day 10/24h
//		range 20/1h
//		country 200/1h
//	}
//
// each line "<bound> <count>/<period>" or "<bound> off".
func parseSMSLimits(h httpcaddyfile.Helper, fd *Handler) error {
	if fd.SMSLimits != nil {
		return h.Errf("frontdoor: sms_limits is set twice")
	}
	if h.NextArg() {
		return h.Errf("frontdoor: sms_limits takes a block, e.g. sms_limits { country 500/1h }")
	}
	fd.SMSLimits = map[string]string{}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		name := h.Val()
		var v string
		if !h.AllArgs(&v) {
			return h.Errf("frontdoor: sms_limits %s needs one value: <count>/<period> or off", name)
		}
		if _, dup := fd.SMSLimits[name]; dup {
			return h.Errf("frontdoor: sms_limits %s is set twice", name)
		}
		fd.SMSLimits[name] = v
		if _, err := textLimitsOf(map[string]string{name: v}, 0); err != nil {
			return h.Errf("%v", err)
		}
	}
	if len(fd.SMSLimits) == 0 {
		return h.Errf("frontdoor: sms_limits needs at least one bound (%s)", strings.Join(smsLimitNames, ", "))
	}
	return nil
}

// textRefused answers a text the text limits refused: 429 with
// Retry-After, nothing texted.
func (h *Handler) textRefused(w http.ResponseWriter, r *http.Request, retry time.Duration) error {
	return h.tooMany(w, r, http.StatusTooManyRequests, retry, "too_many_requests", "limit.too_many.title", "limit.too_many.requests")
}

// textLimit bounds the site's texts by number, number range, calling code
// and day, on the edge defence's counters (shared across nodes on Redis).
type textLimit struct{ h *Handler }

func (l textLimit) AllowText(ctx context.Context, n sms.Number) (time.Duration, error) {
	limits := l.h.textLimits
	return l.h.app.backend.defense.AllowText(ctx, l.h.origin, limits, n.E164, n.Prefix(botdefense.PrefixDigits), n.CallingCode())
}

// sitePhone texts and mails what the phone journeys tell the customer,
// in the language of the request that caused it.
type sitePhone struct{ h *Handler }

func (p sitePhone) words(ctx context.Context) catalogue {
	l, ok := p.h.pages.localeIn(ctx)
	if !ok {
		l = p.h.pages.locales[0]
	}
	return l.words
}

func (p sitePhone) PhoneCode(ctx context.Context, phone, code string) error {
	text := p.words(ctx).say("sms.phone_code", "code", code, "site", p.h.siteName())
	return p.h.app.sendText(ctx, sms.Message{To: phone, Text: text, Code: code, Kind: "verify_phone"})
}

func (p sitePhone) SignInCode(ctx context.Context, phone, code string) error {
	text := p.words(ctx).say("sms.signin_code", "code", code, "site", p.h.siteName())
	return p.h.app.sendText(ctx, sms.Message{To: phone, Text: text, Code: code, Kind: "second_factor"})
}

func (p sitePhone) LoginCode(ctx context.Context, phone, code string) error {
	text := p.words(ctx).say("sms.login_code", "code", code, "site", p.h.siteName())
	return p.h.app.sendText(ctx, sms.Message{To: phone, Text: text, Code: code, Kind: "signin"})
}

func (p sitePhone) CaseCode(ctx context.Context, phone, code string) error {
	text := p.words(ctx).say("sms.case_code", "code", code, "site", p.h.siteName())
	return p.h.app.sendText(ctx, sms.Message{To: phone, Text: text, Code: code, Kind: "support_code"})
}

func (p sitePhone) PhoneReplaced(ctx context.Context, old string) error {
	text := p.words(ctx).say("sms.phone_replaced", "site", p.h.siteName())
	return p.h.app.sendText(ctx, sms.Message{To: old, Text: text, Kind: "phone_replaced"})
}

func (p sitePhone) PhoneChangedMail(ctx context.Context, c *identity.Customer, phone string) {
	if c.Email == "" {
		return
	}
	p.h.queueMail(ctx, c.Email, "phone_changed", mailData{Link: p.h.origin + p.h.Prefix + "/account", Site: p.h.audience, Phone: phone})
}

// phoneOn reports whether the site offers phone numbers; if not, it
// answers the request.
func (h *Handler) phoneOn(w http.ResponseWriter, r *http.Request) bool {
	if h.flows.Phone != nil {
		return true
	}
	_ = h.message(w, r, http.StatusNotFound, "phone.title", "phone.off", h.Prefix+"/account", "link.account")
	return false
}

func (h *Handler) phoneForm(w http.ResponseWriter, r *http.Request, status int, c *identity.Customer, v *phoneView, errs map[string]string) error {
	v.Countries = strings.Join(h.SMSCountries, ", ")
	if c != nil && c.Phone != "" {
		v.Current, v.Verified = sms.Display(c.Phone), c.PhoneVerified
	}
	d := &pageData{Title: h.say(r, "phone.title"), CSRF: h.csrfFor(w, r), Phone: v, Errors: errs}
	if len(errs) > 0 {
		d.Error = h.say(r, "form.did_not_work")
	}
	return h.render(w, r, status, "phone", d)
}

func (h *Handler) phonePage(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok || !h.phoneOn(w, r) {
		return nil
	}
	c, err := h.app.backend.identity.Customer(r.Context(), s.UserID)
	if err != nil {
		h.logger.Error("loading customer", zap.Error(err))
		return h.unavailable(w, r)
	}
	return h.phoneForm(w, r, http.StatusOK, c, &phoneView{}, nil)
}

// phoneRequest texts a code to the number typed, within the allow-list,
// the recent sign-in asked here and the text limits (textLimit).
func (h *Handler) phoneRequest(w http.ResponseWriter, r *http.Request) error {
	if !h.phoneOn(w, r) {
		return nil
	}
	s, c := h.accountChangeFor(w, r, h.Prefix+"/account/phone", true)
	if c == nil {
		return nil
	}
	typed := r.PostForm.Get("phone")
	out, err := h.flows.RequestPhoneChange(r.Context(), authflow.PhoneChangeInput{Customer: c, SessionKey: s.Key, Phone: typed})
	if err != nil {
		h.logger.Error("phone change", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.phoneForm(w, r, http.StatusBadRequest, c, &phoneView{Value: truncate(typed, sms.MaxNumberInput)}, h.phoneFieldErrors(r, o.Fields))
	case authflow.PhoneOff:
		return h.message(w, r, http.StatusNotFound, "phone.title", "phone.off", h.Prefix+"/account", "link.account")
	case authflow.PhoneUnchanged:
		return h.message(w, r, http.StatusOK, "phone.title", "phone.same", h.Prefix+"/account", "link.account")
	case authflow.TextLimited:
		return h.textRefused(w, r, o.RetryAfter)
	case authflow.Busy:
		return h.unavailable(w, r)
	case authflow.PhoneCodeSent:
		return h.phoneForm(w, r, http.StatusOK, c, &phoneView{CodeStep: true, Sent: sms.Display(o.Phone)}, nil)
	}
	return h.unexpected(w, r, out)
}

func (h *Handler) phoneConfirm(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	out, err := h.flows.ConfirmPhoneChange(r.Context(), authflow.PhoneConfirmInput{CustomerID: s.UserID, SessionKey: s.Key,
		Code: r.PostForm.Get("code"), Client: h.client(r)})
	if err != nil {
		h.logger.Error("confirming phone change", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		return h.phoneForm(w, r, http.StatusBadRequest, nil, &phoneView{CodeStep: true}, map[string]string{"code": h.say(r, "field.code_format")})
	case authflow.WrongCode:
		return h.phoneForm(w, r, http.StatusBadRequest, nil, &phoneView{CodeStep: true},
			map[string]string{"code": h.say(r, "phone.code_wrong", "left", strconv.Itoa(o.Left))})
	case authflow.CodeLockedOut:
		return h.message(w, r, http.StatusBadRequest, "phone.title", "phone.code_locked", h.Prefix+"/account/phone", "phone.try_again")
	case authflow.CodeDead:
		return h.message(w, r, http.StatusBadRequest, "phone.title", "phone.code_dead", h.Prefix+"/account/phone", "phone.try_again")
	case authflow.PhoneNotAdded:
		return h.message(w, r, http.StatusConflict, "phone.title", "phone.not_added", h.Prefix+"/account", "link.account")
	case authflow.PhoneChanged:
		h.app.backend.forgetCustomer(s.UserID) // backends are told the new number at once
		return h.message(w, r, http.StatusOK, "phone.changed.title", "phone.changed", h.Prefix+"/account", "link.account", "phone", sms.Display(o.Customer.Phone))
	}
	return h.unexpected(w, r, out)
}

func (h *Handler) phoneRemove(w http.ResponseWriter, r *http.Request) error {
	s, c := h.accountChange(w, r)
	if c == nil {
		return nil
	}
	out, err := h.flows.RemovePhone(r.Context(), s.UserID, h.client(r))
	if err != nil {
		h.logger.Error("removing phone number", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch out.(type) {
	case authflow.PhoneRemoved:
		h.app.backend.forgetCustomer(s.UserID)
		return h.message(w, r, http.StatusOK, "phone.title", "phone.removed", h.Prefix+"/account", "link.account")
	case authflow.PhoneNone:
		return h.message(w, r, http.StatusOK, "phone.title", "phone.none", h.Prefix+"/account", "link.account")
	}
	return h.unexpected(w, r, out)
}

// phoneFieldErrors words the reasons a number was refused.
func (h *Handler) phoneFieldErrors(r *http.Request, fields map[string]error) map[string]string {
	out := make(map[string]string, len(fields))
	for name, err := range fields {
		switch {
		case errors.Is(err, authflow.ErrPhoneCountry):
			out[name] = h.say(r, "field.phone_country", "countries", strings.Join(h.SMSCountries, ", "))
		case errors.Is(err, sms.ErrNumberEmpty):
			out[name] = h.say(r, "field.phone_empty")
		case errors.Is(err, sms.ErrNumberRegion):
			out[name] = h.say(r, "field.phone_region")
		case errors.Is(err, sms.ErrNumberLetters), errors.Is(err, sms.ErrNumberChars), errors.Is(err, sms.ErrNumberTooLong):
			out[name] = h.say(r, "field.phone_chars")
		default:
			out[name] = h.say(r, "field.phone_invalid")
		}
	}
	return out
}
