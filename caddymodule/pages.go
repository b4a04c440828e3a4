package caddymodule

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/botdefense"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

//go:embed templates/*.html templates/messages*.json templates/mail/* static/*
var builtinAssets embed.FS

// pageNames are the templates a theme may override, one file each, plus
// layout.html that wraps them all: every built-in template, so a new page
// is only its file in templates/.
var pageNames = builtinPageNames()

func builtinPageNames() []string {
	files, _ := fs.Glob(builtinAssets, "templates/*.html") // the pattern is valid
	var names []string
	for _, f := range files {
		if name := strings.TrimSuffix(path.Base(f), ".html"); name != "layout" {
			names = append(names, name)
		}
	}
	return names
}

// pages is the compiled template set of one handler, one per language.
type pages struct {
	// locales are the languages the handler speaks, English first, in
	// the switcher's order; byTag indexes them, matcher picks one for an
	// Accept-Language header (its index is the locale's).
	locales []*locale
	byTag   map[string]*locale
	matcher language.Matcher
	css     []byte
	// cssHash names the stylesheet so browsers can cache it forever.
	cssHash string
	// js is the passkey script (built in, not themable), named by jsHash.
	js     []byte
	jsHash string
}

// loadPages compiles the built-in templates, with any file of the same name
// in themeDir taking precedence, once for every language of the message
// catalogues and the mails (see loadCatalogues, loadMails).
func loadPages(themeDir string) (*pages, error) {
	read := func(name string) ([]byte, error) {
		if themeDir != "" {
			b, err := os.ReadFile(filepath.Join(themeDir, name))
			if err == nil {
				return b, nil
			}
			if !os.IsNotExist(err) {
				return nil, err
			}
		}
		if name == "style.css" {
			return fs.ReadFile(builtinAssets, "static/style.css")
		}
		return fs.ReadFile(builtinAssets, "templates/"+name)
	}
	layout, err := read("layout.html")
	if err != nil {
		return nil, fmt.Errorf("theme: layout.html: %w", err)
	}
	bodies := make(map[string][]byte, len(pageNames))
	for _, name := range pageNames {
		if bodies[name], err = read(name + ".html"); err != nil {
			return nil, fmt.Errorf("theme: %s.html: %w", name, err)
		}
	}
	cs, err := loadCatalogues(themeDir)
	if err != nil {
		return nil, err
	}
	p := &pages{byTag: make(map[string]*locale, len(cs.tags))}
	tags := make([]language.Tag, 0, len(cs.tags))
	for _, tag := range cs.tags {
		l := &locale{tag: tag, words: cs.words[tag], tmpl: make(map[string]*template.Template, len(pageNames))}
		l.name = l.words.say("lang.name")
		funcs := l.templateFuncs()
		for _, name := range pageNames {
			t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
			if err != nil {
				return nil, fmt.Errorf("theme: layout.html: %w", err)
			}
			if _, err := t.New("content").Parse(string(bodies[name])); err != nil {
				return nil, fmt.Errorf("theme: %s.html: %w", name, err)
			}
			l.tmpl[name] = t
		}
		if l.mail, err = loadMails(themeDir, l.words); err != nil {
			return nil, err
		}
		p.locales = append(p.locales, l)
		p.byTag[tag] = l
		tags = append(tags, language.MustParse(tag)) // checked by loadCatalogues
	}
	p.matcher = language.NewMatcher(tags)
	if p.css, err = read("style.css"); err != nil {
		return nil, fmt.Errorf("theme: style.css: %w", err)
	}
	p.cssHash = shortHash(p.css)
	if p.js, err = fs.ReadFile(builtinAssets, "static/passkey.js"); err != nil {
		return nil, err
	}
	p.jsHash = shortHash(p.js)
	return p, nil
}

// templateFuncs are the functions a page template of the language calls:
// say (its words: {{say "login.email_label"}}, {{say "id" "name" .Value}}),
// strong (a value in bold inside a sentence: {{say "id" "email" (strong
// .Email)}}) and fmtTime.
func (l *locale) templateFuncs() template.FuncMap {
	return template.FuncMap{
		"say": l.words.sayHTML,
		"strong": func(v any) template.HTML {
			return template.HTML("<strong>" + template.HTMLEscapeString(fmt.Sprint(v)) + "</strong>")
		},
		"fmtTime": l.words.fmtTime,
	}
}

// fmtTime writes a time in the catalogue's language, UTC.
func (c catalogue) fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.UTC()
	month := t.Month().String()[:3]
	if months := strings.Fields(c.say("time.months")); len(months) == 12 {
		month = months[t.Month()-1]
	}
	return c.say("time.format", "day", strconv.Itoa(t.Day()), "month", month,
		"year", strconv.Itoa(t.Year()), "time", t.Format("15:04"))
}

