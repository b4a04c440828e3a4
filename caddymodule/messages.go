package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	texttemplate "text/template"

	"golang.org/x/text/language"
)

// Every word the customer reads lives in a message catalogue per
// language: templates/messages.json (English, message id → text) and
// templates/messages.<tag>.json (messages.fr.json: French). Go code names
// a message by its id only (h.say(r, id, …)); page and mail templates
// likewise ({{say "login.email_label"}}), each compiled once per language
// with that language's say. TestMessageIDs checks that every id named
// exists and every entry is named somewhere; TestTemplateWords that no
// template holds words of its own.

// messagesFile is the English catalogue's file name, built in and in a
// theme; another language's is messages.<tag>.json (catalogueTag).
const messagesFile = "messages.json"

// defaultLang is the language of messages.json, spoken when no other fits.
const defaultLang = "en"

// catalogue maps message ids to their text. A text may hold placeholders,
// {name}, filled in by say; the text is plain: html/template escapes it
// where a page shows it.
type catalogue map[string]string

var placeholderRE = regexp.MustCompile(`\{[a-z_]+\}`)

// placeholders returns the {name} placeholders of a text, sorted.
func placeholders(text string) []string {
	found := placeholderRE.FindAllString(text, -1)
	slices.Sort(found)
	return slices.Compact(found)
}

// catalogues are the words of every language Frontdoor speaks, by tag:
// English (always) and the other built-in languages, each with its
// theme's entries laid over, and any language a theme adds.
type catalogues struct {
	// tags lists the languages in the order the switcher offers them:
	// English first, then by tag.
	tags  []string
	words map[string]catalogue
}

// loadCatalogues reads the built-in catalogues and, when themeDir holds
// messages.json or messages.<tag>.json, lays their entries over the
// built-in ones of that language, id by id: a theme may change one
// sentence and keep the rest. A theme's messages.<tag>.json for a language
// Frontdoor lacks adds that language, its missing ids in English; it must
// name itself (lang.name). A theme entry must name a built-in id and use
// no placeholder the built-in text lacks.
func loadCatalogues(themeDir string) (*catalogues, error) {
	cs := &catalogues{words: map[string]catalogue{}}
	builtins, _ := fs.Glob(builtinAssets, "templates/messages*.json") // the pattern is valid
	for _, f := range builtins {
		tag, ok := catalogueTag(path.Base(f))
		if !ok {
			return nil, fmt.Errorf("theme: built-in %s: not a language tag", path.Base(f))
		}
		b, err := fs.ReadFile(builtinAssets, f)
		if err != nil {
			return nil, fmt.Errorf("theme: %s: %w", path.Base(f), err)
		}
		c, err := parseCatalogue(b)
		if err != nil {
			return nil, fmt.Errorf("theme: built-in %s: %w", path.Base(f), err)
		}
		cs.words[tag] = c
	}
	english, ok := cs.words[defaultLang]
	if !ok {
		return nil, fmt.Errorf("theme: built-in %s is missing", messagesFile)
	}
	// The reference a theme is checked against: the built-in English ids
	// and placeholders (every built-in language has the same, a test
	// checks).
	reference := maps.Clone(english)
	if themeDir != "" {
		files, err := filepath.Glob(filepath.Join(themeDir, "messages*.json"))
		if err != nil {
			return nil, fmt.Errorf("theme: %w", err)
		}
		// In a fixed order (English first), so a theme with several
		// problems always reports the same one.
		slices.SortFunc(files, func(a, b string) int {
			return englishFirst(filepath.Base(a), filepath.Base(b), messagesFile)
		})
		for _, file := range files {
			if err := cs.overlay(file, reference); err != nil {
				return nil, err
			}
		}
	}
	for tag, c := range cs.words {
		if tag != defaultLang {
			// A built-in language is complete (a test checks); a theme's
			// may not be: what it lacks is said in English.
			for id, text := range cs.words[defaultLang] {
				if _, ok := c[id]; !ok {
					c[id] = text
				}
			}
		}
		cs.tags = append(cs.tags, tag)
	}
	slices.SortFunc(cs.tags, func(a, b string) int { return englishFirst(a, b, defaultLang) })
	return cs, nil
}

