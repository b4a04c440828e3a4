package caddymodule

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// csrfCookie carries the per-browser CSRF secret. The token in a form is an
// HMAC of it under a server key (the signed double-submit pattern), so a
// token can neither be forged without the key nor replayed from another
// browser; the __Host- prefix stops a sibling subdomain from planting it.
const csrfCookie = "__Host-frontdoor-csrf"

// csrfField is the form field of the HTTP contract.
const csrfField = "csrf_token"

func csrfToken(key []byte, secret string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("csrf\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfFor returns the token to put in a form, setting the browser's CSRF
// cookie first if it has none.
func (h *Handler) csrfFor(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return csrfToken(h.app.csrfKey, c.Value)
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: secret, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return csrfToken(h.app.csrfKey, secret)
}

// csrfOK checks a parsed form post: the token must match the cookie, and a
// browser that tells us the request is cross-site is refused outright.
func (h *Handler) csrfOK(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	// A site block may answer on several names; the one Caddy routed this
	// request on is as much this site as the configured origin.
	if o := r.Header.Get("Origin"); o != "" && o != "null" && o != h.origin && !strings.EqualFold(o, "https://"+r.Host) {
		return false
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	got := r.PostForm.Get(csrfField)
	want := csrfToken(h.app.csrfKey, c.Value)
	return hmac.Equal([]byte(got), []byte(want))
}
