package oidcrp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Errors Finish and Start return, for the caller to choose the page and
// status. Their messages never hold a code, token or secret.
var (
	// ErrUnavailable: the provider's discovery document could not be
	// fetched (yet); its button answers 503 until it can.
	ErrUnavailable = errors.New("oidc: provider unavailable")
	// ErrProvider: the provider failed or answered garbage (502).
	ErrProvider = errors.New("oidc: provider error")
	// ErrDenied: the customer (or the provider's policy) said no —
	// error=access_denied and friends.
	ErrDenied = errors.New("oidc: sign-in refused at the provider")
	// ErrInvalidResponse: the callback or the ID token failed a check
	// (signature, iss, aud, exp, iat, nonce, azp, tenant, hd).
	ErrInvalidResponse = errors.New("oidc: invalid response")
)

// maxBody bounds what is read from a provider (discovery, keys, tokens).
const maxBody = 1 << 20

// clockSkew is how far in the future a token's iat may be.
const clockSkew = time.Minute

// discoveryRetry is how long a failed discovery is remembered before the
// next request tries again.
const discoveryRetry = 15 * time.Second

// Provider is one configured OpenID Provider. Safe for concurrent use.
type Provider struct {
	cfg    Config
	client *http.Client

	mu       sync.Mutex
	disc     *discovered
	lastErr  error
	failedAt time.Time
	inflight chan struct{}

	apple *appleSecret
}

type discovered struct {
	p        *oidc.Provider
	verifier *oidc.IDTokenVerifier
	// template is the multi-tenant issuer ("…/{tenantid}/v2.0").
	template string
	// issParam: the provider sends RFC 9207's iss with its answers.
	issParam    bool
	hasUserInfo bool
	// endSession is the RP-initiated logout endpoint ("" none).
	endSession string
}

// New returns the provider for cfg (Validate must have passed). Nothing is
// fetched until Discover or the first sign-in.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rt := cfg.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	p := &Provider{cfg: cfg, client: &http.Client{
		Timeout:   cfg.Timeout,
		Transport: limitedTransport{rt},
		// A provider's endpoints answer directly; a redirect from
		// discovery, keys or token endpoint is not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if cfg.Preset == PresetApple && cfg.ClientSecret == "" {
		b, err := readFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("oidc %s: key_file: %w", cfg.Name, err)
		}
		key, err := parseAppleKey(b)
		if err != nil {
			return nil, fmt.Errorf("oidc %s: key_file: %w", cfg.Name, err)
		}
		p.apple = &appleSecret{key: key, teamID: cfg.TeamID, keyID: cfg.KeyID, clientID: cfg.ClientID, audience: strings.TrimSuffix(cfg.Issuer, "/")}
	}
	return p, nil
}

// Config returns the provider's configuration (with defaults filled).
func (p *Provider) Config() Config { return p.cfg }

// Name is the provider's name.
func (p *Provider) Name() string { return p.cfg.Name }

// Label is the button's text.
func (p *Provider) Label() string { return p.cfg.Label }

// DisplayName names the provider in sentences ("Google"): the label
// without its "Continue with"/"Sign in with".
func (p *Provider) DisplayName() string {
	for _, lead := range []string{"Continue with ", "Sign in with ", "Log in with "} {
		if rest, ok := strings.CutPrefix(p.cfg.Label, lead); ok && rest != "" {
			return rest
		}
	}
	return p.cfg.Label
}

// FormPost reports whether the provider answers with a cross-site form
// POST (response_mode=form_post, Apple): the browser binding cookie must
// then be SameSite=None.
func (p *Provider) FormPost() bool { return p.cfg.Preset == PresetApple }

// Discover fetches (or returns the cached) discovery document. A failure
// is remembered for a few seconds, so a provider that is down costs each
// request at most a map lookup, and concurrent callers share one fetch.
func (p *Provider) Discover(ctx context.Context) error {
	_, err := p.discover(ctx)
	return err
}

func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	for {
		p.mu.Lock()
		if p.disc != nil {
			d := p.disc
			p.mu.Unlock()
			return d, nil
		}
		if p.lastErr != nil && p.cfg.Now().Sub(p.failedAt) < discoveryRetry {
			err := p.lastErr
			p.mu.Unlock()
			return nil, err
		}
		if wait := p.inflight; wait != nil {
			p.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
			}
		}
		done := make(chan struct{})
		p.inflight = done
		p.mu.Unlock()

		d, err := p.fetchDiscovery()
		p.mu.Lock()
		p.inflight = nil
		if err != nil {
			p.lastErr, p.failedAt = fmt.Errorf("%w: %v", ErrUnavailable, err), p.cfg.Now()
		} else {
			p.disc, p.lastErr = d, nil
		}
		err = p.lastErr
		p.mu.Unlock()
		close(done)
		return d, err
	}
}

