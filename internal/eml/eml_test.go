package eml

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRead: the text part of a multipart mail, and a single-part
// quoted-printable one, with their recipients; nothing from a missing file.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	multi := "To: Ann <ann@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nLink: https://x.test/v?token=3Dabc\r\n" +
		"--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b--\r\n"
	single := "To: bob@example.com\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCode: 12=\r\n34\r\n"
	for name, tc := range map[string]struct{ raw, text, rcpt string }{
		"multi.eml":  {multi, "Link: https://x.test/v?token=abc", "ann@example.com"},
		"single.eml": {single, "Code: 1234\r\n", "bob@example.com"},
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(tc.raw), 0o600); err != nil {
			t.Fatal(err)
		}
		if text, rcpt := Read(p); text != tc.text || rcpt != tc.rcpt {
			t.Errorf("%s: %q, %q; want %q, %q", name, text, rcpt, tc.text, tc.rcpt)
		}
	}
	if text, rcpt := Read(filepath.Join(dir, "none.eml")); text != "" || rcpt != "" {
		t.Errorf("missing file: %q, %q", text, rcpt)
	}
}
