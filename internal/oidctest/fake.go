// Package oidctest runs OpenID Providers on loopback for tests: Real, the
// zitadel/oidc example provider (an OpenID-certified implementation) with
// the customers a test names, and Fake, a small provider whose ID tokens a
// test can bend into every shape a hostile or broken provider sends.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// User is the account the Fake provider signs in next.
type User struct {
	Subject       string
	Email         string
	EmailVerified any // bool, or a string as Apple sends
	Name          string
	AMR           []string
	// Extra claims (tid, hd, …).
	Extra map[string]any
}

// Fake is a minimal OpenID Provider: discovery, JWKS, an authorization
// endpoint that signs User in at once, and a token endpoint that checks
// the code, PKCE and client secret like a real one. Tamper bends the next
// ID tokens.
type Fake struct {
	*httptest.Server
	// Issuer is what discovery and tokens name (the server URL unless
	// changed before the first request; a Microsoft-style template when
	// MultiTenant).
	Issuer       string
	ClientID     string
	ClientSecret string
	Key          *rsa.PrivateKey
	KeyID        string

	mu   sync.Mutex
	user User
	// Tamper changes the claims and may return a whole replacement token
	// (non-empty string) — alg none, HS256, a foreign key.
	tamper func(claims map[string]any) string
	codes  map[string]*grant
	// IssParam: the authorization response carries RFC 9207's iss.
	IssParam bool
	// Down makes every endpoint answer 503.
	Down atomic.Bool
	// TokenRequests counts calls of the token endpoint.
	TokenRequests atomic.Int64
	// LastClientSecret is the client secret of the last token request.
	LastClientSecret atomic.Pointer[string]
	// ExtraKeys are published in the JWKS beside Key.
	extraKeys []jose.JSONWebKey
}

type grant struct {
	user      User
	nonce     string
	challenge string
	redirect  string
	used      bool
}

// NewFake starts a Fake provider on loopback for clientID/secret.
func NewFake(t testing.TB, clientID, secret string) *Fake {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{ClientID: clientID, ClientSecret: secret, Key: key, KeyID: "k1", codes: map[string]*grant{},
		user: User{Subject: "sub-1", Email: "fed@example.net", EmailVerified: true, Name: "Fed Customer"}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	f.Issuer = f.URL
	t.Cleanup(f.Close)
	return f
}

// SetUser names the account the next authorization signs in.
func (f *Fake) SetUser(u User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.user = u
}

// Tamper bends every following ID token (nil restores honest tokens).
func (f *Fake) Tamper(fn func(claims map[string]any) string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tamper = fn
}

// PublishKey adds a key to the JWKS (key rotation).
func (f *Fake) PublishKey(pub *rsa.PublicKey, kid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.extraKeys = append(f.extraKeys, jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: "RS256", Use: "sig"})
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if f.Down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	base := f.URL
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": f.Issuer, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
			"jwks_uri": base + "/keys", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported":               []string{"S256"},
			"authorization_response_iss_parameter_supported": f.IssParam,
		})
	case r.URL.Path == "/keys":
		f.mu.Lock()
		keys := append([]jose.JSONWebKey{{Key: &f.Key.PublicKey, KeyID: f.KeyID, Algorithm: "RS256", Use: "sig"}}, f.extraKeys...)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
	case r.URL.Path == "/authorize":
		f.authorize(w, r)
	case r.URL.Path == "/token":
		f.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

var formPost = template.Must(template.New("fp").Parse(`<!doctype html><form method="post" action="{{.Action}}">{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}</form>`))

func (f *Fake) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != f.ClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	code := randomString()
	f.codes[code] = &grant{user: f.user, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	f.mu.Unlock()
	fields := map[string]string{"code": code, "state": q.Get("state")}
	if f.IssParam {
		fields["iss"] = f.Issuer
	}
	if q.Get("response_mode") == "form_post" {
		w.Header().Set("Content-Type", "text/html")
		_ = formPost.Execute(w, map[string]any{"Action": q.Get("redirect_uri"), "Fields": fields})
		return
	}
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := u.Query()
	for k, val := range fields {
		v.Set(k, val)
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (f *Fake) token(w http.ResponseWriter, r *http.Request) {
	f.TokenRequests.Add(1)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	f.LastClientSecret.Store(&secret)
	if id != f.ClientID || (f.ClientSecret != "" && secret != f.ClientSecret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	f.mu.Lock()
	g := f.codes[r.PostForm.Get("code")]
	if g == nil || g.used || g.redirect != r.PostForm.Get("redirect_uri") {
		f.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		f.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	g.used = true
	tamper := f.tamper
	f.mu.Unlock()

	now := time.Now()
	claims := map[string]any{
		"iss": f.Issuer, "sub": g.user.Subject, "aud": f.ClientID, "exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(), "nonce": g.nonce, "email": g.user.Email, "email_verified": g.user.EmailVerified,
	}
	if g.user.Name != "" {
		claims["name"] = g.user.Name
	}
	if len(g.user.AMR) > 0 {
		claims["amr"] = g.user.AMR
	}
	maps.Copy(claims, g.user.Extra)
	if strings.Contains(f.Issuer, "{tenantid}") {
		if tid, ok := claims["tid"].(string); ok {
			claims["iss"] = strings.Replace(f.Issuer, "{tenantid}", tid, 1)
		}
	}
	var idToken string
	if tamper != nil {
		idToken = tamper(claims)
	}
	if idToken == "" {
		idToken = Sign(f.Key, f.KeyID, claims)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": randomString(), "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

// Sign signs claims with key as an RS256 JWT naming kid.
func Sign(key *rsa.PrivateKey, kid string, claims map[string]any) string {
	return signJWT(jose.RS256, key, kid, claims)
}

func signJWT(alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		panic(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// Unsigned returns claims as a JWT with alg none.
func Unsigned(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	b, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
}

// HS256 returns claims signed with HMAC-SHA256 under secret (the
// key-confusion attack: the provider's public key used as the secret).
func HS256(secret []byte, kid string, claims map[string]any) string {
	return signJWT(jose.HS256, secret, kid, claims)
}

func randomString() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// FormPost parses the auto-submitting form a form_post provider answers
// with: the action and its fields.
func FormPost(body string) (action string, fields url.Values, err error) {
	fields = url.Values{}
	form, _, ok := strings.Cut(body, "<input ")
	if !ok || !strings.Contains(form, `action="`) {
		return "", nil, fmt.Errorf("no form in %q", body)
	}
	action = attr(form, "action")
	for _, part := range strings.Split(body, "<input ")[1:] {
		name := attr(part, "name")
		fields.Set(name, attr(part, "value"))
	}
	return action, fields, nil
}

func attr(s, name string) string {
	i := strings.Index(s, name+`="`)
	if i < 0 {
		return ""
	}
	s = s[i+len(name)+2:]
	v := s[:strings.IndexByte(s, '"')]
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&lt;", "<", "&gt;", ">").Replace(v)
}
