package identity

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"time"
)

// SMTP transport security modes for SMTPConfig.TLS.
const (
	SMTPStartTLS = "starttls"
	SMTPImplicit = "implicit"
	SMTPNone     = "none"
)

const defaultSMTPTimeout = 10 * time.Second

// SMTPConfig configures an SMTPMailer.
type SMTPConfig struct {
	// Addr is the server's host:port.
	Addr string
	// From is the sender, "addr@example.com" or "Shop <addr@example.com>".
	From string
	// Username and Password enable AUTH PLAIN, which is only ever sent over TLS
	// or to a loopback server.
	Username, Password string
	// TLS is "starttls" (the default; refuse a server that does not offer it),
	// "implicit" (TLS from the first byte, usually port 465) or "none" (plain
	// text, allowed only when the host is a loopback address).
	TLS string
	// Timeout bounds one whole connection; default 10s.
	Timeout time.Duration
	// TLSConfig is optional; tests use it to trust a self-signed certificate.
	TLSConfig *tls.Config
}

// SMTPMailer submits each message over its own SMTP connection.
type SMTPMailer struct {
	cfg      SMTPConfig
	host     string
	loopback bool
	envFrom  string // bare address for MAIL FROM
	tls      *tls.Config
	helo     string
}

// NewSMTPMailer validates cfg and returns a mailer; it does not connect.
func NewSMTPMailer(cfg SMTPConfig) (*SMTPMailer, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("identity: smtp config: addr %q must be host:port", cfg.Addr)
	}
	from, err := parseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("identity: smtp config: from: %w", err)
	}
	if cfg.TLS == "" {
		cfg.TLS = SMTPStartTLS
	}
	loopback := isLoopbackHost(host)
	switch cfg.TLS {
	case SMTPStartTLS, SMTPImplicit:
	case SMTPNone:
		if !loopback {
			return nil, fmt.Errorf("identity: smtp config: tls none is only allowed for a loopback host, not %q", host)
		}
	default:
		return nil, fmt.Errorf("identity: smtp config: unknown tls mode %q (want starttls, implicit or none)", cfg.TLS)
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("identity: smtp config: negative timeout")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultSMTPTimeout
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, errors.New("identity: smtp config: password set without username")
	}
	if strings.ContainsAny(cfg.Username+cfg.Password, "\x00\r\n") {
		return nil, errors.New("identity: smtp config: username or password contains NUL, CR or LF")
	}
	tc := &tls.Config{}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	return &SMTPMailer{
		cfg:      cfg,
		host:     host,
		loopback: loopback,
		envFrom:  from.Address,
		tls:      tc,
		helo:     heloName(),
	}, nil
}

// Send delivers m over a fresh connection bounded by ctx and the configured timeout.
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	msg, err := BuildMessage(s.cfg.From, m, time.Now()) // wall time only for an undated message
	if err != nil {
		return err
	}
	to, err := parseAddress(m.To)
	if err != nil {
		return permanent(fmt.Errorf("identity: smtp send: to: %w", err))
	}
	if err := s.send(ctx, to.Address, msg); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("identity: smtp send: %w (%v)", cerr, err)
		}
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
			err = permanent(err)
		}
		return fmt.Errorf("identity: smtp send: %w", err)
	}
	return nil
}

func (s *SMTPMailer) send(ctx context.Context, rcpt string, msg []byte) error {
	deadline := time.Now().Add(s.cfg.Timeout) // a network deadline: wall time
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	var conn net.Conn
	var err error
	nd := &net.Dialer{}
	if s.cfg.TLS == SMTPImplicit {
		conn, err = (&tls.Dialer{NetDialer: nd, Config: s.tls}).DialContext(dctx, "tcp", s.cfg.Addr)
	} else {
		conn, err = nd.DialContext(dctx, "tcp", s.cfg.Addr)
	}
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	// Cancellation mid-conversation: an expired deadline unblocks any read or write.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.helo); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if s.cfg.TLS == SMTPStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return permanent(errors.New("server does not offer STARTTLS; refusing to send in plain text"))
		}
		if err := c.StartTLS(s.tls); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if s.cfg.Username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
			return permanent(errors.New("server does not offer AUTH PLAIN"))
		}
		if err := c.Auth(plainAuth{username: s.cfg.Username, password: s.cfg.Password, loopback: s.loopback}); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(s.envFrom); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(rcpt); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The server has accepted the message; a failed QUIT must not turn into a
	// retry and a duplicate email.
	_ = c.Quit()
	return nil
}

// plainAuth is AUTH PLAIN with our own rule for when it may go in clear text:
// net/smtp's only knows the literal names "localhost", "127.0.0.1" and "::1".
type plainAuth struct {
	username, password string
	loopback           bool
}

func (a plainAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !a.loopback {
		return "", nil, errors.New("refusing AUTH over an unencrypted connection")
	}
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge for AUTH PLAIN")
	}
	return nil, nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// heloName is this machine's name if it is usable in EHLO, else "localhost".
func heloName() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsFunc(h, func(r rune) bool {
		return !(r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return "localhost"
	}
	return h
}

// Interface guards
var _ Mailer = (*SMTPMailer)(nil)
