package caddymodule

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
)

type mailData struct {
	Link string
	Site string
	// Code is a one-time code to type instead of following Link.
	Code string
	// Email is another address the mail is about, masked (the new
	// address of an account, told to the old one).
	Email string
	// Accent is the colour of the mail's button; Logo the absolute URL of
	// the brand's logo, if any (set by queueMail).
	Accent string
	Logo   string
	// Role and Expires describe an invitation.
	Role    string
	Expires time.Time
	// Lang is the mail's language tag (set by queueMail).
	Lang string
	// Device, Place, When and Why describe a sign-in the customer is told
	// of (Why: the signal that made the policy tell them).
	Device, Place, Why string
	When               time.Time
	// NotMe is the sign-in mail's "this wasn't me" link.
	NotMe string
	// Phone is the account's new phone number, masked ("" : removed).
	Phone string
}

// maskEmail keeps enough of an address to recognise it: the first letter
// of the local part and the domain.
func maskEmail(a string) string {
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// queueMail renders and queues a message in the language ctx carries
// (English if none); failures are logged without the message (it holds a
// link that works as a credential).
func (h *Handler) queueMail(ctx context.Context, to, kind string, d mailData) {
	if to == "" {
		return // a customer who signed up by phone and gave no address
	}
	d.Site, d.Accent = h.siteName(), defaultAccent
	if h.Brand != nil {
		if h.Brand.Colour != "" {
			d.Accent = strings.ToLower(h.Brand.Colour)
		}
		if h.Brand.Logo != "" {
			d.Logo = h.origin + h.Brand.Logo
		}
	}
	l, ok := h.pages.localeIn(ctx)
	if !ok {
		l = h.pages.locales[0]
	}
	d.Lang = l.tag
	t, ok := l.mail[kind]
	if !ok {
		h.logger.Error("rendering mail: no such mail", zap.String("kind", kind))
		return
	}
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

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return strings.ToLower(hex.EncodeToString(sum[:6]))
}
