package caddymodule

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/frontdoorhq/frontdoor/sms"
)

// TestSMSCaddyfile: each spelling of the sms option adapts to its
// module, and each mistake is an error naming frontdoor, the option and
// its line.
func TestSMSCaddyfile(t *testing.T) {
	block := func(lines string) string { return "{\n\tfrontdoor {\n" + lines + "\t}\n}\n" }
	for name, c := range map[string]struct {
		body string
		want []string
	}{
		"log": {"\t\tsms log\n", []string{`"sms":{"sender":"log"}`}},
		"dir": {"\t\tsms dir /var/spool/frontdoor-sms\n", []string{`"sms":{"dir":"/var/spool/frontdoor-sms","sender":"dir"}`}},
		"twilio": {"\t\tsms http https://api.twilio.com/2010-04-01/Accounts/{env.TWILIO_SID}/Messages.json {\n\t\t\tformat twilio\n\t\t\tusername {env.TWILIO_SID}\n\t\t\tpassword {env.TWILIO_TOKEN}\n\t\t\tfrom +15005550006\n\t\t\ttimeout 5s\n\t\t}\n",
			[]string{`"sms":{"format":"twilio","from":"+15005550006","password":"{env.TWILIO_TOKEN}","sender":"http","timeout":5000000000,"url":"https://api.twilio.com/2010-04-01/Accounts/{env.TWILIO_SID}/Messages.json","username":"{env.TWILIO_SID}"}`}},
		"webhook": {"\t\tsms http http://127.0.0.1:9000/sms {\n\t\t\tformat webhook\n\t\t\tsecret {env.SMS_SECRET}\n\t\t}\n",
			[]string{`"sms":{"format":"webhook","secret":"{env.SMS_SECRET}","sender":"http","url":"http://127.0.0.1:9000/sms"}`}},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := adapt(t, block(c.body))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range c.want {
				if !strings.Contains(string(out), want) {
					t.Errorf("adapted config lacks %s:\n%s", want, out)
				}
			}
		})
	}

	// No sms line: nothing in the JSON, the log sender at provisioning.
	out, err := adapt(t, block("\t\tmailer log\n"))
	if err != nil || strings.Contains(string(out), `"sms"`) {
		t.Fatalf("%v\n%s", err, out)
	}

	webhook := func(lines string) string {
		return "\t\tsms http https://sms.internal/send {\n" + lines + "\t\t}\n"
	}
	for name, c := range map[string]struct {
		body string
		line int
		want string
	}{
		"no sender":        {"\t\tsms\n", 3, "sms needs a sender"},
		"unknown sender":   {"\t\tsms pigeon\n", 3, `unknown sms sender "pigeon"`},
		"twice":            {"\t\tsms log\n\t\tsms dir /tmp/x\n", 4, "sms is set twice"},
		"log argument":     {"\t\tsms log loud\n", 3, "sms log takes no argument"},
		"log block":        {"\t\tsms log {\n\t\t\tlevel info\n\t\t}\n", 4, "sms log takes no block"},
		"dir no path":      {"\t\tsms dir\n", 3, "sms dir needs a directory"},
		"dir two paths":    {"\t\tsms dir /a /b\n", 3, "sms dir: one directory"},
		"dir block":        {"\t\tsms dir /a {\n\t\t\tmode 0700\n\t\t}\n", 4, "sms dir takes no block"},
		"http no url":      {"\t\tsms http {\n\t\t\tformat webhook\n\t\t}\n", 3, "sms http needs a URL"},
		"http two urls":    {"\t\tsms http https://a/ https://b/ {\n\t\t\tformat webhook\n\t\t}\n", 3, "one URL"},
		"http plain":       {"\t\tsms http http://sms.example.com/send {\n\t\t\tformat webhook\n\t\t\tsecret x\n\t\t}\n", 3, "use https"},
		"http credentials": {"\t\tsms http https://AC1:tok@api.twilio.com/x {\n\t\t\tformat webhook\n\t\t\tsecret x\n\t\t}\n", 3, "must not hold credentials"},
		"http relative":    {"\t\tsms http /send {\n\t\t\tformat webhook\n\t\t\tsecret x\n\t\t}\n", 3, "not an absolute URL"},
		"no format":        {webhook("\t\t\tsecret x\n"), 3, "sms http: needs a format"},
		"bad format":       {webhook("\t\t\tformat vonage\n"), 4, `format "vonage": want twilio or webhook`},
		"format twice":     {webhook("\t\t\tformat webhook\n\t\t\tformat twilio\n"), 5, "format is set twice"},
		"format no value":  {webhook("\t\t\tformat\n"), 4, "format takes one value"},
		"twilio no user":   {webhook("\t\t\tformat twilio\n\t\t\tpassword p\n\t\t\tfrom Shop\n"), 3, "twilio needs username, password and from"},
		"twilio no pass":   {webhook("\t\t\tformat twilio\n\t\t\tusername u\n\t\t\tfrom Shop\n"), 3, "twilio needs username, password and from"},
		"twilio no from":   {webhook("\t\t\tformat twilio\n\t\t\tusername u\n\t\t\tpassword p\n"), 3, "twilio needs username, password and from"},
		"twilio secret":    {webhook("\t\t\tformat twilio\n\t\t\tusername u\n\t\t\tpassword p\n\t\t\tfrom Shop\n\t\t\tsecret s\n"), 3, "twilio takes no secret"},
		"webhook no sec":   {webhook("\t\t\tformat webhook\n"), 3, "webhook needs a secret"},
		"webhook user":     {webhook("\t\t\tformat webhook\n\t\t\tsecret s\n\t\t\tusername u\n"), 3, "not username, password or from"},
		"unknown option":   {webhook("\t\t\tformat webhook\n\t\t\tretries 3\n"), 5, `unknown option "retries"`},
		"timeout garbage":  {webhook("\t\t\tformat webhook\n\t\t\tsecret s\n\t\t\ttimeout soon\n"), 6, `timeout "soon" is not a duration`},
		"timeout long":     {webhook("\t\t\tformat webhook\n\t\t\tsecret s\n\t\t\ttimeout 5m\n"), 3, "timeout is at most 1m0s"},
		"two values":       {webhook("\t\t\tformat webhook\n\t\t\tsecret a b\n"), 5, "secret takes one value"},
	} {
		t.Run(name, func(t *testing.T) {
			body := c.body
			wantAdaptError(t, block(body), c.line, c.want)
			if !strings.Contains(c.want, "sms") {
				// Every message names the option.
				_, err := adapt(t, block(body))
				if !strings.Contains(err.Error(), "sms") {
					t.Errorf("error %q does not name sms", err)
				}
			}
		})
	}
}