// englishFirst orders a before b (-1) or after (1): first the one that is
// english, then by name.
func englishFirst(a, b, english string) int {
	switch {
	case a == b:
		return 0
	case a == english:
		return -1
	case b == english:
		return 1
	}
	return strings.Compare(a, b)
}

// overlay lays the theme catalogue file over its language's.
func (cs *catalogues) overlay(file string, reference catalogue) error {
	tag, ok := catalogueTag(filepath.Base(file))
	if !ok {
		return fmt.Errorf("theme: %s: not a catalogue name: messages.json for English, messages.<language tag>.json (messages.de.json, messages.pt-BR.json) for another language", file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("theme: %w", err)
	}
	theme, err := parseCatalogue(b)
	if err != nil {
		return fmt.Errorf("theme: %s: %w", file, err)
	}
	for _, id := range slices.Sorted(maps.Keys(theme)) {
		builtinText, ok := reference[id]
		if !ok {
			return fmt.Errorf("theme: %s: unknown message id %q", file, id)
		}
		for _, p := range placeholders(theme[id]) {
			if !slices.Contains(placeholders(builtinText), p) {
				return fmt.Errorf("theme: %s: message %q: unknown placeholder %s (the built-in text is %q)", file, id, p, builtinText)
			}
		}
	}
	c, ok := cs.words[tag]
	if !ok {
		if _, named := theme["lang.name"]; !named {
			return fmt.Errorf("theme: %s: adds a language, so it must give its name in that language (\"lang.name\")", file)
		}
		c = catalogue{}
		cs.words[tag] = c
	}
	maps.Copy(c, theme)
	return nil
}

// catalogueTag reads the language of a catalogue file name:
// messages.json is English, messages.<tag>.json the language tag, written
// as BCP 47 writes it (fr, pt-BR). messages.en.json is refused: English
// is messages.json.
func catalogueTag(name string) (string, bool) {
	if name == messagesFile {
		return defaultLang, true
	}
	raw, ok := strings.CutPrefix(name, "messages.")
	if !ok {
		return "", false
	}
	if raw, ok = strings.CutSuffix(raw, ".json"); !ok {
		return "", false
	}
	t, err := language.Parse(raw)
	if err != nil || t.String() != raw || raw == defaultLang {
		return "", false
	}
	return raw, true
}

// parseCatalogue reads one JSON object of id → text, refusing anything
// else (a number, a nested object, trailing data).
func parseCatalogue(b []byte) (catalogue, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var c catalogue
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("not a JSON object of message id to text: %w", err)
	}
	if c == nil {
		return nil, fmt.Errorf("not a JSON object of message id to text")
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON object")
	}
	return c, nil
}

