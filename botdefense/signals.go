package botdefense

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"net/netip"
	"slices"
	"strings"
	"sync"
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
