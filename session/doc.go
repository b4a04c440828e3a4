// Package session owns server-side sessions: create, look up, touch,
// rotate, revoke one or all of a customer's; idle and absolute expiry; the
// cookie codec (gorilla/securecookie); and the signed identity assertion
// (an ES256 JWT) with its key set (JWKS, rotation).
//
// It must not know about the login UI. Customers appear only as an opaque
// user id.
package session
