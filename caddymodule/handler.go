package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/botdefense"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/identity/oidcrp"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/caddymodule/authn"
	"github.com/frontdoorhq/frontdoor/session"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// JWKSPath is where every site publishes the assertion keys.
const JWKSPath = "/.well-known/frontdoor/jwks.json"

// Handler is the frontdoor HTTP handler of one site: it strips forged
// identity headers, serves the sign-up and sign-in pages under its prefix,
// keeps anonymous visitors out of protected paths, and hands the backend
// the customer's identity. It holds no state of its own beyond compiled
// configuration; sessions, keys and caches live in the frontdoor app.
type Handler struct {
	// Origin is the site's public origin (https://shop.example.com). Mail
	// links and the assertion's issuer use it, never the request's Host.
	Origin string `json:"origin,omitempty"`
	// Prefix of Frontdoor's own pages (default /.frontdoor).
	Prefix string `json:"prefix,omitempty"`
	// Public paths need no session; identity is still passed if present.
	Public []string `json:"public,omitempty"`
	// Protect paths need a session. A path in neither list is protected.
	Protect []string `json:"protect,omitempty"`
	// Callers say which kinds of caller protected paths accept besides a
	// session (`protect /api/* { accept session api_key; scopes … }`).
	Callers []CallerRule `json:"callers,omitempty"`
	// Rules demand more of the session on some paths (step-up).
	Rules []Rule `json:"rules,omitempty"`
	// Headers override the app's identity header names for this site.
	Headers *HeaderConfig `json:"headers,omitempty"`
	// AllowRedirectHosts may appear in rd as https://host/… after sign-in.
	AllowRedirectHosts []string `json:"allow_redirect_hosts,omitempty"`
	// Theme is a directory whose templates and style.css replace the
	// built-in ones of the same name.
	Theme string `json:"theme,omitempty"`
	// OIDC names the global providers whose buttons this site shows
	// (default: every provider).
	OIDC []string `json:"oidc,omitempty"`
	// Profile names the profile fields this site's backend gets as
	// headers (X-Frontdoor-<Field>).
	Profile []string `json:"profile,omitempty"`
	// Attributes names the customer attributes this site's backend gets
	// (X-Frontdoor-Attr-<Name>, the assertion's attrs claim, the
	// placeholders {http.frontdoor.attr.<name>}).
	Attributes []string `json:"attributes,omitempty"`
	// Brand puts the site's name, logo and accent colour on its pages and
	// mail (brand.go).
	Brand *Brand `json:"brand,omitempty"`
	// Consent names the global consent purposes whose state this site's
	// backend gets (X-Frontdoor-Consent and the assertion's consent claim).
	Consent []string `json:"consent,omitempty"`
	// Risk judges sign-ins against the customer's recent ones (risk.go;
	// nil: no judgement).
	Risk *RiskConfig `json:"risk,omitempty"`
	// Agents turns the support agents' console on (agent_console.go).
	Agents *AgentsConfig `json:"agents,omitempty"`
	// LegacyAuth asks a legacy sign-in service about addresses Frontdoor
	// does not know yet, moving their customers over at their first
	// password sign-in (legacy_auth.go; nil: never).
	LegacyAuth *LegacyAuthConfig `json:"legacy_auth,omitempty"`
	// SMSCountries are the ISO 3166-1 alpha-2 countries whose numbers the
	// site texts (`sms_countries GB IE`); empty: none, so the account's
	// phone number is off. An allow-list, not a block list, because SMS
	// pumping fraud sends codes to whatever expensive range it is paid for.
	SMSCountries []string `json:"sms_countries,omitempty"`
	// SMSRegion reads numbers typed without their calling code as this
	// country's (`sms_region GB`); it must be one of SMSCountries.
	SMSRegion string `json:"sms_region,omitempty"`
	// SMSDailyCap bounds the text messages the site sends in a day, every
	// number together (default 1000); the per-number, per-range and
	// per-country bounds are SMSLimits, or botdefense.DefaultTextLimits.
	SMSDailyCap int `json:"sms_daily_cap,omitempty"`
	// SMSLimits change the per-number, per-range and per-country bounds
	// of text messages (`sms_limits { country 500/1h }`); each is
	// "count/period" or "off"; an unset one keeps its default.
	SMSLimits map[string]string `json:"sms_limits,omitempty"`
	// textLimits is SMSLimits and SMSDailyCap over the defaults.
	textLimits botdefense.TextLimits
	// SMSMFA lets customers with a verified number in SMSCountries turn
	// on texted codes as their second factor (`sms_mfa on`; a restricted
	// authenticator that never satisfies a `methods` rule not naming sms).
	SMSMFA bool `json:"sms_mfa,omitempty"`
	// PhoneLogin signs customers in, and up, by a code texted to their
	// number alone (`phone_login on`; needs SMSCountries).
	PhoneLogin bool `json:"phone_login,omitempty"`
	// PasskeyRPID is the WebAuthn relying party id: the origin's host by
	// default, or a parent domain of it so passkeys work across sibling
	// sites (shop.example.com and account.example.com under example.com).
	PasskeyRPID string `json:"passkey_rp_id,omitempty"`
	// Defense tunes the edge defences of the site (rate limits, risk
	// signals, challenges).
	Defense *DefenseConfig `json:"defense,omitempty"`
	// Challenge lists paths a browser may only load after solving a
	// proof-of-work challenge (a flash sale).
	Challenge []string `json:"challenge,omitempty"`
	// AuthenticatorsRaw are the request authenticators (module namespace
	// frontdoor.authenticators), asked in order; the first to know the
	// caller wins. Default: the session cookie alone.
	// Provider makes the site an OpenID Provider for the clients it
	// declares (provider.go).
	Provider *ProviderConfig `json:"provider,omitempty"`
	// SSO makes the site a client of an OpenID Provider site: sign-in
	// happens there, once for every site (sso.go).
	SSO               *SSOConfig        `json:"sso,omitempty"`
	AuthenticatorsRaw []json.RawMessage `json:"authenticators,omitempty" caddy:"namespace=frontdoor.authenticators inline_key=authenticator"`

	app             *App
	prefixSlash     string
	routes          map[string]route
	origin          string
	audience        string
	assertionAud    string
	public          patterns
	protect         patterns
	rules           []compiledRule
	names           headerNames
	strip           stripper
	allowHosts      map[string]bool
	formActionExtra string
	pages           *pages
	policy          *botdefense.Policy
	challenge       patterns
	flows           *authflow.Flows
	authenticators  []authn.Authenticator
	cookies         *authn.SessionCookie // Frontdoor's own pages read the session through it
	logger          *zap.Logger

	// providers are the OpenID Providers this site offers, in order.
	providers []*oidcrp.Provider
	// profileRules: some rule asks for profile fields (profileGate walks
	// the rules only then); accessRules: some rule asks who the customer
	// is (roles, attributes, email domain, expression).
	profileRules, accessRules bool
	// callers are the protect blocks; keysOn: some path accepts API keys,
	// bearerOn: some path accepts the provider's access tokens.
	callers  []compiledCallers
	keysOn   bool
	bearerOn bool
	// attrHeaders and attrPlaceholders are the names the site's
	// Attributes reach the backend under.
	attrHeaders, attrPlaceholders []string

	// consentOn: a signed-in request needs the customer's consent state
	// (required purposes, a rule's purposes, the site's consent header,
	// Global Privacy Control); false leaves the hot path untouched.
	consentOn bool

	// op is the site's OpenID Provider (provider block); nil without one.
	op *siteOP
	// sso is the site's relying party of its single sign-on provider
	// (sso block); nil without one.
	sso *oidcrp.Provider
	// legacy is the site's pooled legacy_auth client, held under
	// legacyKey; nil without the option.
	legacy    *legacyValue
	legacyKey string
}

