package caddymodule

import (
	"strings"
	"testing"
)

// TestAgentCaddyfile: agent and lifetime in a client block, token_exchange
// among its grants; every mistake names its line.
func TestAgentCaddyfile(t *testing.T) {
	out, err := adapt(t, providerCaddyfile(`			client assistant {
				redirect_uri https://assistant.example/cb
				secret {env.ASSISTANT_SECRET}
				agent
				lifetime 7d
			}
			client concierge {
				secret {env.CONCIERGE_SECRET}
				grant urn:ietf:params:oauth:grant-type:token-exchange
				scopes orders:read
			}
			scope orders:read "see your orders"
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"agent":true,"id":"assistant","lifetime":604800000000000`, `"grants":["token_exchange"],"id":"concierge"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted JSON lacks %s:\n%s", want, out)
		}
	}
	client := func(lines string) string {
		return "\t\t\tclient a {\n\t\t\t\tredirect_uri https://a.example/cb\n" + lines + "\t\t\t}\n"
	}
	for _, tc := range []struct {
		name, clients string
		line          int
		want          string
	}{
		{"agent with a value", client("\t\t\t\tagent yes\n"), 6, "client a: agent takes no value"},
		{"lifetime without a value", client("\t\t\t\tagent\n\t\t\t\tlifetime\n"), 7, "lifetime needs one duration"},
		{"lifetime not a duration", client("\t\t\t\tagent\n\t\t\t\tlifetime forever\n"), 7, `lifetime "forever": a duration up to a year`},
		{"lifetime over a year", client("\t\t\t\tagent\n\t\t\t\tlifetime 400d\n"), 7, "a duration up to a year"},
		{"lifetime without agent", client("\t\t\t\tlifetime 7d\n"), 4, "lifetime is for agents"},
		{"first-party agent", client("\t\t\t\tagent\n\t\t\t\tfirst_party\n"), 4, "an agent is never first_party"},
		{"public exchange", client("\t\t\t\tgrant authorization_code token_exchange\n"), 4, "grant token_exchange needs a confidential client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, providerCaddyfile(tc.clients), tc.line, tc.want)
		})
	}
}
