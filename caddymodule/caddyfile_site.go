package caddymodule

import (
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/cfgargs"
)

// parseHandler parses the site directive:
//
//	frontdoor {
//		origin https://shop.example.com
//		prefix /.frontdoor
//		public <paths…>
//		protect <paths…>
//		require <paths…> { aal aal2; max_age 10m; methods passkey totp }
//		headers <preset> [{ … }]
//		allow_redirect_hosts <hosts…>
//		theme <dir>
//		passkey_rp_id <domain>
//		limits off | { <route> <dimension> <count>/<period>|off; pow_bits <n>; surge <count>/<period>;
//		         distinct_accounts <n>; disposable challenge|refuse|allow; disposable_extra <domains…>;
//		         disposable_allow <domains…>; automation challenge|ignore }
//		challenge <paths…>
//		authenticate <name> [{ … }]   (repeatable; default: authenticate session)
//		oidc <provider…>              (the global providers to offer; default all)
//		brand <name> [{ logo <path>; colour <#rrggbb> }]
//		profile <fields…>             (profile fields the backend gets as headers)
//		provider { client <id> { … } } (the site is an OpenID Provider; provider_config.go)
//		legacy_auth <url> { secret <value>; timeout <duration> } (lazy migration; legacy_auth.go)
//		sms_countries <ISO codes…>    (the countries texted; default none: phone numbers off; phone.go)
//		sms_region <ISO code>         (the country of numbers typed without +code)
//		sms_limits { number 3/15m; number_day 10/24h; range 20/1h; country 200/1h } (text bounds; phone.go)
//		sms_mfa on|off                (texted codes as a second factor; needs sms_countries; default off)
//		phone_login on|off            (sign-in and sign-up by a texted code alone; needs sms_countries; default off; phonelogin.go)
//	}
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	fd := new(Handler)
	h.Next() // consume directive name
	// needsCountries are the options read on that need sms_countries
	// (which may come after them in the block), with where they were read.
	var needsCountries []string
	if h.NextArg() {
		return nil, h.Errf("frontdoor: the directive takes a block, not arguments")
	}
	for h.NextBlock(0) {
		switch key := h.Val(); key {
		case "origin":
			if !h.AllArgs(&fd.Origin) {
				return nil, h.Errf("frontdoor: origin needs one https origin")
			}
			if err := fd.validateOrigin(); err != nil {
				return nil, h.WrapErr(err)
			}
		case "prefix":
			if !h.AllArgs(&fd.Prefix) {
				return nil, h.Errf("frontdoor: prefix needs one path")
			}
			if err := validPrefix(fd.Prefix); err != nil {
				return nil, h.WrapErr(err)
			}
		case "public", "protect":
			args := h.RemainingArgs()
			if len(args) == 0 {
				return nil, h.Errf("frontdoor: %s needs at least one path", key)
			}
			for _, a := range args {
				if _, err := compilePattern(a); err != nil {
					return nil, h.Errf("frontdoor: %s: %v", key, err)
				}
			}
			if key == "public" {
				if h.NextBlock(h.Nesting()) {
					return nil, h.Errf("frontdoor: public takes no block")
				}
				fd.Public = append(fd.Public, args...)
			} else {
				fd.Protect = append(fd.Protect, args...)
				g, err := parseCallers(h, args)
				if err != nil {
					return nil, err
				}
				if g != nil {
					fd.Callers = append(fd.Callers, *g)
				}
			}
		case "require":
			r, err := parseRule(h)
			if err != nil {
				return nil, err
			}
			fd.Rules = append(fd.Rules, r)
		case "headers":
			hc, err := parseHeaders(h.Dispenser)
			if err != nil {
				return nil, err
			}
			fd.Headers = hc
		case "allow_redirect_hosts":
			fd.AllowRedirectHosts = h.RemainingArgs()
			if len(fd.AllowRedirectHosts) == 0 {
				return nil, h.Errf("frontdoor: allow_redirect_hosts needs at least one host")
			}
		case "theme":
			if !h.AllArgs(&fd.Theme) {
				return nil, h.Errf("frontdoor: theme needs one directory")
			}
		case "passkey_rp_id":
			if !h.AllArgs(&fd.PasskeyRPID) {
				return nil, h.Errf("frontdoor: passkey_rp_id needs one domain")
			}
		case "limits":
			dc, err := parseLimits(h)
			if err != nil {
				return nil, err
			}
			fd.Defense = dc
		case "challenge":
			args := h.RemainingArgs()
			if len(args) == 0 {
				return nil, h.Errf("frontdoor: challenge needs at least one path")
			}
			for _, a := range args {
				if _, err := compilePattern(a); err != nil {
					return nil, h.Errf("frontdoor: challenge: %v", err)
				}
			}
			fd.Challenge = append(fd.Challenge, args...)
		case "agents":
			if fd.Agents != nil {
				return nil, h.Errf("frontdoor: agents is set twice")
			}
			a, err := parseAgents(h)
			if err != nil {
				return nil, err
			}
			fd.Agents = a
		case "risk":
			if fd.Risk != nil {
				return nil, h.Errf("frontdoor: risk is set twice; put every option in one block")
			}
			rc, err := parseRisk(h)
			if err != nil {
				return nil, err
			}
			fd.Risk = rc
		case "legacy_auth":
			if fd.LegacyAuth != nil {
				return nil, h.Errf("frontdoor: legacy_auth is set twice")
			}
			lc, err := parseLegacyAuth(h.Dispenser)
			if err != nil {
				return nil, err
			}
			fd.LegacyAuth = lc
		case "brand":
			b, err := parseBrand(h)
			if err != nil {
				return nil, err
			}
			fd.Brand = b
		case "profile":
			fd.Profile = append(fd.Profile, h.RemainingArgs()...)
			if len(fd.Profile) == 0 {
				return nil, h.Errf("frontdoor: profile names the profile fields the backend gets, e.g. profile name phone")
			}
		case "attributes":
			names := h.RemainingArgs()
			if len(names) == 0 {
				return nil, h.Errf("frontdoor: attributes names the customer attributes the backend gets, e.g. attributes plan org")
			}
			for _, n := range names {
				if err := identity.ValidAttribute(n, ""); err != nil {
					return nil, h.Errf("frontdoor: attributes: %v", err)
				}
			}
			fd.Attributes = append(fd.Attributes, names...)
		case "oidc":
			names := h.RemainingArgs()
			if len(names) == 0 {
				return nil, h.Errf("frontdoor: oidc names the global providers this site offers, e.g. oidc google entra")
			}
			for _, n := range names {
				if slices.Contains(fd.OIDC, n) {
					return nil, h.Errf("frontdoor: oidc: %s is named twice", n)
				}
			}
			fd.OIDC = append(fd.OIDC, names...)
		case "consent":
			ids, err := parseConsentIDs(h.Dispenser, "consent")
			if err != nil {
				return nil, err
			}
			if len(fd.Consent) > 0 {
				return nil, h.Errf("frontdoor: consent is set twice; list every purpose on one line")
			}
			fd.Consent = ids
		case "provider":
			if fd.Provider != nil {
				return nil, h.Errf("frontdoor: provider is set twice; declare every client in one block")
			}
			p, err := parseProvider(h.Dispenser)
			if err != nil {
				return nil, err
			}
			fd.Provider = p
		case "sso":
			if fd.SSO != nil {
				return nil, h.Errf("frontdoor: sso is set twice")
			}
			c, err := parseSSO(h.Dispenser)
			if err != nil {
				return nil, err
			}
			fd.SSO = c
		case "sms_countries":
			if err := parseSMSCountries(h, fd); err != nil {
				return nil, err
			}
		case "sms_region":
			if err := parseSMSRegion(h, fd); err != nil {
				return nil, err
			}
		case "sms_mfa", "phone_login":
			on, err := parseOnOff(h, key)
			if err != nil {
				return nil, err
			}
			if key == "sms_mfa" {
				fd.SMSMFA = on
			} else {
				fd.PhoneLogin = on
			}
			if on {
				needsCountries = append(needsCountries, fmt.Sprintf("%s on needs sms_countries (the countries the site texts), at %s:%d", key, h.File(), h.Line()))
			}
		case "sms_limits":
			if err := parseSMSLimits(h, fd); err != nil {
				return nil, err
			}
		case "sms_daily_cap":
			if err := cfgargs.Int(h.Dispenser, &fd.SMSDailyCap); err != nil {
				return nil, err
			}
			if fd.SMSDailyCap < 1 {
				return nil, h.Errf("frontdoor: sms_daily_cap is at least 1 (texts a day)")
			}
		case "authenticate":
			raw, err := parseAuthenticate(h.Dispenser)
			if err != nil {
				return nil, err
			}
			fd.AuthenticatorsRaw = append(fd.AuthenticatorsRaw, raw)
		default:
			return nil, h.Errf("frontdoor: unknown option %q", key)
		}
	}
	if err := forgeablePlaceholders(h, fd); err != nil {
		return nil, err
	}
	if len(needsCountries) > 0 && len(fd.SMSCountries) == 0 {
		return nil, fmt.Errorf("frontdoor: %s", needsCountries[0])
	}
	if fd.Origin == "" {
		// Report at the directive's line: after a block the cursor sits
		// on its closing brace.
		h.Reset()
		h.Next()
		origin, err := originFromSite(siteKeys(h))
		if err != nil {
			return nil, h.Errf("frontdoor: %v; set `origin https://…` in the frontdoor block", err)
		}
		fd.Origin = origin
		if err := fd.validateOrigin(); err != nil {
			return nil, h.WrapErr(err)
		}
	}
	return fd, nil
}

