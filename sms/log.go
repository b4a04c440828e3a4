package sms

import (
	"context"
	"fmt"
	"sync/atomic"

	"go.uber.org/zap"
)

// LogSender writes each message to the log, number masked and code
// withheld (Message.Redact), so a customer can never be signed in from
// the log. Nobody receives anything: it is the development default.
type LogSender struct {
	// logger is swapped whole when the log configuration changes (a
	// config reload) while sends are in flight.
	logger atomic.Pointer[zap.Logger]
}

// NewLogSender returns a LogSender and warns, once, that it delivers
// nothing.
func NewLogSender(logger *zap.Logger) *LogSender {
	l := NewQuietLogSender(logger)
	l.logger.Load().Warn("log text-message sender in use: messages go to the log with their codes withheld and reach nobody; for development only (set sms dir or sms http)")
	return l
}

// NewQuietLogSender is NewLogSender without the start-up warning: the
// sender of a config that names none (and sends nothing yet).
func NewQuietLogSender(logger *zap.Logger) *LogSender {
	l := &LogSender{}
	l.SetLogger(logger)
	return l
}

// SetLogger replaces the logger messages go to; safe while sending. Nil
// discards.
func (l *LogSender) SetLogger(logger *zap.Logger) {
	if logger == nil {
		logger = zap.NewNop()
	}
	l.logger.Store(logger)
}

// Send validates m like a real sender would, then logs it redacted.
func (l *LogSender) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sms: log sender: %w", err)
	}
	if err := m.Validate(); err != nil {
		return err
	}
	l.logger.Load().Info("text message (log sender)",
		zap.String("kind", m.Kind),
		zap.String("id", m.ID),
		zap.String("to", MaskNumber(m.To)),
		zap.String("text", m.Redact()),
	)
	return nil
}

// Interface guards
var _ Sender = (*LogSender)(nil)
