//go:build linux

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frontdoorhq/frontdoor/bench/internal/benchkit"
	"github.com/frontdoorhq/frontdoor/botdefense"
)

// attempt is one credential guess of the attack.
type attempt struct {
	email, password string
	real            bool // a real customer's address (with a wrong password)
}

var (
	firstNames = []string{"james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "david", "elizabeth",
		"william", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah", "chris", "karen", "daniel", "lisa",
		"matthew", "nancy", "anthony", "sandra", "mark", "ashley", "paul", "emily", "steven", "donna", "andrew", "michelle",
		"lukas", "lena", "jonas", "marie", "luca", "sofia", "hugo", "chloe", "mateo", "lucia", "noah", "emma", "oliver", "mia"}
	lastNames = []string{"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez", "martinez",
		"wilson", "anderson", "taylor", "thomas", "moore", "jackson", "martin", "lee", "thompson", "white", "harris", "clark",
		"lewis", "walker", "hall", "young", "king", "wright", "scott", "green", "muller", "schmidt", "schneider", "fischer",
		"weber", "meyer", "dubois", "moreau", "laurent", "rossi", "russo", "ferrari", "fernandez", "lopez", "gonzalez", "perez"}
	mailDomains = []string{"gmail.com", "gmail.com", "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com",
		"icloud.com", "gmx.de", "web.de", "orange.fr", "free.fr", "libero.it", "comcast.net", "btinternet.com", "live.com", "proton.me"}
	passwordBases = []string{"password", "Password", "qwerty", "iloveyou", "sunshine", "princess", "football", "monkey",
		"dragon", "Summer", "Welcome", "shadow", "master", "letmein", "baseball", "superman", "trustno1", "michael", "charlie", "hunter"}
)

// plausibleEmail makes up an address like the ones in a combo list.
func plausibleEmail(r *rand.Rand) string {
	f, l := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	var local string
	switch r.IntN(6) {
	case 0:
		local = f + "." + l
	case 1:
		local = f + l + fmt.Sprint(r.IntN(100))
	case 2:
		local = f[:1] + l + fmt.Sprint(1950+r.IntN(56))
	case 3:
		local = f + "_" + l + fmt.Sprint(r.IntN(1000))
	case 4:
		local = l + "." + f + fmt.Sprint(r.IntN(10000))
	default:
		local = f + "." + l + fmt.Sprint(1950+r.IntN(56))
	}
	return local + "@" + mailDomains[r.IntN(len(mailDomains))]
}

func plausiblePassword(r *rand.Rand) string {
	p := passwordBases[r.IntN(len(passwordBases))]
	switch r.IntN(4) {
	case 0:
		p += fmt.Sprint(r.IntN(1000))
	case 1:
		p += fmt.Sprint(1960 + r.IntN(66))
	case 2:
		p += fmt.Sprint(r.IntN(100)) + "!"
	}
	return p
}

// makeAttempts builds the combo list: n distinct plausible addresses, of
// which realTries per customer are real customers' addresses (with a
// wrong password), at random places.
func makeAttempts(r *rand.Rand, n int, customers []*customer, realTries int) []attempt {
	taken := map[string]bool{}
	for _, c := range customers {
		taken[c.email] = true
	}
	out := make([]attempt, n)
	for i := range out {
		e := plausibleEmail(r)
		for taken[e] {
			e = plausibleEmail(r)
		}
		taken[e] = true
		out[i] = attempt{email: e, password: plausiblePassword(r)}
	}
	if len(customers) > 0 && n > 0 {
		k := min(n, realTries*len(customers))
		for j, i := range r.Perm(n)[:k] {
			c := customers[j%len(customers)]
			out[i] = attempt{email: c.email, password: plausiblePassword(r), real: true}
		}
	}
	return out
}

// attackerAddr is address k of the attack: /24 number k mod prefixes, in
// 127.20.0.0/14 and up, so consecutive attempts come from different
// networks as from a botnet.
func attackerAddr(k, prefixes int) net.IP {
	p, h := k%prefixes, k/prefixes+1
	return net.IPv4(127, byte(20+p/256), byte(p%256), byte(h)).To4()
}

