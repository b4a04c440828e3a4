// Command asn2mmdb turns ip-location-db's ASN tables (CSV: first address,
// last address, AS number, organisation; the npm package
// @ip-location-db/asn, CC BY 4.0 by RouteViews, DB-IP and the NRO) into an
// MMDB file in MaxMind's GeoLite2-ASN layout, which Frontdoor's geoip
// option reads. scripts/deps.sh runs it.
//
//	asn2mmdb -out .cache/geo/asn.mmdb asn-ipv4.csv asn-ipv6.csv
package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func main() {
	out := flag.String("out", "asn.mmdb", "the MMDB file to write")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: asn2mmdb -out asn.mmdb asn-ipv4.csv [asn-ipv6.csv]")
		os.Exit(2)
	}
	if err := run(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "asn2mmdb:", err)
		os.Exit(1)
	}
}

func run(out string, inputs []string) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", RecordSize: 28, IncludeReservedNetworks: true, DisableIPv4Aliasing: true,
		Description: map[string]string{"en": "ip-location-db ASN (RouteViews, DB-IP, NRO; CC BY 4.0)"}})
	if err != nil {
		return err
	}
	for _, in := range inputs {
		if err := load(tree, in); err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if _, err := tree.WriteTo(w); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func load(tree *mmdbwriter.Tree, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.FieldsPerRecord = 4
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		first, last := net.ParseIP(rec[0]), net.ParseIP(rec[1])
		asn, err := strconv.ParseUint(rec[2], 10, 32)
		if first == nil || last == nil || err != nil {
			return fmt.Errorf("line %d: %q", line, rec)
		}
		if err := tree.InsertRange(first, last, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(asn),
			"autonomous_system_organization": mmdbtype.String(rec[3]),
		}); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}
