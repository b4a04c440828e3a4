package urlcheck

import (
	"net/url"
	"testing"
)

func TestSecureOrLoopback(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://crm.example.com/h": true, "http://127.0.0.1:9/h": true, "http://[::1]:9/": true, "http://localhost/": true,
		"http://[::ffff:127.0.0.1]/": true, "http://crm.example.com/": false, "http://10.0.0.1/": false, "ftp://127.0.0.1/": false,
		"http://localhost.evil.example/": false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := SecureOrLoopback(u); got != want {
			t.Errorf("%s: %v, want %v", raw, got, want)
		}
	}
}
