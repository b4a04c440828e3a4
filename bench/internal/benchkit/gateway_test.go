//go:build linux

package benchkit

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	got := ParseMetrics(`# HELP frontdoor_password_hashes_total argon2id runs started.
# TYPE frontdoor_password_hashes_total counter
frontdoor_password_hashes_total 1234
frontdoor_defense_decisions_total{decision="allow",route="login"} 5
frontdoor_store_up{backend="a b"} 1
go_memstats_heap_alloc_bytes 1.2345e+07
not a metric line
`)
	for k, want := range map[string]float64{
		"frontdoor_password_hashes_total":                                   1234,
		`frontdoor_defense_decisions_total{decision="allow",route="login"}`: 5,
		`frontdoor_store_up{backend="a b"}`:                                 1,
		"go_memstats_heap_alloc_bytes":                                      12345000,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d series, want 4: %v", len(got), got)
	}
}

func TestSiteCaddyfile(t *testing.T) {
	got := SiteCaddyfile("\n\t\tpassword {\n\t\t\tconcurrency 2\n\t\t}", "\n\t\tlimits off")
	for _, want := range []string{
		"\t\tmailer dir {dir}/mail\n\t\tpassword {\n\t\t\tconcurrency 2\n\t\t}\n\t}\n}\n", // in the global frontdoor block
		"https://{host}:{port} {\n",
		"\t\tpublic /pub/*\n\t\tlimits off\n\t}\n", // in the site's frontdoor block
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
}
