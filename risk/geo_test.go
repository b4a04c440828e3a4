package risk_test

import (
	"math"
	"net/netip"
	"os"
	"testing"

	"github.com/frontdoorhq/frontdoor/risk"
	"github.com/frontdoorhq/frontdoor/risk/risktest"
)

var places = []risktest.Entry{
	{CIDR: "127.10.0.0/16", Country: "DE", City: "Berlin", Lat: 52.52, Lon: 13.405, Exact: true, ASN: 3320, Org: "Deutsche Telekom AG"},
	{CIDR: "127.11.0.0/16", Country: "DE", City: "Potsdam", Lat: 52.3906, Lon: 13.0645, Exact: true, ASN: 3320, Org: "Deutsche Telekom AG"},
	{CIDR: "127.20.0.0/16", Country: "AU", ASN: 1221, Org: "Telstra"},
	{CIDR: "2001:db8:1::/48", Country: "FR", ASN: 3215, Org: "Orange"},
}

// TestLocatorSchemas: the shipped layout (ip-location-db) and MaxMind's
// City layout are both read, loopback ranges included; a country without
// coordinates gets its centroid; an unmapped address has no place; the
// ASN database adds the network.
func TestLocatorSchemas(t *testing.T) {
	for _, schema := range []risktest.Schema{risktest.IPLocation, risktest.MaxMind} {
		dir := t.TempDir()
		l, err := risk.OpenLocator(risktest.WritePlaces(t, dir, schema, places), risktest.WriteASN(t, dir, places))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		look := func(a string) risk.Place {
			t.Helper()
			p, err := l.Lookup(netip.MustParseAddr(a))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if p := look("127.10.3.4"); p.Country != "DE" || p.City != "Berlin" || !p.Exact || p.Lat != 52.52 || p.ASN != 3320 || p.Org != "Deutsche Telekom AG" {
			t.Errorf("schema %d: Berlin: %+v", schema, p)
		}
		au := look("127.20.0.9")
		if c, _ := risk.Centroid("AU"); au.Country != "AU" || au.Exact || au.Lat != c.Lat || au.Lon != c.Lon || au.ASN != 1221 {
			t.Errorf("schema %d: a country's centroid: %+v", schema, au)
		}
		if p := look("::ffff:127.20.0.9"); p.Country != "AU" {
			t.Errorf("schema %d: a mapped IPv4 address: %+v", schema, p)
		}
		if p := look("2001:db8:1::5"); p.Country != "FR" || p.ASN != 3215 {
			t.Errorf("schema %d: IPv6: %+v", schema, p)
		}
		if p := look("127.0.0.1"); p.Known() || p.HasCoordinates() || p.ASN != 0 {
			t.Errorf("schema %d: unmapped: %+v", schema, p)
		}
	}
}

// TestNoDatabase: without a database nothing is mapped, nothing fails.
func TestNoDatabase(t *testing.T) {
	var l *risk.Locator
	if p, err := l.Lookup(netip.MustParseAddr("127.10.0.1")); err != nil || p.Known() {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := risk.OpenLocator("/nonexistent.mmdb", ""); err == nil {
		t.Fatal("a missing file opened")
	}
}

// TestDistance: haversine against known distances.
func TestDistance(t *testing.T) {
	berlin := risk.Place{Lat: 52.52, Lon: 13.405, Exact: true}
	paris := risk.Place{Lat: 48.8566, Lon: 2.3522, Exact: true}
	sydney := risk.Place{Lat: -33.8688, Lon: 151.2093, Exact: true}
	for _, tc := range []struct {
		a, b risk.Place
		km   float64
	}{{berlin, paris, 878}, {berlin, sydney, 16090}, {paris, paris, 0}} {
		if d := risk.DistanceKm(tc.a, tc.b); math.Abs(d-tc.km) > tc.km*0.01+1 {
			t.Errorf("distance %v → %v: %.0f km, want about %.0f", tc.a, tc.b, d, tc.km)
		}
	}
	for _, cc := range []string{"DE", "FR", "AU", "US", "JP", "BR", "ZA"} {
		if _, ok := risk.Centroid(cc); !ok {
			t.Errorf("no centroid for %s", cc)
		}
	}
	if _, ok := risk.Centroid("XX"); ok {
		t.Error("a centroid for XX")
	}
}

// TestShippedDatabases: the databases make deps installs (when it could)
// open, and map a well-known address to its country and network.
func TestShippedDatabases(t *testing.T) {
	place, asn := "../.cache/geo/place.mmdb", "../.cache/geo/asn.mmdb"
	if _, err := os.Stat(place); err != nil {
		t.Skip("no default databases in .cache/geo (make deps installs them)")
	}
	l, err := risk.OpenLocator(place, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := l.Lookup(netip.MustParseAddr("8.8.8.8"))
	if err != nil || p.Country != "US" || p.ASN != 15169 || !p.HasCoordinates() {
		t.Fatalf("8.8.8.8: %+v %v", p, err)
	}
}

// BenchmarkLocate is one address's place from the shipped layout's two
// databases (country and network), as a sign-in looks it up.
func BenchmarkLocate(b *testing.B) {
	dir := b.TempDir()
	l, err := risk.OpenLocator(risktest.WritePlaces(b, dir, risktest.IPLocation, places), risktest.WriteASN(b, dir, places))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	addr := netip.MustParseAddr("127.10.3.4")
	b.ReportAllocs()
	for b.Loop() {
		if p, err := l.Lookup(addr); err != nil || p.Country != "DE" {
			b.Fatal(p, err)
		}
	}
}
