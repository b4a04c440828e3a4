// Package authn holds Frontdoor's request authenticators, the Caddy
// namespace frontdoor.authenticators: modules that tell who a request
// comes from. frontdoor.authenticators.session (the __Host-frontdoor
// cookie session) is the first; API keys and bearer tokens are to be added
// as modules beside it, not as branches in the handler's hot path.
//
// The frontdoor handler loads the configured ones (by default the session
// alone), binds them to its site (Binder) and asks them in order. Importing
// this package registers the modules.
//
// It must not hold business rules (session and identity own them), render
// pages or decide the answer to an anonymous request: the handler does.
package authn
