package caddymodule

import (
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	texttemplate "text/template"
	"text/template/parse"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/text/language"
)

// templateFiles are the built-in page and mail templates, by path in
// builtinAssets.
func templateFiles(t *testing.T) []string {
	t.Helper()
	pages, _ := fs.Glob(builtinAssets, "templates/*.html")
	mails, _ := fs.Glob(builtinAssets, "templates/mail/*")
	files := append(pages, mails...)
	if len(pages) < 20 || len(mails) != 2*len(mailKinds) {
		t.Fatalf("templates: %d pages, %d mails", len(pages), len(mails))
	}
	return files
}

// sayCall is one {{say "id" "name" value …}} of a template.
type sayCall struct {
	where, id string
	given     []string // the placeholders filled in, sorted
}

// templateSayCalls reads every say call of the built-in templates; a say
// whose id or placeholder names are not string literals is an error.
func templateSayCalls(t *testing.T) []sayCall {
	t.Helper()
	var calls []sayCall
	stub := texttemplate.FuncMap{"say": fmt.Sprint, "strong": fmt.Sprint, "fmtTime": fmt.Sprint, "link": fmt.Sprint}
	for _, file := range templateFiles(t) {
		b, err := fs.ReadFile(builtinAssets, file)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := texttemplate.New(path.Base(file)).Funcs(stub).Parse(string(b))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, tt := range tmpl.Templates() {
			if tt.Tree == nil {
				continue
			}
			walkTemplate(tt.Tree.Root, func(cmd *parse.CommandNode) {
				id, ok := cmd.Args[0].(*parse.IdentifierNode)
				if !ok || id.Ident != "say" {
					return
				}
				where := fmt.Sprintf("%s:%d", file, strings.Count(string(b[:cmd.Position()]), "\n")+1)
				if len(cmd.Args) < 2 {
					t.Errorf("%s: say without an id", where)
					return
				}
				lit, ok := cmd.Args[1].(*parse.StringNode)
				if !ok {
					t.Errorf("%s: say takes a message id the test cannot read: use a string literal", where)
					return
				}
				call := sayCall{where: where, id: lit.Text, given: []string{}}
				for i := 2; i < len(cmd.Args); i += 2 {
					name, ok := cmd.Args[i].(*parse.StringNode)
					if !ok || i+1 >= len(cmd.Args) {
						t.Errorf("%s: say %q: placeholders are \"name\" value pairs", where, lit.Text)
						continue
					}
					call.given = append(call.given, "{"+name.Text+"}")
				}
				slices.Sort(call.given)
				calls = append(calls, call)
			})
		}
	}
	return calls
}

// walkTemplate calls fn on every command of a template tree.
func walkTemplate(n parse.Node, fn func(*parse.CommandNode)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				walkTemplate(c, fn)
			}
		}
	case *parse.ActionNode:
		walkTemplate(n.Pipe, fn)
	case *parse.IfNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.RangeNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.WithNode:
		walkBranch(&n.BranchNode, fn)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			walkTemplate(n.Pipe, fn)
		}
	case *parse.PipeNode:
		if n != nil {
			for _, c := range n.Cmds {
				walkTemplate(c, fn)
			}
		}
	case *parse.CommandNode:
		fn(n)
		for _, a := range n.Args {
			walkTemplate(a, fn)
		}
	case *parse.ChainNode:
		walkTemplate(n.Node, fn)
	}
}

func walkBranch(b *parse.BranchNode, fn func(*parse.CommandNode)) {
	walkTemplate(b.Pipe, fn)
	walkTemplate(b.List, fn)
	if b.ElseList != nil {
		walkTemplate(b.ElseList, fn)
	}
}

var actionRE = regexp.MustCompile(`(?s)\{\{.*?\}\}`)

// hasWords reports text holding a letter: a word the customer would read
// in one language only. Punctuation, symbols and digits may stay.
func hasWords(text string) bool {
	return strings.IndexFunc(text, unicode.IsLetter) >= 0
}

// wordAttrs are the attributes a customer reads (or hears).
var wordAttrs = map[string]bool{"alt": true, "aria-label": true, "placeholder": true, "title": true, "aria-description": true}

