package benchkit

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// WaitMail waits up to 30 s for a mail to `to` in dir (a `mailer dir`)
// holding a link with needle, removes the mail and returns the link.
func WaitMail(ctx context.Context, dir, to, needle string) (string, error) {
	re := regexp.MustCompile(`https://[^\s"<>]*` + regexp.QuoteMeta(needle) + `[^\s"<>]*`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		sort.Strings(files)
		for _, f := range files {
			if strings.HasPrefix(filepath.Base(f), ".") {
				continue // still being written
			}
			text, rcpt := ReadMail(f)
			if !strings.EqualFold(rcpt, to) {
				continue
			}
			if l := re.FindString(text); l != "" {
				_ = os.Remove(f)
				return l, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("benchkit: no mail to %s with %s", to, needle)
}

// ReadMail returns the text part and the recipient of an .eml file.
func ReadMail(path string) (text, rcpt string) {
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
