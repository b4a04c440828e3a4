package caddymodule

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/frontdoorhq/frontdoor/identity"
)

// MailerConfig chooses how mail is delivered.
type MailerConfig struct {
	// Type is log (default; the message, link included, goes to the log:
	// for development only), dir (one .eml file per message) or smtp.
	Type string `json:"type,omitempty"`
	// Dir is where the dir mailer writes.
	Dir string `json:"dir,omitempty"`
	// Addr is the SMTP server, host:port.
	Addr string `json:"addr,omitempty"`
	// From is the sender address (default "Frontdoor <frontdoor@localhost>";
	// set it for smtp).
	From string `json:"from,omitempty"`
	// Username and Password authenticate to the SMTP server; placeholders
	// such as {env.SMTP_PASSWORD} are expanded at start-up.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// TLS is starttls (default), implicit, or none (loopback only).
	TLS string `json:"tls,omitempty"`
	// Timeout per SMTP connection (default 10s).
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

const defaultFrom = "Frontdoor <frontdoor@localhost>"

// mailQueueKey names the one mail queue of the process. Keyed by the
// mailer configuration, a change of mailer would destroy the old queue: the
// reload would wait for it to drain and drop what it could not send. One
// queue whose mailer and logger follow the running config (App.Start)
// delivers what is pending with whatever mailer is in force.
const mailQueueKey = "mail"

// mailQueue is the pooled queue; the last config to let go closes it.
type mailQueue struct{ *identity.Queue }

func (q mailQueue) Destruct() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return q.Close(ctx)
}

// loadMailQueue takes a hold on the process's mail queue, creating it with
// m and logger if no config holds it yet. An existing queue keeps the
// running config's mailer until this config starts.
func loadMailQueue(m identity.Mailer, logger *zap.Logger) (*mailQueue, error) {
	v, _, err := mailQueues.LoadOrNew(mailQueueKey, func() (caddy.Destructor, error) {
		return mailQueue{identity.NewQueue(m, logger, identity.QueueOptions{})}, nil
	})
	if err != nil {
		return nil, err
	}
	q, ok := v.(mailQueue)
	if !ok {
		return nil, fmt.Errorf("frontdoor: pooled mail queue has type %T", v)
	}
	return &q, nil
}

func newMailer(cfg *MailerConfig, logger *zap.Logger) (identity.Mailer, error) {
	from := cfg.From
	if from == "" {
		from = defaultFrom
	}
	repl := caddy.NewReplacer()
	switch cfg.Type {
	case "", "log":
		return identity.NewLogMailer(logger.Named("mail"), from), nil
	case "dir":
		if cfg.Dir == "" {
			return nil, fmt.Errorf("frontdoor: mailer dir needs a directory")
		}
		return identity.NewDirMailer(cfg.Dir, from)
	case "smtp":
		m, err := identity.NewSMTPMailer(identity.SMTPConfig{
			Addr: cfg.Addr, From: from, TLS: cfg.TLS, Timeout: time.Duration(cfg.Timeout),
			Username: repl.ReplaceAll(cfg.Username, ""), Password: repl.ReplaceAll(cfg.Password, ""),
		})
		if err != nil {
			return nil, fmt.Errorf("frontdoor: mailer smtp: %w", err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("frontdoor: unknown mailer %q (want log, dir or smtp)", cfg.Type)
}