// TestTemplateWords: no page or mail template holds words of its own —
// every word outside an action comes from the catalogue, so every
// language gets all of them. Text, and the attributes a customer reads
// (alt, aria-label, placeholder, title, a button's value), hold only
// actions, punctuation and symbols.
func TestTemplateWords(t *testing.T) {
	for _, file := range templateFiles(t) {
		b, err := fs.ReadFile(builtinAssets, file)
		if err != nil {
			t.Fatal(err)
		}
		src := actionRE.ReplaceAllString(string(b), "")
		// The tokenizer reads a noscript's content as text; a customer
		// without scripts reads it as markup.
		src = strings.NewReplacer("<noscript>", "", "</noscript>", "").Replace(src)
		if strings.HasSuffix(file, ".txt") {
			for i, line := range strings.Split(src, "\n") {
				if hasWords(line) {
					t.Errorf("%s: words outside {{say}} near line %d: %q", file, i+1, line)
				}
			}
			continue
		}
		z := html.NewTokenizer(strings.NewReader(src))
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				break
			}
			tok := z.Token()
			switch tt {
			case html.TextToken:
				if hasWords(tok.Data) {
					t.Errorf("%s: words outside {{say}}: %q", file, strings.TrimSpace(tok.Data))
				}
			case html.StartTagToken, html.SelfClosingTagToken:
				button := tok.Data == "button"
				for _, a := range tok.Attr {
					if a.Key == "type" && (a.Val == "submit" || a.Val == "button" || a.Val == "reset") && tok.Data == "input" {
						button = true
					}
				}
				for _, a := range tok.Attr {
					if (wordAttrs[a.Key] || button && a.Key == "value" && tok.Data == "input") && hasWords(a.Val) {
						t.Errorf("%s: <%s %s=%q>: words outside {{say}}", file, tok.Data, a.Key, a.Val)
					}
				}
			}
		}
	}
}

// TestCatalogueLanguages: every built-in language has exactly English's
// ids, each with the same placeholders, and names itself; French is one.
func TestCatalogueLanguages(t *testing.T) {
	cs, err := loadCatalogues("")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cs.tags, []string{"en", "fr"}) {
		t.Fatalf("built-in languages %v, want [en fr]", cs.tags)
	}
	english := cs.words["en"]
	files, _ := fs.Glob(builtinAssets, "templates/messages.*.json")
	for _, f := range files {
		tag, _ := catalogueTag(path.Base(f))
		b, _ := fs.ReadFile(builtinAssets, f)
		c, err := parseCatalogue(b) // as written, before English fills gaps
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, id := range sortedKeys(english) {
			text, ok := c[id]
			if !ok {
				t.Errorf("%s: %q is missing", f, id)
				continue
			}
			if got, want := placeholders(text), placeholders(english[id]); !slices.Equal(got, want) {
				t.Errorf("%s: %q has placeholders %v, English %v", f, id, got, want)
			}
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %q is empty", f, id)
			}
		}
		for _, id := range sortedKeys(c) {
			if _, ok := english[id]; !ok {
				t.Errorf("%s: %q is not an English id", f, id)
			}
		}
		if c["lang.name"] == english["lang.name"] {
			t.Errorf("%s (%s): names itself %q, as English does", f, tag, c["lang.name"])
		}
		if n := len(strings.Fields(c["time.months"])); n != 12 {
			t.Errorf("%s: time.months names %d months", f, n)
		}
	}
}

// TestCatalogueSayHTML: a page's say is plain text, escaped where it
// lands, unless a value is markup: then the text is escaped and the
// markup kept.
func TestCatalogueSayHTML(t *testing.T) {
	c := catalogue{"a": "Sent to {email} & {n}."}
	got, err := c.sayHTML("a", "email", htmltemplate.HTML("<strong>x&lt;y</strong>"), "n", 3)
	if err != nil || got != htmltemplate.HTML("Sent to <strong>x&lt;y</strong> &amp; 3.") {
		t.Errorf("sayHTML with markup: %q %v", got, err)
	}
	if got, err := c.sayHTML("a", "email", "<b>", "n", "4"); err != nil || got != "Sent to <b> & 4." {
		t.Errorf("sayHTML, text only: %q %v", got, err)
	}
	if _, err := c.sayHTML("a", "email"); err == nil {
		t.Error("sayHTML with a placeholder missing its value: no error")
	}
	if _, err := c.sayHTML("a", 3, "x"); err == nil {
		t.Error("sayHTML with a placeholder name that is not a string: no error")
	}
}

