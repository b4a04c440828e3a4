package caddymodule

import (
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var updateAdapt = flag.Bool("update", false, "rewrite the expected JSON of testdata/adapt/*.caddyfiletest")

// adaptSep splits a golden file into its Caddyfile and its expected JSON,
// as in Caddy's caddytest/integration/caddyfile_adapt.
const adaptSep = "----------"

// adaptInOrder lists, per golden file, strings that must appear in this
// order in the adapted JSON: the properties the golden file exists for,
// stated so that a careless -update cannot bless their loss.
var adaptInOrder = map[string][]string{
	"design.caddyfiletest": {
		`"handler":"frontdoor"`, `"origin":"https://shop.example.com"`, `"handler":"reverse_proxy"`,
	},
	"origin_localhost.caddyfiletest": {`"handler":"frontdoor"`, `"origin":"https://localhost:8443"`},
	"origin_override.caddyfiletest":  {`"origin":"https://www.example.com"`},
	"origin_wildcard.caddyfiletest":  {`"origin":"https://login.example.com"`},
	"origin_ipv6.caddyfiletest":      {`"origin":"https://[::1]:8443"`},
	"authenticate.caddyfiletest":     {`"authenticators":[{"authenticator":"session"}],"handler":"frontdoor"`},
	"jwks_http.caddyfiletest":        {`"handler":"frontdoor_jwks"`},
	"store_redis_url.caddyfiletest":  {`"store":{"backend":"redis","url":"redis://127.0.0.1:6379/0"}`, `"store_timeout":1500000000`},
	"store_redis_cluster.caddyfiletest": {
		`"addrs":["10.0.0.1:6379","10.0.0.2:6379","10.0.0.3:6379"]`, `"password":"{env.REDIS_PASSWORD}"`, `"tls":true`,
	},
	"global_smtp.caddyfiletest": {`"store":{"backend":"bolt"}`},
	// The secret stays a placeholder in the JSON; the default timeout is
	// left out.
	"legacy_auth.caddyfiletest": {
		`"handler":"frontdoor","legacy_auth":{"secret":"{file./run/secrets/legacy}","url":"http://127.0.0.1:8081/verify"}`,
		`"handler":"frontdoor","legacy_auth":{"secret":"{env.LEGACY_SECRET}","timeout":1500000000,"url":"https://legacy.internal/verify"}`,
	},
	"global_dir.caddyfiletest": {
		`"store":{"backend":"bolt","path":"/var/lib/frontdoor/frontdoor.db"}`, `"session":{"cache":-1}`,
	},
}

func adapt(t *testing.T, caddyfile string) ([]byte, error) {
	t.Helper()
	out, warns, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	for _, w := range warns {
		t.Errorf("adapt warning: %s:%d: %s: %s", w.File, w.Line, w.Directive, w.Message)
	}
	return out, err
}

// normJSON re-marshals JSON indented, so that formatting and key order do
// not matter.
func normJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, raw)
	}
	out, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		if i >= len(w) || i >= len(g) || w[i] != g[i] {
			lo := max(0, i-3)
			return "first difference at JSON line " + strconv.Itoa(i+1) + "\n--- want\n" +
				strings.Join(w[lo:min(len(w), i+4)], "\n") + "\n--- got\n" + strings.Join(g[lo:min(len(g), i+4)], "\n")
		}
	}
	return ""
}

func TestCaddyfileAdaptGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "adapt", "*.caddyfiletest"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in testdata/adapt (%v)", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cf, want, ok := strings.Cut(string(data), adaptSep)
			if !ok {
				t.Fatalf("%s: no %s line between Caddyfile and JSON", name, adaptSep)
			}
			cf = strings.TrimSpace(cf) + "\n"
			out, err := adapt(t, cf)
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			got := normJSON(t, out)
			if *updateAdapt {
				if err := os.WriteFile(file, []byte(cf+adaptSep+"\n"+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if w := normJSON(t, []byte(want)); w != got {
				t.Errorf("%s: adapted JSON differs (run with -update to accept)\n%s", name, firstDiff(w, got))
			}
			assertInOrder(t, out, adaptInOrder[name])
		})
	}
}

func assertInOrder(t *testing.T, out []byte, wants []string) {
	t.Helper()
	rest := out
	for _, w := range wants {
		i := bytes.Index(rest, []byte(w))
		if i < 0 {
			t.Errorf("adapted JSON lacks %s after the previous expectation, or in that order:\n%s", w, out)
			return
		}
		rest = rest[i+len(w):]
	}
}

