package caddymodule

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// idParams are the functions taking message ids: the positions of their
// id arguments, and where their placeholder arguments (name, value, …)
// start and which id they fill in (-1: none).
var idParams = map[string]struct {
	ids        []int
	args, text int
}{
	"say":      {ids: []int{1}, args: 2, text: 1},
	"message":  {ids: []int{3, 4, 6}, args: 7, text: 4},
	"tooMany":  {ids: []int{5, 6}, args: -1, text: -1},
	"formPage": {ids: []int{2}, args: -1, text: -1},
}

// catalogueSay is catalogue.say's: the id first.
var catalogueSay = struct {
	ids        []int
	args, text int
}{ids: []int{0}, args: 1, text: 0}

// idForwarders pass on ids they are given (their parameters), so they may
// call the functions above with an id that is not a constant. Everywhere
// else an id is a string literal, a constant, or a challengeForm's title
// (itself checked where the form is written).
var idForwarders = map[string]bool{"say": true, "message": true, "tooMany": true, "formPage": true, "challengePage": true, "loadMails": true, "sayHTML": true, "sayText": true}

// TestMessageIDs: every message id the Go code and the page and mail
// templates name is in the built-in catalogue, with exactly the
// placeholders the call fills in; every catalogue entry is named somewhere
// (a mail's subject by its kind, the language's own name and the time
// format by the pages); and no id reaches the catalogue by a way this
// test cannot see.
func TestMessageIDs(t *testing.T) {
	words := builtinEnglish(t)
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var parsed []*ast.File
	consts := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, s := range g.Specs {
					vs := s.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if v, ok := stringLit(vs.Values[i]); ok {
								consts[n.Name] = v
							}
						}
					}
				}
			}
		}
	}
	used := map[string]bool{"lang.name": true, "time.months": true, "time.format": true}
	for _, kind := range mailKinds {
		used["mail."+kind+".subject"] = true
	}
	for _, call := range templateSayCalls(t) {
		if _, ok := words[call.id]; !ok {
			t.Errorf("%s: message id %q is not in templates/messages.json", call.where, call.id)
			continue
		}
		used[call.id] = true
		if want := placeholders(words[call.id]); !slices.Equal(call.given, want) {
			t.Errorf("%s: message %q has placeholders %v, the template fills in %v", call.where, call.id, want, call.given)
		}
	}
	// resolve returns the id an argument names: ok is false for an
	// expression the test cannot read.
	resolve := func(e ast.Expr) (id string, ok, checkedElsewhere bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			v, ok := stringLit(e)
			return v, ok, false
		case *ast.Ident:
			v, ok := consts[e.Name]
			return v, ok, false
		case *ast.SelectorExpr:
			return "", e.Sel.Name == "title", true
		}
		return "", false, false
	}
	check := func(pos token.Pos, id string) {
		if _, ok := words[id]; !ok {
			t.Errorf("%s: message id %q is not in templates/messages.json", fset.Position(pos), id)
		}
		used[id] = true
	}
	for _, f := range parsed {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CompositeLit:
					if typ, ok := n.Type.(*ast.Ident); ok && typ.Name == "challengeForm" {
						t.Errorf("%s: a challengeForm belongs in the package's var block", fset.Position(n.Pos()))
					}
				case *ast.CallExpr:
					name := ""
					switch f := n.Fun.(type) {
					case *ast.Ident:
						name = f.Name
					case *ast.SelectorExpr:
						name = f.Sel.Name
					}
					p, ok := idParams[name]
					if !ok {
						return true
					}
					// A catalogue's own say (words.say(id, …)), not the
					// handler's (h.say(r, id, …)).
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && name == "say" {
						if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "h" {
							p = catalogueSay
						}
					}
					ids := map[int]string{}
					for _, i := range p.ids {
						if i >= len(n.Args) {
							continue
						}
						id, ok, elsewhere := resolve(n.Args[i])
						switch {
						case !ok && idForwarders[fn.Name.Name]:
						case !ok:
							t.Errorf("%s: %s takes a message id the test cannot read: use a string literal", fset.Position(n.Args[i].Pos()), name)
						case elsewhere:
						case id == "" && name == "message" && i == 6: // no link
						default:
							check(n.Args[i].Pos(), id)
							ids[i] = id
						}
					}
					text, ok := ids[p.text]
					if !ok || n.Ellipsis.IsValid() {
						return true
					}
					var given []string
					for i := p.args; p.args >= 0 && i < len(n.Args); i += 2 {
						v, ok := stringLit(n.Args[i])
						if !ok {
							t.Errorf("%s: placeholder names are string literals", fset.Position(n.Args[i].Pos()))
						}
						given = append(given, "{"+v+"}")
					}
					slices.Sort(given)
					if want := placeholders(words[text]); !slices.Equal(given, want) {
						t.Errorf("%s: message %q has placeholders %v, the call fills in %v", fset.Position(n.Pos()), text, want, given)
					}
				}
				return true
			})
		}
		// The challenge forms, package-level: their titles.
		ast.Inspect(f, func(n ast.Node) bool {
			cl, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if typ, ok := cl.Type.(*ast.Ident); !ok || typ.Name != "challengeForm" {
				return true
			}
			for _, e := range cl.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "title" {
					if id, ok := stringLit(kv.Value); ok {
						check(kv.Value.Pos(), id)
					} else {
						t.Errorf("%s: a challengeForm's title is a string literal", fset.Position(kv.Value.Pos()))
					}
				}
			}
			return true
		})
	}
	for _, id := range sortedKeys(words) {
		if !used[id] {
			t.Errorf("templates/messages.json: %q is used nowhere", id)
		}
	}
	if len(used) < 300 {
		t.Errorf("only %d ids found: is the scan still reading the calls?", len(used))
	}
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(bl.Value)
	return v, err == nil
}