// Rule is a step-up requirement on some paths.
type Rule struct {
	Paths []string `json:"paths"`
	// AAL is the assurance level required: aal1 or aal2.
	AAL string `json:"aal,omitempty"`
	// MaxAge is how recent the sign-in must be.
	MaxAge caddy.Duration `json:"max_age,omitempty"`
	// Methods lists acceptable methods (pwd, otp, hwk, swk, …); any one.
	Methods []string `json:"methods,omitempty"`
	// Profile lists profile fields the customer must have given.
	Profile []string `json:"profile,omitempty"`
	// Consent lists purposes the customer must have agreed to; they are
	// asked in context when they have not.
	Consent []string `json:"consent,omitempty"`
	// Roles: the customer must hold one of these roles.
	Roles []string `json:"roles,omitempty"`
	// Attributes: each named attribute must have one of its values.
	Attributes []AttributeRule `json:"attributes,omitempty"`
	// EmailDomains: the customer's verified address must be in one of
	// these domains.
	EmailDomains []string `json:"email_domains,omitempty"`
	// Expression is a CEL expression over the customer's claims that must
	// be true (see access.go for what it may read).
	Expression string `json:"expression,omitempty"`
	// Actor "human": only a person's session, no API key.
	Actor string `json:"actor,omitempty"`
}

