package caddymodule

import (
	"strings"
	"testing"
)

// TestAdaptSMSCountries: sms_countries and sms_region adapt to the site's
// handler (codes upper-cased), and each mistake is an error naming the
// option and its line.
func TestAdaptSMSCountries(t *testing.T) {
	site := func(lines string) string { return "shop.example.com {\n\tfrontdoor {\n" + lines + "\t}\n}\n" }
	out, err := adapt(t, site("\t\tsms_countries GB ie FR\n\t\tsms_region gb\n\t\tsms_daily_cap 500\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"sms_countries":["GB","IE","FR"]`, `"sms_region":"GB"`, `"sms_daily_cap":500`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted config lacks %s:\n%s", want, out)
		}
	}
	// sms_mfa may come before the countries it needs.
	if out, err := adapt(t, site("\t\tsms_mfa on\n\t\tsms_countries GB\n")); err != nil || !strings.Contains(string(out), `"sms_mfa":true`) {
		t.Fatalf("sms_mfa on: %v\n%s", err, out)
	}
	if out, err := adapt(t, site("\t\tphone_login on\n\t\tsms_countries GB\n")); err != nil || !strings.Contains(string(out), `"phone_login":true`) {
		t.Fatalf("phone_login on: %v\n%s", err, out)
	}
	if out, err := adapt(t, site("\t\tsms_countries GB\n\t\tsms_mfa off\n")); err != nil || strings.Contains(string(out), "sms_mfa") {
		t.Fatalf("sms_mfa off: %v\n%s", err, out)
	}
	if out, err := adapt(t, site("\t\tsms_countries GB\n\t\tsms_limits {\n\t\t\tcountry 500/1h\n\t\t\trange off\n\t\t}\n")); err != nil ||
		!strings.Contains(string(out), `"sms_limits":{"country":"500/1h","range":"off"}`) {
		t.Fatalf("sms_limits: %v\n%s", err, out)
	}
	if out, err := adapt(t, site("\t\tpublic /\n")); err != nil || strings.Contains(string(out), "sms_") {
		t.Fatalf("no sms line: %v\n%s", err, out)
	}
	for name, c := range map[string]struct {
		body string
		line int
		want string
	}{
		"no country":     {"\t\tsms_countries\n", 3, "sms_countries needs at least one"},
		"not a country":  {"\t\tsms_countries GB UK\n", 3, `sms_countries: "UK" is not an ISO 3166-1 alpha-2`},
		"three letters":  {"\t\tsms_countries GBR\n", 3, `sms_countries: "GBR"`},
		"named twice":    {"\t\tsms_countries GB gb\n", 3, "sms_countries: GB is named twice"},
		"set twice":      {"\t\tsms_countries GB\n\t\tsms_countries IE\n", 4, "sms_countries is set twice"},
		"region none":    {"\t\tsms_region\n", 3, "sms_region needs one"},
		"region two":     {"\t\tsms_region GB IE\n", 3, "sms_region needs one"},
		"region unknown": {"\t\tsms_region XX\n", 3, `sms_region: "XX" is not`},
		"cap zero":       {"\t\tsms_daily_cap 0\n", 3, "sms_daily_cap is at least 1"},
		"cap words":      {"\t\tsms_daily_cap many\n", 3, "sms_daily_cap"},
		"mfa no value":   {"\t\tsms_countries GB\n\t\tsms_mfa\n", 4, "sms_mfa needs on or off"},
		"mfa word":       {"\t\tsms_countries GB\n\t\tsms_mfa yes\n", 4, "sms_mfa needs on or off"},
		"mfa alone":      {"\t\tpublic /\n\t\tsms_mfa on\n", 4, "sms_mfa on needs sms_countries"},
		"login word":     {"\t\tsms_countries GB\n\t\tphone_login yes\n", 4, "phone_login needs on or off"},
		"login alone":    {"\t\tpublic /\n\t\tphone_login on\n", 4, "phone_login on needs sms_countries"},
		"limits unknown": {"\t\tsms_limits {\n\t\t\tprefix 5/1h\n\t\t}\n", 4, `sms_limits: unknown bound "prefix"`},
		"limits rate":    {"\t\tsms_limits {\n\t\t\tcountry lots\n\t\t}\n", 4, `sms_limits country: rate "lots"`},
		"limits twice":   {"\t\tsms_limits {\n\t\t\tcountry 5/1h\n\t\t\tcountry 6/1h\n\t\t}\n", 5, "sms_limits country is set twice"},
		"limits empty":   {"\t\tsms_limits {\n\t\t}\n", 4, "sms_limits needs at least one bound"},
		"limits arg":     {"\t\tsms_limits 5/1h\n", 3, "sms_limits takes a block"},
		"limits value":   {"\t\tsms_limits {\n\t\t\tnumber\n\t\t}\n", 4, "sms_limits number needs one value"},
	} {
		t.Run(name, func(t *testing.T) { wantAdaptError(t, site(c.body), c.line, c.want) })
	}
}

// TestPhoneOptionsValidate: the checks JSON configs get too.
func TestPhoneOptionsValidate(t *testing.T) {
	for name, c := range map[string]struct {
		h    Handler
		want string
	}{
		"lower case":         {Handler{SMSCountries: []string{"gb"}}, "sms_countries"},
		"region not listed":  {Handler{SMSCountries: []string{"GB"}, SMSRegion: "IE"}, "sms_region \"IE\" must be one of sms_countries"},
		"region, no country": {Handler{SMSRegion: "GB"}, "must be one of sms_countries"},
		"mfa, no country":    {Handler{SMSMFA: true}, "sms_mfa needs sms_countries"},
		"login, no country":  {Handler{PhoneLogin: true}, "phone_login needs sms_countries"},
		"limits, bad bound":  {Handler{SMSLimits: map[string]string{"planet": "1/1h"}}, "unknown bound"},
		"limits, bad rate":   {Handler{SMSLimits: map[string]string{"number": "0/1h"}}, "sms_limits number"},
	} {
		if err := c.h.validatePhone(); err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "frontdoor: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	ok := Handler{SMSCountries: []string{"GB", "IE"}, SMSRegion: "GB"}
	if err := ok.validatePhone(); err != nil {
		t.Fatal(err)
	}
}
