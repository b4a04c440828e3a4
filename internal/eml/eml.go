// Package eml reads the .eml files Frontdoor's `mailer dir` writes, for the
// tests and the benchmarks that follow mailed links.
package eml

import (
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"strings"
)

// Read returns the decoded text part and the recipient of an .eml file,
// as the `mailer dir` writes them; "", "" if it cannot be read.
func Read(path string) (text, rcpt string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		return "", ""
	}
	if to, err := mail.ParseAddress(msg.Header.Get("To")); err == nil {
		rcpt = to.Address
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "multipart/") {
		var r io.Reader = msg.Body
		if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(r)
		}
		b, _ := io.ReadAll(r)
		return string(b), rcpt
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return "", rcpt
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, _ := io.ReadAll(p) // multipart decodes quoted-printable
			return string(b), rcpt
		}
	}
}
