package caddymodule

import (
	"net/http"
	"testing"

	"github.com/frontdoorhq/frontdoor/risk/risktest"
	"github.com/frontdoorhq/frontdoor/session"
)

// benchRiskSession is a handler of a site judging risk (audit mode, so a
// moved session's requests go on, told) and a session of u_bench signed
// in from ip.
func benchRiskSession(b *testing.B, ip string) (*Handler, *http.Cookie) {
	dir := b.TempDir()
	places := []risktest.Entry{
		{CIDR: "192.0.2.0/24", Country: "DE", ASN: 3320},
		{CIDR: "198.51.100.0/24", Country: "AU", ASN: 1221},
	}
	geo := "geoip " + risktest.WritePlaces(b, dir, risktest.MaxMind, places) + " " + risktest.WriteASN(b, dir, places)
	h, _ := benchHandlerWith(b, gatewayOpts{logs: "level ERROR", global: geo}, func(h *Handler) {
		h.Risk = &RiskConfig{Mode: "audit"}
	})
	return h, benchSession(b, h, session.New{IP: ip, Risk: "low"})
}

// BenchmarkProtectedRouteRisk is the cookie hot path on a site judging
// risk, for a session used from where it signed in: one comparison of
// addresses more, and the risk header.
func BenchmarkProtectedRouteRisk(b *testing.B) {
	h, ck := benchRiskSession(b, benchClientIP)
	serveLoop(b, h, "/app/orders", ck, riskHeader)
}

// BenchmarkProtectedRouteRiskMoved is a session signed in from Australia
// whose requests come from Germany (audit mode: told, not stopped): the
// verdict is made once, then read from the per-node map.
func BenchmarkProtectedRouteRiskMoved(b *testing.B) {
	h, ck := benchRiskSession(b, "198.51.100.7")
	serveLoop(b, h, "/app/orders", ck, riskHeader)
	if v := h.app.backend.moves.get(movedKey{session.KeyOf(mustToken(b, h, ck)), benchClientIP}); !v.moved() {
		b.Fatal("the move was not judged")
	}
}

// mustToken decodes a cookie back to its session token.
func mustToken(b *testing.B, h *Handler, ck *http.Cookie) string {
	tok, err := h.app.codec.Decode(h.origin, ck.Value)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}