// parseLimits parses the limits option (see parseHandler).
func parseLimits(h httpcaddyfile.Helper) (*DefenseConfig, error) {
	dc := &DefenseConfig{}
	args := h.RemainingArgs()
	switch {
	case len(args) == 1 && args[0] == "off":
		dc.Off = true
		if h.NextBlock(h.Nesting()) {
			return nil, h.Errf("frontdoor: limits off takes no block")
		}
		return dc, nil
	case len(args) > 0:
		return nil, h.Errf("frontdoor: limits takes a block, or off")
	}
	oneArg := func(key string) (string, error) {
		var v string
		if !h.AllArgs(&v) {
			return "", h.Errf("frontdoor: limits %s needs one value", key)
		}
		return v, nil
	}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		key := h.Val()
		switch key {
		case "pow_bits", "distinct_accounts":
			v, err := oneArg(key)
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, h.Errf("frontdoor: limits %s: %q is not a positive number", key, v)
			}
			if key == "pow_bits" {
				dc.PowBits = n
			} else {
				dc.DistinctAccounts = int64(n)
			}
		case "surge":
			v, err := oneArg(key)
			if err != nil {
				return nil, err
			}
			n, per, err := botdefense.ParseRate(v)
			if err != nil {
				return nil, h.Errf("frontdoor: limits surge: %v", err)
			}
			dc.Surge, dc.SurgeWindow = n, caddy.Duration(per)
		case "disposable", "automation":
			v, err := oneArg(key)
			if err != nil {
				return nil, err
			}
			if key == "disposable" {
				dc.Disposable = v
			} else {
				dc.Automation = v
			}
		case "disposable_extra", "disposable_allow":
			ds := h.RemainingArgs()
			if len(ds) == 0 {
				return nil, h.Errf("frontdoor: limits %s needs at least one domain", key)
			}
			if key == "disposable_extra" {
				dc.DisposableExtra = append(dc.DisposableExtra, ds...)
			} else {
				dc.DisposableAllow = append(dc.DisposableAllow, ds...)
			}
		default:
			if !slices.Contains(botdefense.Routes, key) {
				return nil, h.Errf("frontdoor: limits: unknown route or option %q (routes: %s)", key, strings.Join(botdefense.Routes, ", "))
			}
			rest := h.RemainingArgs()
			if len(rest) != 2 {
				return nil, h.Errf("frontdoor: limits %s: want <dimension> <count>/<period> or <dimension> off", key)
			}
			l := botdefense.Limit{Route: key, Dimension: rest[0]}
			if rest[1] != "off" {
				n, per, err := botdefense.ParseRate(rest[1])
				if err != nil {
					return nil, h.Errf("frontdoor: limits %s: %v", key, err)
				}
				l.Count, l.Period = n, per
			}
			dc.Limits = append(dc.Limits, l)
		}
	}
	if _, err := dc.policy(); err != nil {
		return nil, h.Errf("frontdoor: %v", err)
	}
	return dc, nil
}