// TestSMSHTTPProvision: placeholders are expanded at provisioning, and
// what they expand to is checked there, without echoing a secret.
func TestSMSHTTPProvision(t *testing.T) {
	t.Setenv("SMS_TEST_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	t.Setenv("SMS_TEST_TOKEN", "tok-hunter2-token")
	t.Setenv("SMS_TEST_URL", "http://sms.example.com/send")
	repl := caddy.NewReplacer()
	good := []SMSHTTP{
		{URL: "https://sms.internal/send", Format: sms.FormatWebhook, Secret: "{env.SMS_TEST_SECRET}"},
		{URL: "https://api.twilio.com/x", Format: sms.FormatTwilio, Username: "AC1", Password: "{env.SMS_TEST_TOKEN}", From: "+15005550006", Timeout: caddy.Duration(3 * time.Second)},
	}
	for i, s := range good {
		if err := s.build(repl); err != nil || s.sender == nil {
			t.Errorf("%d: %v", i, err)
		}
	}
	for name, c := range map[string]struct {
		s    SMSHTTP
		want string
	}{
		"secret unset":  {SMSHTTP{URL: "https://sms.internal/send", Format: sms.FormatWebhook, Secret: "{env.SMS_TEST_NOT_SET}"}, "secret"},
		"secret short":  {SMSHTTP{URL: "https://sms.internal/send", Format: sms.FormatWebhook, Secret: "whsec_c2hvcnQ="}, "24 to 64 bytes"},
		"secret plain":  {SMSHTTP{URL: "https://sms.internal/send", Format: sms.FormatWebhook, Secret: "hunter2hunter2hunter2hunter2"}, "whsec_"},
		"token unset":   {SMSHTTP{URL: "https://api.twilio.com/x", Format: sms.FormatTwilio, Username: "AC1", Password: "{env.SMS_TEST_NOT_SET}", From: "Shop"}, "password is empty once placeholders are expanded"},
		"url expands":   {SMSHTTP{URL: "{env.SMS_TEST_URL}", Format: sms.FormatWebhook, Secret: "{env.SMS_TEST_SECRET}"}, "use https"},
		"no format":     {SMSHTTP{URL: "https://sms.internal/send", Secret: "{env.SMS_TEST_SECRET}"}, "needs a format"},
		"twilio lacks":  {SMSHTTP{URL: "https://api.twilio.com/x", Format: sms.FormatTwilio, Username: "AC1", Password: "{env.SMS_TEST_TOKEN}"}, "needs username, password and from"},
		"from control":  {SMSHTTP{URL: "https://api.twilio.com/x", Format: sms.FormatTwilio, Username: "AC1", Password: "{env.SMS_TEST_TOKEN}", From: "Shop\nX"}, "printable"},
		"timeout large": {SMSHTTP{URL: "https://sms.internal/send", Format: sms.FormatWebhook, Secret: "{env.SMS_TEST_SECRET}", Timeout: caddy.Duration(time.Hour)}, "at most"},
	} {
		err := c.s.build(repl)
		if err == nil || !strings.Contains(err.Error(), "frontdoor: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, secret := range []string{"hunter2", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %q repeats a secret", name, err)
			}
		}
	}
}
