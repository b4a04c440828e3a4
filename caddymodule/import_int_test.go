package caddymodule

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/pbkdf2"
	"golang.org/x/crypto/scrypt"
)

// legacyHashes makes a hash of password in each scheme an import takes,
// with the reference libraries (SHA-256-crypt: the spec's own example).
func legacyHashes(t *testing.T, password string) map[string]string {
	t.Helper()
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawStdEncoding.EncodeToString
	out := map[string]string{}
	bc, err := bcrypt.GenerateFromPassword([]byte(password), 10)
	if err != nil {
		t.Fatal(err)
	}
	out["bcrypt"] = string(bc)
	sc, err := scrypt.Key([]byte(password), salt, 1<<14, 8, 1, 32)
	if err != nil {
		t.Fatal(err)
	}
	out["scrypt"] = fmt.Sprintf("$scrypt$ln=14,r=8,p=1$%s$%s", b64(salt), b64(sc))
	for name, h := range map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New} {
		key := pbkdf2.Key([]byte(password), salt, 120000, h().Size(), h)
		out["pbkdf2-"+name] = fmt.Sprintf("$pbkdf2-%s$i=120000,l=%d$%s$%s", name, len(key), b64(salt), b64(key))
	}
	out["argon2i"] = fmt.Sprintf("$argon2i$v=19$m=32768,t=3,p=1$%s$%s", b64(salt), b64(argon2.Key([]byte(password), salt, 3, 32768, 1, 32)))
	// Not the gateway's own parameters: re-hashed at the sign-in too.
	out["argon2id"] = fmt.Sprintf("$argon2id$v=19$m=24576,t=3,p=1$%s$%s", b64(salt), b64(argon2.IDKey([]byte(password), salt, 3, 24576, 1, 32)))
	sum := sha256.Sum256(append([]byte("pepper-less-salt"), password...))
	out["sha256-salted"] = "$sha256-salted$pepper-less-salt$" + hex.EncodeToString(sum[:])
	return out
}

// TestImportCustomers (issue 20 §6): `frontdoor import customers` — the
// real binary against a running gateway's admin endpoint — loads
// customers with their legacy hashes of every scheme; each signs in with
// the old password and holds argon2id after; a re-run imports nothing
// twice; a malformed line is reported with its number and the rest still
// import; reset_required (and --reset-weak) send the customer through a
// password reset instead.
func TestImportCustomers(t *testing.T) {
	bin := buildBinary(t)
	const password = "an old password 1984"
	runOnBothStoresWith(t, gatewayOpts{}, []scenario{{"import", func(t *testing.T, g *gateway) {
		hashes := legacyHashes(t, password)
		var lines []string
		emails := map[string]string{}
		for scheme, h := range hashes {
			email := "legacy-" + scheme + "@example.com"
			emails[scheme] = email
			b, _ := json.Marshal(map[string]any{"email": email, "email_verified": true, "name": "Legacy " + scheme,
				"created_at": "2019-03-01T10:00:00Z", "password_hash": h, "profile": map[string]string{"legacy_id": scheme}})
			lines = append(lines, string(b))
		}
		// Line numbers of the problems: after the good ones.
		bad := len(lines) + 1
		lines = append(lines,
			`{"email": "broken@example.com", "email_verified": true,`,                 // malformed JSON
			`{"email": "ok-but@example.com", "password": "plain text"}`,               // unknown field
			`{"email": "md5@example.com", "password_hash": "$1$saltsalt$abcdefghij"}`, // unknown scheme
			`{"email": "not an address"}`,
			"",
			`{"email": "must-reset@example.com", "email_verified": true, "password_hash": "`+strings.ReplaceAll(hashes["bcrypt"], `\`, `\\`)+`", "reset_required": true}`,
		)
		file := filepath.Join(t.TempDir(), "customers.jsonl")
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		run := func() string {
			t.Helper()
			out, err := exec.Command(bin, "import", "customers", "--file", file, "--address", g.admin).Output()
			if err != nil {
				t.Fatalf("import: %v\n%s", err, out)
			}
			return string(out)
		}
		out := run()
		want := fmt.Sprintf("imported %d · already there 0 · skipped 4 (of %d lines)", len(hashes)+1, len(hashes)+5)
		if !strings.Contains(out, want) {
			t.Fatalf("summary: want %q in\n%s", want, out)
		}
		for i, reason := range []string{"not a customer object", `unknown field "password"`, "password_hash:", "email: not an address"} {
			if !strings.Contains(out, fmt.Sprintf("line %d: ", bad+i)) || !strings.Contains(out, reason) {
				t.Errorf("the report lacks line %d (%s):\n%s", bad+i, reason, out)
			}
		}
		// Again: nothing twice.
		if out := run(); !strings.Contains(out, fmt.Sprintf("imported 0 · already there %d · skipped 4", len(hashes)+1)) {
			t.Fatalf("second run:\n%s", out)
		}
		// Each signs in with the old password, and holds argon2id after.
		b := backendOf(t)
		for scheme, email := range emails {
			c := g.newClient()
			r := g.post(c, "/.frontdoor/login", url.Values{"email": {email}, "password": {password}, "rd": {"/app/x"}})
			if r.status != http.StatusSeeOther {
				t.Errorf("%s: sign-in with the old password: %d", scheme, r.status)
				continue
			}
			cust, err := b.identity.CustomerByEmail(context.Background(), email)
			if err != nil || !strings.HasPrefix(cust.PasswordHash, "$argon2id$v=19$m=") || cust.PasswordHash == hashes[scheme] ||
				cust.Name != "Legacy "+scheme || cust.Profile["legacy_id"] != scheme || cust.CreatedAt.Year() != 2019 {
				t.Errorf("%s: record after sign-in: %+v %v", scheme, cust, err)
			}
			// A wrong password is still wrong.
			if r := g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {email}, "password": {"wrong"}}); r.status != http.StatusUnauthorized {
				t.Errorf("%s: a wrong password: %d", scheme, r.status)
			}
		}
		// The metrics: legacy hashes imported (every scheme but argon2id,
		// and the reset line's) and replaced at a sign-in.
		_, metrics := adminGet(t, g, "/metrics")
		for _, want := range []string{fmt.Sprintf(`frontdoor_legacy_hashes_total{event="imported"} %d`, len(hashes)), fmt.Sprintf(`frontdoor_legacy_hashes_total{event="replaced"} %d`, len(hashes)-1)} {
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		// reset_required: the right password earns a reset link, not a session.
		r := g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {"must-reset@example.com"}, "password": {password}})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "choose a new password") {
			t.Fatalf("reset required: %d %s", r.status, r.body)
		}
		if g.mailLink("must-reset@example.com", "/.frontdoor/reset/confirm?token=") == "" {
			t.Fatal("no reset link")
		}
		// The customer sees where the account came from.
		c := g.newClient()
		g.login(c, emails["bcrypt"], password, "/app/x")
		if acct := g.get(c, "/.frontdoor/account", nil).body; !strings.Contains(acct, "moved here from our previous system") {
			t.Fatalf("account page:\n%s", acct)
		}
	}}})
}