func parseRule(h httpcaddyfile.Helper) (Rule, error) {
	var r Rule
	r.Paths = h.RemainingArgs()
	if len(r.Paths) == 0 {
		return r, h.Errf("frontdoor: require needs at least one path")
	}
	for _, p := range r.Paths {
		if _, err := compilePattern(p); err != nil {
			return r, h.Errf("frontdoor: require: %v", err)
		}
	}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		switch key := h.Val(); key {
		case "aal":
			if !h.AllArgs(&r.AAL) || (r.AAL != "aal1" && r.AAL != "aal2") {
				return r, h.Errf("frontdoor: require aal must be aal1 or aal2")
			}
		case "max_age":
			if err := cfgargs.Duration(h.Dispenser, &r.MaxAge); err != nil {
				return r, err
			}
		case "methods":
			r.Methods = h.RemainingArgs()
			if len(r.Methods) == 0 {
				return r, h.Errf("frontdoor: require methods needs at least one method")
			}
			for _, m := range r.Methods {
				if !knownMethods[m] {
					return r, h.Errf("frontdoor: require methods: unknown method %q (want %s)", m, strings.Join(methodNames(), ", "))
				}
			}
		case "profile":
			r.Profile = h.RemainingArgs()
			if len(r.Profile) == 0 {
				return r, h.Errf("frontdoor: require profile needs at least one profile field")
			}
		case "consent":
			ids, err := parseConsentIDs(h.Dispenser, "require consent")
			if err != nil {
				return r, err
			}
			r.Consent = append(r.Consent, ids...)
		case "actor":
			if !h.AllArgs(&r.Actor) || r.Actor != "human" && r.Actor != "customer" {
				return r, h.Errf("frontdoor: require actor takes human or customer (the customer's own session: no API key, no agent)")
			}
			r.Actor = "human" // the same rule, by either name
		case "role":
			roles := h.RemainingArgs()
			if len(roles) == 0 {
				return r, h.Errf("frontdoor: require role needs at least one role (any of them admits)")
			}
			for _, role := range roles {
				if err := identity.ValidRole(role); err != nil {
					return r, h.Errf("frontdoor: require role: %v", err)
				}
			}
			r.Roles = append(r.Roles, roles...)
		case "attribute":
			args := h.RemainingArgs()
			if len(args) < 2 {
				return r, h.Errf("frontdoor: require attribute needs a name and at least one value, e.g. attribute org acme globex")
			}
			if err := identity.ValidAttribute(args[0], ""); err != nil {
				return r, h.Errf("frontdoor: require attribute: %v", err)
			}
			r.Attributes = append(r.Attributes, AttributeRule{Name: args[0], Values: args[1:]})
		case "email_domain":
			domains := h.RemainingArgs()
			if len(domains) == 0 {
				return r, h.Errf("frontdoor: require email_domain needs at least one domain, e.g. email_domain acme.com")
			}
			for _, d := range domains {
				if _, err := emailDomainRule(d); err != nil {
					return r, h.Errf("frontdoor: require %v", err)
				}
			}
			r.EmailDomains = append(r.EmailDomains, domains...)
		case "expression":
			if !h.AllArgs(&r.Expression) {
				return r, h.Errf("frontdoor: require expression needs one quoted CEL expression, e.g. expression \"'beta' in roles\"")
			}
			if _, err := compileExpression(r.Expression); err != nil {
				return r, h.Errf("frontdoor: require %v", err)
			}
		default:
			return r, h.Errf("frontdoor: unknown require option %q", key)
		}
	}
	if _, err := compileAccess(r); err != nil {
		return r, h.Errf("frontdoor: require: %v", err)
	}
	if r.AAL == "" && r.MaxAge == 0 && len(r.Methods) == 0 && len(r.Profile) == 0 && len(r.Consent) == 0 &&
		len(r.Roles) == 0 && len(r.Attributes) == 0 && len(r.EmailDomains) == 0 && r.Expression == "" && r.Actor == "" {
		return r, h.Errf("frontdoor: require needs aal, max_age or methods (or profile, consent, role, attribute, email_domain, expression or actor)")
	}
	return r, nil
}

