//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// customer is a legitimate customer: one address, one browser.
type customer struct {
	n               int
	email, password string
	addr            net.IP
	b               *browser
}

var customerNames = []string{"amelia.hughes", "bruno.keller", "chiara.bianchi", "dmitri.volkov", "elena.garcia",
	"farid.haddad", "greta.lindqvist", "hiro.tanaka", "ines.moreau", "jakob.nowak", "kavya.iyer", "liam.obrien",
	"maja.hansen", "nuno.pereira", "olga.petrova", "pablo.ruiz", "quinn.murphy", "rosa.dias", "sven.berg", "tara.walsh"}

// newCustomers makes n customers. Each has its own address: in its own
// /24 (127.1.N.10), as customers at home are, or with shared all in
// 127.0.1.0/24.
func newCustomers(n, port int, origin string, shared bool) []*customer {
	var out []*customer
	for i := range n {
		name := fmt.Sprintf("customer%02d", i+1)
		if i < len(customerNames) {
			name = customerNames[i]
		}
		var pw [10]byte
		_, _ = rand.Read(pw[:])
		addr := net.IPv4(127, 1, byte(i+1), 10).To4()
		if shared {
			addr = net.IPv4(127, 0, 1, byte(i+1)).To4()
		}
		c := &customer{n: i + 1, email: name + "@" + mailDomains[i%len(mailDomains)], password: "fd-flood-" + hex.EncodeToString(pw[:]), addr: addr}
		c.b = newBrowser(addr, port, origin, userAgents[i%len(userAgents)], languages[i%len(languages)])
		out = append(out, c)
	}
	return out
}

// register signs the customer up from its own address and follows the
// verification link from the mail directory.
func (c *customer) register(ctx context.Context, mailDir string) error {
	tok, err := c.b.formToken(ctx, "/.frontdoor/register")
	if err != nil {
		return err
	}
	p, err := c.b.post(ctx, "/.frontdoor/register", url.Values{"email": {c.email}, "password": {c.password}, "rd": {"/pub/"}, "csrf_token": {tok}})
	if err != nil {
		return err
	}
	if p.status != 200 || !strings.Contains(p.body, "Check your email") {
		return fmt.Errorf("register %s: %s", c.email, sample(p))
	}
	link, err := waitMail(ctx, mailDir, c.email, "/.frontdoor/verify?token=")
	if err != nil {
		return err
	}
	p, err = c.b.get(ctx, link)
	if err != nil {
		return err
	}
	if p.status != 200 {
		return fmt.Errorf("verify %s: %s", c.email, sample(p))
	}
	return nil
}

// waitMail waits for a mail to `to` holding a link with needle, removes
// it and returns the link.
func waitMail(ctx context.Context, dir, to, needle string) (string, error) {
	re := regexp.MustCompile(`https://[^\s"<>]*` + regexp.QuoteMeta(needle) + `[^\s"<>]*`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		sort.Strings(files)
		for _, f := range files {
			if strings.HasPrefix(filepath.Base(f), ".") {
				continue // still being written
			}
			text, rcpt := readMail(f)
			if !strings.EqualFold(rcpt, to) {
				continue
			}
			if l := re.FindString(text); l != "" {
				_ = os.Remove(f)
				return l, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("no mail to %s with %s", to, needle)
}

// readMail returns the text part and the recipient of an .eml file.
func readMail(path string) (string, string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		return "", ""
	}
	rcpt := ""
	if to, err := mail.ParseAddress(msg.Header.Get("To")); err == nil {
		rcpt = to.Address
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if !strings.HasPrefix(mt, "multipart/") {
		var r io.Reader = msg.Body
		if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(r)
		}
		b, _ := io.ReadAll(r)
		return string(b), rcpt
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return "", rcpt
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, _ := io.ReadAll(p) // multipart decodes quoted-printable
			return string(b), rcpt
		}
	}
}

// signIn is one sign-in as a browser does it: load the page, post the
// password; on a challenge page solve it (as the page's script would) and
// post again. Latency runs from the first post to the final answer.
type signIn struct {
	Customer   int           `json:"customer"`
	At         time.Duration `json:"-"` // since the flood started
	Answer     string        `json:"answer"`
	Total      time.Duration `json:"-"` // first post to final answer, solving included
	Solve      time.Duration `json:"-"` // of which solving challenges
	Bits       []int         `json:"bits,omitempty"`
	Posts      int           `json:"posts"`
	RetryAfter string        `json:"retry_after,omitempty"`
	Detail     string        `json:"detail,omitempty"`
}

// maxRounds bounds the challenges one sign-in solves.
const maxRounds = 3

func (c *customer) signIn(ctx context.Context) (s signIn) {
	s.Customer = c.n
	tok, err := c.b.formToken(ctx, loginPath)
	if err != nil {
		s.Answer, s.Detail = ansError, err.Error()
		return s
	}
	form := url.Values{"email": {c.email}, "password": {c.password}, "rd": {"/pub/home"}, "csrf_token": {tok}}
	start := time.Now()
	defer func() { s.Total = time.Since(start) }()
	for round := 0; ; round++ {
		p, err := c.b.post(ctx, loginPath, form)
		s.Posts++
		if err != nil {
			s.Answer, s.Detail = ansError, err.Error()
			return s
		}
		s.Answer = classify(p)
		if s.Answer != ansChallenge || round == maxRounds {
			if s.Answer != ans303 {
				s.Detail, s.RetryAfter = sample(p), p.retryAfter
			}
			return s
		}
		ch, bits, _ := challengeOf(p)
		s.Bits = append(s.Bits, bits)
		t := time.Now()
		sol := botdefense.SolvePow(ch, bits)
		s.Solve += time.Since(t)
		form.Set("pow", sol)
		if m := csrfRE.FindStringSubmatch(p.body); m != nil {
			form.Set("csrf_token", m[1])
		}
	}
}

// signInLoop signs the customer in every `every` on average (uniformly
// between half and one and a half times it) until stop closes; a sign-in
// under way when it does is finished.
func (c *customer) signInLoop(ctx context.Context, stop <-chan struct{}, every time.Duration, seed uint64, start time.Time, record func(signIn)) {
	r := mrand.New(mrand.NewPCG(seed, uint64(c.n)))
	wait := time.Duration(r.Int64N(int64(every)))
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		at := time.Since(start)
		s := c.signIn(ctx)
		s.At = at
		if ctx.Err() != nil {
			return
		}
		record(s)
		wait = every/2 + time.Duration(r.Int64N(int64(every)))
	}
}

// registerAll registers every customer at once, each from its own address.
func registerAll(ctx context.Context, cs []*customer, mailDir string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Go(func() { errs[i] = c.register(ctx, mailDir) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
