package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DirMailer writes one RFC 5322 .eml file per message into Dir, for
// development and tests. Files appear whole: a reader never sees half a message.
type DirMailer struct {
	// Dir receives the .eml files; it holds live links, so it is private (0700).
	Dir  string
	from string
}

// NewDirMailer creates dir (0700) if it is missing and checks from.
func NewDirMailer(dir, from string) (*DirMailer, error) {
	if dir == "" {
		return nil, errors.New("identity: dir mailer: empty directory")
	}
	if _, err := parseAddress(from); err != nil {
		return nil, fmt.Errorf("identity: dir mailer: from: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: dir mailer: create %q: %w", dir, err)
	}
	return &DirMailer{Dir: dir, from: from}, nil
}

// Send writes m to a temporary file and renames it to
// <UTC time>-<random>.eml, so names sort by send time.
func (d *DirMailer) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("identity: dir mailer: %w", err)
	}
	// Wall time: names sort by when the files were written; the Date
	// header is m.Date when the caller dated the message.
	now := time.Now()
	msg, err := BuildMessage(d.from, m, now)
	if err != nil {
		return err
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return fmt.Errorf("identity: dir mailer: name: %w", err)
	}
	name := now.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(r[:]) + ".eml"

	// Named .tmp-…, without the .eml suffix: a reader of *.eml (Go's
	// filepath.Match takes a leading dot too) never sees a file half done.
	f, err := os.CreateTemp(d.Dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("identity: dir mailer: create: %w", err)
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; Chmod guards against a future change there.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("identity: dir mailer: chmod: %w", err)
	}
	if _, err := f.Write(msg); err != nil {
		return fmt.Errorf("identity: dir mailer: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("identity: dir mailer: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("identity: dir mailer: close: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(d.Dir, name)); err != nil {
		_ = os.Remove(tmp)
		committed = true
		return fmt.Errorf("identity: dir mailer: rename: %w", err)
	}
	committed = true
	return nil
}

// Interface guards
var _ Mailer = (*DirMailer)(nil)
