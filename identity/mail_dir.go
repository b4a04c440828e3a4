package identity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/spool"
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
	if err := spool.Write(d.Dir, ".eml", now, msg); err != nil {
		return fmt.Errorf("identity: dir mailer: %w", err)
	}
	return nil
}

// Interface guards
var _ Mailer = (*DirMailer)(nil)
