package oidctest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"
)

// Account is a customer of the Real provider.
type Account struct {
	ID            string
	Username      string
	Password      string
	Email         string
	EmailVerified bool
	FirstName     string
	LastName      string
}

// Real is zitadel/oidc's example OpenID Provider (its op package is
// OpenID-certified) on loopback, with the accounts and clients a test
// names. Its login page is a username/password form.
type Real struct {
	*httptest.Server
	Issuer string

	mu      sync.Mutex
	users   map[string]*storage.User
	clients map[string]*storage.Client
}

// NewReal starts a provider with these accounts.
func NewReal(t testing.TB, accounts ...Account) *Real {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Real{Issuer: "http://" + ln.Addr().String(), users: map[string]*storage.User{}, clients: map[string]*storage.Client{}}
	for _, a := range accounts {
		r.users[a.ID] = &storage.User{ID: a.ID, Username: a.Username, Password: a.Password, Email: a.Email,
			EmailVerified: a.EmailVerified, FirstName: a.FirstName, LastName: a.LastName, PreferredLanguage: language.English}
	}
	st := storage.NewStorageWithClients(realUsers{r}, r.clients)
	router := exampleop.SetupServer(r.Issuer, st, nil, false)
	r.Server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: router}}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

// AddClient registers a confidential web client (before it is used).
func (r *Real) AddClient(id, secret string, redirectURIs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clients[id] = storage.WebClient(id, secret, redirectURIs...)
}

// SignIn fills the provider's login page that resp (the answer to the
// authorization request, followed by c) shows, and returns the answer to
// the form: the provider's redirect back to the relying party.
func (r *Real) SignIn(c *http.Client, loginPage *http.Response, username, password string) (*http.Response, error) {
	id := loginPage.Request.URL.Query().Get("authRequestID")
	return c.PostForm(r.URL+"/login/username", url.Values{"id": {id}, "username": {username}, "password": {password}})
}

type realUsers struct{ r *Real }

func (u realUsers) GetUserByID(id string) *storage.User {
	u.r.mu.Lock()
	defer u.r.mu.Unlock()
	return u.r.users[id]
}

func (u realUsers) GetUserByUsername(name string) *storage.User {
	u.r.mu.Lock()
	defer u.r.mu.Unlock()
	for _, user := range u.r.users {
		if strings.EqualFold(user.Username, name) {
			return user
		}
	}
	return nil
}

func (u realUsers) ExampleClientID() string { return "service" }
