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
