package caddymodule

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// Progressive profiling, the HTTP side (authflow/profile.go has the
// rules):
//
//	profile {                       # global: the fields there are
//		field name {
//			label "Full name"
//			max 100
//		}
//		field phone {
//			type tel                # text (default) | tel | date | email | number
//		}
//	}
//	require /checkout/* {           # site: a route asks for what it needs
//		profile name phone
//	}
//	profile name phone              # site: fields its backend gets as X-Frontdoor-Name, X-Frontdoor-Phone
//
//	GET/POST <prefix>/profile?fields=name,phone&rd=…   the prompt (and the account page's edit)

// ProfileField is one declared profile field.
type ProfileField struct {
	Name  string `json:"name"`
	Label string `json:"label,omitempty"`
	// Type: text (default), tel, date, email or number.
	Type string `json:"type,omitempty"`
	// Max is the longest value in characters (default 100).
	Max int `json:"max,omitempty"`
}

var fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// reservedFieldNames are the fields whose header (profileHeader) is one
// of Frontdoor's own identity headers; attr_… are the attributes'.
var reservedFieldNames = []string{"user", "email", "email_verified", "auth_time", "amr", "assertion", "consent",
	"roles", "actor", "client", "risk", "risk_signals", "phone_number"}

var fieldTypes = []string{"text", "tel", "date", "email", "number"}

// spec checks a declared field and fills its defaults.
func (f ProfileField) spec() (authflow.FieldSpec, error) {
	if !fieldNameRE.MatchString(f.Name) {
		return authflow.FieldSpec{}, fmt.Errorf("profile field %q: the name must be lower-case letters, digits and _ (up to 32)", f.Name)
	}
	if slices.Contains(reservedFieldNames, f.Name) || strings.HasPrefix(f.Name, "attr_") {
		// Its header would be one Frontdoor sets from what it verified:
		// a customer's typed value must never stand in for it.
		return authflow.FieldSpec{}, fmt.Errorf("profile field %q: %s is Frontdoor's own header; name the field otherwise", f.Name, profileHeader(f.Name))
	}
	typ := f.Type
	if typ == "" {
		typ = "text"
	}
	if !slices.Contains(fieldTypes, typ) {
		return authflow.FieldSpec{}, fmt.Errorf("profile field %s: type %q is not one of %s", f.Name, typ, strings.Join(fieldTypes, ", "))
	}
	if f.Max < 0 || f.Max > 1000 {
		return authflow.FieldSpec{}, fmt.Errorf("profile field %s: max %d is not between 1 and 1000", f.Name, f.Max)
	}
	label := f.Label
	if label == "" {
		label = strings.ToUpper(f.Name[:1]) + strings.ReplaceAll(f.Name[1:], "_", " ")
	}
	return authflow.FieldSpec{Name: f.Name, Label: label, Type: authflow.FieldType(typ), Max: f.Max}, nil
}

// parseProfile parses the global profile block.
func parseProfile(d *caddyfile.Dispenser, seen []ProfileField) ([]ProfileField, error) {
	if d.NextArg() {
		return nil, d.Errf("frontdoor: profile takes a block of fields: profile { field name { … } }")
	}
	out := seen
	for n := d.Nesting(); d.NextBlock(n); {
		if d.Val() != "field" {
			return nil, d.Errf("frontdoor: profile: unknown option %q (want field)", d.Val())
		}
		var f ProfileField
		if !d.NextArg() {
			return nil, d.Errf("frontdoor: profile field needs a name")
		}
		f.Name = d.Val()
		for _, o := range out {
			if o.Name == f.Name {
				return nil, d.Errf("frontdoor: profile field %s is declared twice", f.Name)
			}
		}
		if d.NextArg() {
			return nil, d.ArgErr()
		}
		for m := d.Nesting(); d.NextBlock(m); {
			switch opt := d.Val(); opt {
			case "label":
				if !d.AllArgs(&f.Label) {
					return nil, d.Errf("frontdoor: profile field %s: label needs one text", f.Name)
				}
			case "type":
				if !d.AllArgs(&f.Type) {
					return nil, d.Errf("frontdoor: profile field %s: type needs one of %s", f.Name, strings.Join(fieldTypes, ", "))
				}
			case "max":
				var v string
				if !d.AllArgs(&v) {
					return nil, d.Errf("frontdoor: profile field %s: max needs a number", f.Name)
				}
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return nil, d.Errf("frontdoor: profile field %s: max %q is not a positive number", f.Name, v)
				}
				f.Max = n
			default:
				return nil, d.Errf("frontdoor: profile field %s: unknown option %q", f.Name, opt)
			}
		}
		if _, err := f.spec(); err != nil {
			return nil, d.Errf("frontdoor: %v", err)
		}
		out = append(out, f)
	}
	return out, nil
}