// TestLangAcceptLanguage: the language of a request — the switcher's
// cookie first, then Accept-Language by q-value, a region falling back to
// its language, English when nothing fits or the header is garbage.
func TestLangAcceptLanguage(t *testing.T) {
	p, err := loadPages(themeWithGerman(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cookie, header, want string }{
		{"", "", "en"},
		{"", "fr", "fr"},
		{"", "fr-CA", "fr"},
		{"", "fr-CA,fr;q=0.9,en;q=0.8", "fr"},
		{"", "en-GB,en;q=0.9,fr;q=0.8", "en"},
		{"", "en;q=0.1, fr;q=0.9", "fr"},
		{"", "es, fr;q=0.2", "fr"},
		{"", "nl, de-AT;q=0.7, fr;q=0.5", "de"},
		{"", "fr;q=0, de;q=0.1", "de"},
		{"", "fr;q=0", "en"},
		{"", "*", "en"},
		{"", "zh, *;q=0.5", "en"},
		{"", "*, fr;q=0.5", "fr"},
		{"", "!!garbage!!", "en"},
		{"", "fr;q=abc", "en"},
		{"", "@@, fr", "fr"},
		{"", ";;;,,,", "en"},
		{"", strings.Repeat("x-", 2000) + "fr", "en"},
		{"", strings.Repeat("nl,", 400) + "fr", "en"},
		{"fr", "en", "fr"},
		{"de", "fr", "de"},
		{"en", "fr", "en"},
		{"xx", "fr", "fr"},
		{"", "DE", "de"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set("Accept-Language", tc.header)
		}
		if tc.cookie != "" {
			r.Header.Set("Cookie", langCookie+"="+tc.cookie)
		}
		if got := p.choose(r).tag; got != tc.want {
			t.Errorf("cookie %q, Accept-Language %.40q: %s, want %s", tc.cookie, tc.header, got, tc.want)
		}
	}
}

// themeWithGerman is a theme directory adding German, with a few ids.
func themeWithGerman(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "messages.de.json"),
		[]byte(`{"lang.name": "Deutsch", "login.title": "Anmelden", "magic.sent": "Gesendet an {email}."}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestThemeLanguages: a theme's messages.<tag>.json changes that language
// only; one for a language Frontdoor lacks adds it, after the built-in
// ones, its missing ids in the theme's English; a catalogue that cannot
// be used refuses to load, naming the file and the id.
func TestThemeLanguages(t *testing.T) {
	dir := themeWithGerman(t)
	if err := os.WriteFile(filepath.Join(dir, "messages.fr.json"), []byte(`{"login.title": "Bienvenue"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "messages.json"), []byte(`{"login.title": "Welcome back", "logout.title": "Leave"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := loadPages(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, l := range p.locales {
		tags = append(tags, l.tag+"="+l.name)
	}
	if !slices.Equal(tags, []string{"en=English", "de=Deutsch", "fr=Français"}) {
		t.Fatalf("languages %v", tags)
	}
	for _, tc := range []struct{ tag, id, want string }{
		{"en", "login.title", "Welcome back"},
		{"fr", "login.title", "Bienvenue"},
		{"fr", "logout.title", "Déconnexion"},
		{"de", "login.title", "Anmelden"},
		{"de", "logout.title", "Leave"},
		{"de", "reset.title", "Reset your password"},
	} {
		if got := p.byTag[tc.tag].words.say(tc.id); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.tag, tc.id, got, tc.want)
		}
	}
	if _, err := language.Parse("de"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, file, body, want string }{
		{"unknown id", "messages.fr.json", `{"login.titel": "Salut"}`, `unknown message id "login.titel"`},
		{"unknown placeholder", "messages.de.json", `{"lang.name": "Deutsch", "magic.sent": "An {address}."}`, `message "magic.sent": unknown placeholder {address}`},
		{"malformed", "messages.fr.json", `{"login.title": 3}`, "not a JSON object of message id to text"},
		{"added language without its name", "messages.de.json", `{"login.title": "Anmelden"}`, `"lang.name"`},
		{"not a language tag", "messages.deutsch.json", `{}`, "not a catalogue name"},
		{"English by tag", "messages.en.json", `{}`, "not a catalogue name"},
		{"not canonical", "messages.pt-br.json", `{}`, "not a catalogue name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, tc.file)
			if err := os.WriteFile(file, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadPages(dir)
			if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("loadPages: %v; want an error naming %s: %s", err, file, tc.want)
			}
		})
	}
}
