package authn

import (
	"net/http"
	"time"

	"github.com/frontdoorhq/frontdoor/session"
)

// Namespace is the Caddy module namespace of request authenticators.
const Namespace = "frontdoor.authenticators"

// Authenticator is implemented by modules in the frontdoor.authenticators
// namespace, in the shape of caddyauth's: it tells who the request comes
// from (ok), that it carries nothing this authenticator recognises (!ok,
// no error: the next one is asked, and with none left the request is
// anonymous), or that it could not tell (an error: the store failed; the
// handler fails closed on protected routes and asks no other).
//
// An authenticator may set response headers on w but never writes the
// response: the handler decides how to answer. It runs on every request,
// so its common case must not allocate.
type Authenticator interface {
	Authenticate(w http.ResponseWriter, r *http.Request) (Identity, bool, error)
}

// Identity is who a request comes from. It is returned by value, so
// authenticating allocates nothing of its own; a principal that is not a
// cookie session (an API key, a service client) is to get a field of its
// own here.
type Identity struct {
	// Session is the customer's server-side session.
	Session *session.Session
}

// Site is what an authenticator gets from the site it serves, once the
// handler has validated its configuration: the public origin (sessions and
// cookies are bound to it) and the frontdoor app's shared state.
type Site struct {
	// Origin is the site's public origin, https://host[:port].
	Origin string
	// Codec seals and opens the session cookie.
	Codec *session.Codec
	// Sessions looks sessions up (in-process cache, then the store).
	Sessions *session.Manager
	// StoreTimeout bounds one request's store work.
	StoreTimeout time.Duration
	// NoteStore records the outcome of a store call for health reporting.
	NoteStore func(error)
}

// Binder is implemented by authenticators that need their site. The
// handler calls BindSite once, after provisioning, before any request.
type Binder interface {
	BindSite(Site) error
}