// provisionProfile checks the declared fields.
func (a *App) provisionProfile() error {
	a.fields = map[string]authflow.FieldSpec{}
	for _, f := range a.Profile {
		spec, err := f.spec()
		if err != nil {
			return fmt.Errorf("frontdoor: %w", err)
		}
		if _, dup := a.fields[f.Name]; dup {
			return fmt.Errorf("frontdoor: profile field %s is declared twice", f.Name)
		}
		a.fields[f.Name] = spec
	}
	return nil
}

// checkProfileNames reports the first name that is not a declared field.
func (a *App) checkProfileNames(what string, names []string) error {
	for _, n := range names {
		if _, ok := a.fields[n]; !ok {
			declared := make([]string, 0, len(a.fields))
			for k := range a.fields {
				declared = append(declared, k)
			}
			slices.Sort(declared)
			return fmt.Errorf("frontdoor: %s: %q is not a profile field (declared: %s)", what, n, strings.Join(declared, ", "))
		}
	}
	return nil
}

// profileHeader is the header a field reaches the backend in.
func profileHeader(field string) string {
	parts := strings.Split(field, "_")
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return "X-Frontdoor-" + strings.Join(parts, "-")
}

// profileGate answers a request to a route whose rule needs profile fields
// the customer has not given: a browser goes to the prompt (and comes
// back), anything else gets 403 profile_required. It reports whether it
// answered.
func (h *Handler) profileGate(w http.ResponseWriter, r *http.Request, views []string, c *hotCustomer) (bool, error) {
	if !h.profileRules {
		return false, nil
	}
	var need []string
	for _, rule := range h.rules {
		if len(rule.Profile) == 0 {
			continue
		}
		if rule.appliesTo(views) {
			need = append(need, rule.Profile...)
		}
	}
	if len(need) == 0 {
		return false, nil
	}
	missing := authflow.MissingFields(c.Customer, slices.Compact(need))
	if len(missing) == 0 {
		return false, nil
	}
	if isNavigation(r) {
		w.Header().Set("Cache-Control", "no-store")
		q := url.Values{"rd": {r.URL.RequestURI()}, "fields": {strings.Join(missing, ",")}}
		http.Redirect(w, r, h.Prefix+"/profile?"+q.Encode(), http.StatusFound)
		return true, nil
	}
	return true, writeJSON(w, http.StatusForbidden, map[string]any{"error": "profile_required", "fields": missing})
}

// profileClaims returns the profile fields the site names that the
// customer has given, for the headers and the assertion.
func (h *Handler) profileClaims(c *hotCustomer) []session.Field {
	var out []session.Field
	for _, f := range h.Profile {
		if v := authflow.ProfileValue(c.Customer, f); v != "" {
			out = append(out, session.Field{Name: f, Value: v})
		}
	}
	return out
}

// profileFieldView is one field of the profile form.
type profileFieldView struct {
	Name, Label, Input, Autocomplete, Value, Error string
	Max                                            int
}

