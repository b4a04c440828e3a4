package sms_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/sms"
)

// TestDirSender: one private JSON file per message, code included, names
// sorting by send time, no temporary file left behind.
func TestDirSender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "texts")
	s, err := sms.NewDirSender(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir %v %v", fi.Mode(), err)
	}
	var kinds []string
	for i, kind := range []string{"first", "second", "third"} {
		m := testMessage()
		m.Kind, m.ID = kind, "sms_"+kind
		if err := s.Send(t.Context(), m); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		kinds = append(kinds, kind)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries { // ReadDir sorts by name
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("stray file %s", e.Name())
		}
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", e.Name(), fi.Mode())
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var rec sms.DirRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		m := testMessage()
		if rec.To != m.To || rec.Text != m.Text || rec.Code != testCode || rec.ID != "sms_"+rec.Kind || rec.Sent.IsZero() {
			t.Errorf("%s: %+v", e.Name(), rec)
		}
		got = append(got, rec.Kind)
	}
	if !slices.Equal(got, kinds) {
		t.Fatalf("files in name order hold %v, want %v", got, kinds)
	}

	bad := testMessage()
	bad.To = "nobody"
	if err := s.Send(t.Context(), bad); err == nil {
		t.Fatal("a bad number was written")
	}
	if _, err := sms.NewDirSender(""); err == nil {
		t.Fatal("empty directory accepted")
	}
}

// A reader of *.json never sees a file being written: the temporary file
// has no .json suffix (Go's filepath.Glob matches a leading dot).
func TestDirSenderTempInvisible(t *testing.T) {
	dir := t.TempDir()
	s, err := sms.NewDirSender(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), sms.Message{To: "+447400123456", Text: "Your code is 123456", Code: "123456", Kind: "verify_phone"}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("left %s behind", e.Name())
		}
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if m, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(m) != 1 {
		t.Fatalf("*.json matches %v", m)
	}
}
