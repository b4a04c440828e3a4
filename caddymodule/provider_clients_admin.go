package caddymodule

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity/oidcrp"
)

// Admin API for the provider's clients, on Caddy's admin endpoint
// (loopback callers only):
//
//	GET    /frontdoor/clients              every provider site's clients, declared and registered
//	PUT    /frontdoor/clients/<id>         register or change a client (JSON body, below)
//	DELETE /frontdoor/clients/<id>[?issuer=…]
//
// PUT body: {"issuer": "https://login.example.com" (may be left out when
// there is one provider site), "name", "redirect_uris", "post_logout_redirect_uris",
// "scopes", "first_party", "public", "backchannel_logout_uri", "dpop", "rotate_secret",
// "grants", "agent", "lifetime", and instead of a secret either "jwks" (the
// client's public keys, a JSON Web Key Set: private_key_jwt) or
// "certificate" (its TLS client certificate's SHA-256 thumbprint)}.
// A new confidential client's secret, and a rotated one, are in the answer
// ("client_secret") and nowhere else, ever; after a rotation the previous
// secret works for 24 hours more. A client the Caddyfile declares cannot be
// changed or removed here (409).

func clientRoutes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/frontdoor/clients", Handler: caddy.AdminHandlerFunc(serveClients)},
		{Pattern: "/frontdoor/clients/", Handler: caddy.AdminHandlerFunc(serveClient)},
	}
}

// clientView is a client as the admin API shows it.
type clientView struct {
	Issuer                 string   `json:"issuer"`
	ID                     string   `json:"id"`
	Name                   string   `json:"name,omitempty"`
	Source                 string   `json:"source"` // caddyfile | admin
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	Scopes                 []string `json:"scopes"`
	FirstParty             bool     `json:"first_party"`
	Confidential           bool     `json:"confidential"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri,omitempty"`
	Grants                 []string `json:"grants"`
	Agent                  bool     `json:"agent,omitempty"`
	Lifetime               string   `json:"lifetime,omitempty"`
	DPoP                   bool     `json:"dpop"`
	// AuthMethod is how it authenticates at the token endpoint (RFC 7591
	// token_endpoint_auth_method): client_secret_basic, private_key_jwt,
	// self_signed_tls_client_auth or none; Certificate the thumbprint.
	AuthMethod  string `json:"token_endpoint_auth_method"`
	Certificate string `json:"certificate,omitempty"`
}

// providerSites are the live provider sites by issuer.
func providerSites() map[string]*siteOP {
	sitesMu.Lock()
	defer sitesMu.Unlock()
	out := map[string]*siteOP{}
	for origin, h := range liveSites {
		if h.op != nil {
			out[origin] = h.op
		}
	}
	return out
}

// providerSiteFor is the provider site of issuer, or the only one.
func providerSiteFor(issuer string) (*siteOP, error) {
	sites := providerSites()
	if issuer == "" && len(sites) == 1 {
		for _, o := range sites {
			return o, nil
		}
	}
	if o := sites[strings.TrimSuffix(issuer, "/")]; o != nil {
		return o, nil
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range sites {
			if !yield(n) {
				return
			}
		}
	})
	return nil, caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("issuer: name the provider site, one of %v", names)}
}

func viewOf(issuer string, c *ProviderClient) clientView {
	src := "caddyfile"
	if c.registered {
		src = "admin"
	}
	v := clientView{Issuer: issuer, ID: c.ID, Name: c.Name, Source: src, RedirectURIs: c.RedirectURIs,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, Scopes: c.Scopes, FirstParty: c.FirstParty,
		Confidential: c.confidential(), BackchannelLogoutURI: c.BackchannelLogoutURI, Grants: c.grantList(),
		Agent: c.Agent, Lifetime: agentLifetimeView(c), DPoP: c.DPoP, AuthMethod: c.authMethod()}
	if c.x5t != nil {
		v.Certificate = hex.EncodeToString(c.x5t)
	}
	return v
}

// authMethod names how c authenticates (RFC 7591).
func (c *ProviderClient) authMethod() string {
	switch {
	case c.jwks != nil:
		return "private_key_jwt"
	case c.x5t != nil:
		return "self_signed_tls_client_auth"
	case c.secretSum != nil:
		return "client_secret_basic"
	}
	return "none"
}

