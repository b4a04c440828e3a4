package authn

import (
	"net/http"
	"testing"
)

// TestCookieValue: the session cookie is read as Request.Cookie reads it,
// whatever else the browser sends.
func TestCookieValue(t *testing.T) {
	const name = "__Host-frontdoor"
	for _, lines := range [][]string{
		nil,
		{""},
		{"__Host-frontdoor=abc"},
		{"a=1; __Host-frontdoor=abc; b=2"},
		{"__Host-frontdoor-csrf=x; __Host-frontdoor=abc"},
		{"__Host-frontdoor-csrf=x"},
		{"__Host-frontdoorX=1; __Host-frontdoor=abc"},
		{"a=1", "  __Host-frontdoor=abc ;b=2"},
		{`__Host-frontdoor="abc"`},
		{"__Host-frontdoor=first; __Host-frontdoor=second"},
		{"x__Host-frontdoor=no"},
		{";;; __Host-frontdoor=abc;;"},
	} {
		r := &http.Request{Header: http.Header{}}
		if lines != nil {
			r.Header["Cookie"] = lines
		}
		want := ""
		if c, err := r.Cookie(name); err == nil {
			want = c.Value
		}
		if got := cookieValue(r.Header, name); got != want {
			t.Errorf("%q: got %q, want %q (as Request.Cookie)", lines, got, want)
		}
	}
}