type compiledCallers struct {
	CallerRule
	paths patterns
}

type compiledRule struct {
	Rule
	paths patterns
	// access is the rule's who-may-enter part; nil when it has none.
	access *accessCheck
}

// appliesTo reports whether the rule covers any reading of the path.
func (r compiledRule) appliesTo(views []string) bool {
	for _, v := range views {
		if r.paths.match(v) {
			return true
		}
	}
	return false
}

const defaultPrefix = "/.frontdoor"

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.frontdoor", New: func() caddy.Module { return new(Handler) }}
}

// Provision compiles the configuration and attaches to the frontdoor app.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	var err error
	if h.app, err = frontdoorApp(ctx); err != nil {
		return err
	}
	if h.Prefix == "" {
		h.Prefix = defaultPrefix
	}
	h.prefixSlash = h.Prefix + "/"
	if h.providers, err = h.siteProviders(); err != nil {
		return err
	}
	if h.sso, err = h.buildSSO(); err != nil {
		return err
	}
	if err := h.app.checkProfileNames("profile", h.Profile); err != nil {
		return err
	}
	for _, r := range h.Rules {
		if err := h.app.checkProfileNames("require profile", r.Profile); err != nil {
			return err
		}
	}
	if err := h.app.checkPurposes("consent", h.Consent); err != nil {
		return err
	}
	for _, r := range h.Rules {
		if err := h.app.checkPurposes("require "+strings.Join(r.Paths, " ")+" consent", r.Consent); err != nil {
			return err
		}
	}
	h.consentOn = h.needsConsent()
	h.profileRules = slices.ContainsFunc(h.Rules, func(r Rule) bool { return len(r.Profile) > 0 })
	h.routes = h.ownRoutes()
	if h.Risk != nil {
		if err := h.Risk.provision(); err != nil {
			return err
		}
	}
	if err := h.provisionLegacy(); err != nil {
		return err
	}
	h.textLimits, _ = textLimitsOf(h.SMSLimits, h.SMSDailyCap) // a mistake is Validate's to report (validatePhone)
	h.flows = h.newFlows()
	if h.names, err = h.Headers.names(h.app.headers); err != nil {
		return err
	}
	h.strip = newStripper(h.names)
	for _, a := range h.Attributes {
		if err := identity.ValidAttribute(a, ""); err != nil {
			return fmt.Errorf("frontdoor: attributes: %w", err)
		}
		h.attrHeaders = append(h.attrHeaders, attrHeader(a))
		h.attrPlaceholders = append(h.attrPlaceholders, "http.frontdoor.attr."+a)
	}
	if h.public, err = compilePatterns(h.Public); err != nil {
		return fmt.Errorf("frontdoor: public: %w", err)
	}
	if h.protect, err = compilePatterns(h.Protect); err != nil {
		return fmt.Errorf("frontdoor: protect: %w", err)
	}
	for _, r := range h.Rules {
		ps, err := compilePatterns(r.Paths)
		if err != nil {
			return fmt.Errorf("frontdoor: require: %w", err)
		}
		access, err := compileAccess(r)
		if err != nil {
			return fmt.Errorf("frontdoor: require %s: %w", strings.Join(r.Paths, " "), err)
		}
		h.rules = append(h.rules, compiledRule{Rule: r, paths: ps, access: access})
		h.accessRules = h.accessRules || access != nil
	}
	for _, g := range h.Callers {
		ps, err := compilePatterns(g.Paths)
		if err != nil {
			return fmt.Errorf("frontdoor: protect: %w", err)
		}
		h.callers = append(h.callers, compiledCallers{CallerRule: g, paths: ps})
		h.keysOn = h.keysOn || slices.Contains(g.Accept, callerAPIKey)
		h.bearerOn = h.bearerOn || slices.Contains(g.Accept, callerBearer)
	}
	if err := h.compileRedirectHosts(); err != nil {
		return err
	}
	if h.policy, err = h.Defense.policy(); err != nil {
		return fmt.Errorf("frontdoor: limits: %w", err)
	}
	if h.challenge, err = compilePatterns(h.Challenge); err != nil {
		return fmt.Errorf("frontdoor: challenge: %w", err)
	}
	if h.pages, err = loadPages(h.Theme); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	if err := h.Brand.validate(); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	h.brandStyle()
	return h.loadAuthenticators(ctx)
}