// fetchDiscovery runs on a context of its own (bounded by the client's
// timeout), so one impatient caller does not fail everyone waiting on it.
func (p *Provider) fetchDiscovery() (*discovered, error) {
	ctx := oidc.ClientContext(context.Background(), p.client)
	d := &discovered{}
	if p.cfg.multiTenant() {
		u, _ := url.Parse(p.cfg.Issuer) // validated
		d.template = u.Scheme + "://" + u.Host + "/" + msTenantTemplate + "/v2.0"
		ctx = oidc.InsecureIssuerURLContext(ctx, d.template)
	}
	prov, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		Issuer     string `json:"issuer"`
		IssParam   bool   `json:"authorization_response_iss_parameter_supported"`
		UserInfo   string `json:"userinfo_endpoint"`
		EndSession string `json:"end_session_endpoint"`
	}
	if err := prov.Claims(&meta); err != nil {
		return nil, err
	}
	if d.template != "" && meta.Issuer != d.template {
		return nil, fmt.Errorf("discovery names issuer %q, want the tenant template %q", meta.Issuer, d.template)
	}
	if prov.Endpoint().AuthURL == "" || prov.Endpoint().TokenURL == "" {
		return nil, errors.New("discovery has no authorization or token endpoint")
	}
	d.issParam, d.hasUserInfo, d.endSession = meta.IssParam, meta.UserInfo != "", meta.EndSession
	d.p = prov
	d.verifier = prov.VerifierContext(oidc.ClientContext(context.Background(), p.client), &oidc.Config{
		ClientID:        p.cfg.ClientID,
		SkipIssuerCheck: d.template != "", // checked against the token's own tid below
		Now:             p.cfg.Now,
	})
	return d, nil
}

// Attempt is one sign-in in flight: the caller keeps it (server-side,
// bound to the browser) between Start and Finish, and uses it once.
type Attempt struct {
	Provider string `json:"provider"`
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	// RedirectURL is the callback the provider was told.
	RedirectURL string `json:"redirect_url"`
	// MaxAge and ACR are what the attempt asked of the customer's sign-in
	// at the provider (StartOptions); Finish checks the ID token meets
	// them.
	MaxAge int64  `json:"max_age,omitempty"`
	ACR    string `json:"acr,omitempty"`
	// Started is when the attempt began (Unix seconds).
	Started int64 `json:"started,omitempty"`
}

func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Start begins a sign-in: it returns the attempt to keep and the URL to
// send the browser to.
func (p *Provider) Start(ctx context.Context, redirectURL string) (Attempt, string, error) {
	return p.StartWith(ctx, redirectURL, StartOptions{})
}

// StartWith is Start asking more of the sign-in (see StartOptions).
func (p *Provider) StartWith(ctx context.Context, redirectURL string, so StartOptions) (Attempt, string, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return Attempt{}, "", err
	}
	a := Attempt{Provider: p.cfg.Name, State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), RedirectURL: redirectURL,
		MaxAge: so.MaxAge, ACR: so.ACR, Started: p.cfg.Now().Unix()}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(a.Nonce), oauth2.S256ChallengeOption(a.Verifier)}
	if so.Prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", so.Prompt))
	}
	if so.MaxAge > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(so.MaxAge, 10)))
	}
	if so.ACR != "" {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", so.ACR))
	}
	if p.FormPost() {
		opts = append(opts, oauth2.SetAuthURLParam("response_mode", "form_post"))
	}
	if p.cfg.HostedDomain != "" {
		opts = append(opts, oauth2.SetAuthURLParam("hd", p.cfg.HostedDomain))
	}
	return a, p.oauth(d, redirectURL).AuthCodeURL(a.State, opts...), nil
}

func (p *Provider) oauth(d *discovered, redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret,
		Endpoint: d.p.Endpoint(), RedirectURL: redirectURL, Scopes: p.cfg.Scopes}
}

// Callback is what the provider sent back through the browser.
type Callback struct {
	Code  string
	State string
	// Iss is RFC 9207's issuer parameter, when sent.
	Iss              string
	Error            string
	ErrorDescription string
	// User is Apple's first-sign-in "user" form field (the name).
	User string
}

