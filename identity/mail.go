package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

// Message is one email. Text is required; HTML optional (multipart/alternative when present).
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
	// Kind is a short, non-secret label for logs and metrics, e.g. "verify", "already_registered".
	Kind string
	// Date is when the message was written (its Date header: RFC 5322's
	// origination date, not the delivery attempt), on the caller's clock,
	// so it agrees with the expiry of the link inside. Zero: when it is built.
	Date time.Time
}

// Mailer delivers one message. Implementations must not log bodies: they carry
// sign-in links and tokens (LogMailer, the development mailer, is the exception).
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// ErrPermanent marks a failure that retrying cannot fix (a malformed message, a
// 5xx reply from the server); Queue gives up on it at once.
var ErrPermanent = errors.New("identity: permanent mail failure")

// permanentError keeps the cause's chain intact while also matching ErrPermanent.
type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

func permanent(err error) error { return permanentError{err: err} }

var errHeaderInjection = errors.New("contains CR or LF")

// maxHeaderLine is RFC 5322's hard limit on a line, without the CRLF.
const maxHeaderLine = 998

// validate checks everything about m that does not depend on the sender, so a
// bad message is refused when it is enqueued rather than on a worker later.
func (m Message) validate() error {
	if strings.ContainsAny(m.To, "\r\n") {
		return permanent(fmt.Errorf("identity: mail: To %w", errHeaderInjection))
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return permanent(fmt.Errorf("identity: mail: Subject %w", errHeaderInjection))
	}
	if _, err := parseAddress(m.To); err != nil {
		return permanent(fmt.Errorf("identity: mail: To: %w", err))
	}
	if m.Text == "" {
		return permanent(errors.New("identity: mail: Text is required"))
	}
	for name, v := range map[string]string{"Subject": m.Subject, "Text": m.Text, "HTML": m.HTML} {
		if !utf8.ValidString(v) {
			return permanent(fmt.Errorf("identity: mail: %s is not valid UTF-8", name))
		}
	}
	return nil
}

// parseAddress accepts one RFC 5322 address whose addr-spec is ASCII: a UTF-8
// local part would need SMTPUTF8 end to end, which we cannot promise.
func parseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errHeaderInjection
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(a.Address); i++ {
		if a.Address[i] >= utf8.RuneSelf {
			return nil, errors.New("non-ASCII address is not supported")
		}
	}
	return a, nil
}

// BuildMessage renders m as RFC 5322 bytes with CRLF line endings, dated
// m.Date, or now when m has no date.
func BuildMessage(from string, m Message, now time.Time) ([]byte, error) {
	if !m.Date.IsZero() {
		now = m.Date
	}
	fromAddr, err := parseAddress(from)
	if err != nil {
		return nil, permanent(fmt.Errorf("identity: mail: From: %w", err))
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	toAddr, err := parseAddress(m.To)
	if err != nil {
		return nil, permanent(fmt.Errorf("identity: mail: To: %w", err))
	}
	msgID, err := newMessageID(fromAddr.Address)
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	h := headerWriter{w: &b}
	h.add("From", fromAddr.String())
	h.add("To", toAddr.String())
	h.add("Subject", encodeHeaderText(m.Subject))
	h.add("Date", now.Format(time.RFC1123Z))
	h.add("Message-ID", msgID)
	h.add("MIME-Version", "1.0")
	// RFC 3834: keeps vacation responders from answering transactional mail.
	h.add("Auto-Submitted", "auto-generated")

	if m.HTML == "" {
		h.add("Content-Type", "text/plain; charset=utf-8")
		h.add("Content-Transfer-Encoding", "quoted-printable")
		if h.err != nil {
			return nil, h.err
		}
		b.WriteString("\r\n")
		if err := writeQP(&b, m.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}

	mw := multipart.NewWriter(&b)
	h.add("Content-Type", mime.FormatMediaType("multipart/alternative",
		map[string]string{"boundary": mw.Boundary()}))
	if h.err != nil {
		return nil, h.err
	}
	b.WriteString("\r\n")
	// Plain text first: multipart/alternative lists the least preferred part first.
	for _, p := range []struct{ ctype, body string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("identity: mail: build part: %w", err)
		}
		if err := writeQP(pw, p.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("identity: mail: build: %w", err)
	}
	return b.Bytes(), nil
}

type headerWriter struct {
	w   *bytes.Buffer
	err error
}

func (h *headerWriter) add(name, value string) {
	if h.err != nil {
		return
	}
	line := name + ": " + value
	for _, l := range strings.Split(line, "\r\n") {
		if len(l) > maxHeaderLine {
			h.err = permanent(fmt.Errorf("identity: mail: %s header too long", name))
			return
		}
	}
	h.w.WriteString(line)
	h.w.WriteString("\r\n")
}

// encodeHeaderText RFC 2047-encodes s when it is not plain ASCII, folding
// between encoded words so no line grows past the limit.
func encodeHeaderText(s string) string {
	enc := mime.QEncoding.Encode("utf-8", s)
	if enc == s {
		return s
	}
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

func writeQP(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, s); err != nil {
		return fmt.Errorf("identity: mail: encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return fmt.Errorf("identity: mail: encode body: %w", err)
	}
	return nil
}

func newMessageID(fromAddr string) (string, error) {
	domain := "localhost"
	if at := strings.LastIndexByte(fromAddr, '@'); at >= 0 && at < len(fromAddr)-1 {
		domain = fromAddr[at+1:]
	}
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("identity: mail: message id: %w", err)
	}
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">", nil
}

// redactAddress turns "jane@example.com" into "j***@example.com" for logs.
func redactAddress(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "***"
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 0 {
		return "***"
	}
	local, domain := a.Address[:at], a.Address[at+1:]
	if local == "" {
		return "***@" + domain
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// LogMailer writes the whole message, links included, to the log. It is the
// development default and must never be used where the log leaves the machine.
type LogMailer struct {
	// logger is swapped whole when the log configuration changes (a
	// config reload) while sends are in flight.
	logger atomic.Pointer[zap.Logger]
	from   string
}

// NewLogMailer returns a LogMailer and warns, once, that bodies will be logged.
func NewLogMailer(logger *zap.Logger, from string) *LogMailer {
	l := &LogMailer{from: from}
	l.SetLogger(logger)
	l.logger.Load().Warn("log mailer in use: every email, including sign-in links and tokens, is written to the log; for development only")
	return l
}

// SetLogger replaces the logger messages go to; safe while sending.
func (l *LogMailer) SetLogger(logger *zap.Logger) {
	if logger == nil {
		logger = zap.NewNop()
	}
	l.logger.Store(logger)
}

// Send validates m like a real mailer would, then logs it in full.
func (l *LogMailer) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("identity: log mailer: %w", err)
	}
	if err := m.validate(); err != nil {
		return err
	}
	fields := []zap.Field{
		zap.String("kind", m.Kind),
		zap.String("from", l.from),
		zap.String("to", m.To),
		zap.String("subject", m.Subject),
		zap.String("text", m.Text),
	}
	if m.HTML != "" {
		fields = append(fields, zap.String("html", m.HTML))
	}
	l.logger.Load().Info("email (log mailer)", fields...)
	return nil
}

// Interface guards
var _ Mailer = (*LogMailer)(nil)