// Cleanup implements caddy.CleanerUpper: it lets go of the site's pooled
// state (the legacy_auth client).
func (h *Handler) Cleanup() error {
	return h.releaseLegacy()
}

// compileRedirectHosts checks allow_redirect_hosts and derives the lookup
// set and the extra CSP form-action sources.
func (h *Handler) compileRedirectHosts() error {
	h.allowHosts = make(map[string]bool)
	h.formActionExtra = ""
	for _, host := range h.AllowRedirectHosts {
		host = strings.ToLower(host)
		if u, err := url.Parse("https://" + host); err != nil || u.Host != host || u.Hostname() == "" || strings.ContainsAny(host, "*;' ") {
			return fmt.Errorf("frontdoor: allow_redirect_hosts: %q is not a host[:port]", host)
		}
		h.allowHosts[host] = true
		h.formActionExtra += " https://" + host
	}
	return nil
}

// Validate checks the configuration.
func (h *Handler) Validate() error {
	if err := h.validateOrigin(); err != nil {
		return err
	}
	if err := validPrefix(h.Prefix); err != nil {
		return err
	}
	if err := h.validatePhone(); err != nil {
		return err
	}
	rpID := h.audience
	if h.PasskeyRPID != "" {
		rpID = strings.ToLower(h.PasskeyRPID)
		if rpID != h.audience && !strings.HasSuffix(h.audience, "."+rpID) {
			return fmt.Errorf("frontdoor: passkey_rp_id %q must be the origin's host %q or a parent domain of it", h.PasskeyRPID, h.audience)
		}
	}
	wa, err := newWebAuthn(rpID, h.origin, h.audience)
	if err != nil {
		return fmt.Errorf("frontdoor: passkeys: %w", err)
	}
	if h.flows != nil {
		h.flows.WebAuthn = wa
		h.flows.Site = h.audience // known once the origin is checked
	}
	if h.app != nil && h.policy != nil {
		h.app.notePolicy(h.origin, h.policy)
	}
	if h.app != nil {
		h.app.noteSite(h)
	}
	if err := h.bindAuthenticators(); err != nil {
		return err
	}
	if err := h.buildProvider(); err != nil {
		return err
	}
	for _, r := range h.Rules {
		if r.AAL != "" && r.AAL != "aal1" && r.AAL != "aal2" {
			return fmt.Errorf("frontdoor: require: aal %q (want aal1 or aal2)", r.AAL)
		}
		for _, m := range r.Methods {
			if !knownMethods[m] {
				return fmt.Errorf("frontdoor: require: unknown method %q", m)
			}
		}
	}
	return nil
}

