package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/frontdoorhq/frontdoor/internal/spool"
)

// DirSender writes one JSON file per message into Dir, for development
// and tests: the file holds the whole text, code included, so the
// directory is private (0700) and each file 0600. Files appear whole: a
// reader never sees half a message.
type DirSender struct {
	Dir string
}

// DirRecord is the content of one file DirSender writes.
type DirRecord struct {
	ID   string    `json:"id"`
	To   string    `json:"to"`
	Kind string    `json:"kind,omitempty"`
	Text string    `json:"text"`
	Code string    `json:"code,omitempty"`
	Sent time.Time `json:"sent"`
}

// NewDirSender creates dir (0700) if it is missing.
func NewDirSender(dir string) (*DirSender, error) {
	if dir == "" {
		return nil, errors.New("sms: dir sender: empty directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sms: dir sender: create %q: %w", dir, err)
	}
	return &DirSender{Dir: dir}, nil
}

// Send writes m to a temporary file and renames it to
// <UTC time>-<random>.json, so names sort by send time.
func (d *DirSender) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sms: dir sender: %w", err)
	}
	if err := m.Validate(); err != nil {
		return err
	}
	// Wall time: names sort by when the files were written.
	now := time.Now()
	body, err := json.MarshalIndent(DirRecord{ID: m.ID, To: m.To, Kind: m.Kind, Text: m.Text, Code: m.Code, Sent: now.UTC()}, "", "\t")
	if err != nil {
		return Permanent(fmt.Errorf("sms: dir sender: encode: %w", err))
	}
	if err := spool.Write(d.Dir, ".json", now, append(body, '\n')); err != nil {
		return fmt.Errorf("sms: dir sender: %w", err)
	}
	return nil
}

// Interface guards
var _ Sender = (*DirSender)(nil)
