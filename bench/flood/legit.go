//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
	"github.com/frontdoorhq/frontdoor/botdefense"
)

// customer is a legitimate customer: one address, one browser.
type customer struct {
	n               int
	email, password string
	addr            net.IP
	b               *benchkit.Browser
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
		c.b = benchkit.NewBrowser(benchkit.BrowserOptions{Port: port, Origin: origin, Source: addr,
			UA: benchkit.UserAgents[i%len(benchkit.UserAgents)], Lang: benchkit.Languages[i%len(benchkit.Languages)]})
		out = append(out, c)
	}
	return out
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
	tok, err := c.b.FormToken(ctx, benchkit.LoginPath)
	if err != nil {
		s.Answer, s.Detail = ansError, err.Error()
		return s
	}
	form := url.Values{"email": {c.email}, "password": {c.password}, "rd": {"/pub/home"}, "csrf_token": {tok}}
	start := time.Now()
	defer func() { s.Total = time.Since(start) }()
	for round := 0; ; round++ {
		p, err := c.b.Post(ctx, benchkit.LoginPath, form)
		s.Posts++
		if err != nil {
			s.Answer, s.Detail = ansError, err.Error()
			return s
		}
		s.Answer = classify(p)
		if s.Answer != ansChallenge || round == maxRounds {
			if s.Answer != ans303 {
				s.Detail, s.RetryAfter = p.Summary(), p.Header.Get("Retry-After")
			}
			return s
		}
		ch, bits, _ := challengeOf(p)
		s.Bits = append(s.Bits, bits)
		t := time.Now()
		sol := botdefense.SolvePow(ch, bits)
		s.Solve += time.Since(t)
		form.Set("pow", sol)
		if tok, ok := benchkit.CSRFToken(p.Body); ok {
			form.Set("csrf_token", tok)
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

// registerAll registers every customer at once, each from its own address,
// following the verification link from the mail directory.
func registerAll(ctx context.Context, cs []*customer, mailDir string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Go(func() { errs[i] = c.b.Register(ctx, mailDir, c.email, c.password) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