func validPrefix(p string) error {
	if len(p) < 2 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasSuffix(p, "/") ||
		strings.ContainsAny(p, "*?#%\\ \"'<>") || path.Clean(p) != p {
		return fmt.Errorf("frontdoor: prefix %q must be a path like /.frontdoor (starting with /, not ending with /)", p)
	}
	return nil
}

// knownMethods are the method names a require rule may list: RFC 8176
// names, plus passkey and totp as operator-friendly aliases. "sms" is
// satisfied only by a texted code, which satisfies nothing else.
var knownMethods = map[string]bool{"pwd": true, "otp": true, "hwk": true, "swk": true, "mfa": true, "email": true, "passkey": true, "totp": true, "sms": true}

func methodNames() []string {
	names := make([]string, 0, len(knownMethods))
	for m := range knownMethods {
		names = append(names, m)
	}
	slices.Sort(names)
	return names
}

// validateOrigin checks Origin and derives the origin and audience.
func (h *Handler) validateOrigin() error {
	u, err := url.Parse(h.Origin)
	if h.Origin == "" || err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("frontdoor: origin %q must be an https origin such as https://shop.example.com (a site without a fixed host must set it)", h.Origin)
	}
	if strings.ContainsAny(u.Hostname(), "*{}") {
		return fmt.Errorf("frontdoor: origin %q must name one host", h.Origin)
	}
	h.origin = u.Scheme + "://" + strings.ToLower(u.Host)
	h.audience = strings.ToLower(u.Hostname())
	// The assertion's audience keeps a port other than 443: two sites on
	// one host must not accept each other's assertions.
	h.assertionAud = h.audience
	if p := u.Port(); p != "" && p != "443" {
		h.assertionAud = strings.ToLower(u.Host)
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// Invariant 1: forged identity headers go first, on every route —
	// in the header section, in Connection, and in trailers.
	h.strip.strip(r.Header)
	if len(r.Trailer) > 0 && r.Body != nil {
		h.strip.strip(r.Trailer)
		r.Body = &trailerStripper{ReadCloser: r.Body, r: r, strip: h.strip}
	}
	// Before any route or rule: no rule can say how a backend reads a
	// control character or an overlong dot, on public paths either.
	if refusedPath(r.URL.Path) {
		return h.badPath(w, r)
	}

	p := r.URL.Path
	if h.op != nil && h.op.owns(p) {
		return h.op.serve(w, r)
	}
	if p == h.Prefix || strings.HasPrefix(p, h.prefixSlash) {
		return h.serveOwn(w, r)
	}
	if p == JWKSPath {
		return serveJWKS(w, r, h.app)
	}

	views := pathViews(r)
	if len(h.challenge) > 0 && h.challenge.matchAny(views) {
		if ok, err := h.challengeRoute(w, r); !ok {
			return err
		}
	}
	public := h.isPublicViews(views)
	var (
		s   *session.Session
		err error
		kc  *keyCaller
		tc  *tokenCaller
		at  time.Time // when tc was checked
	)
	if h.keysOn && !public {
		if secret := bearerKey(r); secret != "" {
			if kc, err = h.keyCall(w, r, views, secret); kc == nil {
				return err
			}
			s = kc.session
		}
	}
	if s == nil && h.bearerOn && !public {
		if raw := bearerJWT(r); raw != "" {
			if accept, scopes := h.callersAt(views); slices.Contains(accept, callerBearer) {
				if tc, at, err = h.tokenCall(w, r, views, scopes, raw); tc == nil {
					return err
				}
				if tc.service() { // no customer: provider_service_edge.go
					return h.serveService(w, r, next, views, tc)
				}
				s = tc.session
			}
		}
	}
	if s == nil {
		s, err = h.authenticate(w, r)
		if err != nil { // logged by noteStore when the store's state changes
			if !public {
				return h.unavailable(w, r)
			}
			return h.next(w, r, next) // public: serve, without identity
		}
		if s == nil {
			if public {
				return h.next(w, r, next)
			}
			return h.deny(w, r)
		}
		if (h.keysOn || h.bearerOn) && !public {
			if accept, _ := h.callersAt(views); accept != nil && !slices.Contains(accept, callerSession) {
				return h.deny(w, r) // an API path that takes keys or tokens only
			}
		}
	}
	// The customer record: roles and attributes for the rules, the
	// headers and the assertion (hot cache, ≤ 2 s old).
	c, err := h.app.backend.customer(r.Context(), s.UserID) // a customer gone since: no roles
	if err != nil {
		h.logger.Error("loading the customer", zap.Error(err))
		if !public {
			return h.unavailable(w, r)
		}
		c = newHotCustomer(&identity.Customer{ID: s.UserID})
	}
	// A site judging risk tells backends how risky each request of a
	// browser's session is, and holds the session to the place it signed
	// in from (risk_edge.go).
	var riskLevel, riskSignals string
	if h.Risk != nil && kc == nil && tc == nil {
		var mv *movedVerdict
		if riskLevel, riskSignals, mv = h.sessionRisk(r, s); mv != nil {
			answered, anonymous, err := h.actOnMove(w, r, s, mv, public)
			if answered {
				return err
			}
			if anonymous {
				return h.next(w, r, next)
			}
		}
	}
	if !public {
		if h.accessRules {
			if missing := h.unmetAccess(views, s, c); missing != "" {
				return h.forbid(w, r, missing, s)
			}
		}
		if rule, ok := h.unmetRule(views, s); ok {
			return h.stepUp(w, r, rule)
		}
		if answered, err := h.profileGate(w, r, views, c); answered {
			return err
		}
	}
	var extra session.Extra
	if h.consentOn {
		var stop bool
		if extra, stop, err = h.checkConsent(w, r, s, views, public); stop {
			return err
		}
	}
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return caddyhttp.Error(http.StatusInternalServerError, errors.New("frontdoor: no replacer in request context"))
	}
	extra.Roles = c.roles
	if c.PhoneVerified {
		extra.Phone = c.Phone
	}
	extra.Risk, extra.RiskSignals = riskLevel, riskSignals
	if kc != nil {
		extra.Actor, extra.Scope = kc.key.ID, kc.scope
	}
	if s.Actor != "" && kc == nil && tc == nil {
		// A support agent viewing as the customer, with their consent.
		if !public && h.humanOnly(views) {
			return h.actorRefused(w, r)
		}
		extra.Actor = s.Actor
	}
	if tc != nil {
		extra.Client, extra.Scope = tc.claims.ClientID, tc.claims.Scope
		if tc.claims.Act != nil {
			// An agent acting for the customer: the backend is told who.
			extra.Actor = tc.claims.Act.Subject
			h.agentSeen(r, tc, at)
		}
	}
	if len(h.Profile) > 0 {
		extra.Profile = h.profileClaims(c)
	}
	if len(h.Attributes) > 0 {
		extra.Attrs = h.attributeClaims(c)
	}
	if err := h.inject(r, repl, s, extra); err != nil {
		h.logger.Error("signing identity assertion", zap.Error(err))
		return h.unavailable(w, r)
	}
	h.injectCustomer(r, repl, extra)
	return h.next(w, r, next)
}

