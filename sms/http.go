package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/frontdoorhq/frontdoor/events"
	"github.com/frontdoorhq/frontdoor/internal/urlcheck"
)

// The formats HTTPSender speaks.
const (
	// FormatTwilio is Twilio's Messages API and its look-alikes: an
	// application/x-www-form-urlencoded POST of To, From and Body with
	// HTTP basic auth (account SID and auth token).
	FormatTwilio = "twilio"
	// FormatWebhook is a JSON POST of {"id","to","text","kind"} signed
	// with the Standard Webhooks headers, for a relay of the operator's.
	FormatWebhook = "webhook"
)

// Bounds of one HTTP send.
const (
	// DefaultTimeout bounds one attempt when HTTPConfig.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// MaxTimeout is the longest HTTPConfig.Timeout allowed: a request
	// waits on the queue, not on the provider, but a worker stuck for
	// minutes holds up every message behind it.
	MaxTimeout = time.Minute
	// maxResponse is how much of an answer is read.
	maxResponse = 64 << 10
	// maxFrom bounds the sender id or number.
	maxFrom = 64
)

// HTTPConfig configures an HTTPSender.
type HTTPConfig struct {
	// URL receives the messages: https, or http to a loopback address.
	URL string
	// Format is FormatTwilio or FormatWebhook.
	Format string
	// Username and Password are the basic-auth credentials of the twilio
	// format (account SID and auth token).
	Username, Password string
	// From is the twilio format's sender (its From field): an E.164
	// number or an alphanumeric sender id.
	From string
	// Secret signs the webhook format (events.ParseSecret's result).
	Secret []byte
	// Timeout bounds one attempt (default DefaultTimeout, at most MaxTimeout).
	Timeout time.Duration
	// Client sends the requests (default: a client that follows no
	// redirect). A client given here must not follow redirects either.
	Client *http.Client
}

// HTTPSender posts each message to a provider's HTTP API.
type HTTPSender struct {
	cfg  HTTPConfig
	host string
}

// NewHTTPSender checks cfg. Its errors never repeat the password or the secret.
func NewHTTPSender(cfg HTTPConfig) (*HTTPSender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, errors.New("sms: http sender: the URL is not absolute")
	}
	if u.User != nil {
		return nil, errors.New("sms: http sender: the URL must not hold credentials (use username and password)")
	}
	if !urlcheck.SecureOrLoopback(u) {
		return nil, errors.New("sms: http sender: use https (http only to a loopback address)")
	}
	switch cfg.Format {
	case FormatTwilio:
		if cfg.Username == "" || cfg.Password == "" || cfg.From == "" {
			return nil, errors.New("sms: http sender: format twilio needs username, password and from")
		}
		if len(cfg.From) > maxFrom || strings.ContainsFunc(cfg.From, isControl) {
			return nil, fmt.Errorf("sms: http sender: from is at most %d printable characters", maxFrom)
		}
		if len(cfg.Secret) != 0 {
			return nil, errors.New("sms: http sender: format twilio takes no secret")
		}
	case FormatWebhook:
		if len(cfg.Secret) == 0 {
			return nil, errors.New("sms: http sender: format webhook needs a secret")
		}
		if cfg.Username != "" || cfg.Password != "" || cfg.From != "" {
			return nil, errors.New("sms: http sender: format webhook takes a secret, not username, password or from")
		}
	default:
		return nil, fmt.Errorf("sms: http sender: format %q: want twilio or webhook", cfg.Format)
	}
	switch {
	case cfg.Timeout < 0 || cfg.Timeout > MaxTimeout:
		return nil, fmt.Errorf("sms: http sender: timeout is at most %s", MaxTimeout)
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			// A provider's redirect is a failure, not a second target:
			// the credentials and the text would follow it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &HTTPSender{cfg: cfg, host: u.Host}, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Send posts m once. A 2xx answer is success; 429 and 5xx are worth a
// retry; any other answer (a redirect, another 4xx) is permanent.
func (s *HTTPSender) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.ID == "" {
		id, err := NewID()
		if err != nil {
			return err
		}
		m.ID = id
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := s.request(rctx, m)
	if err != nil {
		return err
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return s.transportError(ctx, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	err = fmt.Errorf("sms: http sender: %s answered %d%s", s.host, resp.StatusCode, s.providerCode(body))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return err
	}
	return Permanent(err)
}

// request builds the provider's request for m.
func (s *HTTPSender) request(ctx context.Context, m Message) (*http.Request, error) {
	var (
		body  []byte
		ctype string
	)
	switch s.cfg.Format {
	case FormatTwilio:
		body = []byte(url.Values{"To": {m.To}, "From": {s.cfg.From}, "Body": {m.Text}}.Encode())
		ctype = "application/x-www-form-urlencoded"
	default:
		var err error
		body, err = json.Marshal(webhookBody{ID: m.ID, To: m.To, Text: m.Text, Kind: m.Kind})
		if err != nil {
			return nil, Permanent(fmt.Errorf("sms: http sender: encode: %w", err))
		}
		ctype = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		// The URL was checked in NewHTTPSender; say nothing of it here.
		return nil, Permanent(errors.New("sms: http sender: cannot build the request"))
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Frontdoor-SMS/1")
	if s.cfg.Format == FormatTwilio {
		req.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	} else {
		// The signature's time is the sending time on the wall:
		// receivers check it against their own clocks.
		events.SetHeaders(req.Header, s.cfg.Secret, m.ID, time.Now(), body)
	}
	return req, nil
}

// webhookBody is what the webhook format posts.
type webhookBody struct {
	ID   string `json:"id"`
	To   string `json:"to"`
	Text string `json:"text"`
	Kind string `json:"kind,omitempty"`
}

// transportError says what went wrong without the request: url.Error
// would repeat the URL, and nothing here may carry the message.
func (s *HTTPSender) transportError(ctx context.Context, err error) error {
	var te interface{ Timeout() bool }
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("sms: http sender: %w", ctx.Err())
	case errors.As(err, &te) && te.Timeout():
		return fmt.Errorf("sms: http sender: %s did not answer within %s", s.host, s.cfg.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("sms: http sender: %s could not be reached: %v", s.host, err)
}

// providerCode picks the numeric error code out of a Twilio-style error
// body ({"code":21211,…}) for the operator; the body's message is left
// out, as it may repeat the number.
func (s *HTTPSender) providerCode(body []byte) string {
	if s.cfg.Format != FormatTwilio {
		return ""
	}
	var e struct {
		Code json.Number `json:"code"`
	}
	if json.Unmarshal(body, &e) != nil || e.Code == "" {
		return ""
	}
	if _, err := strconv.ParseUint(string(e.Code), 10, 32); err != nil {
		return ""
	}
	return " (provider error " + string(e.Code) + ")"
}

// Interface guards
var _ Sender = (*HTTPSender)(nil)