// attack runs the combo list from many addresses.
type attack struct {
	list     []attempt
	browsers []*benchkit.Browser
	solve    bool
	solveSem chan struct{}
	t        *tally

	next     atomic.Int64
	solved   atomic.Int64
	solveCPU atomic.Int64 // nanoseconds of SolvePow
}

func newAttack(list []attempt, addrs, prefixes, port int, origin string, solve bool, solveConc int, r *rand.Rand, t *tally) *attack {
	a := &attack{list: list, solve: solve, solveSem: make(chan struct{}, max(1, solveConc)), t: t}
	for k := range addrs {
		a.browsers = append(a.browsers, benchkit.NewBrowser(benchkit.BrowserOptions{Port: port, Origin: origin, Source: attackerAddr(k, prefixes),
			UA: benchkit.UserAgents[r.IntN(len(benchkit.UserAgents))], Lang: benchkit.Languages[r.IntN(len(benchkit.Languages))]}))
	}
	return a
}

// run sends attempts with conc workers until the list is done, the
// deadline passes (no new attempt starts) or ctx ends.
// With rate > 0 attempts start at most rate a second.
func (a *attack) run(ctx context.Context, conc int, rate float64, start, deadline time.Time) {
	var tokens chan struct{}
	if rate > 0 {
		tokens = make(chan struct{})
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				select {
				case tokens <- struct{}{}:
				default: // every worker busy: the attempt is skipped, as a paced tool would
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if tokens != nil {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					case <-time.After(time.Until(deadline)):
						return
					}
				}
				i := a.next.Add(1) - 1
				if i >= int64(len(a.list)) {
					return
				}
				a.one(ctx, int(i), start, deadline)
			}
		})
	}
	wg.Wait()
}

// one is one guess: load the sign-in page (CSRF cookie and token), post
// the credentials; with -solve, solve a challenge and post again (unless
// the deadline passes while waiting for a solver).
func (a *attack) one(ctx context.Context, i int, start, deadline time.Time) {
	at := a.list[i]
	b := a.browsers[i%len(a.browsers)]
	tok, err := b.FormToken(ctx, benchkit.LoginPath)
	if ctx.Err() != nil {
		return // interrupted: not an answer
	}
	if err != nil {
		a.t.attack(start, ansError, 0, at.real, err.Error())
		return
	}
	form := url.Values{"email": {at.email}, "password": {at.password}, "rd": {"/pub/"}, "csrf_token": {tok}}
	t0 := time.Now()
	p, err := b.Post(ctx, benchkit.LoginPath, form)
	lat := time.Since(t0)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		a.t.attack(start, ansError, lat, at.real, err.Error())
		return
	}
	cls := classify(p)
	if cls == ansChallenge && a.solve {
		ch, bits, _ := challengeOf(p)
		select {
		case a.solveSem <- struct{}{}:
		case <-ctx.Done():
			return
		case <-time.After(time.Until(deadline)):
			// Out of time: the challenge stays unsolved.
			a.t.attack(start, cls, lat, at.real, p.Summary())
			return
		}
		s := time.Now()
		sol := botdefense.SolvePow(ch, bits)
		a.solveCPU.Add(int64(time.Since(s)))
		<-a.solveSem
		a.solved.Add(1)
		form.Set("pow", sol)
		if tok, ok := benchkit.CSRFToken(p.Body); ok {
			form.Set("csrf_token", tok)
		}
		t0 = time.Now()
		p, err = b.Post(ctx, benchkit.LoginPath, form)
		lat = time.Since(t0)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			a.t.attack(start, ansError, lat, at.real, err.Error())
			return
		}
		cls = classify(p)
	}
	a.t.attack(start, cls, lat, at.real, p.Summary())
}

func (a *attack) close() {
	for _, b := range a.browsers {
		b.Close()
	}
}