// next hands the request to the backend without Frontdoor's own cookies.
func (h *Handler) next(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	dropOwnCookies(r.Header)
	return next.ServeHTTP(w, r)
}

// isPublic reports whether every reading of the path is public and none is
// explicitly protected (invariant 2: deny by default).
func (h *Handler) isPublic(r *http.Request) bool { return h.isPublicViews(pathViews(r)) }

// isPublicViews is isPublic over precomputed path views.
func (h *Handler) isPublicViews(views []string) bool {
	if len(h.public) == 0 {
		return false
	}
	for _, v := range views {
		if h.protect.match(v) || !h.public.match(v) {
			return false
		}
		for _, rule := range h.rules {
			if rule.paths.match(v) {
				return false
			}
		}
	}
	return true
}

// currentSession returns the request's valid cookie session, nil if there
// is none (no cookie, a forged or foreign one, expired, revoked), or an
// error when the store failed. Frontdoor's own pages (account, second
// factor, step-up) use it whatever authenticators the site configures.
func (h *Handler) currentSession(r *http.Request) (*session.Session, error) {
	return h.cookies.Lookup(r)
}

// customerSession is currentSession for what only the customer may do
// (add a passkey, link a provider, accept an invitation): a support
// agent's view-as session counts as none.
func (h *Handler) customerSession(r *http.Request) (*session.Session, error) {
	s, err := h.currentSession(r)
	if s != nil && s.Actor != "" {
		return nil, err
	}
	return s, err
}

