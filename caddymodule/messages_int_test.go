package caddymodule

import (
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/eml"
)

// TestThemeMessages: a theme's messages.json changes the sentences it
// names on real pages and mails, every other one stays built in; a mail
// template in the theme's mail/ replaces that one file. A theme whose
// catalogue names an unknown id keeps the site from loading, with an
// error naming the file.
func TestThemeMessages(t *testing.T) {
	theme := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(theme, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(theme, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("messages.json", `{
  "login.title": "Welcome back",
  "page.mail_sent.title": "Look in your inbox",
  "mail.verify.subject": "Please confirm, friend"
}`)
	write("mail/verify.txt", "Hi!\n\nConfirm for {{.Site}}: {{.Link}}\n")
	g := startGateway(t, gatewayOpts{site: "theme " + theme})
	c := g.newClient()

	login := g.get(c, "/.frontdoor/login", nil)
	if !strings.Contains(login.body, "<title>Welcome back</title>") || !strings.Contains(login.body, "<h1>Welcome back</h1>") {
		t.Fatalf("login page under the theme's title: %s", login.body)
	}
	if reg := g.get(c, "/.frontdoor/register", nil); !strings.Contains(reg.body, "<title>Create your account</title>") {
		t.Fatalf("register page lost its built-in title: %s", reg.body)
	}

	const email = "themed@example.com"
	r := g.post(c, "/.frontdoor/register", url.Values{"email": {email}, "password": {testPassword}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "<h1>Look in your inbox</h1>") {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	subject, text := waitMail(t, g.mailDir, email)
	if subject != "Please confirm, friend" || !strings.HasPrefix(text, "Hi!\r\n\r\nConfirm for shop.test: https://") {
		t.Fatalf("themed mail: subject %q, text %q", subject, text)
	}
	link := g.mailLink(email, "/.frontdoor/verify?token=")
	if done := g.confirmLink(c, link); done.status != http.StatusOK || !strings.Contains(done.body, "<h1>Email confirmed</h1>") {
		t.Fatalf("verify: %d %s", done.status, done.body)
	}

	bad := t.TempDir()
	file := filepath.Join(bad, "messages.json")
	if err := os.WriteFile(file, []byte(`{"login.titel": "Welcome back"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := g.loadFails(gatewayOpts{site: "theme " + bad})
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), `unknown message id "login.titel"`) {
		t.Fatalf("load with a broken theme catalogue: %v", err)
	}
	// The running site keeps its theme.
	if login := g.get(c, "/.frontdoor/login", nil); !strings.Contains(login.body, "<title>Welcome back</title>") {
		t.Fatalf("login page after the refused load: %s", login.body)
	}
}

// waitMail waits for the mail to `to` in dir and returns its subject and
// text part, leaving the file for mailLink.
func waitMail(t *testing.T, dir, to string) (subject, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		for _, f := range files {
			if strings.HasPrefix(filepath.Base(f), ".") {
				continue
			}
			text, rcpt := eml.Read(f)
			if !strings.EqualFold(rcpt, to) {
				continue
			}
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := mail.ReadMessage(fh)
			fh.Close()
			if err != nil {
				t.Fatal(err)
			}
			return msg.Header.Get("Subject"), text
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no mail to %s", to)
	return "", ""
}

// TestLanguages: a page speaks the language Accept-Language asks for
// (<html lang>, its words, Content-Language), with a switcher to the
// others; the switcher's link remembers the choice in a cookie and sends
// the browser back to the page (any other rd leads home; a language not
// offered is a 400 page); the cookie beats the header, and a mail goes
// out in the language of the request that sent it. A theme's
// messages.de.json adds German, offered and used, its missing ids in
// English; a theme catalogue naming an unknown id keeps the site from
// loading, with an error naming the file and the id.
func TestLanguages(t *testing.T) {
	theme := t.TempDir()
	if err := os.WriteFile(filepath.Join(theme, "messages.de.json"), []byte(`{
  "lang.name": "Deutsch",
  "login.title": "Anmelden",
  "login.submit": "Anmelden",
  "field.password_label": "Passwort"
}`), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, gatewayOpts{site: "theme " + theme})
	c := g.newClient()

	fr := g.get(c, "/.frontdoor/login?rd=%2Fapp", map[string]string{"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
	for _, want := range []string{`<html lang="fr">`, "<title>Connexion</title>", "<h1>Connexion</h1>", ">Adresse e-mail</label>",
		`<nav class="langs" aria-label="Langue">`,
		`<a href="/.frontdoor/lang?to=fr&amp;rd=%2f.frontdoor%2flogin%3frd%3d%252Fapp" lang="fr" hreflang="fr" aria-current="true">Français</a>`,
		`<a href="/.frontdoor/lang?to=en&amp;rd=%2f.frontdoor%2flogin%3frd%3d%252Fapp" lang="en" hreflang="en">English</a>`,
		`<a href="/.frontdoor/lang?to=de&amp;rd=%2f.frontdoor%2flogin%3frd%3d%252Fapp" lang="de" hreflang="de">Deutsch</a>`,
	} {
		if !strings.Contains(fr.body, want) {
			t.Errorf("French sign-in page lacks %s:\n%s", want, fr.body)
		}
	}
	if got := fr.header.Get("Content-Language"); got != "fr" {
		t.Errorf("Content-Language %q", got)
	}
	if en := g.get(c, "/.frontdoor/register", nil); !strings.Contains(en.body, `<html lang="en">`) || !strings.Contains(en.body, "<h1>Create your account</h1>") {
		t.Errorf("en-GB: %s", en.body)
	}
	// German, added by the theme: its own words, English where it has none.
	de := g.get(c, "/.frontdoor/login", map[string]string{"Accept-Language": "de-AT, fr;q=0.5"})
	for _, want := range []string{`<html lang="de">`, "<h1>Anmelden</h1>", ">Passwort</label>", ">Email address</label>", ">Forgot your password?</a>",
		`lang="de" hreflang="de" aria-current="true">Deutsch</a>`} {
		if !strings.Contains(de.body, want) {
			t.Errorf("German sign-in page lacks %s:\n%s", want, de.body)
		}
	}

	// The switcher: a cookie for a year, back to the page.
	sw := g.get(c, "/.frontdoor/lang?to=fr&rd=%2F.frontdoor%2Fregister%3Frd%3D%252Fapp", nil)
	if sw.status != http.StatusSeeOther || sw.header.Get("Location") != "/.frontdoor/register?rd=%2Fapp" {
		t.Fatalf("switch to French: %d %q", sw.status, sw.header.Get("Location"))
	}
	if got := sw.header.Get("Set-Cookie"); got != "frontdoor_lang=fr; Path=/; Max-Age=31536000; HttpOnly; Secure; SameSite=Lax" {
		t.Errorf("switcher cookie: %q", got)
	}
	// The cookie beats the header (the client asks for en-GB).
	if reg := g.get(c, "/.frontdoor/register", nil); !strings.Contains(reg.body, `<html lang="fr">`) || !strings.Contains(reg.body, "<h1>Créez votre compte</h1>") {
		t.Errorf("register page after switching to French: %s", reg.body)
	}
	for _, tc := range []struct{ query, location string }{
		{"to=en&rd=https%3A%2F%2Fevil.example%2F", "/"},
		{"to=en&rd=%2F%2Fevil.example%2F", "/"},
		{"to=en&rd=%2F%5Cevil.example", "/"},
		{"to=en&rd=javascript%3Aalert(1)", "/"},
		{"to=en", "/"},
	} {
		r := g.get(g.newClient(), "/.frontdoor/lang?"+tc.query, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != tc.location {
			t.Errorf("lang?%s: %d %q, want 303 to %s", tc.query, r.status, r.header.Get("Location"), tc.location)
		}
	}
	bad := g.get(g.newClient(), "/.frontdoor/lang?to=xx&rd=%2Fapp", map[string]string{"Accept-Language": "fr"})
	if bad.status != http.StatusBadRequest || bad.header.Get("Set-Cookie") != "" || !strings.Contains(bad.body, "<h1>Langue non disponible</h1>") ||
		!strings.Contains(bad.body, `href="/.frontdoor/lang?to=en&amp;rd=%2fapp"`) {
		t.Errorf("unknown language: %d %q %s", bad.status, bad.header.Get("Set-Cookie"), bad.body)
	}

	// A mail sent from a French request is French.
	const email = "aline@example.com"
	if r := g.post(c, "/.frontdoor/register", url.Values{"email": {email}, "password": {testPassword}}); r.status != http.StatusOK ||
		!strings.Contains(r.body, "<h1>Consultez vos e-mails</h1>") || !strings.Contains(r.body, "<strong>"+email+"</strong>") {
		t.Fatalf("register in French: %d %s", r.status, r.body)
	}
	subject, text := waitMail(t, g.mailDir, email)
	if subject != "Confirmez votre adresse e-mail" || !strings.HasPrefix(text, "Bonjour,\r\n\r\nVeuillez confirmer votre adresse e-mail pour shop.test.") {
		t.Fatalf("French mail: subject %q, text %q", subject, text)
	}

	broken := t.TempDir()
	file := filepath.Join(broken, "messages.fr.json")
	if err := os.WriteFile(file, []byte(`{"login.titre": "Bienvenue"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := g.loadFails(gatewayOpts{site: "theme " + broken})
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), `unknown message id "login.titre"`) {
		t.Fatalf("load with a broken French catalogue: %v", err)
	}
}
