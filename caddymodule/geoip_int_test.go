package caddymodule

import (
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/risk/risktest"
)

// TestGeoIPCaddyfile: the global geoip option and its errors, which name
// the directive and the line.
func TestGeoIPCaddyfile(t *testing.T) {
	out, err := adapt(t, "{\n\tfrontdoor {\n\t\tgeoip /var/lib/geo/city.mmdb /var/lib/geo/asn.mmdb\n\t}\n}\nshop.example.com {\n\tfrontdoor\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := `"geoip":{"place":"/var/lib/geo/city.mmdb","asn":"/var/lib/geo/asn.mmdb"}`; !strings.Contains(string(out), want) {
		t.Errorf("adapted JSON lacks %s:\n%s", want, out)
	}
	for _, tc := range []struct {
		name, lines, want string
	}{
		{"no database", "\t\tgeoip\n", "geoip takes the place database"},
		{"three", "\t\tgeoip a.mmdb b.mmdb c.mmdb\n", "geoip takes the place database"},
		{"twice", "\t\tgeoip a.mmdb\n\t\tgeoip b.mmdb\n", "geoip is set twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf := "{\n\tfrontdoor {\n" + tc.lines + "\t}\n}\nshop.example.com {\n\tfrontdoor\n}\n"
			wantAdaptError(t, cf, strings.Count(tc.lines, "\n")+2, tc.want)
		})
	}
}

// TestGeoIPLoad: a gateway with databases maps a client's address (a
// loopback address bound per connection, mapped by a database the test
// writes); a path that does not hold a database is refused at load,
// naming the option, and the running config goes on serving.
func TestGeoIPLoad(t *testing.T) {
	dir := t.TempDir()
	entries := []risktest.Entry{{CIDR: "127.0.0.0/8", Country: "DE", ASN: 3320, Org: "Telekom"}}
	place, asn := risktest.WritePlaces(t, dir, risktest.IPLocation, entries), risktest.WriteASN(t, dir, entries)
	g := startGateway(t, gatewayOpts{global: "geoip " + place + " " + asn})
	liveMu.Lock()
	l := live.locator
	liveMu.Unlock()
	if p, err := l.Lookup(netip.MustParseAddr("127.0.0.1")); err != nil || p.Country != "DE" || p.ASN != 3320 {
		t.Fatalf("the running config's locator: %+v %v", p, err)
	}
	for _, bad := range []string{filepath.Join(dir, "missing.mmdb"), filepath.Join(dir, "missing.mmdb") + " " + asn, place + " " + filepath.Join(dir, "nope.mmdb")} {
		cf := g.caddyfile(gatewayOpts{global: "geoip " + bad})
		resp, err := http.Post("http://"+g.admin+"/load", "text/caddyfile", strings.NewReader(cf))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || !strings.Contains(string(body), "frontdoor: geoip:") {
			t.Errorf("geoip %s: load answered %d %s", bad, resp.StatusCode, body)
		}
	}
	if r := g.get(g.newClient(), "/pub/x", nil); r.status != http.StatusOK {
		t.Fatalf("after the refused loads: %d", r.status)
	}
}

// TestRiskCaddyfile: the site's risk block and its errors, which name the
// directive and the line.
func TestRiskCaddyfile(t *testing.T) {
	site := func(lines string) string {
		return "shop.example.com {\n\tfrontdoor {\n\t\trisk {\n" + lines + "\t\t}\n\t}\n}\n"
	}
	out, err := adapt(t, site("\t\t\tnew_device notify\n\t\t\timpossible_travel stepup notify\n\t\t\tbreached_password reset\n\t\t\tmode audit\n\t\t\tmax_speed 800\n\t\t\tanonymous_networks tor 185.220.100.0/22 AS60729\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"actions":{"breached_password":["reset"],"impossible_travel":["stepup","notify"],"new_device":["notify"]}`,
		`"mode":"audit"`, `"max_speed":800`, `"anonymous_networks":{"tor":["185.220.100.0/22","AS60729"]}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted JSON lacks %s:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		name, lines string
		line        int
		want        string
	}{
		{"unknown signal", "\t\t\tnew_planet notify\n", 4, `unknown signal "new_planet"`},
		{"unknown action", "\t\t\tnew_device shout\n", 4, `unknown action "shout"`},
		{"reset elsewhere", "\t\t\tnew_device reset\n", 4, `unknown action "reset"`},
		{"no action", "\t\t\tnew_device\n", 4, "new_device needs an action"},
		{"twice", "\t\t\tnew_device notify\n\t\t\tnew_device allow\n", 5, "new_device is set twice"},
		{"mode", "\t\t\tmode loud\n", 4, "mode is enforce or audit"},
		{"speed", "\t\t\tmax_speed fast\n", 4, `max_speed "fast": a positive number`},
		{"network", "\t\t\tanonymous_networks tor not-a-range\n", 4, `"not-a-range" is neither a range`},
		{"network file", "\t\t\tanonymous_networks tor /nonexistent/tor.txt\n", 4, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, site(tc.lines), tc.line, tc.want)
		})
	}
}