// isNavigation tells a browser page load from an API call.
func isNavigation(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// deny answers an anonymous request to a protected path.
func (h *Handler) deny(w http.ResponseWriter, r *http.Request) error {
	if isNavigation(r) && h.sso != nil {
		// Straight to the provider: one redirect, and none back to this
		// site's sign-in page.
		return h.ssoStart(w, r, r.URL.RequestURI(), oidcrp.StartOptions{})
	}
	if isNavigation(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, h.Prefix+"/login?rd="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return nil
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+h.audience+`"`)
	return writeJSONError(w, http.StatusUnauthorized, "authentication required")
}

func writeJSONError(w http.ResponseWriter, status int, msg string) error {
	return writeJSON(w, status, map[string]string{"error": msg})
}

// badPath answers a request whose path refusedPath refuses.
func (h *Handler) badPath(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		return writeJSONError(w, http.StatusBadRequest, "invalid_path")
	}
	return h.message(w, r, http.StatusBadRequest, "page.bad_path.title", "page.bad_path", "/", "link.home_page")
}

// unavailable is the fail-closed answer when the store cannot be used.
func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Retry-After", "5")
	return h.message(w, r, http.StatusServiceUnavailable, "page.unavailable.title", "page.unavailable", "", "")
}

// unmetRule returns the first step-up rule on the path the session does
// not satisfy.
func (h *Handler) unmetRule(views []string, s *session.Session) (compiledRule, bool) {
	now := h.app.backend.clock.Now()

	for _, rule := range h.rules {
		applies := false
		for _, v := range views {
			applies = applies || rule.paths.match(v)
		}
		if !applies {
			continue
		}
		if rule.requirement().Unmet(s, now) {
			return rule, true
		}
	}
	return compiledRule{}, false
}

// stepUp answers a request whose session falls short of a rule: API
// callers get RFC 9470's challenge; a browser goes to the step-up page,
// which asks for what is missing and comes back (a GET) or asks for the
// form to be sent again (any other method).
func (h *Handler) stepUp(w http.ResponseWriter, r *http.Request, rule compiledRule) error {
	w.Header().Set("Cache-Control", "no-store")
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		ch := `Bearer error="insufficient_user_authentication", error_description="a stronger or more recent sign-in is required"`
		if rule.AAL != "" {
			ch += `, acr_values="` + rule.AAL + `"`
		}
		if rule.MaxAge > 0 {
			ch += fmt.Sprintf(`, max_age=%d`, int(time.Duration(rule.MaxAge).Seconds()))
		}
		w.Header().Set("WWW-Authenticate", ch)
		return writeJSONError(w, http.StatusUnauthorized, "insufficient_user_authentication")
	}
	if h.sso != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return h.ssoBegin(w, r, ssoFlow{RD: r.URL.RequestURI(), StepUp: true}, ssoAsk(rule.requirement()))
	}
	target := h.Prefix + "/stepup?rd=" + url.QueryEscape(r.URL.RequestURI())
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		http.Redirect(w, r, target, http.StatusFound)
		return nil
	}
	http.Redirect(w, r, target+"&resubmit=1", http.StatusSeeOther)
	return nil
}

func serveJWKS(w http.ResponseWriter, r *http.Request, app *App) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, err := w.Write(app.backend.assertions.Ring().JWKS())
	return err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
