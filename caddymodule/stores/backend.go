package stores

import (
	"context"

	"github.com/frontdoorhq/frontdoor/caddymodule/stores/storeopen"
)

// Backend is implemented by modules in the frontdoor.stores namespace:
// each opens one storage system and returns the identity and session
// stores over it.
type Backend interface {
	// StoreKey identifies the storage opened, so that configs naming the
	// same storage share one handle across reloads.
	StoreKey() string
	// OpenStores connects. The caller closes the result when the last
	// config using it is gone.
	OpenStores(ctx context.Context) (*storeopen.Stores, error)
}
