package identity

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const testFrom = "Shop <no-reply@shop.example.com>"

// parsedMail is a message read back the way a mail client would.
type parsedMail struct {
	header mail.Header
	parts  map[string]string // media type → decoded body
}

func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	if i := bytes.IndexByte(bytes.ReplaceAll(raw, []byte("\r\n"), nil), '\n'); i >= 0 {
		t.Fatalf("bare LF in message at %d", i)
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line longer than 998 octets: %q", line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read message: %v\n%s", err, raw)
	}
	p := parsedMail{header: msg.Header, parts: map[string]string{}}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	if mt != "multipart/alternative" {
		if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Fatalf("Content-Transfer-Encoding = %q", cte)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		if err != nil {
			t.Fatalf("decode body: %v", err)
		}
		p.parts[mt] = string(body)
		return p
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable itself
		if errors.Is(err, io.EOF) {
			return p
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		pt, pp, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil || pp["charset"] != "utf-8" {
			t.Fatalf("part Content-Type %q: %v", part.Header.Get("Content-Type"), err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		p.parts[pt] = string(body)
	}
}

func TestBuildMessage(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name string
		m    Message
	}{
		{"text only", Message{To: "jane@example.com", Subject: "Verify your email", Text: "Open https://shop.example.com/v?t=abc\n"}},
		{"multipart", Message{To: "Jane Doe <jane@example.com>", Subject: "Welcome", Text: "Hi\nline two", HTML: "<p>Hi <a href=\"https://x.example/?a=1&b=2\">link</a></p>"}},
		{"non-ASCII subject and body", Message{To: "jane@example.com", Subject: "Bestätigen Sie Ihre E-Mail-Adresse — " + strings.Repeat("ünïcödé ", 12), Text: "Grüße " + strings.Repeat("x", 200), HTML: "<p>Grüße</p>"}},
		{"leading dots", Message{To: "jane@example.com", Subject: "dots", Text: ".\n..\n.hidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := BuildMessage(testFrom, tt.m, now)
			if err != nil {
				t.Fatalf("BuildMessage: %v", err)
			}
			p := parseMail(t, raw)

			to, err := p.header.AddressList("To")
			if err != nil || len(to) != 1 || to[0].Address != "jane@example.com" {
				t.Errorf("To = %v, %v", to, err)
			}
			from, err := p.header.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Address != "no-reply@shop.example.com" || from[0].Name != "Shop" {
				t.Errorf("From = %v, %v", from, err)
			}
			subj, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
			if err != nil || subj != tt.m.Subject {
				t.Errorf("Subject = %q, %v; want %q", subj, err, tt.m.Subject)
			}
			if d, err := p.header.Date(); err != nil || !d.Equal(now) {
				t.Errorf("Date = %v, %v", d, err)
			}
			if id := p.header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@shop.example.com>") {
				t.Errorf("Message-ID = %q", id)
			}
			if p.header.Get("MIME-Version") != "1.0" {
				t.Errorf("MIME-Version = %q", p.header.Get("MIME-Version"))
			}
			want := map[string]string{"text/plain": strings.ReplaceAll(tt.m.Text, "\n", "\r\n")}
			if tt.m.HTML != "" {
				want["text/html"] = tt.m.HTML
			}
			if len(p.parts) != len(want) {
				t.Fatalf("parts = %v, want %v", p.parts, want)
			}
			for ct, body := range want {
				if p.parts[ct] != body {
					t.Errorf("%s = %q, want %q", ct, p.parts[ct], body)
				}
			}
		})
	}
}

