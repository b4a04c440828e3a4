package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(JWKSHandler{})
	httpcaddyfile.RegisterHandlerDirective("frontdoor_jwks", func(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
		h.Next()
		if h.NextArg() || h.NextBlock(0) {
			return nil, h.Errf("frontdoor_jwks takes no arguments")
		}
		return new(JWKSHandler), nil
	})
	httpcaddyfile.RegisterDirectiveOrder("frontdoor_jwks", httpcaddyfile.Before, "basic_auth")
}

// JWKSHandler publishes the assertion keys on any route, for example on an
// internal plain-HTTP listener that backends reach without TLS. Every
// frontdoor site also serves them at /.well-known/frontdoor/jwks.json.
type JWKSHandler struct {
	app *App
}

// CaddyModule returns the Caddy module information.
func (JWKSHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.frontdoor_jwks", New: func() caddy.Module { return new(JWKSHandler) }}
}

// Provision attaches to the frontdoor app.
func (j *JWKSHandler) Provision(ctx caddy.Context) error {
	var err error
	j.app, err = frontdoorApp(ctx)
	return err
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (j *JWKSHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	return serveJWKS(w, r, j.app)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*JWKSHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*JWKSHandler)(nil)
)