// Identity is a verified provider identity.
type Identity struct {
	Provider string
	// Issuer and Subject identify the account at the provider (for a
	// multi-tenant issuer, the tenant's own issuer).
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	GivenName     string
	FamilyName    string
	Picture       string
	Locale        string
	// AMR are the provider's own methods (its amr claim); MFA reports
	// whether they include a second factor.
	AMR    []string
	MFA    bool
	Tenant string
	// RolesMapped: the operator maps a roles claim (Config.RolesClaim);
	// Roles are the roles its values gave this time (sorted; none: nil).
	RolesMapped bool
	Roles       []string
	// rolesSeen: the claim was present (an absent claim in the ID token
	// may be in userinfo).
	rolesSeen bool

	// SessionID is the provider's session (sid claim); ACR and AuthTime
	// say how and when the customer signed in there (zero: not said).
	SessionID string
	ACR       string
	AuthTime  time.Time
	// RawIDToken is the ID token as received (an id_token_hint later).
	RawIDToken string
}

// Finish checks the callback against the attempt, redeems the code (with
// the PKCE verifier) and verifies the ID token. The caller has already
// matched cb.State to a, and consumed a.
func (p *Provider) Finish(ctx context.Context, a Attempt, cb Callback) (*Identity, error) {
	if cb.Error != "" {
		switch cb.Error {
		case "access_denied", "consent_required", "interaction_required", "login_required", "account_selection_required", "user_cancelled_login", "user_cancelled_authorize":
			return nil, fmt.Errorf("%w: %s", ErrDenied, safeWord(cb.Error))
		}
		return nil, fmt.Errorf("%w: the provider answered error=%s", ErrProvider, safeWord(cb.Error))
	}
	if a.Provider != p.cfg.Name {
		// A response meant for another provider (mix-up).
		return nil, fmt.Errorf("%w: the attempt was started with provider %q", ErrInvalidResponse, a.Provider)
	}
	if a.State == "" || subtle.ConstantTimeCompare([]byte(cb.State), []byte(a.State)) != 1 {
		return nil, fmt.Errorf("%w: state does not match", ErrInvalidResponse)
	}
	if cb.Code == "" || len(cb.Code) > 4096 {
		return nil, fmt.Errorf("%w: no usable code", ErrInvalidResponse)
	}
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	if cb.Iss != "" || d.issParam {
		if !p.issuerMatches(d, cb.Iss) {
			return nil, fmt.Errorf("%w: the callback's iss %q is not this provider's", ErrInvalidResponse, safeWord(cb.Iss))
		}
	}
	conf := p.oauth(d, a.RedirectURL)
	if p.apple != nil {
		s, err := p.apple.secret(p.cfg.Now())
		if err != nil {
			return nil, fmt.Errorf("%w: apple client secret: %v", ErrProvider, err)
		}
		conf.ClientSecret = s
	}
	cctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.client), p.cfg.Timeout)
	defer cancel()
	tok, err := conf.Exchange(cctx, cb.Code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return nil, fmt.Errorf("%w: the provider refused the code (invalid_grant)", ErrInvalidResponse)
		}
		return nil, fmt.Errorf("%w: token request: %s", ErrProvider, redact(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the token response has no id_token", ErrProvider)
	}
	idt, err := d.verifier.Verify(cctx, raw)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "fetching keys") {
			return nil, fmt.Errorf("%w: %v", ErrProvider, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidResponse, err)
	}
	id, err := p.check(d, a, idt, tok.AccessToken, cb)
	if err != nil {
		return nil, err
	}
	id.RawIDToken = raw
	if id.Email == "" && tok.AccessToken != "" && d.hasUserInfo {
		if err := p.userInfo(cctx, d, tok, id, cb); err != nil {
			return nil, err
		}
	}
	return id, nil
}

// userInfo completes a profile the ID token left out (providers that put
// email only behind the userinfo endpoint). Its sub must be the token's
// (OpenID Connect Core 5.3.2); it fills only what is missing.
func (p *Provider) userInfo(ctx context.Context, d *discovered, tok *oauth2.Token, id *Identity, cb Callback) error {
	ui, err := d.p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("%w: userinfo: %s", ErrProvider, redact(err))
	}
	if ui.Subject != id.Subject {
		return fmt.Errorf("%w: userinfo names another subject", ErrInvalidResponse)
	}
	var claims map[string]any
	if err := ui.Claims(&claims); err != nil {
		return fmt.Errorf("%w: userinfo: %v", ErrProvider, err)
	}
	var more Identity
	p.mapProfile(&more, claims, cb)
	if !id.rolesSeen && more.rolesSeen { // groups only behind userinfo
		id.Roles, id.rolesSeen = more.Roles, true
	}
	if id.Email == "" {
		id.Email, id.EmailVerified = more.Email, more.EmailVerified
	}
	for _, f := range []struct {
		dst *string
		src string
	}{{&id.Name, more.Name}, {&id.GivenName, more.GivenName},
		{&id.FamilyName, more.FamilyName}, {&id.Picture, more.Picture}, {&id.Locale, more.Locale}} {
		if *f.dst == "" {
			*f.dst = f.src
		}
	}
	return nil
}

