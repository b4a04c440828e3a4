package caddymodule

import (
	"context"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/frontdoorhq/frontdoor/botdefense"
)

// TestBrowserAccessibilityStatus: the operators' status page on the admin
// endpoint — charts, tables, offenders, a webhook's backlog — passes
// axe-core too, and fits 320 px.
//
// Caddy's admin endpoint refuses any request carrying Sec-Fetch-Mode (a
// browser's) without an allowed Origin or Referer, and a typed address
// has neither; so the browser reaches the page through a loopback proxy
// that drops those headers, as an operator's would.
func TestBrowserAccessibilityStatus(t *testing.T) {
	axe := axeSource(t)
	const email = "stan@example.com"
	g := startGateway(t, gatewayOpts{global: statusWebhook})
	g.signUp(email)
	g.post(g.newClient(), "/.frontdoor/login", loginForm(email, "wrong password"))
	pol := botdefense.Policy{Limits: []botdefense.Limit{{Route: botdefense.RouteLogin, Dimension: botdefense.DimIP, Count: 1, Period: time.Minute}}}
	for range 2 {
		if _, err := backendOf(t).defense.Check(context.Background(), &pol, botdefense.Attempt{Route: botdefense.RouteLogin, IP: "2001:db8:1234:5678::1"}); err != nil {
			t.Fatal(err)
		}
	}
	admin := &url.URL{Scheme: "http", Host: g.admin}
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(admin)
		for _, h := range []string{"Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-Dest", "Sec-Fetch-User", "Origin", "Referer"} {
			r.Out.Header.Del(h)
		}
	}})
	t.Cleanup(proxy.Close)
	s := &a11yTour{t: t, g: g, ctx: newBrowser(t, g), email: email}
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	s.ctx = ctx
	s.tour(axe, []a11yPage{
		{"status page", func(s *a11yTour) { s.run(chromedp.Navigate(proxy.URL + "/frontdoor/status")) }, "Frontdoor status"},
		{"status page, numbers open", func(s *a11yTour) {
			if _, err := chromedp.Run(s.ctx, chromedp.Evaluate[bool](`document.querySelectorAll("details").forEach(d => d.open = true); true`)); err != nil {
				s.t.Fatal(err)
			}
		}, "Frontdoor status"},
	})
}
