// Package risktest writes small MMDB databases for tests: places and
// networks for loopback source addresses (127.x.y.z), which a test binds
// per connection to come from "another country".
package risktest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Entry maps a network (CIDR) to a place and, for the ASN database, a
// network number.
type Entry struct {
	CIDR    string
	Country string
	City    string
	// Lat and Lon are written only when Exact (a city database).
	Lat, Lon float64
	Exact    bool
	ASN      uint32
	Org      string
}

// Schema is the layout of the place database written.
type Schema int

const (
	// IPLocation is ip-location-db's layout (country_code, city,
	// latitude, longitude), the shipped database's.
	IPLocation Schema = iota
	// MaxMind is GeoIP2/GeoLite2 City's layout.
	MaxMind
)

// WritePlaces writes a place database of the entries into dir and
// returns its path.
func WritePlaces(t testing.TB, dir string, schema Schema, entries []Entry) string {
	t.Helper()
	typ := "geo-whois-asn-country"
	if schema == MaxMind {
		typ = "GeoLite2-City"
	}
	return write(t, dir, typ+".mmdb", typ, entries, func(e Entry) mmdbtype.Map {
		if schema == MaxMind {
			m := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(e.Country)}}
			if e.City != "" {
				m["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(e.City)}}
			}
			if e.Exact {
				m["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(e.Lat), "longitude": mmdbtype.Float64(e.Lon)}
			}
			return m
		}
		m := mmdbtype.Map{"country_code": mmdbtype.String(e.Country)}
		if e.City != "" {
			m["city"] = mmdbtype.String(e.City)
		}
		if e.Exact {
			m["latitude"], m["longitude"] = mmdbtype.Float64(e.Lat), mmdbtype.Float64(e.Lon)
		}
		return m
	})
}

// WriteASN writes an ASN database (GeoLite2-ASN layout) of the entries.
func WriteASN(t testing.TB, dir string, entries []Entry) string {
	t.Helper()
	return write(t, dir, "asn.mmdb", "GeoLite2-ASN", entries, func(e Entry) mmdbtype.Map {
		return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(e.ASN), "autonomous_system_organization": mmdbtype.String(e.Org)}
	})
}

func write(t testing.TB, dir, name, typ string, entries []Entry, record func(Entry) mmdbtype.Map) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: typ, RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		_, network, err := net.ParseCIDR(e.CIDR)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(network, record(e)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
