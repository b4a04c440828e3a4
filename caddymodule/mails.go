package caddymodule

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
)

type mailData struct {
	Link string
	Site string
	// Code is a one-time code to type instead of following Link.
	Code string
}

type mailTemplate struct {
	subject string
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

func newMailTemplate(subject, text, html string) mailTemplate {
	return mailTemplate{
		subject: subject,
		text:    texttemplate.Must(texttemplate.New("text").Parse(text)),
		html:    htmltemplate.Must(htmltemplate.New("html").Parse(html)),
	}
}

const mailHTMLHead = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1b1f24;max-width:32rem">`

var (
	mailVerify = newMailTemplate("Confirm your email address",
		"Hello,\n\nPlease confirm your email address for {{.Site}} by opening this link:\n\n{{.Link}}\n\nThe link works once, for 24 hours. If you did not create an account, ignore this message.\n",
		mailHTMLHead+`<p>Hello,</p><p>Please confirm your email address for {{.Site}}.</p>`+
			`<p><a href="{{.Link}}" style="display:inline-block;padding:.6rem 1rem;background:#0b5cad;color:#fff;border-radius:6px;text-decoration:none">Confirm my email</a></p>`+
			`<p style="color:#57606a;font-size:.9rem">Or copy this link: {{.Link}}<br>It works once, for 24 hours. If you did not create an account, ignore this message.</p></body></html>`)
	mailAlreadyRegistered = newMailTemplate("You already have an account",
		"Hello,\n\nSomeone (hopefully you) tried to create an account on {{.Site}} with this email address, but you already have one.\n\nSign in here: {{.Link}}\n\nIf it wasn't you, you can ignore this message; your account has not changed.\n",
		mailHTMLHead+`<p>Hello,</p><p>Someone (hopefully you) tried to create an account on {{.Site}} with this email address, but you already have one.</p>`+
			`<p><a href="{{.Link}}">Sign in</a></p><p style="color:#57606a;font-size:.9rem">If it wasn't you, you can ignore this message; your account has not changed.</p></body></html>`)
	mailResetPassword = newMailTemplate("Reset your password",
		"Hello,\n\nSomeone (hopefully you) asked to reset the password of your account on {{.Site}}. To choose a new password, open this link:\n\n{{.Link}}\n\nThe link works once, for 30 minutes. If you did not ask for this, ignore this message: nothing changes unless the link is followed, and your current password keeps working.\n",
		mailHTMLHead+`<p>Hello,</p><p>Someone (hopefully you) asked to reset the password of your account on {{.Site}}.</p>`+
			`<p><a href="{{.Link}}" style="display:inline-block;padding:.6rem 1rem;background:#0b5cad;color:#fff;border-radius:6px;text-decoration:none">Choose a new password</a></p>`+
			`<p style="color:#57606a;font-size:.9rem">Or copy this link: {{.Link}}<br>It works once, for 30 minutes. If you did not ask for this, ignore this message: nothing changes unless the link is followed, and your current password keeps working.</p></body></html>`)
	mailMagicLink = newMailTemplate("Your sign-in link",
		"Hello,\n\nSomeone (hopefully you) asked to sign in to {{.Site}} with this email address. To sign in, open this link in the browser where you asked:\n\n{{.Link}}\n\nOr type this code there: {{.Code}}\n\nThe link works once, for 15 minutes; the code for 10 minutes. If you did not ask for this, ignore this message: nobody can sign in without the link or the code.\n",
		mailHTMLHead+`<p>Hello,</p><p>Someone (hopefully you) asked to sign in to {{.Site}} with this email address. To sign in, open this link in the browser where you asked:</p>`+
			`<p><a href="{{.Link}}" style="display:inline-block;padding:.6rem 1rem;background:#0b5cad;color:#fff;border-radius:6px;text-decoration:none">Sign in</a></p>`+
			`<p>Or type this code there: <strong style="font-size:1.3rem;letter-spacing:.2rem">{{.Code}}</strong></p>`+
			`<p style="color:#57606a;font-size:.9rem">Or copy this link: {{.Link}}<br>The link works once, for 15 minutes; the code for 10 minutes. If you did not ask for this, ignore this message: nobody can sign in without the link or the code.</p></body></html>`)
)

// queueMail renders and queues a message; failures are logged without the
// message (it holds a link that works as a credential).
func (h *Handler) queueMail(to, kind string, t mailTemplate, d mailData) {
	var text, html bytes.Buffer
	if err := t.text.Execute(&text, d); err != nil {
		h.logger.Error("rendering mail", zap.String("kind", kind), zap.Error(err))
		return
	}
	if err := t.html.Execute(&html, d); err != nil {
		h.logger.Error("rendering mail", zap.String("kind", kind), zap.Error(err))
		return
	}
	err := h.app.mail.Enqueue(identity.Message{To: to, Subject: t.subject, Text: text.String(), HTML: html.String(), Kind: kind, Date: h.app.backend.clock.Now()})
	if err != nil {
		h.logger.Error("queueing mail", zap.String("kind", kind), zap.Error(err))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return strings.ToLower(hex.EncodeToString(sum[:6]))
}