func serveClients(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	if r.Method != http.MethodGet {
		return methodNotAllowed("GET")
	}
	sites := providerSites()
	views := []clientView{}
	for _, iss := range slices.Sorted(func(yield func(string) bool) {
		for n := range sites {
			if !yield(n) {
				return
			}
		}
	}) {
		for _, c := range sites[iss].allClients() {
			views = append(views, viewOf(iss, c))
		}
	}
	return writeAdminJSON(w, map[string]any{"clients": views})
}

// clientBody is what PUT takes.
type clientBody struct {
	Issuer                 string   `json:"issuer"`
	Name                   string   `json:"name"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	Scopes                 []string `json:"scopes"`
	FirstParty             bool     `json:"first_party"`
	Public                 bool     `json:"public"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri"`
	Grants                 []string `json:"grants"`
	DPoP                   bool     `json:"dpop"`
	RotateSecret           bool     `json:"rotate_secret"`
	// Agent and Lifetime: see ProviderClient (provider_agents.go).
	Agent    bool           `json:"agent"`
	Lifetime caddy.Duration `json:"lifetime"`
	// JWKS or Certificate: see registeredClient.
	JWKS        json.RawMessage `json:"jwks"`
	Certificate string          `json:"certificate"`
}

// check validates the body as the Caddyfile's client block is.
func (b *clientBody) check(id string) error {
	if !oidcrp.ValidName(id) {
		return errors.New("id: 1-32 lower-case letters, digits, _ or -")
	}
	if len(b.Name) > 100 {
		return errors.New("name: at most 100 characters")
	}
	var grants []string
	for _, g := range b.Grants {
		name, ok := grantName(g)
		if !ok {
			return fmt.Errorf("grants: unknown grant %q (known: %s)", g, strings.Join(providerGrants, " "))
		}
		if !slices.Contains(grants, name) {
			grants = append(grants, name)
		}
	}
	b.Grants = grants
	if b.Public && slices.Contains(grants, grantService) {
		return errors.New("grants: client_credentials is for a confidential client (not public)")
	}
	if len(b.RedirectURIs) > 20 || (len(b.RedirectURIs) == 0 && (len(grants) == 0 || slices.Contains(grants, grantCode))) {
		return errors.New("redirect_uris: 1 to 20 URIs (none only for a client without the authorization_code grant)")
	}
	for _, u := range append(slices.Clone(b.RedirectURIs), b.PostLogoutRedirectURIs...) {
		if err := checkRedirectURI(u); err != nil {
			return fmt.Errorf("redirect URI %q: %v", u, err)
		}
	}
	if b.BackchannelLogoutURI != "" {
		if err := checkRedirectURI(b.BackchannelLogoutURI); err != nil {
			return fmt.Errorf("backchannel_logout_uri: %v", err)
		}
	}
	if len(b.Scopes) == 0 {
		b.Scopes = []string{"openid", "email", "profile"}
	}
	if len(b.JWKS) > 0 && string(b.JWKS) == "null" {
		b.JWKS = nil
	}
	if len(b.JWKS) > 0 {
		if b.Certificate != "" {
			return errors.New("jwks and certificate are exclusive (one way to authenticate)")
		}
		if _, err := parseClientJWKS(b.JWKS); err != nil {
			return fmt.Errorf("jwks: %v", err)
		}
	}
	if b.Certificate != "" {
		if _, err := parseThumbprint(b.Certificate); err != nil {
			return fmt.Errorf("certificate: %v", err)
		}
	}
	keyed := len(b.JWKS) > 0 || b.Certificate != ""
	if keyed && (b.Public || b.RotateSecret) {
		return errors.New("jwks and certificate clients have no secret (not public, no rotate_secret)")
	}
	pc := ProviderClient{Agent: b.Agent, Lifetime: b.Lifetime, FirstParty: b.FirstParty, Grants: grants}
	if !b.Public {
		pc.Secret = "set"
	}
	if err := pc.checkAgent(); err != nil {
		return err
	}
	return nil
}

