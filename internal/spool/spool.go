// Package spool writes the one-file-per-message directories of the
// development senders (the dir mailer, the dir text sender): names that
// sort by time, files that appear whole.
package spool

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Write puts body in dir as <UTC time>-<random><suffix> (mode 0600),
// written to a temporary file and renamed, so a reader never sees it half
// done. The temporary file is named .tmp-… without the suffix: a reader
// of *<suffix> never picks it up (Go's filepath.Match takes a leading dot
// too). Errors name the step that failed.
func Write(dir, suffix string, now time.Time, body []byte) error {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	name := now.UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(r[:]) + suffix
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("create: %w", err)
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
		return fmt.Errorf("chmod: %w", err)
	}
	if _, err := f.Write(body); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	committed = true
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rename: %w", err)
	}
	return nil
}
