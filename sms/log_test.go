package sms_test

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/frontdoorhq/frontdoor/sms"
)

// bufferLogger logs JSON into a buffer, as Caddy's log file would hold it.
func bufferLogger() (*zap.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel)), &buf
}

// TestLogSenderWithholdsCode: the log sender says what it would send,
// never the code, and warns at start-up that it is for development.
func TestLogSenderWithholdsCode(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	logger, buf := bufferLogger()
	s := sms.NewLogSender(zap.New(zapcore.NewTee(core, logger.Core())))
	if err := s.Send(t.Context(), testMessage()); err != nil {
		t.Fatal(err)
	}
	// A caller that forgot to name the code: digit runs are withheld too.
	m := testMessage()
	m.Code = ""
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	entries := logs.AllUntimed()
	if len(entries) != 3 || entries[0].Level != zapcore.WarnLevel || !strings.Contains(entries[0].Message, "for development only") {
		t.Fatalf("entries %+v", entries)
	}
	for _, e := range entries[1:] {
		f := e.ContextMap()
		if f["to"] != "+44******3456" || f["kind"] != "verify_phone" || f["text"] != "Your Shop code is [code withheld]. It expires in 10 minutes." {
			t.Errorf("fields %v", f)
		}
	}
	if out := buf.String(); strings.Contains(out, testCode) || strings.Contains(out, "7400123456") {
		t.Fatalf("the log holds the code or the number:\n%s", out)
	}

	// It refuses what a real sender would.
	bad := testMessage()
	bad.To = "07400123456"
	if err := s.Send(t.Context(), bad); err == nil {
		t.Error("a national number was accepted")
	}
}

func TestRedactAndMask(t *testing.T) {
	for text, want := range map[string]string{
		"Code: 482913":             "Code: [code withheld]",
		"Code 48-29-13, not 123":   "Code 48-29-13, not 123",
		"Use 1234 or 9876543210.":  "Use [code withheld] or [code withheld].",
		"No digits at all":         "No digits at all",
		"Ünïcode 12345 ✓":          "Ünïcode [code withheld] ✓",
		"code A1B2C3 is yours 777": "code [code withheld] is yours 777",
	} {
		m := sms.Message{Text: text}
		if strings.Contains(text, "A1B2C3") {
			m.Code = "A1B2C3"
		}
		if got := m.Redact(); got != want {
			t.Errorf("Redact(%q) = %q, want %q", text, got, want)
		}
	}
	for in, want := range map[string]string{
		"+447400123456": "+44******3456", "+12015550123": "+12*****0123", "+3361234": "+33*1234",
		"07400123456": "***", "+44 7400": "***", "": "***",
	} {
		if got := sms.MaskNumber(in); got != want {
			t.Errorf("MaskNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMessageValidate(t *testing.T) {
	if err := testMessage().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*sms.Message){
		"national":     func(m *sms.Message) { m.To = "07400123456" },
		"spaces":       func(m *sms.Message) { m.To = "+44 7400 123456" },
		"no text":      func(m *sms.Message) { m.Text, m.Code = "", "" },
		"long":         func(m *sms.Message) { m.Text = strings.Repeat("a", sms.MaxText+1) + m.Code },
		"not utf8":     func(m *sms.Message) { m.Text += "\xff" },
		"code missing": func(m *sms.Message) { m.Code = "999999" },
		"kind":         func(m *sms.Message) { m.Kind = "verify phone" },
		"id":           func(m *sms.Message) { m.ID = "a\nb" },
	} {
		m := testMessage()
		edit(&m)
		if err := m.Validate(); err == nil || leaks(err) != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
