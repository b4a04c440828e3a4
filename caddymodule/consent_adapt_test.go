package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/frontdoorhq/frontdoor/consent"
)

const consentIssueBlock = `consent {
			purpose terms {
				title "Terms of service"
				link https://shop.example.com/terms
				version 3
				required
			}
			purpose marketing {
				title "News and offers by email"
				text "We send at most one email a week. You can stop at any time."
				version 1
			}
			purpose ads {
				title "Share my data with advertising partners"
				sale_or_sharing
			}
		}`

// TestConsentAdapt: the issue's spellings adapt to the purposes, the site
// option and the rule option.
func TestConsentAdapt(t *testing.T) {
	cf := "{\n\tfrontdoor {\n\t\t" + consentIssueBlock + "\n\t}\n}\n\nshop.example.com {\n\tfrontdoor {\n\t\tconsent marketing ads\n\t\trequire /personalised/* {\n\t\t\tconsent marketing\n\t\t}\n\t}\n\treverse_proxy 127.0.0.1:9000\n}\n"
	out, err := adapt(t, cf)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Apps struct {
			Frontdoor App `json:"frontdoor"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	want := []consent.Purpose{
		{ID: "terms", Title: "Terms of service", Link: "https://shop.example.com/terms", Version: 3, Required: true},
		{ID: "marketing", Title: "News and offers by email", Text: "We send at most one email a week. You can stop at any time.", Version: 1},
		{ID: "ads", Title: "Share my data with advertising partners", Version: 1, SaleOrSharing: true},
	}
	got := cfg.Apps.Frontdoor.Consent
	if got == nil || len(got.Purposes) != len(want) {
		t.Fatalf("purposes %+v", got)
	}
	for i := range want {
		if got.Purposes[i] != want[i] {
			t.Errorf("purpose %d = %+v, want %+v", i, got.Purposes[i], want[i])
		}
	}
	for _, s := range []string{`"consent":["marketing","ads"]`, `"paths":["/personalised/*"]`, `"consent":["marketing"]`} {
		if !strings.Contains(string(out), s) {
			t.Errorf("adapted JSON lacks %s:\n%s", s, out)
		}
	}
}

// TestConsentAdaptErrors: every mistake names frontdoor, the option and
// the line.
func TestConsentAdaptErrors(t *testing.T) {
	// The purpose's first option is on line 5.
	purpose := func(opts string) string {
		return "{\n\tfrontdoor {\n\t\tconsent {\n\t\t\tpurpose terms {\n\t\t\t\t" + opts + "\n\t\t\t}\n\t\t}\n\t}\n}\n"
	}
	site := func(opt string) string {
		return "shop.example.com {\n\tfrontdoor {\n\t\t" + opt + "\n\t}\n\treverse_proxy 127.0.0.1:9000\n}\n"
	}
	tests := []struct {
		name, caddyfile string
		line            int
		want            string
	}{
		{"consent with argument", "{\n\tfrontdoor {\n\t\tconsent terms\n\t}\n}\n", 3, "consent takes a block"},
		{"consent empty", "{\n\tfrontdoor {\n\t\tconsent {\n\t\t}\n\t}\n}\n", 4, "consent needs at least one purpose"},
		{"consent unknown option", "{\n\tfrontdoor {\n\t\tconsent {\n\t\t\tcookie x\n\t\t}\n\t}\n}\n", 4, `consent: unknown option "cookie"`},
		{"purpose without id", "{\n\tfrontdoor {\n\t\tconsent {\n\t\t\tpurpose {\n\t\t\t}\n\t\t}\n\t}\n}\n", 4, "purpose needs an id"},
		{"purpose bad id", "{\n\tfrontdoor {\n\t\tconsent {\n\t\t\tpurpose Terms {\n\t\t\t}\n\t\t}\n\t}\n}\n", 4, `purpose "Terms": the id must be`},
		{"purpose no title", purpose("version 1"), 6, "purpose terms: a title is required"},
		{"purpose version zero", purpose("version 0"), 5, "purpose terms: version needs one number, 1 or more"},
		{"purpose version word", purpose("version three"), 5, "version needs one number"},
		{"purpose link relative", purpose("title T\n\t\t\t\tlink /terms"), 7, "link must be an absolute http(s) URL"},
		{"purpose unknown option", purpose("colour blue"), 5, `purpose terms: unknown option "colour"`},
		{"purpose required value", purpose("required yes"), 5, "required takes no value"},
		{"purpose required gpc", purpose("title T\n\t\t\t\trequired\n\t\t\t\tsale_or_sharing"), 8, "cannot be sale_or_sharing"},
		{"purpose twice", "{\n\tfrontdoor {\n\t\tconsent {\n\t\t\tpurpose a {\n\t\t\t\ttitle A\n\t\t\t}\n\t\t\tpurpose a {\n\t\t\t\ttitle A\n\t\t\t}\n\t\t}\n\t}\n}\n", 9, "purpose a is defined twice"},
		{"consent twice", "{\n\tfrontdoor {\n\t\tconsent {\n\t\t\tpurpose a {\n\t\t\t\ttitle A\n\t\t\t}\n\t\t}\n\t\tconsent {\n\t\t}\n\t}\n}\n", 8, "consent is set twice"},
		{"site consent without ids", site("consent"), 3, "consent needs at least one purpose id"},
		{"site consent bad id", site("consent Marketing"), 3, `consent: "Marketing" is not a purpose id`},
		{"site consent twice", site("consent a\n\t\tconsent b"), 4, "consent is set twice"},
		{"rule consent without ids", site("require /p/* {\n\t\t\tconsent\n\t\t}"), 4, "require consent needs at least one purpose id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, tc.caddyfile, tc.line, tc.want)
		})
	}
}

// TestConsentValidate: a site or a rule naming a purpose the global block
// does not define is a load error.
func TestConsentValidate(t *testing.T) {
	global := "consent {\n\t\t\tpurpose terms {\n\t\t\t\ttitle T\n\t\t\t\trequired\n\t\t\t}\n\t\t\tpurpose analytics {\n\t\t\t\ttitle A\n\t\t\t}\n\t\t}"
	tests := []struct{ name, global, site, want string }{
		{"valid", global, "consent analytics\n\t\trequire /p/* {\n\t\t\tconsent analytics\n\t\t}", ""},
		{"site unknown", global, "consent analytics marketing", `consent: no purpose "marketing"`},
		{"rule unknown", global, "require /p/* {\n\t\t\tconsent personalisation\n\t\t}", `require /p/* consent: no purpose "personalisation"`},
		{"no consent block", "store_timeout 2s", "consent analytics", `no purpose "analytics" in the global frontdoor block's consent (configured: none)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adaptAndValidate(t, tc.global, tc.site, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("validate: %v, want %q", err, tc.want)
			}
		})
	}
}