// siteKeys returns the addresses of the site block being parsed. Caddy's
// Helper keeps its parent block unexported, so it is read by reflection;
// reading (never writing) a string field is allowed, and if a Caddy upgrade
// renames the field the result is empty and the operator is asked to set
// origin — the golden adapt tests catch that on upgrade.
func siteKeys(h httpcaddyfile.Helper) []string {
	keys := reflect.ValueOf(h).FieldByName("parentBlock").FieldByName("Keys")
	if !keys.IsValid() || keys.Kind() != reflect.Slice {
		return nil
	}
	out := make([]string, 0, keys.Len())
	for i := range keys.Len() {
		if t := keys.Index(i).FieldByName("Text"); t.IsValid() && t.Kind() == reflect.String {
			out = append(out, t.String())
		}
	}
	return out
}

// originFromSite derives the public origin from the site's first address.
func originFromSite(keys []string) (string, error) {
	if len(keys) == 0 {
		return "", errNoFixedHost
	}
	addr, err := httpcaddyfile.ParseAddress(keys[0])
	if err != nil {
		return "", err
	}
	if addr.Host == "" || strings.ContainsAny(addr.Host, "*{}") {
		return "", errNoFixedHost
	}
	if addr.Scheme == "http" || addr.Port == "80" {
		return "", errPlainHTTP
	}
	host := strings.ToLower(addr.Host)
	if addr.Port != "" && addr.Port != "443" {
		return "https://" + net.JoinHostPort(host, addr.Port), nil
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	return "https://" + host, nil
}

type adaptError string

func (e adaptError) Error() string { return string(e) }

const (
	errNoFixedHost = adaptError("the site has no fixed host, so the public origin is unknown")
	errPlainHTTP   = adaptError("the site is plain http; frontdoor's cookies need https")
)

// forgeablePlaceholders refuses a site block that reads an identity header
// through a request-header placeholder ({http.request.header.X-Forwarded-User}
// or {header.…}) or a header, header_regexp or expression matcher. Directives ordered before frontdoor (rewrite, map, vars, …)
// would see the client's forged copy; {http.auth.user.id} and
// {http.frontdoor.*} carry the verified identity instead.
func forgeablePlaceholders(h httpcaddyfile.Helper, fd *Handler) error {
	names := map[string]bool{}
	for _, n := range alwaysStripped {
		names[strings.ToLower(n)] = true
	}
	for _, preset := range presetHeaders {
		for _, n := range preset.all() {
			names[strings.ToLower(n)] = true
		}
	}
	if fd.Headers != nil {
		for _, n := range []string{fd.Headers.User, fd.Headers.Email, fd.Headers.EmailVerified, fd.Headers.AuthTime, fd.Headers.AMR, fd.Headers.Assertion} {
			if n != "" {
				names[strings.ToLower(n)] = true
			}
		}
	}
	segs := reflect.ValueOf(h).FieldByName("parentBlock").FieldByName("Segments")
	if !segs.IsValid() || segs.Kind() != reflect.Slice {
		return nil
	}
	for i := range segs.Len() {
		seg := segs.Index(i)
		toks := make([]lineToken, 0, seg.Len())
		for j := range seg.Len() {
			tok := seg.Index(j)
			text, line := tok.FieldByName("Text"), tok.FieldByName("Line")
			if !text.IsValid() || text.Kind() != reflect.String || !line.IsValid() || !line.CanInt() {
				continue
			}
			if name := identityPlaceholder(text.String(), names); name != "" {
				return h.Errf("frontdoor: line %d reads the identity header %s from the request, where a client can forge it; use {http.auth.user.id} or {http.frontdoor.*} instead", line.Int(), name)
			}
			toks = append(toks, lineToken{text: text.String(), line: int(line.Int())})
		}
		// A matcher may run before frontdoor removes the header (redir,
		// rewrite, vars, map and the response header directive do).
		if line, name := identityMatcher(toks, names); name != "" {
			return h.Errf("frontdoor: line %d matches on the identity header %s of the request, where a client can forge it; match on {http.auth.user.id} or {http.frontdoor.*} instead (expression {http.auth.user.id} == \"…\")", line, name)
		}
	}
	return nil
}

// identityPlaceholder returns the identity header a token's placeholder
// reads, or "".
func identityPlaceholder(tok string, names map[string]bool) string {
	low := strings.ToLower(tok)
	for _, prefix := range []string{"{http.request.header.", "{header."} {
		for rest := low; ; {
			i := strings.Index(rest, prefix)
			if i < 0 {
				break
			}
			rest = rest[i+len(prefix):]
			name, _, _ := strings.Cut(rest, "}")
			if names[name] || strings.HasPrefix(name, "x-frontdoor-") {
				return name
			}
		}
	}
	return ""
}
