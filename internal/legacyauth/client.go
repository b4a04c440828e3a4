package legacyauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Bounds of a Client's configuration and of what it reads.
const (
	DefaultTimeout = 2 * time.Second
	MinTimeout     = 100 * time.Millisecond
	MaxTimeout     = 10 * time.Second
	// MinSecretBytes: a shorter shared secret could be guessed offline
	// from one signed message.
	MinSecretBytes = 16
	// MaxInFlight bounds the calls one node has out at once: a spray of
	// unknown addresses cannot pile onto the service while it is slow but
	// not yet failing (more are answered as refused, uncalled).
	MaxInFlight = 32
	// MaxAnswerBytes bounds the answer's body.
	MaxAnswerBytes = 16 << 10
)

// CheckURL checks the service's address: https, or plain http to a
// loopback host only (a local test double, or a sidecar); no user
// information, no fragment.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL such as https://legacy.internal/verify", raw)
	}
	if u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q: no user information or fragment in the URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: passwords go over https; plain http only to a loopback host (127.0.0.1, ::1, localhost)", raw)
	}
	return fmt.Errorf("%q: the scheme must be https", raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// CheckTimeout checks a configured timeout (0 stands for the default).
func CheckTimeout(d time.Duration) error {
	if d != 0 && (d < MinTimeout || d > MaxTimeout) {
		return fmt.Errorf("timeout %v: between %v and %v", d, MinTimeout, MaxTimeout)
	}
	return nil
}

// Config is a Client's.
type Config struct {
	URL     string
	Secret  []byte
	Timeout time.Duration // 0: DefaultTimeout
	// OnBreaker hears the breaker open (true) and close again (false).
	OnBreaker func(open bool)
}

// Client asks one legacy service, guarded. It is safe for concurrent use
// and meant to outlive config reloads (its guards' memory with it).
type Client struct {
	url       string
	secret    []byte
	timeout   time.Duration
	http      *http.Client
	breaker   breaker
	refused   *refusals
	inflight  chan struct{}
	onBreaker func(bool)
}

// New checks cfg and returns its Client.
func New(cfg Config) (*Client, error) {
	if err := CheckURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("legacyauth: %w", err)
	}
	if err := CheckTimeout(cfg.Timeout); err != nil {
		return nil, fmt.Errorf("legacyauth: %w", err)
	}
	if len(cfg.Secret) < MinSecretBytes {
		return nil, fmt.Errorf("legacyauth: the secret has %d bytes, at least %d needed", len(cfg.Secret), MinSecretBytes)
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	onBreaker := cfg.OnBreaker
	if onBreaker == nil {
		onBreaker = func(bool) {}
	}
	return &Client{
		url: cfg.URL, secret: bytes.Clone(cfg.Secret), timeout: timeout,
		http: &http.Client{
			Timeout: timeout,
			// A redirect is an error status here, never followed: the
			// password goes to the configured address only.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				Proxy:                  nil, // a password-bearing call goes straight to the service
				DialContext:            (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
				TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout:    timeout,
				ResponseHeaderTimeout:  timeout,
				MaxIdleConns:           MaxInFlight,
				MaxIdleConnsPerHost:    MaxInFlight,
				MaxConnsPerHost:        MaxInFlight,
				IdleConnTimeout:        90 * time.Second,
				MaxResponseHeaderBytes: 16 << 10,
				ForceAttemptHTTP2:      true,
			},
		},
		refused:   newRefusals(),
		inflight:  make(chan struct{}, MaxInFlight),
		onBreaker: onBreaker,
	}, nil
}

// Close lets go of idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Account is what the service says of an account it vouched for.
type Account struct {
	EmailVerified bool
	Name          string
	CreatedAt     time.Time // zero: not said, or not RFC 3339
}

// Result is what came of a Verify.
type Result int

// Results of Verify. Only Accepted vouches for the password.
const (
	Accepted      Result = iota + 1 // the service said yes
	Refused                         // the service said no (a valid answer)
	Failed                          // no valid answer: error, timeout, bad status, answer refused
	SkippedOpen                     // not asked: the breaker is open
	SkippedRecent                   // not asked: it refused this address lately (see RefusalTTL)
	SkippedBusy                     // not asked: MaxInFlight calls are out
)

// Label is the result as a metric label.
func (r Result) Label() string {
	switch r {
	case Accepted:
		return "accepted"
	case Refused:
		return "refused"
	case Failed:
		return "error"
	case SkippedOpen:
		return "skipped_open_breaker"
	case SkippedRecent:
		return "skipped_recent"
	case SkippedBusy:
		return "skipped_busy"
	}
	return "unknown"
}

// Verify asks the service whether password is email's (email already
// normalised), unless a guard says not to. now is the time signatures are
// made and judged by, and the guards' windows. The error says why a call
// Failed (never holding the password or the secret).
func (c *Client) Verify(ctx context.Context, now func() time.Time, email, password string) (Account, Result, error) {
	addr, pw := c.refused.prints(email, password)
	if c.refused.skip(addr, pw, now()) {
		return Account{}, SkippedRecent, nil
	}
	ok, trial := c.breaker.allow(now())
	if !ok {
		return Account{}, SkippedOpen, nil
	}
	select {
	case c.inflight <- struct{}{}:
		defer func() { <-c.inflight }()
	default:
		c.breaker.done(trial, callAbandoned, now())
		return Account{}, SkippedBusy, nil
	}
	acct, yes, err := c.ask(ctx, now, email, password)
	end := callAnswered
	switch {
	case err != nil && ctx.Err() != nil:
		end = callAbandoned
	case err != nil:
		end = callFailed
	}
	opened, closed := c.breaker.done(trial, end, now())
	switch {
	case opened:
		c.onBreaker(true)
	case closed:
		c.onBreaker(false)
	}
	switch {
	case err != nil:
		return Account{}, Failed, err
	case yes:
		c.refused.forget(addr)
		return acct, Accepted, nil
	}
	c.refused.note(addr, pw, now())
	return Account{}, Refused, nil
}

// request is the body Frontdoor sends.
type request struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Nonce binds the answer to this request: a signed answer to another
	// one is refused.
	Nonce string `json:"nonce"`
}