// pageData is what every template sees.
type pageData struct {
	// Lang is the page's language tag; Langs the switcher's entries, Here
	// the page they bring the customer back to.
	Lang     string
	Langs    []langLink
	Here     string
	Title    string
	Prefix   string
	CSS      string
	CSRF     string
	RD       string
	Email    string
	Errors   map[string]string
	Error    string
	Message  string
	Link     string
	LinkText string
	MinLen   int
	MaxLen   int
	// Token is the secret of a mailed link, carried in a hidden field by
	// the page the link opens (reset_confirm).
	Token string
	// CodeStep makes the magic page ask for the mailed code instead of an
	// address.
	CodeStep bool
	Account  *accountView
	// Factors is what the second-factor page offers.
	Factors *authflow.Offer
	// Enrol is the authenticator-app set-up; RecoveryCodes are shown once.
	Enrol         *enrolView
	RecoveryCodes []string
	// Script loads the passkey script (and allows it in the CSP).
	Script bool
	// Providers are the "Continue with …" buttons of the sign-in and
	// sign-up pages.
	Providers []providerButton
	// ProfileFields are the fields of the profile form.
	ProfileFields []profileFieldView
	// Brand is the site's name and logo, shown on every page.
	Brand *Brand
	// Confirm is a confirmation step: the form to post again, with a
	// hidden field set.
	Confirm *confirmView
	JS      string
	// Pow is a proof-of-work challenge the page's script solves; PowJS is
	// the solver.
	Pow   *powView
	PowJS string
	// Purposes are the consent checkboxes of the sign-up form; Accepted
	// the ids the customer ticked, kept when the form is shown again.
	Purposes []purposeView
	Accepted []string
	// SignUpConsent: the consent prompt asks every purpose, as the
	// sign-up form does (after a sign-up through a provider).
	SignUpConsent bool
	// AppConsent is the provider's consent page for a third-party app.
	AppConsent *appConsentView
	// Device is a provider site's device page (provider_device_page.go).
	Device *deviceView
	// Agent is the support console (agent_console.go).
	Agent *consoleView
	// Phone is the phone number page (phone.go) and the phone sign-in
	// page (phonelogin.go).
	Phone *phoneView
	// PhoneLogin: the sign-in and sign-up pages offer signing in by phone.
	PhoneLogin bool
}

// confirmView is a confirmation step before something hard to undo.
type confirmView struct {
	Action string
	Fields []hiddenField
	Button string
}

type hiddenField struct{ Name, Value string }

// powJSHash names the challenge solver so browsers can cache it forever.
var powJSHash = shortHash(botdefense.SolverJS)

// passkeyPages carry passkey forms, so they load the passkey script.
var passkeyPages = map[string]bool{"login": true, "account": true}

// formPage is the data of a form page on first display: its title (a
// message id), its CSRF token and the validated return target from the
// query.
func (h *Handler) formPage(w http.ResponseWriter, r *http.Request, titleID string) *pageData {
	return &pageData{Title: h.say(r, titleID), CSRF: h.csrfFor(w, r), RD: safeRedirect(r.URL.Query().Get("rd"), h.allowHosts),
		Providers: h.providerButtons(), PhoneLogin: h.flows != nil && h.flows.PhoneLoginOffered()}
}

// securityHeaders are sent with every page Frontdoor renders.
// Only pages that use passkeys may run a script, and only Frontdoor's own
// (script-src 'self' with no inline script; the pages are templates with
// no place for a visitor's markup).
func securityHeaders(h http.Header, formAction string, script bool) {
	scripts := ""
	if script {
		scripts = "; script-src 'self'; connect-src 'self'; worker-src 'self'"
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'"+formAction+
		scripts+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// Tokens travel in URLs (verification links): never leak them in a
	// Referer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// render writes a page with its status, in the language of r.
// Rendering into a buffer first means a template error becomes a clean
// 500, not half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) error {
	l := h.localeOf(r)
	t, ok := l.tmpl[name]
	if !ok {
		return fmt.Errorf("frontdoor: no template %q", name)
	}
	d.Prefix = h.Prefix
	d.Brand = h.Brand
	if h.Brand != nil { // "Sign in to Shop"
		switch name {
		case "login":
			d.Title = h.say(r, "login.title_brand", "brand", h.Brand.Name)
		case "register":
			d.Title = h.say(r, "register.title_brand", "brand", h.Brand.Name)
		}
	}
	d.Lang, d.Langs, d.Here = l.tag, h.pages.langLinks(l.tag), h.here(r)
	d.Script = d.Script || passkeyPages[name]
	d.CSS = h.Prefix + "/static/style-" + h.pages.cssHash + ".css"
	d.JS = h.Prefix + "/static/passkey-" + h.pages.jsHash + ".js"
	d.PowJS = h.Prefix + "/static/pow-" + powJSHash + ".js"
	d.MinLen, d.MaxLen = h.app.policy.MinLength, h.app.policy.MaxLength
	if name == "register" {
		d.Purposes = h.purposeViews(d.Accepted)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("frontdoor: render %s: %w", name, err))
	}
	securityHeaders(w.Header(), h.formActionExtra, d.Script || d.Pow != nil)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", l.tag)
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// message renders the generic message page: its title, text and link
// label are message ids (no label without a link), args fill in the
// text's placeholders. A status of 400 or more shows the text as an error.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, titleID, textID, link, linkID string, args ...string) error {
	msg := h.say(r, textID, args...)
	d := &pageData{Title: h.say(r, titleID), Link: link}
	if linkID != "" {
		d.LinkText = h.say(r, linkID)
	}
	if status >= 400 {
		d.Error = msg
	} else {
		d.Message = msg
	}
	return h.render(w, r, status, "message", d)
}

// serveAsset serves a static file named by its content hash: cached
// forever.
func serveAsset(w http.ResponseWriter, r *http.Request, name, contentType string, body []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	return nil
}