func serveClient(w http.ResponseWriter, r *http.Request) error {
	if err := loopbackOnly(r); err != nil {
		return err
	}
	id := strings.TrimPrefix(r.URL.Path, "/frontdoor/clients/")
	switch r.Method {
	case http.MethodPut:
		return putClient(w, r, id)
	case http.MethodDelete:
		return deleteClient(w, r, id)
	}
	return methodNotAllowed("PUT, DELETE")
}

func putClient(w http.ResponseWriter, r *http.Request, id string) error {
	var body clientBody
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf(`body: %v (want {"redirect_uris":[…],"scopes":[…],"first_party":false,"public":false,…})`, err)}
	}
	if err := body.check(id); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
	}
	o, err := providerSiteFor(body.Issuer)
	if err != nil {
		return err
	}
	grants := body.Grants
	if len(grants) == 0 {
		grants = []string{grantCode}
	}
	if err := o.h.Provider.checkScopes(body.Scopes, grants); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("scopes: %w", err)}
	}
	if o.clients[id] != nil {
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: fmt.Errorf("client %s is declared in the Caddyfile: change it there", id)}
	}
	b := o.h.app.backend
	now := b.clock.Now().UTC()
	var secret string
	created := false
	err = b.clients.update(r.Context(), func(doc registryDoc) error {
		cs := doc[o.issuer]
		if cs == nil {
			cs = map[string]*registeredClient{}
			doc[o.issuer] = cs
		}
		rc := cs[id]
		if rc == nil {
			if doc.count() >= maxRegisteredClients {
				return caddy.APIError{HTTPStatus: http.StatusConflict, Err: fmt.Errorf("at most %d registered clients", maxRegisteredClients)}
			}
			rc, created = &registeredClient{Issuer: o.issuer, ID: id, CreatedAt: now}, true
			cs[id] = rc
		}
		rc.Name, rc.RedirectURIs, rc.PostLogoutRedirectURIs = body.Name, body.RedirectURIs, body.PostLogoutRedirectURIs
		rc.Scopes, rc.FirstParty, rc.BackchannelLogoutURI, rc.UpdatedAt = body.Scopes, body.FirstParty, body.BackchannelLogoutURI, now
		rc.Grants = body.Grants
		rc.Agent, rc.Lifetime = body.Agent, body.Lifetime
		rc.DPoP = body.DPoP
		rc.JWKS, rc.Certificate = body.JWKS, body.Certificate
		secret = ""
		switch {
		case body.Public, len(body.JWKS) > 0, body.Certificate != "":
			rc.SecretSum, rc.PrevSecretSum, rc.PrevSecretUntil = nil, nil, time.Time{}
		case rc.SecretSum == nil:
			secret, rc.SecretSum = newClientSecret()
		case body.RotateSecret:
			rc.PrevSecretSum, rc.PrevSecretUntil = rc.SecretSum, now.Add(secretOverlap)
			secret, rc.SecretSum = newClientSecret()
		}
		return nil
	})
	if err != nil {
		var ae caddy.APIError
		if errors.As(err, &ae) {
			return ae
		}
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	b.logger.Get().Info("provider: client registered through the admin API", zap.String("issuer", o.issuer), zap.String("client", id),
		zap.Bool("created", created), zap.Bool("new_secret", secret != ""))
	c := o.client(id)
	if c == nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: errors.New("client stored but not read back")}
	}
	out := map[string]any{"client": viewOf(o.issuer, c)}
	if secret != "" {
		out["client_secret"] = secret
	}
	if created {
		w.WriteHeader(http.StatusCreated)
	}
	return writeAdminJSON(w, out)
}

func deleteClient(w http.ResponseWriter, r *http.Request, id string) error {
	o, err := providerSiteFor(r.URL.Query().Get("issuer"))
	if err != nil {
		return err
	}
	if o.clients[id] != nil {
		return caddy.APIError{HTTPStatus: http.StatusConflict, Err: fmt.Errorf("client %s is declared in the Caddyfile: remove it there", id)}
	}
	found := false
	b := o.h.app.backend
	if err := b.clients.update(r.Context(), func(doc registryDoc) error {
		if _, found = doc[o.issuer][id]; found {
			delete(doc[o.issuer], id)
		}
		return nil
	}); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	if !found {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no registered client %s at %s", id, o.issuer)}
	}
	b.logger.Get().Info("provider: client removed through the admin API", zap.String("issuer", o.issuer), zap.String("client", id))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
