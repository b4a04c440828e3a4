package caddymodule

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// writeJWKS writes a key set of keys to a file of the test's directory.
func writeJWKS(t testing.TB, name string, keys ...jose.JSONWebKey) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestServiceClientCaddyfile: the service client options adapt, and every
// mistake names the directive and its line.
func TestServiceClientCaddyfile(t *testing.T) {
	key := newECKey(t)
	pub := writeJWKS(t, "pub.json", jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"})
	priv := writeJWKS(t, "priv.json", jose.JSONWebKey{Key: key, KeyID: "k1"})
	sym := writeJWKS(t, "sym.json", jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "h"})
	hs := writeJWKS(t, "alg.json", jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Algorithm: "HS256"})
	garbage := filepath.Join(t.TempDir(), "garbage.json")
	if err := os.WriteFile(garbage, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	thumb := strings.Repeat("ab", 32)
	out, err := adapt(t, providerCaddyfile("\t\t\tscope orders:read\n\t\t\tclient svc {\n\t\t\t\tgrant client_credentials\n\t\t\t\tjwks "+pub+"\n\t\t\t\tscopes orders:read\n\t\t\t}\n\t\t\tclient m {\n\t\t\t\tgrant client_credentials\n\t\t\t\tcertificate "+thumb+"\n\t\t\t}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"grants":["client_credentials"]`, `"jwks":"` + pub + `"`, `"certificate":"` + thumb + `"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("adapted JSON lacks %s:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		name, clients string
		line          int
		want          string
	}{
		{"public service", "\t\t\tclient s {\n\t\t\t\tgrant client_credentials\n\t\t\t}\n", 4, "grant client_credentials needs a confidential client"},
		{"jwks missing file", "\t\t\tclient s {\n\t\t\t\tgrant client_credentials\n\t\t\t\tjwks /nonexistent/keys.json\n\t\t\t}\n", 6, "jwks /nonexistent/keys.json"},
		{"jwks not JSON", "\t\t\tclient s {\n\t\t\t\tgrant client_credentials\n\t\t\t\tjwks " + garbage + "\n\t\t\t}\n", 6, "not a JSON Web Key Set"},
		{"jwks private key", "\t\t\tclient s {\n\t\t\t\tgrant client_credentials\n\t\t\t\tjwks " + priv + "\n\t\t\t}\n", 6, "key k1 is not a public key"},
		{"jwks symmetric key", "\t\t\tclient s {\n\t\t\t\tgrant client_credentials\n\t\t\t\tjwks " + sym + "\n\t\t\t}\n", 6, "key h is not a public key"},
		{"jwks HS256", "\t\t\tclient s {\n\t\t\t\tgrant client_credentials\n\t\t\t\tjwks " + hs + "\n\t\t\t}\n", 6, "alg HS256"},
		{"jwks no file", "\t\t\tclient s {\n\t\t\t\tgrant client_credentials\n\t\t\t\tjwks\n\t\t\t}\n", 6, "jwks needs one file"},
		{"bad thumbprint", "\t\t\tclient s {\n\t\t\t\tgrant client_credentials\n\t\t\t\tcertificate abcd\n\t\t\t}\n", 6, `certificate "abcd"`},
		{"secret and jwks", "\t\t\tclient s {\n\t\t\t\tgrant client_credentials\n\t\t\t\tsecret x\n\t\t\t\tjwks " + pub + "\n\t\t\t}\n", 4, "secret, jwks and certificate are exclusive"},
		{"unknown grant", "\t\t\tclient s {\n\t\t\t\tgrant password\n\t\t\t\tsecret x\n\t\t\t}\n", 5, `unknown grant "password" (known: authorization_code device_code client_credentials token_exchange)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantAdaptError(t, providerCaddyfile(tc.clients), tc.line, tc.want)
		})
	}
}

func TestParseThumbprint(t *testing.T) {
	sum := sha256.Sum256([]byte("cert"))
	h := hex.EncodeToString(sum[:])
	colons := ""
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			colons += ":"
		}
		colons += strings.ToUpper(h[i : i+2])
	}
	for _, s := range []string{h, strings.ToUpper(h), colons, base64.RawURLEncoding.EncodeToString(sum[:]), base64.URLEncoding.EncodeToString(sum[:])} {
		got, err := parseThumbprint(s)
		if err != nil || string(got) != string(sum[:]) {
			t.Errorf("%s: %x %v", s, got, err)
		}
	}
	for _, s := range []string{"", "abcd", h[:62], base64.StdEncoding.EncodeToString(sum[:16]), strings.Repeat("z", 64)} {
		if _, err := parseThumbprint(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestServiceScopes(t *testing.T) {
	c := &ProviderClient{ID: "svc", Scopes: []string{"openid", "orders:read", "orders:write"}}
	if got, err := serviceScopes(c, nil); err != nil || strings.Join(got, " ") != "orders:read orders:write" {
		t.Errorf("default: %v %v", got, err)
	}
	if got, err := serviceScopes(c, []string{"orders:read", "orders:read"}); err != nil || strings.Join(got, " ") != "orders:read" {
		t.Errorf("narrowed: %v %v", got, err)
	}
	for _, asked := range [][]string{{"openid"}, {"orders:read", "email"}, {"orders:delete"}} {
		if _, err := serviceScopes(c, asked); err == nil || !strings.Contains(err.Error(), "invalid_scope") {
			t.Errorf("%v: %v", asked, err)
		}
	}
}
