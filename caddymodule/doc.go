// Package caddymodule is Frontdoor's Caddy side: the frontdoor app (global
// options and the state shared across config reloads), the frontdoor HTTP
// handler (identity headers, path rules, sessions, the assertion),
// Caddyfile parsing, admin API routes, the HTML pages (html/template and
// embed, overridable by a theme directory), and the HTTP side of each
// customer journey: parse the form, call authflow, render the outcome.
// Business rules belong in authflow, identity, session, botdefense and
// consent, not here.
//
// The store modules (frontdoor.stores.bolt and frontdoor.stores.redis) are
// in the sub-package stores; the app loads the configured one through
// stores.Backend, and imports the package for its default, bbolt. The
// request authenticators (frontdoor.authenticators.*, the cookie session
// first) are in the sub-package authn; the handler asks them in order.
//
// # Routes
//
// Every path under the prefix (/.frontdoor by default) is one entry of
// routeTable in routes.go: the path, its GET (and HEAD) and POST handlers,
// the botdefense route each method counts against, and the form page a
// challenged post is shown again on. serveOwn answers from the table alone:
// 404 for a path not in it, 405 with an Allow header for a method without
// a handler, and for a post the form is parsed (64 KiB at most), then
// defended, then its CSRF token checked, before its handler runs.
//
// # Adding a journey
//
// A new journey is three pieces:
//
//  1. its flow in authflow/: plain Go with a typed input and typed
//     outcomes over small interfaces, no net/http or Caddy, tested there
//     on bbolt and Redis without starting Caddy;
//  2. one entry in routeTable: the path, the handlers (methods of Handler
//     that parse the form, call the flow and render its outcome), and,
//     when the journey can be abused (it sends mail, checks a secret, or
//     hashes a password), its defence: a botdefense route (a new one goes
//     into botdefense.Routes, RouteCount and DefaultLimits), a challengeForm if a
//     challenge can be shown on its page, hashes if it hashes a password;
//  3. its template in templates/ (name.html, rendered inside layout.html),
//     which a theme may override; any file there is a page.
//
// TestRouteTable checks every entry.
//
// # Words
//
// The words the customer reads are never Go strings. Those of a page's
// own layout are in its template; those a handler chooses at run time
// (titles, notices, errors, field errors, link labels, mail subjects) are
// entries of the message catalogue, templates/messages.json (message id →
// text, {name} placeholders), which handlers name by id: h.say(r, id, name,
// value, …), h.message(w, r, status, titleID, textID, link, linkID, …). Mail
// bodies are templates/mail/<kind>.txt and .html. A theme directory
// overrides any template by file name, mail/<kind>.* likewise, and
// messages.json id by id; a theme catalogue naming an unknown id, or a
// placeholder its message lacks, fails the config load. TestMessageIDs
// checks that every id the code names exists, with the placeholders the
// call fills in, and that every catalogue entry is used.
package caddymodule