// answer is the body the service sends back.
type answer struct {
	OK            bool   `json:"ok"`
	Nonce         string `json:"nonce"`
	EmailVerified bool   `json:"email_verified"`
	Name          string `json:"name"`
	CreatedAt     string `json:"created_at"`
}

// Reasons an exchange fails besides Check's.
var (
	ErrStatus      = errors.New("legacyauth: answer status is not 200")
	ErrTooLarge    = errors.New("legacyauth: answer body too large")
	ErrMalformed   = errors.New("legacyauth: answer body is not the expected JSON")
	ErrWrongNonce  = errors.New("legacyauth: answer is to another request (nonce)")
	ErrUnreachable = errors.New("legacyauth: no answer")
)

// ask makes one signed call and checks the answer.
func (c *Client) ask(ctx context.Context, now func() time.Time, email, password string) (Account, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var n [16]byte
	_, _ = rand.Read(n[:]) // crypto/rand.Read never fails (Go ≥1.24)
	nonce := base64.RawURLEncoding.EncodeToString(n[:])
	body, err := json.Marshal(request{Email: email, Password: password, Nonce: nonce})
	if err != nil {
		return Account{}, false, fmt.Errorf("legacyauth: encoding the request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return Account{}, false, fmt.Errorf("legacyauth: building the request: %w", err)
	}
	ts := Timestamp(now())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Frontdoor-legacy_auth/1")
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(c.secret, ts, body))
	resp, err := c.http.Do(req)
	if err != nil {
		// The transport's own words, without the URL around them.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Account{}, false, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	switch {
	case err != nil:
		return Account{}, false, fmt.Errorf("%w: reading the body: %w", ErrUnreachable, err)
	case resp.StatusCode != http.StatusOK:
		return Account{}, false, fmt.Errorf("%w (%d)", ErrStatus, resp.StatusCode)
	case len(raw) > MaxAnswerBytes:
		return Account{}, false, ErrTooLarge
	}
	if err := Check(c.secret, resp.Header.Get(TimestampHeader), resp.Header.Get(SignatureHeader), raw, now()); err != nil {
		return Account{}, false, err
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return Account{}, false, ErrMalformed
	}
	if a.Nonce != nonce {
		return Account{}, false, ErrWrongNonce
	}
	if !a.OK {
		return Account{}, false, nil
	}
	acct := Account{EmailVerified: a.EmailVerified, Name: a.Name}
	if t, err := time.Parse(time.RFC3339, a.CreatedAt); err == nil {
		acct.CreatedAt = t
	}
	return acct, true, nil
}