// builtinEnglish is the built-in English catalogue.
func builtinEnglish(t *testing.T) catalogue {
	t.Helper()
	cs, err := loadCatalogues("")
	if err != nil {
		t.Fatal(err)
	}
	return cs.words[defaultLang]
}

func sortedKeys(c catalogue) []string {
	var ids []string
	for id := range c {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// TestCatalogueSay: placeholders are filled in once, their values taken
// as they are (escaping is the page's), and an unknown id shows as itself.
func TestCatalogueSay(t *testing.T) {
	c := catalogue{"a": "If {email} is yours, {n} left.", "b": "plain"}
	if got := c.say("a", "email", "<x>{n}@example.com", "n", "3"); got != "If <x>{n}@example.com is yours, 3 left." {
		t.Errorf("say: %q", got)
	}
	if got := c.say("b"); got != "plain" {
		t.Errorf("say: %q", got)
	}
	if got := c.say("missing.id"); got != "missing.id" {
		t.Errorf("say of an unknown id: %q", got)
	}
}

// TestThemeCatalogueErrors: a theme's messages.json that cannot be used
// refuses to load, naming the file and what is wrong with it; a valid one
// changes only the ids it names.
func TestThemeCatalogueErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"malformed", `{"login.title": "Hi",`, "not a JSON object of message id to text"},
		{"not an object", `["login.title"]`, "not a JSON object of message id to text"},
		{"not text", `{"login.title": 3}`, "not a JSON object of message id to text"},
		{"trailing data", `{"login.title": "Hi"} {}`, "data after the JSON object"},
		{"null", `null`, "not a JSON object of message id to text"},
		{"unknown id", `{"login.title": "Hi", "login.titel": "Hi"}`, `unknown message id "login.titel"`},
		{"unknown placeholder", `{"magic.sent": "We wrote to {address}."}`, `message "magic.sent": unknown placeholder {address}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "messages.json")
			if err := os.WriteFile(file, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadPages(dir)
			if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("loadPages: %v; want an error naming %s: %s", err, file, tc.want)
			}
		})
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "messages.json"), []byte(`{"login.title": "Welcome back", "magic.sent": "Sent to {email}."}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := loadPages(dir)
	if err != nil {
		t.Fatal(err)
	}
	builtin := builtinEnglish(t)
	for id, text := range p.byTag["en"].words {
		want := builtin[id]
		switch id {
		case "login.title":
			want = "Welcome back"
		case "magic.sent":
			want = "Sent to {email}."
		}
		if text != want {
			t.Errorf("%s: %q, want %q", id, text, want)
		}
	}
}

// TestThemeMailErrors: a theme's mail template that does not parse, or
// names a field a mail does not have, refuses to load, naming the file.
func TestThemeMailErrors(t *testing.T) {
	for _, tc := range []struct{ file, body, want string }{
		{"verify.txt", "Open {{.Link", "mail/verify.txt"},
		{"magic_link.html", "<p>{{.Token}}</p>", "mail/magic_link.html"},
	} {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "mail"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "mail", tc.file), []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadPages(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: loadPages: %v; want an error naming %s", tc.file, err, tc.want)
		}
	}
}

// TestMailTemplates: every mail kind has its subject and both templates
// built in.
func TestMailTemplates(t *testing.T) {
	p, err := loadPages("")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.locales {
		for _, kind := range mailKinds {
			if m, ok := l.mail[kind]; !ok || m.subject == "" || m.subject == "mail."+kind+".subject" {
				t.Errorf("%s: mail %q: %+v", l.tag, kind, m)
			}
		}
	}
	entries, _ := builtinAssets.ReadDir("templates/mail")
	if len(entries) != 2*len(mailKinds) {
		t.Errorf("templates/mail holds %d files; mailKinds names %d mails", len(entries), len(mailKinds))
	}
}
