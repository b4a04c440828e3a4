package caddymodule

import (
	"strings"
	"testing"
)

// TestWebhookCaddyfile: the webhook option adapts as the issue spells it,
// and each mistake is an error naming the option and its line.
func TestWebhookCaddyfile(t *testing.T) {
	good := `{
	frontdoor {
		webhook crm https://crm.internal/hooks/frontdoor {
			secret {env.CRM_WEBHOOK_SECRET}
			events customer.* consent.changed
		}
		webhook siem http://127.0.0.1:9000/events {
			secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
			include_email
			timeout 3s
			max_backlog 5000
		}
	}
}
`
	out, err := adapt(t, good)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"webhooks":[{`, `"name":"crm"`, `"url":"https://crm.internal/hooks/frontdoor"`,
		`"secret":"{env.CRM_WEBHOOK_SECRET}"`, `"events":["customer.*","consent.changed"]`, `"include_email":true`, `"timeout":3000000000`, `"max_backlog":5000`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted config lacks %s:\n%s", want, out)
		}
	}
	block := func(lines string) string { return "{\n\tfrontdoor {\n" + lines + "\t}\n}\n" }
	for name, c := range map[string]struct {
		body string
		line int
		want string
	}{
		"no secret":       {"\t\twebhook crm https://crm.internal/h {\n\t\t\tevents customer.*\n\t\t}\n", 3, "needs a secret"},
		"no url":          {"\t\twebhook crm {\n\t\t\tsecret x\n\t\t}\n", 3, "a name and a URL"},
		"plain http":      {"\t\twebhook crm http://crm.example.com/h {\n\t\t\tsecret x\n\t\t}\n", 3, "use https"},
		"credentials":     {"\t\twebhook crm https://u:p@crm.example.com/h {\n\t\t\tsecret x\n\t\t}\n", 3, "credentials"},
		"unknown type":    {"\t\twebhook crm https://crm.internal/h {\n\t\t\tsecret x\n\t\t\tevents customer.signedup\n\t\t}\n", 5, "matches no event type"},
		"no events":       {"\t\twebhook crm https://crm.internal/h {\n\t\t\tsecret x\n\t\t\tevents\n\t\t}\n", 5, "at least one"},
		"unknown option":  {"\t\twebhook crm https://crm.internal/h {\n\t\t\tsecret x\n\t\t\tretries 5\n\t\t}\n", 5, `unknown option "retries"`},
		"bad name":        {"\t\twebhook c/rm https://crm.internal/h {\n\t\t\tsecret x\n\t\t}\n", 3, "webhook name"},
		"declared twice":  {"\t\twebhook crm https://a.internal/h {\n\t\t\tsecret x\n\t\t}\n\t\twebhook crm https://b.internal/h {\n\t\t\tsecret x\n\t\t}\n", 6, "declared twice"},
		"backlog zero":    {"\t\twebhook crm https://crm.internal/h {\n\t\t\tsecret x\n\t\t\tmax_backlog 0\n\t\t}\n", 5, "at least 1"},
		"timeout garbage": {"\t\twebhook crm https://crm.internal/h {\n\t\t\tsecret x\n\t\t\ttimeout soon\n\t\t}\n", 5, "timeout"},
	} {
		t.Run(name, func(t *testing.T) { wantAdaptError(t, block(c.body), c.line, c.want) })
	}
}

// TestWebhookSecrets: a secret that is not a Standard Webhooks secret
// stops the config at provisioning, without echoing it; placeholders are
// expanded first.
func TestWebhookSecrets(t *testing.T) {
	t.Setenv("CRM_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	a := &App{Webhooks: []*WebhookConfig{{Name: "crm", URL: "https://crm.internal/h", Secret: "{env.CRM_WEBHOOK_SECRET}", Events: []string{"customer.*"}}}}
	if err := a.provisionWebhooks(); err != nil || len(a.webhooks) != 1 || len(a.webhooks[0].Secret) != 24 {
		t.Fatalf("placeholder secret: %v %+v", err, a.webhooks)
	}
	for _, bad := range []string{"hunter2hunter2hunter2hunter2", "whsec_c2hvcnQ=", "{env.NOT_SET_ANYWHERE}"} {
		a := &App{Webhooks: []*WebhookConfig{{Name: "crm", URL: "https://crm.internal/h", Secret: bad}}}
		err := a.provisionWebhooks()
		if err == nil || !strings.Contains(err.Error(), "webhook crm") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("secret %q: %v", bad, err)
		}
	}
}
