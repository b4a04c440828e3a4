// Command frontdoor is Caddy's command line with the standard modules and
// Frontdoor's identity modules plugged in: `frontdoor run`, `adapt`,
// `validate` and `reload` behave exactly as they do in Caddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/frontdoorhq/frontdoor/caddymodule"
	// The store modules (frontdoor.stores.*) and request authenticators
	// (frontdoor.authenticators.*) register themselves; caddymodule imports
	// them too, but naming them keeps the build's modules in sight.
	_ "github.com/frontdoorhq/frontdoor/caddymodule/authn"
	_ "github.com/frontdoorhq/frontdoor/caddymodule/stores"
)

func main() {
	caddycmd.Main()
}
