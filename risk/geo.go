// Package risk judges how unusual a sign-in or a request is for a
// customer: where it comes from (an IP-to-place database), from what
// network, on what device. This file is the place part: a Locator over
// MMDB files, and distances between places.
package risk

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Place is where an address is, as far as the databases tell. A zero
// Place (Country "") is no place: the address is not mapped.
type Place struct {
	// Country is the ISO 3166-1 alpha-2 code.
	Country string `json:"country,omitempty"`
	// City is the city's English name, when the database has cities.
	City string `json:"city,omitempty"`
	// Lat and Lon are the place's coordinates: the city's when the
	// database has them (Exact), otherwise the country's centroid.
	Lat   float64 `json:"lat,omitempty"`
	Lon   float64 `json:"lon,omitempty"`
	Exact bool    `json:"exact,omitempty"`
	// ASN is the autonomous system (network) the address belongs to, 0
	// when there is no network database or it does not map the address;
	// Org is its organisation.
	ASN uint32 `json:"asn,omitempty"`
	Org string `json:"org,omitempty"`
}

// Known reports whether the address was mapped to a country.
func (p Place) Known() bool { return p.Country != "" }

// HasCoordinates reports whether the place can be measured against
// another (a city's coordinates or a country's centroid).
func (p Place) HasCoordinates() bool { return p.Exact || p.Lat != 0 || p.Lon != 0 }

// Locator maps addresses to places with an MMDB place database (the
// shipped country database, MaxMind GeoIP2/GeoLite2 City or Country, or
// ip-location-db's city or country schema) and, optionally, an ASN
// database (MaxMind's GeoLite2-ASN schema). It is safe for concurrent use.
type Locator struct {
	place, asn *maxminddb.Reader
	maxmind    bool // the place database has MaxMind's schema
}

// OpenLocator opens the place database at placePath and, when asnPath is
// not "", the ASN database.
func OpenLocator(placePath, asnPath string) (*Locator, error) {
	l := new(Locator)
	var err error
	if l.place, err = maxminddb.Open(placePath); err != nil {
		return nil, fmt.Errorf("risk: place database %s: %w", placePath, err)
	}
	t := l.place.Metadata.DatabaseType
	l.maxmind = strings.HasPrefix(t, "GeoIP2-") || strings.HasPrefix(t, "GeoLite2-") || strings.HasPrefix(t, "GeoIP-")
	if asnPath != "" {
		if l.asn, err = maxminddb.Open(asnPath); err != nil {
			_ = l.place.Close()
			return nil, fmt.Errorf("risk: ASN database %s: %w", asnPath, err)
		}
	}
	if _, err := l.Lookup(netip.MustParseAddr("1.1.1.1")); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("risk: place database %s: %w", placePath, err)
	}
	return l, nil
}

// Close releases the databases.
func (l *Locator) Close() error {
	if l == nil {
		return nil
	}
	err := l.place.Close()
	if l.asn != nil {
		err = errors.Join(err, l.asn.Close())
	}
	return err
}

// maxmindRecord is the part of MaxMind's City and Country schema read.
type maxmindRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	City struct {
		Names struct {
			EN string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// ipLocationRecord is ip-location-db's country and city schema.
type ipLocationRecord struct {
	CountryCode string   `maxminddb:"country_code"`
	City        string   `maxminddb:"city"`
	Latitude    *float64 `maxminddb:"latitude"`
	Longitude   *float64 `maxminddb:"longitude"`
}

// asnRecord is MaxMind's ASN schema (the shipped ASN database uses it).
type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// Lookup returns the address's place; a zero Place when the databases do
// not map it (whatever its range: loopback and private ranges are looked
// up like any other, so tests and private networks can map them). A nil
// Locator maps nothing.
func (l *Locator) Lookup(addr netip.Addr) (Place, error) {
	var p Place
	if l == nil || !addr.IsValid() {
		return p, nil
	}
	addr = addr.Unmap()
	var lat, lon *float64
	if l.maxmind {
		var rec maxmindRecord
		if err := l.place.Lookup(addr).Decode(&rec); err != nil {
			return Place{}, err
		}
		p.Country, p.City, lat, lon = strings.ToUpper(rec.Country.ISOCode), rec.City.Names.EN, rec.Location.Latitude, rec.Location.Longitude
	} else {
		var rec ipLocationRecord
		if err := l.place.Lookup(addr).Decode(&rec); err != nil {
			return Place{}, err
		}
		p.Country, p.City, lat, lon = strings.ToUpper(rec.CountryCode), rec.City, rec.Latitude, rec.Longitude
	}
	switch {
	case lat != nil && lon != nil:
		p.Lat, p.Lon, p.Exact = *lat, *lon, true
	case p.Country != "":
		if c, ok := centroids[p.Country]; ok {
			p.Lat, p.Lon = c[0], c[1]
		}
	}
	if l.asn != nil {
		var rec asnRecord
		if err := l.asn.Lookup(addr).Decode(&rec); err != nil {
			return Place{}, err
		}
		p.ASN, p.Org = rec.Number, rec.Org
	}
	return p, nil
}

// Earth's mean radius in kilometres.
const earthRadiusKm = 6371.0

// DistanceKm is the great-circle distance between two places (haversine).
func DistanceKm(a, b Place) float64 {
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(h)))
}

//go:embed centroids.tsv
var centroidTable string

// centroids maps a country code to its centroid (latitude, longitude).
var centroids = parseCentroids(centroidTable)

func parseCentroids(table string) map[string][2]float64 {
	m := make(map[string][2]float64, 256)
	for line := range strings.SplitSeq(table, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			panic("risk: centroids.tsv: bad line " + strconv.Quote(line))
		}
		lat, err1 := strconv.ParseFloat(f[1], 64)
		lon, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil {
			panic("risk: centroids.tsv: bad line " + strconv.Quote(line))
		}
		m[f[0]] = [2]float64{lat, lon}
	}
	return m
}

// Centroid returns a country's centroid as a place (not Exact); false
// for an unknown code.
func Centroid(country string) (Place, bool) {
	c, ok := centroids[strings.ToUpper(country)]
	if !ok {
		return Place{}, false
	}
	return Place{Country: strings.ToUpper(country), Lat: c[0], Lon: c[1]}, true
}