func (h *Handler) profileForm(w http.ResponseWriter, r *http.Request, status int, fields []string, c *identity.Customer, values map[string]string, errs map[string]string, rd string) error {
	d := &pageData{Title: h.say(r, "profile.title"), CSRF: h.csrfFor(w, r), RD: rd}
	for _, name := range fields {
		spec := h.app.fields[name]
		v := profileFieldView{Name: name, Label: spec.Label, Input: "text", Value: authflow.ProfileValue(c, name), Error: errs[name], Max: spec.Max}
		if values != nil {
			v.Value = values[name]
		}
		if v.Max == 0 {
			v.Max = authflow.DefaultFieldMax
		}
		switch spec.Type {
		case authflow.FieldTel:
			v.Input, v.Autocomplete = "tel", "tel"
		case authflow.FieldDate:
			v.Input = "date"
		case authflow.FieldEmail:
			v.Input, v.Autocomplete = "email", "email"
		}
		switch name {
		case "name":
			v.Autocomplete = "name"
		case "birthdate", "birthday":
			v.Autocomplete = "bday"
		}
		d.ProfileFields = append(d.ProfileFields, v)
	}
	if len(errs) > 0 {
		d.Error = h.say(r, "form.did_not_work")
	}
	return h.render(w, r, status, "profile", d)
}

// profileFields is the fields a profile request names (a comma list or
// repeated `field`), the declared ones only; none named is every field.
func (h *Handler) profileFields(raw []string) []string {
	var out []string
	for _, part := range raw {
		for _, n := range strings.Split(part, ",") {
			if _, ok := h.app.fields[n]; ok && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	if len(out) == 0 {
		for _, f := range h.app.Profile {
			out = append(out, f.Name)
		}
	}
	return out
}

func (h *Handler) profilePage(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	fields := h.profileFields(r.URL.Query()["fields"])
	if len(fields) == 0 {
		return h.message(w, r, http.StatusNotFound, "profile.title", "profile.none", h.Prefix+"/account", "link.account")
	}
	c, err := h.app.backend.identity.Customer(r.Context(), s.UserID)
	if err != nil {
		return h.unavailable(w, r)
	}
	return h.profileForm(w, r, http.StatusOK, fields, c, nil, nil, safeRedirect(r.URL.Query().Get("rd"), h.allowHosts))
}

func (h *Handler) profileSave(w http.ResponseWriter, r *http.Request) error {
	s, ok := h.sessionOrLogin(w, r)
	if !ok {
		return nil
	}
	fields := h.profileFields(r.PostForm["field"])
	rd := safeRedirect(r.PostForm.Get("rd"), h.allowHosts)
	specs := make([]authflow.FieldSpec, 0, len(fields))
	values := map[string]string{}
	for _, f := range fields {
		specs = append(specs, h.app.fields[f])
		values[f] = r.PostForm.Get(f)
	}
	out, err := h.flows.SaveProfile(r.Context(), authflow.SaveProfileInput{CustomerID: s.UserID, Fields: specs, Values: values, Client: h.client(r)})
	if err != nil {
		h.logger.Error("saving profile", zap.Error(err))
		return h.unavailable(w, r)
	}
	switch o := out.(type) {
	case authflow.Invalid:
		c, err := h.app.backend.identity.Customer(r.Context(), s.UserID)
		if err != nil {
			return h.unavailable(w, r)
		}
		return h.profileForm(w, r, http.StatusBadRequest, fields, c, values, h.profileErrors(r, o.Fields), rd)
	case authflow.ProfileSaved:
		h.app.backend.forgetCustomer(s.UserID)
		http.Redirect(w, r, rd, http.StatusSeeOther)
		return nil
	}
	return h.unexpected(w, r, out)
}

// profileErrors words the reasons profile values were refused.
func (h *Handler) profileErrors(r *http.Request, fields map[string]error) map[string]string {
	out := map[string]string{}
	for name, err := range fields {
		switch err {
		case authflow.ErrFieldMissing:
			out[name] = h.say(r, "profile.err.missing")
		case authflow.ErrFieldTooLong:
			limit := h.app.fields[name].Max
			if limit == 0 {
				limit = authflow.DefaultFieldMax
			}
			out[name] = h.say(r, "profile.err.too_long", "max", strconv.Itoa(limit))
		case authflow.ErrFieldBadChars:
			out[name] = h.say(r, "profile.err.chars")
		case authflow.ErrFieldTel:
			out[name] = h.say(r, "profile.err.tel")
		case authflow.ErrFieldDate:
			out[name] = h.say(r, "profile.err.date")
		case authflow.ErrFieldNumber:
			out[name] = h.say(r, "profile.err.number")
		default:
			for k, v := range h.fieldErrors(r, map[string]error{name: err}) {
				out[k] = v
			}
		}
	}
	return out
}
