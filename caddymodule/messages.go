package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	texttemplate "text/template"
)

// The words the customer reads that are not in a page template: titles,
// messages, field errors, link labels and mail subjects live in one
// catalogue, templates/messages.json (message id → text), and the mail
// bodies in templates/mail/. Go code names a message by its id only (say);
// TestMessageIDs checks that every id it names exists and every entry is
// named somewhere.

// messagesFile is the catalogue's file name, built in and in a theme.
const messagesFile = "messages.json"

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

// loadCatalogue reads the built-in catalogue and, when themeDir holds a
// messages.json, lays its entries over the built-in ones, id by id: a
// theme may change one sentence and keep the rest. A theme entry must
// name a built-in id and use no placeholder the built-in text lacks.
func loadCatalogue(themeDir string) (catalogue, error) {
	builtin, err := fs.ReadFile(builtinAssets, "templates/"+messagesFile)
	if err != nil {
		return nil, fmt.Errorf("theme: %s: %w", messagesFile, err)
	}
	c, err := parseCatalogue(builtin)
	if err != nil {
		return nil, fmt.Errorf("theme: built-in %s: %w", messagesFile, err)
	}
	if themeDir == "" {
		return c, nil
	}
	file := filepath.Join(themeDir, messagesFile)
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("theme: %w", err)
	}
	theme, err := parseCatalogue(b)
	if err != nil {
		return nil, fmt.Errorf("theme: %s: %w", file, err)
	}
	for _, id := range slices.Sorted(maps.Keys(theme)) {
		builtinText, ok := c[id]
		if !ok {
			return nil, fmt.Errorf("theme: %s: unknown message id %q", file, id)
		}
		for _, p := range placeholders(theme[id]) {
			if !slices.Contains(placeholders(builtinText), p) {
				return nil, fmt.Errorf("theme: %s: message %q: unknown placeholder %s (the built-in text is %q)", file, id, p, builtinText)
			}
		}
		c[id] = theme[id]
	}
	return c, nil
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

// say is the handler's catalogue (its theme's words over the built-in
// ones): see catalogue.say.
func (h *Handler) say(id string, args ...string) string {
	return h.pages.words.say(id, args...)
}

// mailKinds are the mails Frontdoor sends, each a pair of templates in
// templates/mail/ (kind.txt and kind.html, which a theme's mail/ directory
// may override one file at a time) and a subject, mail.<kind>.subject in
// the catalogue.
var mailKinds = []string{"verify", "already_registered", "reset_password", "magic_link", "email_change", "email_in_use", "email_changed", "invitation"}

type mailTemplate struct {
	subject string
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// loadMails compiles the mail templates, a theme's taking precedence.
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
		if m.text, err = texttemplate.New(kind).Parse(string(text)); err != nil {
			return nil, fmt.Errorf("theme: mail/%s.txt: %w", kind, err)
		}
		if m.html, err = htmltemplate.New(kind).Parse(string(html)); err != nil {
			return nil, fmt.Errorf("theme: mail/%s.html: %w", kind, err)
		}
		// A field the mail does not have fails here, not when a customer
		// is waiting for the mail.
		sample := mailData{Link: "https://example.com/", Site: "example.com", Code: "000000"}
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