// check does what go-oidc leaves to the caller.
func (p *Provider) check(d *discovered, a Attempt, idt *oidc.IDToken, accessToken string, cb Callback) (*Identity, error) {
	var c struct {
		SID           string   `json:"sid"`
		ACR           string   `json:"acr"`
		AuthTime      int64    `json:"auth_time"`
		Azp           string   `json:"azp"`
		Email         string   `json:"email"`
		AMR           []string `json:"amr"`
		Tid           string   `json:"tid"`
		Hd            string   `json:"hd"`
		IsPrivate     any      `json:"is_private_email"`
		EmailVerified any      `json:"email_verified"`
	}
	if err := idt.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidResponse, err)
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidResponse, err)
	}
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(a.Nonce)) != 1 {
		return nil, fmt.Errorf("%w: the ID token's nonce is not this attempt's", ErrInvalidResponse)
	}
	if c.Azp != "" && c.Azp != p.cfg.ClientID {
		return nil, fmt.Errorf("%w: azp names another client", ErrInvalidResponse)
	}
	if len(idt.Audience) > 1 && c.Azp == "" {
		return nil, fmt.Errorf("%w: several audiences and no azp", ErrInvalidResponse)
	}
	now := p.cfg.Now()
	if idt.IssuedAt.IsZero() || idt.IssuedAt.After(now.Add(clockSkew)) {
		return nil, fmt.Errorf("%w: iat is missing or in the future", ErrInvalidResponse)
	}
	if idt.Subject == "" || len(idt.Subject) > 255 {
		return nil, fmt.Errorf("%w: no usable sub", ErrInvalidResponse)
	}
	if idt.AccessTokenHash != "" && accessToken != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return nil, fmt.Errorf("%w: at_hash does not match", ErrInvalidResponse)
		}
	}
	id := &Identity{Provider: p.cfg.Name, Issuer: idt.Issuer, Subject: idt.Subject, AMR: c.AMR, SessionID: c.SID, ACR: c.ACR}
	if c.AuthTime > 0 {
		id.AuthTime = time.Unix(c.AuthTime, 0)
	}
	if err := checkAsked(a, id, now); err != nil {
		return nil, err
	}
	if d.template != "" {
		if c.Tid == "" || !tenantRE.MatchString(c.Tid) {
			return nil, fmt.Errorf("%w: no tenant id (tid)", ErrInvalidResponse)
		}
		if want := strings.Replace(d.template, msTenantTemplate, c.Tid, 1); idt.Issuer != want {
			return nil, fmt.Errorf("%w: iss %q is not tenant %s's issuer", ErrInvalidResponse, idt.Issuer, c.Tid)
		}
		if len(p.cfg.Tenants) > 0 && !slices.Contains(p.cfg.Tenants, c.Tid) {
			return nil, fmt.Errorf("%w: tenant %s is not allowed", ErrInvalidResponse, c.Tid)
		}
		id.Tenant = c.Tid
	}
	if p.cfg.HostedDomain != "" && !strings.EqualFold(c.Hd, p.cfg.HostedDomain) {
		return nil, fmt.Errorf("%w: hd %q is not the configured hosted domain", ErrInvalidResponse, c.Hd)
	}
	p.mapProfile(id, all, cb)
	id.MFA = slices.Contains(id.AMR, "mfa")
	return id, nil
}

var tenantRE = regexp.MustCompile(`^[0-9a-fA-F-]{36}$|^[a-z0-9-]{1,64}$`)

// issuerMatches checks RFC 9207's iss parameter.
func (p *Provider) issuerMatches(d *discovered, iss string) bool {
	if iss == "" {
		return false
	}
	if d.template == "" {
		return iss == p.cfg.Issuer
	}
	prefix, suffix, _ := strings.Cut(d.template, msTenantTemplate)
	tid, ok := strings.CutPrefix(iss, prefix)
	if !ok {
		return false
	}
	tid, ok = strings.CutSuffix(tid, suffix)
	return ok && tenantRE.MatchString(tid)
}

// safeWord keeps a provider-chosen value fit for a log line.
func safeWord(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// redact drops what an oauth2 error may quote from the provider's body
// (which could hold a token) and keeps the status.
func redact(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Sprintf("status %d error=%s", status, safeWord(re.ErrorCode))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + ue.URL + ": " + ue.Err.Error()
	}
	return err.Error()
}

// limitedTransport bounds every body read from a provider.
type limitedTransport struct{ rt http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = limitedBody{io.LimitReader(resp.Body, maxBody), resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}
