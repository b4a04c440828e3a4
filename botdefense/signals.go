package botdefense

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	_ "embed"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Prefix returns the network a client address belongs to for limits and
// blocks: its /24 for IPv4, its /56 for IPv6 (what one home or one small
// server rental usually gets). An unparsable address is its own prefix.
func Prefix(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	bits := 24
	if a.Is6() {
		bits = 56
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ip
	}
	return p.String()
}

// ClientKey returns what `ip` limits and signals count a client address
// as: an IPv4 address is itself, an IPv6 address its /64 (one host's or
// one link's share: its owner picks any of 2^64 addresses in it at will,
// so counting them one by one would let one machine have as many limits
// as it likes); an IPv4-mapped IPv6 address is its IPv4 address. An
// unparsable address is its own key.
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// Unmapped returns an address in its canonical form (IPv4-mapped IPv6
// as IPv4); an unparsable one as it is.
func Unmapped(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	return a.Unmap().WithZone("").String()
}

// Fingerprint is what a request says about the software sending it.
type Fingerprint struct {
	UserAgent      string
	AcceptLanguage bool // an Accept-Language header is present
	Accept         bool // an Accept header is present
	SecFetch       bool // Sec-Fetch-* headers are present
}

// automationAgents are user-agent fragments of HTTP libraries, headless
// browsers and scanners (lower case).
var automationAgents = []string{
	"headlesschrome", "phantomjs", "python-requests", "python-urllib", "aiohttp", "httpx", "curl/", "wget/",
	"go-http-client", "java/", "okhttp", "node-fetch", "axios/", "undici", "libwww-perl", "scrapy", "httpclient",
	"selenium", "puppeteer", "playwright", "zgrab", "masscan", "nikto", "sqlmap", "hydra",
}

// Automation returns the automation signals of a request: a known tool's
// user agent, no user agent, or a "browser" missing what every browser
// sends.
func (f Fingerprint) Automation() []string {
	ua := strings.ToLower(f.UserAgent)
	var out []string
	if ua == "" {
		out = append(out, "no_user_agent")
	}
	for _, a := range automationAgents {
		if strings.Contains(ua, a) {
			out = append(out, "automation_user_agent")
			break
		}
	}
	if strings.Contains(ua, "mozilla/") {
		if !f.AcceptLanguage {
			out = append(out, "no_accept_language")
		}
		// Chromium-based browsers send Sec-Fetch-* since version 76.
		if strings.Contains(ua, "chrome/") && !f.SecFetch {
			out = append(out, "no_sec_fetch")
		}
	}
	return out
}

//go:embed disposable.txt.gz
var disposableGz []byte

var (
	disposableOnce sync.Once
	disposable     []string // sorted
)

func loadDisposable() {
	zr, err := gzip.NewReader(bytes.NewReader(disposableGz))
	if err != nil {
		panic("botdefense: embedded disposable list: " + err.Error())
	}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if d := strings.TrimSpace(sc.Text()); d != "" {
			disposable = append(disposable, d)
		}
	}
	if sc.Err() != nil {
		panic("botdefense: embedded disposable list: " + sc.Err().Error())
	}
	slices.Sort(disposable)
}

// DisposableDomain reports whether domain, or a parent of it, is a known
// throw-away mail provider: the embedded list (from the
// disposable-email-domains project, MIT) plus extra, minus allow.
func DisposableDomain(domain string, extra, allow []string) bool {
	disposableOnce.Do(loadDisposable)
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	for d := domain; d != ""; {
		if slices.Contains(allow, d) {
			return false
		}
		if _, found := slices.BinarySearch(disposable, d); found || slices.Contains(extra, d) {
			return true
		}
		_, rest, ok := strings.Cut(d, ".")
		if !ok || !strings.Contains(rest, ".") { // stop at the registrable-looking tail
			break
		}
		d = rest
	}
	return false
}

