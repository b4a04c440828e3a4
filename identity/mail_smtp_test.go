package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const (
	testSMTPUser = "mailer"
	testSMTPPass = "s3cret pass"
)

// received is one message as the test server saw it.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool
}

type smtpTestServer struct {
	addr  string
	roots *x509.CertPool
	got   chan received

	mu    sync.Mutex
	auths []string // "user:pass" per AUTH attempt
}

func (s *smtpTestServer) authAttempts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

type smtpServerOpts struct {
	startTLS    bool // advertise STARTTLS
	implicitTLS bool // TLS from the first byte
	plainAuth   bool // offer AUTH on an unencrypted connection
	rejectRcpt  bool // answer RCPT with 550
}

// startSMTPServer runs a real go-smtp server on a free loopback port.
func startSMTPServer(t *testing.T, o smtpServerOpts) *smtpTestServer {
	t.Helper()
	cert, roots := selfSignedCert(t)
	ts := &smtpTestServer{roots: roots, got: make(chan received, 10)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{srv: ts, conn: c, reject: o.rejectRcpt}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = o.plainAuth
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if o.startTLS {
		srv.TLSConfig = tlsCfg
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if o.implicitTLS {
		l = tls.NewListener(l, tlsCfg)
	}
	ts.addr = l.Addr().String()
	// The listener is bound before Serve starts, so clients can connect at once.
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ts
}

type testSession struct {
	srv    *smtpTestServer
	conn   *smtp.Conn
	reject bool
	from   string
	to     []string
}

func (s *testSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *testSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.srv.mu.Lock()
		s.srv.auths = append(s.srv.auths, user+":"+pass)
		s.srv.mu.Unlock()
		if user != testSMTPUser || pass != testSMTPPass {
			return smtp.ErrAuthFailed
		}
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.reject {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user " + to}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.got <- received{from: s.from, to: s.to, data: b, tls: isTLS}
	return nil
}

func (s *testSession) Reset()        { s.from, s.to = "", nil }
func (s *testSession) Logout() error { return nil }

func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "frontdoor test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestSMTPMailerDelivers(t *testing.T) {
	tests := []struct {
		name    string
		srvOpts smtpServerOpts
		mode    string
		auth    bool
		wantTLS bool
	}{
		{"starttls with auth", smtpServerOpts{startTLS: true}, "", true, true},
		{"implicit tls with auth", smtpServerOpts{implicitTLS: true}, SMTPImplicit, true, true},
		{"none on loopback with auth", smtpServerOpts{plainAuth: true}, SMTPNone, true, false},
		{"starttls without auth", smtpServerOpts{startTLS: true}, SMTPStartTLS, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSMTPServer(t, tt.srvOpts)
			cfg := SMTPConfig{Addr: srv.addr, From: testFrom, TLS: tt.mode, TLSConfig: &tls.Config{RootCAs: srv.roots}}
			if tt.auth {
				cfg.Username, cfg.Password = testSMTPUser, testSMTPPass
			}
			sm, err := NewSMTPMailer(cfg)
			if err != nil {
				t.Fatalf("NewSMTPMailer: %v", err)
			}
			msg := Message{To: "Jane <jane@example.com>", Subject: "Vérifiez", Text: "Open https://shop.example.com/v?t=abc\n.\nbye", HTML: "<p>Open</p>", Kind: "verify"}
			if err := sm.Send(t.Context(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := <-srv.got
			if got.from != "no-reply@shop.example.com" || len(got.to) != 1 || got.to[0] != "jane@example.com" {
				t.Errorf("envelope = %q → %q", got.from, got.to)
			}
			if got.tls != tt.wantTLS {
				t.Errorf("TLS = %v, want %v", got.tls, tt.wantTLS)
			}
			p := parseMail(t, got.data)
			if p.parts["text/plain"] != strings.ReplaceAll(msg.Text, "\n", "\r\n") || p.parts["text/html"] != msg.HTML {
				t.Errorf("parts = %q", p.parts)
			}
			wantAuths := []string(nil)
			if tt.auth {
				wantAuths = []string{testSMTPUser + ":" + testSMTPPass}
			}
			if a := srv.authAttempts(); strings.Join(a, ",") != strings.Join(wantAuths, ",") {
				t.Errorf("auth attempts = %q, want %q", a, wantAuths)
			}
		})
	}
}

func TestSMTPMailerRefusesServerWithoutSTARTTLS(t *testing.T) {
	srv := startSMTPServer(t, smtpServerOpts{plainAuth: true})
	sm, err := NewSMTPMailer(SMTPConfig{Addr: srv.addr, From: testFrom, Username: testSMTPUser, Password: testSMTPPass})
	if err != nil {
		t.Fatal(err)
	}
	err = sm.Send(t.Context(), Message{To: "jane@example.com", Text: "secret link"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") || !strings.HasPrefix(err.Error(), "identity: smtp send: ") {
		t.Fatalf("Send = %v, want a STARTTLS refusal", err)
	}
	if a := srv.authAttempts(); len(a) != 0 {
		t.Errorf("credentials sent in plain text: %q", a)
	}
	select {
	case r := <-srv.got:
		t.Errorf("server received a message: %q", r.data)
	default:
	}
}

func TestSMTPMailerPermanentRejection(t *testing.T) {
	srv := startSMTPServer(t, smtpServerOpts{startTLS: true, rejectRcpt: true})
	sm, err := NewSMTPMailer(SMTPConfig{Addr: srv.addr, From: testFrom, TLSConfig: &tls.Config{RootCAs: srv.roots}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sm.Send(t.Context(), Message{To: "jane@example.com", Text: "x"}); !errors.Is(err, ErrPermanent) {
		t.Errorf("Send = %v, want ErrPermanent", err)
	}
}

func TestSMTPMailerUntrustedCertificate(t *testing.T) {
	srv := startSMTPServer(t, smtpServerOpts{startTLS: true})
	sm, err := NewSMTPMailer(SMTPConfig{Addr: srv.addr, From: testFrom})
	if err != nil {
		t.Fatal(err)
	}
	if err := sm.Send(t.Context(), Message{To: "jane@example.com", Text: "x"}); err == nil {
		t.Error("Send trusted a self-signed certificate")
	}
}

// A server that accepts the connection and never greets must not hold Send.
func TestSMTPMailerHonoursContextAndTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	msg := Message{To: "jane@example.com", Text: "x"}

	sm, err := NewSMTPMailer(SMTPConfig{Addr: l.Addr().String(), From: testFrom, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := sm.Send(t.Context(), msg); err == nil {
		t.Error("Send to a silent server succeeded")
	}

	sm, err = NewSMTPMailer(SMTPConfig{Addr: l.Addr().String(), From: testFrom, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- sm.Send(ctx, msg) }()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send ignored context cancellation")
	}
}

func TestNewSMTPMailerValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  SMTPConfig
		ok   bool
	}{
		{"starttls default", SMTPConfig{Addr: "smtp.example.com:587", From: testFrom}, true},
		{"implicit", SMTPConfig{Addr: "smtp.example.com:465", From: testFrom, TLS: SMTPImplicit}, true},
		{"none on 127.0.0.1", SMTPConfig{Addr: "127.0.0.1:25", From: testFrom, TLS: SMTPNone}, true},
		{"none on ::1", SMTPConfig{Addr: "[::1]:25", From: testFrom, TLS: SMTPNone}, true},
		{"none on localhost", SMTPConfig{Addr: "localhost:25", From: testFrom, TLS: SMTPNone}, true},
		{"none on remote host", SMTPConfig{Addr: "smtp.example.com:25", From: testFrom, TLS: SMTPNone}, false},
		{"none on remote IP", SMTPConfig{Addr: "192.0.2.1:25", From: testFrom, TLS: SMTPNone}, false},
		{"unknown mode", SMTPConfig{Addr: "smtp.example.com:25", From: testFrom, TLS: "opportunistic"}, false},
		{"no port", SMTPConfig{Addr: "smtp.example.com", From: testFrom}, false},
		{"bad from", SMTPConfig{Addr: "smtp.example.com:587", From: "nobody"}, false},
		{"from injection", SMTPConfig{Addr: "smtp.example.com:587", From: "a@example.com\r\nBcc: b@example.com"}, false},
		{"negative timeout", SMTPConfig{Addr: "smtp.example.com:587", From: testFrom, Timeout: -1}, false},
		{"password without user", SMTPConfig{Addr: "smtp.example.com:587", From: testFrom, Password: "x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSMTPMailer(tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("NewSMTPMailer err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// The production path: Queue in front of SMTPMailer in front of a real server.
func TestQueueOverSMTP(t *testing.T) {
	srv := startSMTPServer(t, smtpServerOpts{startTLS: true})
	sm, err := NewSMTPMailer(SMTPConfig{Addr: srv.addr, From: testFrom, Username: testSMTPUser, Password: testSMTPPass, TLSConfig: &tls.Config{RootCAs: srv.roots}})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := newTestQueue(t, sm, QueueOptions{})
	for _, to := range []string{"a@example.com", "b@example.com"} {
		if err := q.Enqueue(Message{To: to, Subject: "Hi", Text: "x", Kind: "verify"}); err != nil {
			t.Fatal(err)
		}
	}
	closeQueue(t, q)
	if n := len(srv.got); n != 2 {
		t.Errorf("server received %d messages, want 2", n)
	}
}