func TestCaddyfileAdaptExample(t *testing.T) {
	cf, err := os.ReadFile(filepath.Join("..", "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := adapt(t, string(cf))
	if err != nil {
		t.Fatalf("Caddyfile.example: %v", err)
	}
	assertInOrder(t, out, []string{`"handler":"frontdoor"`, `"origin":"https://localhost:8443"`, `"handler":"reverse_proxy"`})
	assertInOrder(t, out, []string{`"handler":"frontdoor_jwks"`})
	assertInOrder(t, out, []string{`"apps":{"frontdoor":{`, `"session":{"idle":1800000000000,"absolute":43200000000000}`})
}

var lineRE = regexp.MustCompile(`(?:at Caddyfile:|\(line )(\d+)`)

func TestCaddyfileAdaptErrors(t *testing.T) {
	// Both put the option on line 3.
	global := func(opt string) string {
		return "{\n\tfrontdoor {\n\t\t" + opt + "\n\t}\n}\n\nshop.example.com {\n\treverse_proxy 127.0.0.1:9000\n}\n"
	}
	site := func(opt string) string {
		return "shop.example.com {\n\tfrontdoor {\n\t\t" + opt + "\n\t}\n\treverse_proxy 127.0.0.1:9000\n}\n"
	}
	tests := []struct {
		name, caddyfile string
		line            int
		want            string
	}{
		{"unknown site option", site("bogus 1"), 3, `unknown option "bogus"`},
		{"unknown global option", global("bogus 1"), 3, `unknown global option "bogus"`},
		{"public without paths", site("public"), 3, "public needs at least one path"},
		{"bad path pattern", site("public / foo"), 3, `path "foo" must start with / or *`},
		{"bad wildcard", site("protect /a/*/b"), 3, "* may only stand at the start or the end"},
		{"require without settings", site("require /x"), 3, "require needs aal, max_age or methods"},
		{"require aal3", site("require /x {\n\t\t\taal aal3\n\t\t}"), 4, "aal must be aal1 or aal2"},
		{"require unknown option", site("require /x {\n\t\t\tacr aal2\n\t\t}"), 4, `unknown require option "acr"`},
		{"site headers unknown preset", site("headers keycloak"), 3, `unknown preset "keycloak"`},
		{"global headers unknown preset", global("headers keycloak"), 3, `unknown preset "keycloak"`},
		{"headers send bogus", site("headers {\n\t\t\tsend all\n\t\t}"), 4, "send needs both, assertion or plain"},
		{"mailer without type", global("mailer"), 3, "mailer needs a type"},
		{"mailer bogus", global("mailer bogus"), 3, `unknown mailer "bogus"`},
		{"mailer dir without path", global("mailer dir"), 3, "mailer dir needs a directory"},
		{"session idle not a duration", global("session {\n\t\t\tidle notaduration\n\t\t}"), 4, "frontdoor: idle: "},
		{"session cache without value", global("session {\n\t\t\tidle 30m\n\t\t\tcache\n\t\t}"), 5, "cache needs one duration"},
		{"session cache off with value", global("session {\n\t\t\tcache off 1s\n\t\t}"), 4, "cache off takes no value"},
		{"password min_length abc", global("password {\n\t\t\tmin_length abc\n\t\t}"), 4, `min_length: "abc" is not a number`},
		{"store without backend", global("store"), 3, "store needs a backend"},
		{"store bolt two paths", global("store bolt a b"), 3, `one path at most, got "b"`},
		{"store unknown backend", global("store nosuch x"), 3, `unknown store "nosuch"`},
		{"store twice", global("store bolt\n\t\tstore bolt /x"), 4, "store is set twice"},
		{"prefix not a path", site("prefix auth"), 3, `prefix "auth" must be a path`},
		{"require unknown method", site("require /x {\n\t\t\tmethods voice\n\t\t}"), 4, `unknown method "voice"`},
		{"duration not a duration", global("session {\n\t\t\tabsolute soon\n\t\t}"), 4, `absolute: "soon" is not a duration`},
		{"no fixed host", ":8443 {\n\tfrontdoor\n}\n", 2, "no fixed host"},
		{"no fixed host with block", ":8443 {\n\tfrontdoor {\n\t\tpublic /\n\t}\n}\n", 2, "no fixed host"},
		{"plain http site", "http://shop.example.com {\n\tfrontdoor\n}\n", 2, "plain http"},
		{"origin not https", site("origin http://x"), 3, "must be an https origin"},
		{"authenticate without name", site("authenticate"), 3, "authenticate needs an authenticator"},
		{"authenticate unknown", site("authenticate apikey"), 3, `unknown authenticator "apikey" (this build has: session)`},
		{"authenticate session with argument", site("authenticate session cookie"), 3, `authenticate session takes no arguments, got "cookie"`},
		{"authenticate session with block", site("public /\n\t\tauthenticate session {\n\t\t\tcookie x\n\t\t}"), 5, `authenticate session takes no block, got "cookie"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adapt(t, tc.caddyfile)
			if err == nil {
				t.Fatalf("adapt succeeded; want an error naming frontdoor at Caddyfile:%d\n%s", tc.line, tc.caddyfile)
			}
			// Caddy's own prefix names the directive whatever the parser
			// says; the parser's message must name it too.
			msg := strings.TrimPrefix(err.Error(), "parsing caddyfile tokens for 'frontdoor': ")
			if !strings.Contains(msg, "frontdoor") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q: want it to name frontdoor and contain %q", msg, tc.want)
			}
			if !strings.Contains(msg, "at Caddyfile:") {
				t.Errorf("error %q names no file and line", msg)
			}
			for _, m := range lineRE.FindAllStringSubmatch(msg, -1) {
				if m[1] != strconv.Itoa(tc.line) {
					t.Errorf("error %q: line %s, want %d", msg, m[1], tc.line)
				}
			}
		})
	}
}

// TestCaddyfileAdaptThenValidate adapts Caddyfiles that parse but must not
// load, and loads them as `caddy validate` does: provisioned, never started.
func TestCaddyfileAdaptThenValidate(t *testing.T) {
	tests := []struct {
		name, global, site string
		// origin, when set, replaces the adapted origin: a Caddyfile cannot
		// say it (adapting rejects it), JSON written by hand can.
		origin string
		want   string
	}{
		{name: "valid", global: "session {\n\t\t\tidle 30m\n\t\t}"},
		{name: "password min_length 4", global: "password {\n\t\t\tmin_length 4\n\t\t}", want: "password min length 4 is below 8"},
		{name: "session idle 10s", global: "session {\n\t\t\tidle 10s\n\t\t}", want: "idle timeout 10s is below 1m"},
		{name: "session cache 5s", global: "session {\n\t\t\tcache 5s\n\t\t}", want: "cache ttl 5s is above 2s"},
		{name: "origin http", origin: "http://x", want: `origin "http://x" must be an https origin`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := adaptAndValidate(t, cmp.Or(tc.global, "from shop@example.com"), cmp.Or(tc.site, "public /health"), func(out []byte) []byte {
				if old := []byte(`"origin":"https://shop.example.com"`); tc.origin != "" {
					if !bytes.Contains(out, old) {
						t.Fatalf("adapted JSON lacks %s:\n%s", old, out)
					}
					out = bytes.Replace(out, old, []byte(`"origin":"`+tc.origin+`"`), 1)
				}
				return out
			})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("validate: %v", err)
			case tc.want == "":
				if _, err := os.Stat(filepath.Join(dir, "fd.db")); err != nil {
					t.Errorf("the store was not opened where the Caddyfile says: %v", err)
				}
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("validate: error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// adaptAndValidate adapts a Caddyfile with these lines in the global and
// the site frontdoor blocks (a bolt store and a mail directory in a test
// directory, which it returns), lets edit change the JSON (nil: none), and
// loads it as `caddy validate` does: provisioned, never started.
func adaptAndValidate(t *testing.T, global, site string, edit func([]byte) []byte) (string, error) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	cf := "{\n\tstorage file_system " + filepath.Join(dir, "caddy") + "\n\tfrontdoor {\n\t\tstore bolt " +
		filepath.Join(dir, "fd.db") + "\n\t\tmailer dir " + filepath.Join(dir, "mail") + "\n\t\t" + global +
		"\n\t}\n}\n\nshop.example.com {\n\tfrontdoor {\n\t\t" + site + "\n\t}\n\trespond \"ok\"\n}\n"
	out, err := adapt(t, cf)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	if edit != nil {
		out = edit(out)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	return dir, caddy.Validate(&cfg)
}

// wantAdaptError adapts caddyfile and wants an error naming frontdoor,
// holding want, and pointing at the Caddyfile's line.
func wantAdaptError(t *testing.T, caddyfile string, line int, want string) {
	t.Helper()
	_, err := adapt(t, caddyfile)
	if err == nil {
		t.Fatalf("adapt succeeded; want %q at line %d", want, line)
	}
	msg := err.Error()
	if !strings.Contains(msg, "frontdoor") || !strings.Contains(msg, want) || !strings.Contains(msg, "Caddyfile:") {
		t.Fatalf("error %q: want frontdoor, %q and the line", msg, want)
	}
	for _, m := range lineRE.FindAllStringSubmatch(msg, -1) {
		if m[1] != strconv.Itoa(line) {
			t.Errorf("error %q: line %s, want %d", msg, m[1], line)
		}
	}
}
