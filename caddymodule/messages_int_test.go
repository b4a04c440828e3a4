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
