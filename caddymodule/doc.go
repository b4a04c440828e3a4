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
// The text-message senders (frontdoor.sms.log, the default,
// frontdoor.sms.dir and frontdoor.sms.http) are small modules here over
// package sms; the app loads the configured one, and one queue per process
// sends through the running config's (sms.go, App.sendText).
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
// The words the customer reads are never Go strings, nor literal text in a
// template: every one is an entry of a message catalogue, one per language
// — templates/messages.json (English: message id → text, {name}
// placeholders) and templates/messages.<tag>.json (messages.fr.json:
// French, the same ids). Page and mail templates name them by id,
// {{say "login.email_label"}}, {{say "password.hint" "min" .MinLen}}; every
// template is compiled once per language with that language's say.
// Handlers name the words they choose at run time (titles, notices,
// errors, field errors, link labels) by id too, in the language of the
// request: h.say(r, id, name, value, …), h.message(w, r, status, titleID,
// textID, link, linkID, …), h.render(w, r, status, page, data). Mail bodies
// are templates/mail/<kind>.txt and .html, sent in the language of the
// request whose journey sends them (the request's context reaches the
// Notifier). A theme directory overrides any template by file name,
// mail/<kind>.* likewise, messages.json and messages.<tag>.json id by id,
// and may add a language with a messages.<tag>.json of its own; a theme
// catalogue naming an unknown id, or a placeholder its message lacks,
// fails the config load. The language of a request (lang.go): the
// frontdoor_lang cookie the switcher (/lang) sets, else Accept-Language,
// else English. TestMessageIDs checks that every id the code and the
// templates name exists, with the placeholders the call fills in, and
// that every catalogue entry is used; TestTemplateWords that no template
// holds words of its own; TestCatalogueLanguages that every built-in
// language has English's ids and placeholders.
package caddymodule