// say returns the text of message id, with each {name} placeholder
// replaced by the value following name in args (name, value, name,
// value, …). An id not in the catalogue (TestMessageIDs keeps that from
// happening) shows as itself.
func (c catalogue) say(id string, args ...string) string {
	text, ok := c[id]
	if !ok {
		return id
	}
	if len(args) == 0 {
		return text
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+args[i]+"}", args[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// sayArgs turns a template's say arguments (name, value, …; a value of
// any type) into say's.
func sayArgs(args []any) ([]string, error) {
	if len(args)%2 != 0 {
		return nil, fmt.Errorf("say: placeholder %v has no value", args[len(args)-1])
	}
	out := make([]string, len(args))
	for i, a := range args {
		if i%2 == 0 {
			if _, ok := a.(string); !ok {
				return nil, fmt.Errorf("say: placeholder name %v is not a string", a)
			}
		}
		out[i] = fmt.Sprint(a)
	}
	return out, nil
}

// sayHTML is say for a page template: plain text (html/template escapes
// it where it lands), unless a placeholder's value is markup
// (template.HTML, as strong makes): then the text is escaped here and the
// markup put in as it is.
func (c catalogue) sayHTML(id string, args ...any) (any, error) {
	markup := false
	for i := 1; i < len(args); i += 2 {
		if _, ok := args[i].(htmltemplate.HTML); ok {
			markup = true
		}
	}
	plain, err := sayArgs(args)
	if err != nil {
		return nil, err
	}
	if !markup {
		return c.say(id, plain...), nil
	}
	text, ok := c[id]
	if !ok {
		text = id
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		v, ok := args[i+1].(htmltemplate.HTML)
		if !ok {
			v = htmltemplate.HTML(htmltemplate.HTMLEscapeString(plain[i+1]))
		}
		pairs = append(pairs, "{"+plain[i]+"}", string(v))
	}
	return htmltemplate.HTML(strings.NewReplacer(pairs...).Replace(htmltemplate.HTMLEscapeString(text))), nil
}

// sayText is say for a plain-text mail template.
func (c catalogue) sayText(id string, args ...any) (string, error) {
	plain, err := sayArgs(args)
	if err != nil {
		return "", err
	}
	return c.say(id, plain...), nil
}

// say is the words of the request's language (langOf), the theme's over
// the built-in ones: see catalogue.say.
func (h *Handler) say(r *http.Request, id string, args ...string) string {
	return h.localeOf(r).words.say(id, args...)
}

// mailKinds are the mails Frontdoor sends, each a pair of templates in
// templates/mail/ (kind.txt and kind.html, which a theme's mail/ directory
// may override one file at a time) and a subject, mail.<kind>.subject in
// the catalogue.
var mailKinds = []string{"verify", "already_registered", "reset_password", "magic_link", "email_change", "email_in_use", "email_changed", "invitation", "new_sign_in", "risk_code", "support_code", "factor_removal", "phone_changed"}

// mailLink is a link inside a sentence of an HTML mail: {{say "id"
// "reset" (link .Link (say "label"))}}.
func mailLink(href string, text any) htmltemplate.HTML {
	return htmltemplate.HTML(`<a href="` + htmltemplate.HTMLEscapeString(href) + `">` + htmltemplate.HTMLEscapeString(fmt.Sprint(text)) + `</a>`)
}

type mailTemplate struct {
	subject string
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// loadMails compiles the mail templates in the language of words, a
// theme's taking precedence (one theme template serves every language:
// its say calls speak the mail's).
func loadMails(themeDir string, words catalogue) (map[string]mailTemplate, error) {
	read := func(name string) ([]byte, error) {
		if themeDir != "" {
			b, err := os.ReadFile(filepath.Join(themeDir, "mail", name))
			if err == nil {
				return b, nil
			}
			if !os.IsNotExist(err) {
				return nil, err
			}
		}
		return fs.ReadFile(builtinAssets, "templates/mail/"+name)
	}
	mails := make(map[string]mailTemplate, len(mailKinds))
	for _, kind := range mailKinds {
		text, err := read(kind + ".txt")
		if err != nil {
			return nil, fmt.Errorf("theme: mail/%s.txt: %w", kind, err)
		}
		html, err := read(kind + ".html")
		if err != nil {
			return nil, fmt.Errorf("theme: mail/%s.html: %w", kind, err)
		}
		m := mailTemplate{subject: words.say("mail." + kind + ".subject")}
		if m.text, err = texttemplate.New(kind).Funcs(texttemplate.FuncMap{"say": words.sayText, "fmtTime": words.fmtTime}).Parse(string(text)); err != nil {
			return nil, fmt.Errorf("theme: mail/%s.txt: %w", kind, err)
		}
		if m.html, err = htmltemplate.New(kind).Funcs(htmltemplate.FuncMap{"say": words.sayHTML, "link": mailLink, "fmtTime": words.fmtTime}).Parse(string(html)); err != nil {
			return nil, fmt.Errorf("theme: mail/%s.html: %w", kind, err)
		}
		// A field the mail does not have fails here, not when a customer
		// is waiting for the mail.
		sample := mailData{Link: "https://example.com/", Site: "example.com", Code: "000000", Lang: defaultLang}
		if err := m.text.Execute(io.Discard, sample); err != nil {
			return nil, fmt.Errorf("theme: mail/%s.txt: %w", kind, err)
		}
		if err := m.html.Execute(io.Discard, sample); err != nil {
			return nil, fmt.Errorf("theme: mail/%s.html: %w", kind, err)
		}
		mails[kind] = m
	}
	return mails, nil
}
