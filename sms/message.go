package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Message is one text message.
type Message struct {
	// To is the recipient in E.164 form, e.g. +447700900000 (ParseNumber
	// makes it).
	To string
	// Text is the whole message, the code inside it.
	Text string
	// Code is the one-time code Text carries, so that anything that logs
	// the message can withhold it; empty when Text carries none.
	Code string
	// Kind is a short, non-secret label for logs and metrics, e.g.
	// "verify_phone", "signin".
	Kind string
	// ID identifies the message to receivers (the webhook-id of the
	// webhook format), the same on every retry; Queue.Enqueue fills it
	// when empty.
	ID string
}

// Sender delivers one message. Implementations must not log Text or Code
// (LogSender logs Text with the code withheld) and must mark failures that
// retrying cannot fix with Permanent.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Bounds of a message.
const (
	// MaxText is the longest Text in characters: ten concatenated
	// segments, as Twilio's 1,600-character limit on a body allows.
	MaxText = 1600
	// maxKind and maxID bound the labels.
	maxKind = 64
	maxID   = 64
)

// ErrPermanent marks a failure that retrying cannot fix (a malformed
// message, a provider's 4xx answer other than 429); Queue gives up on it
// at once. Match it with errors.Is.
var ErrPermanent = errors.New("sms: permanent failure")

// permanentError keeps the cause's chain intact while also matching ErrPermanent.
type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

// Permanent marks err as a failure retrying cannot fix; senders outside
// this package (operators' own modules) use it too. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// validE164 reports whether s has E.164's shape: '+', a non-zero digit,
// and 7 to 15 digits in all. Validity for a region is ParseNumber's job.
func validE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Validate checks everything about m that does not depend on the sender,
// so a bad message is refused when it is enqueued rather than on a worker
// later. Its errors are permanent and never repeat Text or Code.
func (m Message) Validate() error {
	switch {
	case !validE164(m.To):
		return Permanent(errors.New("sms: To is not an E.164 number"))
	case m.Text == "":
		return Permanent(errors.New("sms: Text is required"))
	case !utf8.ValidString(m.Text):
		return Permanent(errors.New("sms: Text is not valid UTF-8"))
	case utf8.RuneCountInString(m.Text) > MaxText:
		return Permanent(fmt.Errorf("sms: Text is longer than %d characters", MaxText))
	case m.Code != "" && !strings.Contains(m.Text, m.Code):
		// A code that is not in the text would be withheld nowhere.
		return Permanent(errors.New("sms: Code is not in Text"))
	case !label(m.Kind, maxKind):
		return Permanent(fmt.Errorf("sms: Kind: use at most %d letters, digits, '.', '_' or '-'", maxKind))
	case !label(m.ID, maxID):
		return Permanent(fmt.Errorf("sms: ID: use at most %d letters, digits, '.', '_' or '-'", maxID))
	}
	return nil
}

// label reports whether s is a short ASCII label, safe in a log field or
// a header.
func label(s string, maxLen int) bool {
	if len(s) > maxLen {
		return false
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// NewID returns a fresh message id, "sms_" and 24 hex digits.
func NewID() (string, error) {
	var r [12]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("sms: message id: %w", err)
	}
	return "sms_" + hex.EncodeToString(r[:]), nil
}

// MaskNumber keeps the first three and the last four characters of an
// E.164 number for logs: +447700900123 → +44******0123. Anything that is
// not an E.164 number becomes "***".
func MaskNumber(s string) string {
	if !validE164(s) {
		return "***"
	}
	return s[:3] + strings.Repeat("*", len(s)-7) + s[len(s)-4:]
}

// CodePlaceholder replaces a one-time code wherever a message is logged.
const CodePlaceholder = "[code withheld]"

// minDigitRun is the shortest run of digits Redact withholds even when
// it is not the message's Code: a caller that forgot to name the code
// must not put it in a log.
const minDigitRun = 4

// Redact returns Text with Code, and every run of four or more digits,
// replaced by CodePlaceholder: the form of a message that may be logged.
func (m Message) Redact() string {
	s := m.Text
	if m.Code != "" {
		s = strings.ReplaceAll(s, m.Code, CodePlaceholder)
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		switch {
		case j-i >= minDigitRun:
			b.WriteString(CodePlaceholder)
			i = j
		case j > i:
			b.WriteString(s[i:j])
			i = j
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// scrub removes from s (an error's text, for a log) the message's code,
// text and number, which a careless sender's error might echo.
func scrub(s string, m Message) string {
	for _, secret := range []string{m.Text, m.Code} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, CodePlaceholder)
		}
	}
	if m.To != "" {
		s = strings.ReplaceAll(s, m.To, MaskNumber(m.To))
		// Providers often echo the number without its '+'.
		if len(m.To) > 1 {
			s = strings.ReplaceAll(s, m.To[1:], MaskNumber(m.To))
		}
	}
	return s
}