// signals returns the risk signals an attempt shows, and whether it is
// to be refused outright.
func (d *Defender) signals(ctx context.Context, p *Policy, a *Attempt, now time.Time) ([]string, bool, error) {
	var out []string
	if p.Automation == "challenge" {
		out = append(out, a.Fingerprint.Automation()...)
	}
	credential := a.Route == RouteLogin || a.Route == RouteMagic || a.Route == RouteReset
	if credential || a.Route == RouteRegister {
		surge, err := d.surging(ctx, p, now)
		if err != nil {
			return nil, false, err
		}
		if surge {
			out = append(out, "failure_surge")
		}
	}
	if credential && a.Account != "" && p.DistinctAccounts > 0 {
		// Count each account once per address per window.
		first, _, err := d.counter.Add(ctx, "seen|"+a.client+"|"+hashKey(a.Account), 1, p.DistinctWindow, now)
		if err != nil {
			return nil, false, err
		}
		inc := int64(0)
		if first == 1 {
			inc = 1
		}
		ipN, _, err := d.counter.Add(ctx, "distinct|ip|"+a.client, inc, p.DistinctWindow, now)
		if err != nil {
			return nil, false, err
		}
		pfN, _, err := d.counter.Add(ctx, "distinct|prefix|"+a.prefix, inc, p.DistinctWindow, now)
		if err != nil {
			return nil, false, err
		}
		if ipN > p.DistinctAccounts || pfN > 4*p.DistinctAccounts {
			out = append(out, "many_accounts")
		}
	}
	if credential && p.FailureMin > 0 {
		for _, k := range []string{"ip|" + a.client, "prefix|" + a.prefix} {
			tries, err := d.counter.Recent(ctx, "tries|"+k, p.FailureWindow, now)
			if err != nil {
				return nil, false, err
			}
			if tries < p.FailureMin {
				continue
			}
			fails, err := d.counter.Recent(ctx, "fails|"+k, p.FailureWindow, now)
			if err != nil {
				return nil, false, err
			}
			if float64(fails) >= p.FailureRatio*float64(tries) {
				out = append(out, "failure_ratio")
				break
			}
		}
	}
	if a.Route == RouteRegister {
		if p.RegPrefix > 0 {
			n, _, err := d.counter.Add(ctx, "reg|prefix|"+a.prefix, 1, p.RegWindow, now)
			if err != nil {
				return nil, false, err
			}
			if n > p.RegPrefix {
				out = append(out, "registration_velocity_prefix")
			}
		}
		if p.RegDomain > 0 && a.Domain != "" {
			n, _, err := d.counter.Add(ctx, "reg|domain|"+a.Domain, 1, p.RegWindow, now)
			if err != nil {
				return nil, false, err
			}
			if n > p.RegDomain {
				out = append(out, "registration_velocity_domain")
			}
		}
		if a.Domain != "" && p.Disposable != "allow" && DisposableDomain(a.Domain, p.DisposableExtra, p.DisposableAllow) {
			out = append(out, "disposable_domain")
			if p.Disposable == "refuse" {
				return out, true, nil
			}
		}
	}
	return out, false, nil
}

// surging reports whether a surge of failed sign-ins is under way, or
// ended less than the cooldown ago.
func (d *Defender) surging(ctx context.Context, p *Policy, now time.Time) (bool, error) {
	if p.Surge <= 0 {
		return false, nil
	}
	if now.UnixNano() < d.surgeUntil.Load() {
		return true, nil
	}
	n, err := d.counter.Recent(ctx, "fails|global", p.SurgeWindow, now)
	if err != nil {
		return false, err
	}
	if n >= p.Surge {
		d.surgeUntil.Store(now.Add(p.SurgeCooldown).UnixNano())
		return true, nil
	}
	return false, nil
}

// Record notes the outcome of an attempt that was let through (a failed
// or successful sign-in), for the failure-ratio and surge signals.
func (d *Defender) Record(ctx context.Context, p *Policy, a Attempt, failed bool) error {
	a.keys()
	now := d.Now()
	keys := []string{"tries|ip|" + a.client, "tries|prefix|" + a.prefix}
	if failed {
		keys = append(keys, "fails|ip|"+a.client, "fails|prefix|"+a.prefix)
	}
	for _, k := range keys {
		if _, _, err := d.counter.Add(ctx, k, 1, p.FailureWindow, now); err != nil {
			return err
		}
	}
	if failed && p.Surge > 0 {
		if _, _, err := d.counter.Add(ctx, "fails|global", 1, p.SurgeWindow, now); err != nil {
			return err
		}
	}
	return nil
}
