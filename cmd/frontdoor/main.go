// Command frontdoor is Caddy's command line with the standard modules and
// Frontdoor's identity modules plugged in: `frontdoor run`, `adapt`,
// `validate` and `reload` behave exactly as they do in Caddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/frontdoorhq/frontdoor/caddymodule"
)

func main() {
	caddycmd.Main()
}