func TestBuildMessageUniqueIDs(t *testing.T) {
	m := Message{To: "jane@example.com", Subject: "s", Text: "t"}
	a, err := BuildMessage(testFrom, m, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildMessage(testFrom, m, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if parseMail(t, a).header.Get("Message-ID") == parseMail(t, b).header.Get("Message-ID") {
		t.Error("two messages share a Message-ID")
	}
}

func TestBuildMessageRejects(t *testing.T) {
	ok := Message{To: "jane@example.com", Subject: "Hello", Text: "body"}
	with := func(f func(*Message)) Message { m := ok; f(&m); return m }
	tests := []struct {
		name string
		from string
		m    Message
	}{
		{"To with CRLF Bcc", testFrom, with(func(m *Message) { m.To = "jane@example.com\r\nBcc: evil@example.net" })},
		{"To with bare LF", testFrom, with(func(m *Message) { m.To = "jane@example.com\nBcc: evil@example.net" })},
		{"Subject with CRLF", testFrom, with(func(m *Message) { m.Subject = "Hi\r\nBcc: evil@example.net" })},
		{"Subject with CR", testFrom, with(func(m *Message) { m.Subject = "Hi\rX-Evil: 1" })},
		{"From with CRLF", "no-reply@shop.example.com\r\nBcc: evil@example.net", ok},
		{"invalid From", "not an address", ok},
		{"invalid To", testFrom, with(func(m *Message) { m.To = "jane" })},
		{"two recipients", testFrom, with(func(m *Message) { m.To = "a@example.com, b@example.com" })},
		{"empty To", testFrom, with(func(m *Message) { m.To = "" })},
		{"non-ASCII address", testFrom, with(func(m *Message) { m.To = "jäne@example.com" })},
		{"empty Text", testFrom, with(func(m *Message) { m.Text = "" })},
		{"invalid UTF-8", testFrom, with(func(m *Message) { m.Text = "\xff" })},
		{"Subject too long", testFrom, with(func(m *Message) { m.Subject = strings.Repeat("a", 1000) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := BuildMessage(tt.from, tt.m, time.Now())
			if err == nil {
				t.Fatalf("BuildMessage accepted it:\n%s", raw)
			}
			if !errors.Is(err, ErrPermanent) {
				t.Errorf("error %v is not ErrPermanent", err)
			}
		})
	}
}

func TestRedactAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"jane@example.com", "j***@example.com"},
		{"Jane Doe <jane.doe@example.com>", "j***@example.com"},
		{"x@example.com", "x***@example.com"},
		{"élise@example.com", "é***@example.com"},
		{"garbage", "***"},
		{"", "***"},
	}
	for _, tt := range tests {
		if got := redactAddress(tt.in); got != tt.want {
			t.Errorf("redactAddress(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDirMailer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox", "mail")
	d, err := NewDirMailer(dir, testFrom)
	if err != nil {
		t.Fatalf("NewDirMailer: %v", err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	msgs := []Message{
		{To: "a@example.com", Subject: "one", Text: "first https://shop.example.com/t=1", Kind: "verify"},
		{To: "b@example.com", Subject: "two", Text: "second", HTML: "<b>second</b>", Kind: "reset"},
	}
	for _, m := range msgs {
		if err := d.Send(t.Context(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if err := d.Send(t.Context(), Message{To: "a@example.com\r\nBcc: x@example.net", Text: "x"}); err == nil {
		t.Error("Send accepted header injection")
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]parsedMail{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("unexpected file %q left in dir", e.Name())
			continue
		}
		fi, err := e.Info()
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, %v; want 0600", e.Name(), fi.Mode().Perm(), err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		p := parseMail(t, raw)
		to, err := p.header.AddressList("To")
		if err != nil {
			t.Fatal(err)
		}
		got[to[0].Address] = p
	}
	if len(got) != len(msgs) {
		t.Fatalf("found %d messages, want %d", len(got), len(msgs))
	}
	for _, m := range msgs {
		p := got[m.To]
		if p.parts["text/plain"] != m.Text || (m.HTML != "" && p.parts["text/html"] != m.HTML) {
			t.Errorf("%s: parts = %v", m.To, p.parts)
		}
	}
}

func TestDirMailerRejectsBadConfig(t *testing.T) {
	if _, err := NewDirMailer("", testFrom); err == nil {
		t.Error("empty dir accepted")
	}
	if _, err := NewDirMailer(t.TempDir(), "nobody"); err == nil {
		t.Error("invalid from accepted")
	}
}

func TestLogMailer(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	l := NewLogMailer(zap.New(core), testFrom)
	if n := logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
		t.Fatalf("construction warnings = %d, want 1", n)
	}
	link := "https://shop.example.com/verify?t=secret-token"
	if err := l.Send(t.Context(), Message{To: "jane@example.com", Subject: "Verify", Text: "Open " + link, Kind: "verify"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := l.Send(t.Context(), Message{To: "jane@example.com\r\nBcc: x@example.net", Text: "x"}); err == nil {
		t.Error("Send accepted header injection")
	}
	infos := logs.FilterLevelExact(zapcore.InfoLevel).All()
	if len(infos) != 1 || !strings.Contains(infos[0].ContextMap()["text"].(string), link) {
		t.Errorf("info entries = %v, want one with the link", infos)
	}
	if logs.FilterLevelExact(zapcore.WarnLevel).Len() != 1 {
		t.Error("warned more than once")
	}
}

func TestLogMailerHonoursContext(t *testing.T) {
	l := NewLogMailer(zap.NewNop(), testFrom)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Send(ctx, Message{To: "jane@example.com", Text: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestLogMailerSetLogger: after SetLogger (a reload that changes the log
// output) messages go to the new logger only.
func TestLogMailerSetLogger(t *testing.T) {
	oldCore, oldLogs := observer.New(zapcore.DebugLevel)
	newCore, newLogs := observer.New(zapcore.DebugLevel)
	l := NewLogMailer(zap.New(oldCore), testFrom)
	l.SetLogger(zap.New(newCore))
	if err := l.Send(t.Context(), Message{To: "jane@example.com", Subject: "Verify", Text: "x", Kind: "verify"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if oldLogs.FilterMessage("email (log mailer)").Len() != 0 || newLogs.FilterMessage("email (log mailer)").Len() != 1 {
		t.Fatalf("old logger %d entries, new logger %d; want the message on the new one only",
			oldLogs.FilterMessage("email (log mailer)").Len(), newLogs.FilterMessage("email (log mailer)").Len())
	}
	l.SetLogger(nil) // nil means discard, not a panic
	if err := l.Send(t.Context(), Message{To: "jane@example.com", Text: "x"}); err != nil {
		t.Fatalf("Send after SetLogger(nil): %v", err)
	}
}

// stuckThenFails blocks its first send until release is closed, then fails
// it as a transient error would.
type stuckThenFails struct {
	started chan struct{}
	release chan struct{}
}

func (s *stuckThenFails) Send(ctx context.Context, _ Message) error {
	close(s.started)
	select {
	case <-s.release:
		return errors.New("421 try again later")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestQueueSetMailerAndLogger: a message whose send is under way when the
// mailer is replaced (a config reload) is retried with the new mailer, and
// the queue logs to the new logger; nothing is dropped.
func TestQueueSetMailerAndLogger(t *testing.T) {
	old := &stuckThenFails{started: make(chan struct{}), release: make(chan struct{})}
	q, oldLogs := newTestQueue(t, old, QueueOptions{Workers: 1, Backoff: time.Millisecond})
	msg := Message{To: "jane@example.com", Text: "x", Kind: "verify"}
	if err := q.Enqueue(msg); err != nil {
		t.Fatal(err)
	}
	<-old.started
	next := &scriptedMailer{sent: make(chan Message, 1)}
	core, newLogs := observer.New(zapcore.DebugLevel)
	q.SetMailer(next)
	q.SetLogger(zap.New(core))
	q.SetMailer(nil) // ignored
	close(old.release)
	select {
	case got := <-next.sent:
		if got != msg {
			t.Fatalf("delivered %+v, want %+v", got, msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pending message was not retried with the new mailer")
	}
	closeQueue(t, q)
	if newLogs.FilterMessage("mail sent").Len() != 1 || oldLogs.FilterMessage("mail sent").Len() != 0 {
		t.Fatalf("mail sent logged %d times on the new logger, %d on the old; want 1, 0",
			newLogs.FilterMessage("mail sent").Len(), oldLogs.FilterMessage("mail sent").Len())
	}
}

// TestBuildMessageDate: a dated message carries its own date (the app's
// clock, which tests move), not the time it is built.
func TestBuildMessageDate(t *testing.T) {
	built := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	written := built.Add(-26 * time.Hour)
	for _, tt := range []struct {
		date time.Time
		want time.Time
	}{{time.Time{}, built}, {written, written}} {
		raw, err := BuildMessage(testFrom, Message{To: "jane@example.com", Subject: "s", Text: "t", Date: tt.date}, built)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseMail(t, raw).header.Date()
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("Date = %v, %v; want %v", got, err, tt.want)
		}
	}
}
