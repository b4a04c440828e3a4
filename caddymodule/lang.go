package caddymodule

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// The language of a page: the cookie the switcher sets (langCookie) wins,
// else the browser's Accept-Language, else English. Only Frontdoor's own
// pages and mails choose one; proxied requests never look.

// langCookie remembers the language chosen with the switcher.
const langCookie = "frontdoor_lang"

// langCookieAge is how long the choice is remembered: a year.
const langCookieAge = 365 * 24 * 60 * 60

// locale is one language Frontdoor speaks: its words, and the pages and
// mails compiled with them.
type locale struct {
	// tag is the BCP 47 tag (<html lang>, the cookie, the switcher's
	// to=); name the language's own name for it (lang.name).
	tag, name string
	words     catalogue
	tmpl      map[string]*template.Template
	mail      map[string]mailTemplate
}

// langKey carries the tag of a request's language in its context, chosen
// once when serveOwn starts (withLang), and read by say, render and the
// mails a journey sends for the request.
type langKey struct{}

// withLang returns r carrying its language.
func (h *Handler) withLang(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), langKey{}, h.pages.choose(r).tag))
}

// localeOf is the language of r: the one withLang chose, or chosen now
// (a page shown before serveOwn, such as a protected route's 503).
func (h *Handler) localeOf(r *http.Request) *locale {
	if l, ok := h.pages.localeIn(r.Context()); ok {
		return l
	}
	return h.pages.choose(r)
}

// localeIn is the language a context carries, if any.
func (p *pages) localeIn(ctx context.Context) (*locale, bool) {
	tag, ok := ctx.Value(langKey{}).(string)
	if !ok {
		return nil, false
	}
	l, ok := p.byTag[tag]
	return l, ok
}

// choose picks the language of r: a valid langCookie, else the best
// match of Accept-Language, else English.
func (p *pages) choose(r *http.Request) *locale {
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := p.byTag[c.Value]; ok {
			return l
		}
	}
	return p.locales[p.match(r.Header.Get("Accept-Language"))]
}

// maxAcceptLanguage bounds the header read; real ones are far shorter.
const maxAcceptLanguage = 1024

// match returns the index in p.locales of the language that best fits an
// Accept-Language header, honouring its q-values (a region falls back to
// its language: fr-CA → fr); 0 (English) when none fits. An entry that is
// not a language range is skipped, not the whole header.
func (p *pages) match(header string) int {
	prefs := acceptLanguages(header)
	if len(prefs) == 0 {
		return 0
	}
	_, i, conf := p.matcher.Match(prefs...)
	if conf == language.No {
		return 0
	}
	return i
}

// acceptLanguages parses an Accept-Language header into its language
// ranges, most wanted first; a range with q=0, "*" and malformed entries
// are left out.
func acceptLanguages(header string) []language.Tag {
	if len(header) > maxAcceptLanguage {
		header = header[:maxAcceptLanguage]
		if i := strings.LastIndexByte(header, ','); i >= 0 {
			header = header[:i]
		}
	}
	type pref struct {
		tag language.Tag
		q   float32
	}
	var prefs []pref
	for part := range strings.SplitSeq(header, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		tags, qs, err := language.ParseAcceptLanguage(part)
		if err != nil || len(tags) != 1 || tags[0] == (language.Tag{}) || tags[0].String() == "mul" {
			continue
		}
		prefs = append(prefs, pref{tags[0], qs[0]})
	}
	// Stable: of equal q, the header's order.
	slices.SortStableFunc(prefs, func(a, b pref) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	out := make([]language.Tag, len(prefs))
	for i, p := range prefs {
		out[i] = p.tag
	}
	return out
}

// langLink is one language the switcher offers.
type langLink struct {
	Tag, Name string
	Current   bool
}

// here is the page r shows, where the switcher brings the customer back
// to: its path and query, or for the switcher's own refusal the page it
// was to return to.
func (h *Handler) here(r *http.Request) string {
	if r.URL.Path == h.Prefix+"/lang" {
		return safeRedirect(r.URL.Query().Get("rd"), h.allowHosts)
	}
	return r.URL.RequestURI()
}

// langLinks are the switcher's entries for a page in current.
func (p *pages) langLinks(current string) []langLink {
	links := make([]langLink, len(p.locales))
	for i, l := range p.locales {
		links[i] = langLink{Tag: l.tag, Name: l.name, Current: l.tag == current}
	}
	return links
}

// langSwitch is the switcher's target, GET /lang?to=<tag>&rd=<page>: it
// remembers the language in langCookie and sends the browser back to the
// page (any rd safeRedirect refuses leads to /). A language Frontdoor
// does not speak is a 400 page.
func (h *Handler) langSwitch(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	rd := safeRedirect(q.Get("rd"), h.allowHosts)
	l, ok := h.pages.byTag[q.Get("to")]
	if !ok {
		return h.message(w, r, http.StatusBadRequest, "lang.unknown.title", "lang.unknown", rd, "link.go_back")
	}
	http.SetCookie(w, &http.Cookie{
		Name: langCookie, Value: l.tag, Path: "/", MaxAge: langCookieAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, rd, http.StatusSeeOther)
	return nil
}
