package caddymodule

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// BenchmarkSignInWebhooks measures a whole password sign-in through real
// Caddy (login page, POST, session, events) with no webhook, with a
// healthy receiver, and with a receiver that never answers: the event is
// kept in the outbox on the sign-in's path, the delivery happens elsewhere,
// so a hanging receiver must cost a sign-in nothing (docs/BENCHMARKS.md).
func BenchmarkSignInWebhooks(b *testing.B) {
	for _, tc := range []struct{ name, mode, store string }{
		{"bolt/none", "", ""}, {"bolt/healthy", "ok", ""}, {"bolt/hanging", "hang", ""},
		{"redis/none", "", "redis"}, {"redis/healthy", "ok", "redis"}, {"redis/hanging", "hang", "redis"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			o := gatewayOpts{logs: "level INFO"}
			if tc.store == "redis" {
				o.store = "store redis " + redistest.Start(b).URL()
			}
			if tc.mode != "" {
				r := newHookReceiver(b)
				r.setMode(tc.mode)
				o.global = webhookGlobal("crm", r.URL)
			}
			g := startGateway(b, o)
			g.signUp("bench-signin@example.com")
			c := g.newClient()
			form := url.Values{"email": {"bench-signin@example.com"}, "password": {testPassword}, "rd": {"/app/x"}}
			b.ResetTimer()
			for b.Loop() {
				c.Jar, _ = cookiejar.New(nil)
				if r := g.post(c, "/.frontdoor/login", form); r.status != http.StatusSeeOther {
					b.Fatalf("sign-in: %d", r.status)
				}
			}
		})
	}
}
