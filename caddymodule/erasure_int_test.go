package caddymodule

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/santhosh-tekuri/jsonschema/v6"
	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// record is one stored key and its value, as a store dump lists it.
type record struct{ family, key, value string }

func (r record) mentions(needles ...string) bool {
	for _, n := range needles {
		if n != "" && (strings.Contains(r.key, n) || strings.Contains(r.value, n)) {
			return true
		}
	}
	return false
}

// dumpBolt lists every key and value of every bucket of the file; the
// family is the bucket's name.
func dumpBolt(t *testing.T, path string) []record {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []record
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				out = append(out, record{family: string(name), key: string(k), value: string(v)})
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dumpRedis lists every key of the server with its value as its type
// reads it: one record per list element, set member, hash field and
// sorted-set member.
func dumpRedis(t *testing.T, c redis.UniversalClient) []record {
	t.Helper()
	ctx := context.Background()
	var out []record
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		typ, err := c.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		add := func(v string) { out = append(out, record{family: typ, key: k, value: v}) }
		switch typ {
		case "string":
			v, _ := c.Get(ctx, k).Result()
			add(v)
		case "hash":
			m, _ := c.HGetAll(ctx, k).Result()
			for f, v := range m {
				add(f + "=" + v)
			}
		case "list":
			l, _ := c.LRange(ctx, k, 0, -1).Result()
			for _, v := range l {
				add(v)
			}
		case "set":
			l, _ := c.SMembers(ctx, k).Result()
			for _, v := range l {
				add(v)
			}
		case "zset":
			l, _ := c.ZRangeWithScores(ctx, k, 0, -1).Result()
			for _, z := range l {
				add(fmt.Sprint(z.Member, " ", z.Score))
			}
		default:
			v, _ := c.Dump(ctx, k).Result()
			add(v)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// exportSection says which part of an export represents a stored record
// of the customer; "" for a record the export does not account for.
func exportSection(r record) string {
	if r.family != "string" && r.family != "hash" && r.family != "list" && r.family != "set" && r.family != "zset" {
		return map[string]string{ // bbolt buckets
			"customers": "profile", "customer_email": "addresses", "customer_identity": "linked_identities",
			"tokens": "pending_tokens", "audit": "audit_trail", "sessions": "sessions", "user_sessions": "sessions",
			"erasure_due": "profile", "consent": "consent_records", "customer_api_key": "api_keys",
			"customer_phone": "phone_numbers",
		}[r.family]
	}
	switch k := r.key; {
	case strings.HasSuffix(k, ":customer"), strings.HasSuffix(k, "erasures"):
		return "profile"
	case strings.Contains(k, ":email:"):
		return "addresses"
	case strings.Contains(k, ":phone:"):
		return "phone_numbers"
	case strings.Contains(k, ":fed:"):
		return "linked_identities"
	case strings.Contains(k, ":tok:"), strings.HasSuffix(k, ":tokens"):
		return "pending_tokens"
	case strings.HasSuffix(k, ":audit"):
		return "audit_trail"
	case strings.HasSuffix(k, ":consent"):
		return "consent_records"
	case strings.Contains(k, "apikey:"):
		return "api_keys"
	case strings.Contains(k, ":s:"), strings.HasSuffix(k, ":sessions"):
		return "sessions"
	}
	return ""
}

var exportSchema = schemaOnce()

func schemaOnce() func(t *testing.T) *jsonschema.Schema {
	var s *jsonschema.Schema
	return func(t *testing.T) *jsonschema.Schema {
		t.Helper()
		if s != nil {
			return s
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		var err error
		s, err = c.Compile(filepath.Join("..", "docs", "export-schema.json"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// validExport checks an export against docs/export-schema.json and
// returns it decoded.
func validExport(t *testing.T, body string) map[string]any {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
	if err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, body)
	}
	if err := exportSchema(t).Validate(doc); err != nil {
		t.Fatalf("export does not follow docs/export-schema.json: %v\n%s", err, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func section(m map[string]any, name string) []any {
	switch v := m[name].(type) {
	case []any:
		return v
	case map[string]any:
		return []any{v}
	}
	return nil
}

// accountHash is botdefense's account key part: the first 24 hex digits
// of the SHA-256 of the address.
func accountHash(email string) string {
	h := sha256.Sum256([]byte(email))
	return hex.EncodeToString(h[:12])
}

// secretsOf lists what must never appear in an export of the customer:
// the password hash, session keys and cookies, token hashes.
func secretsOf(t *testing.T, b *backend, c *identity.Customer, cookies ...string) []string {
	t.Helper()
	ctx := context.Background()
	out := append([]string{c.PasswordHash}, cookies...)
	out = append(out, c.RecoveryCodes...)
	ss, err := b.sessions.List(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		out = append(out, s.Key)
	}
	toks, err := b.identity.PendingTokens(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		out = append(out, base64.RawURLEncoding.EncodeToString(tk.Hash), base64.StdEncoding.EncodeToString(tk.Hash), hex.EncodeToString(tk.Hash))
	}
	if c, err := b.identity.Customer(ctx, c.ID); err == nil {
		for _, k := range c.APIKeys {
			out = append(out, base64.StdEncoding.EncodeToString(k.Hash), hex.EncodeToString(k.Hash))
		}
	}
	return out
}

// TestExportAndErasure: on both stores, the export validates against its
// schema, holds every record the store keeps of the customer and no
// secret; after erasure no record holds the customer's id or address,
// their sessions and account counters are gone, the erasure log says
// only that an account went, and the address registers again.
func TestExportAndErasure(t *testing.T) {
	for _, st := range []string{"bolt", "redis"} {
		t.Run(st, func(t *testing.T) {
			// The default limits: account counters are made, and must go;
			// consent purposes and profile fields: their records must be
			// exported, then anonymised (consent) or gone (profile).
			o := gatewayOpts{limits: "# default limits", global: consentGlobal + "\n\t\t" + profileGlobal}
			var rc redis.UniversalClient
			if st == "redis" {
				r := redistest.Start(t)
				o.store, rc = "store redis "+r.URL(), r.Client(t)
			}
			g := startGateway(t, o)
			dump := func() []record {
				if rc != nil {
					return dumpRedis(t, rc)
				}
				// bbolt locks its file while the gateway runs: read a copy
				// (every request's transaction has committed; bbolt opens the
				// copy at its last valid meta page). Stopping Caddy to read it
				// would race Caddy's own certificate jobs on the restart.
				raw, err := os.ReadFile(filepath.Join(g.dir, "frontdoor.db"))
				if err != nil {
					t.Fatal(err)
				}
				cp := filepath.Join(t.TempDir(), "copy.db")
				if err := os.WriteFile(cp, raw, 0o600); err != nil {
					t.Fatal(err)
				}
				return dumpBolt(t, cp)
			}
			ctx := context.Background()
			const email = "erin@example.com"
			c := g.signUpConsenting(email, "terms", "marketing")
			if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/consent", url.Values{"purpose": {"marketing"}, "answer": {"withdraw"}}); r.status != http.StatusSeeOther {
				t.Fatalf("withdraw marketing: %d %s", r.status, r.body)
			}
			const name, phone = "Erin Quillfeather", "+44 20 7946 0321"
			if r := g.postVia(c, "/.frontdoor/profile", "/.frontdoor/profile", url.Values{"field": {"name", "phone"}, "name": {name}, "phone": {phone}, "rd": {"/app/x"}}); r.status != http.StatusSeeOther {
				t.Fatalf("profile: %d %s", r.status, r.body)
			}
			// A personal API key: its index entry holds the customer's id.
			keyOut, err := backendOf(t).flows().CreateAPIKey(ctx, authflow.CreateAPIKeyInput{CustomerID: g.customerID(email), Name: "export test"})
			key, ok := keyOut.(authflow.APIKeyCreated)
			if err != nil || !ok {
				t.Fatalf("key: %T %v", keyOut, err)
			}
			other := g.newClient()
			g.login(other, email, testPassword, "/")
			if r := g.post(g.newClient(), "/.frontdoor/magic", url.Values{"email": {email}}); r.status != http.StatusOK {
				t.Fatalf("magic link: %d", r.status)
			}
			g.mailLink(email, "/.frontdoor/magic/verify?token=") // sent: a pending token
			b := backendOf(t)
			cust, err := b.identity.CustomerByEmail(ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			secrets := append(secretsOf(t, b, cust, g.sessionCookie(c), g.sessionCookie(other)), key.Secret)

			res := g.get(c, "/.frontdoor/account/export", nil)
			if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Disposition"), "attachment") ||
				!strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
				t.Fatalf("export: %d %v\n%s", res.status, res.header, res.body)
			}
			x := validExport(t, res.body)
			for _, s := range secrets {
				if s != "" && strings.Contains(res.body, s) {
					t.Errorf("export holds a secret %.12q…", s)
				}
			}
			if p := x["profile"].(map[string]any); p["id"] != cust.ID {
				t.Errorf("export profile: %v", p)
			}
			if k := section(x, "api_keys"); len(k) != 1 || k[0].(map[string]any)["name"] != "export test" {
				t.Errorf("export api_keys: %v", k)
			}
			if a := section(x, "addresses"); len(a) != 1 || a[0].(map[string]any)["email"] != email {
				t.Errorf("export addresses: %v", a)
			}

			// Every record that mentions the customer is in the export,
			// as many sessions, tokens and events as the store keeps.
			counts := map[string]int{}
			for _, r := range dump() {
				if !r.mentions(cust.ID, email) {
					continue
				}
				sec := exportSection(r)
				if sec == "" {
					t.Errorf("stored %s %q mentions the customer; the export does not account for it", r.family, r.key)
					continue
				}
				if len(section(x, sec)) == 0 {
					t.Errorf("stored %s %q: the export's %s is empty", r.family, r.key, sec)
				}
				if r.family == "sessions" || strings.Contains(r.key, ":s:") && strings.HasPrefix(r.value, "d=") {
					counts["sessions"]++
				}
				if r.family == "tokens" || strings.Contains(r.key, ":tok:") {
					counts["pending_tokens"]++
				}
				if r.family == "audit" || strings.HasSuffix(r.key, ":audit") {
					counts["audit_trail"]++
				}
				if r.family == "consent" || strings.HasSuffix(r.key, ":consent") { // a Redis list: a record per entry
					counts["consent_records"]++
				}
			}
			for sec, n := range counts {
				if got := len(section(x, sec)); got != n {
					t.Errorf("export %s: %d entries, the store keeps %d", sec, got, n)
				}
			}
			if counts["sessions"] != 2 || counts["pending_tokens"] < 1 || counts["consent_records"] != 3 {
				t.Errorf("store records found: %v (want 2 sessions, a pending token, 3 consent records)", counts)
			}
			if p := x["profile"].(map[string]any); !strings.Contains(fmt.Sprint(p), name) || !strings.Contains(fmt.Sprint(p), phone) {
				t.Errorf("export profile lacks the profile fields: %v", p)
			}

			// The confirmation page, then the erasure.
			if r := g.get(c, "/.frontdoor/account/delete", nil); r.status != http.StatusOK || !strings.Contains(r.body, `name="confirm"`) {
				t.Fatalf("confirmation page: %d %s", r.status, r.body)
			}
			if r := g.postVia(c, "/.frontdoor/account/delete", "/.frontdoor/account/delete", url.Values{}); r.status != http.StatusBadRequest {
				t.Fatalf("erasure without confirm: %d", r.status)
			}
			if r := g.postVia(c, "/.frontdoor/account/delete", "/.frontdoor/account/delete", url.Values{"confirm": {"1"}}); r.status != http.StatusOK || !strings.Contains(r.body, "Account deleted") {
				t.Fatalf("erasure: %d %s", r.status, r.body)
			}
			if r := g.get(other, "/app/x", navigate); r.status != http.StatusFound {
				t.Fatalf("the customer's other session after erasure: %d", r.status)
			}
			anonymised := 0
			for _, r := range dump() {
				if r.mentions(cust.ID, email, name, phone) {
					t.Errorf("after erasure, stored %s %q holds the customer: %.200q", r.family, r.key, r.value)
				}
				if r.family == "consent" || strings.HasSuffix(r.key, ":consent") {
					anonymised++
				}
				if strings.Contains(r.key, "|account|"+accountHash(email)) {
					t.Errorf("after erasure, an account counter is left: %q", r.key)
				}
			}
			if anonymised == 0 {
				t.Error("after erasure, no anonymised consent record is left")
			}
			b = backendOf(t)
			log, err := b.identity.Events(ctx, identity.ErasureLog, 10)
			if err != nil || len(log) != 1 || log[0].Kind != identity.EventCustomerErased || log[0].IP != "" || log[0].UserAgent != "" {
				t.Fatalf("erasure log: %+v %v", log, err)
			}
			// The address registers again.
			again := g.signUpConsenting(email, "terms")
			if r := g.get(again, "/app/x", nil); r.status != http.StatusOK {
				t.Fatalf("signed up again: %d", r.status)
			}
		})
	}
}

// TestErasureGrace: with erasure_grace, the customer is signed out and
// the account marked; a sign-in during the grace keeps it (and says so);
// otherwise it goes when the grace ends. Stale sessions step up first.
func TestErasureGrace(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{global: "erasure_grace 14d\n\t\t" + consentGlobal}, []scenario{{"grace", func(t *testing.T, g *gateway) {
		ctx := context.Background()
		clk := useClock(t)
		const email = "grace@example.com"
		c := g.signUpConsenting(email, "terms")
		b := backendOf(t)
		cust, err := b.identity.CustomerByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		// A sign-in older than 10 minutes steps up first.
		clk.advance(11 * time.Minute)
		if r := g.get(c, "/.frontdoor/account/export", nil); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/stepup") {
			t.Fatalf("stale export: %d %s", r.status, r.header.Get("Location"))
		}
		if r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/delete", url.Values{"confirm": {"1"}}); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/stepup") {
			t.Fatalf("stale erasure: %d %s", r.status, r.header.Get("Location"))
		}
		g.login(c, email, testPassword, "/")

		erase := func() {
			t.Helper()
			r := g.postVia(c, "/.frontdoor/account/delete", "/.frontdoor/account/delete", url.Values{"confirm": {"1"}})
			if r.status != http.StatusOK || !strings.Contains(r.body, "will be deleted on") {
				t.Fatalf("erasure with grace: %d %s", r.status, r.body)
			}
			if r := g.get(c, "/app/x", navigate); r.status != http.StatusFound {
				t.Fatalf("session after asking for erasure: %d", r.status)
			}
		}
		erase()
		if got, _ := b.identity.Customer(ctx, cust.ID); got == nil || got.ErasureAt.IsZero() {
			t.Fatalf("account not marked: %+v", got)
		}
		// Signing in keeps the account, and says so.
		r := g.post(c, "/.frontdoor/login", url.Values{"email": {email}, "password": {testPassword}, "rd": {"/"}})
		if r.status != http.StatusOK || !strings.Contains(r.body, "will not be deleted") {
			t.Fatalf("sign-in during the grace: %d %s", r.status, r.body)
		}
		clk.advance(15 * 24 * time.Hour)
		time.Sleep(6 * time.Second) // a maintenance tick (5 s)
		if got, err := b.identity.Customer(ctx, cust.ID); err != nil || !got.ErasureAt.IsZero() {
			t.Fatalf("after a cancelled erasure: %+v %v", got, err)
		}
		// Asked again, it goes when the grace ends.
		g.login(c, email, testPassword, "/")
		erase()
		clk.advance(15 * 24 * time.Hour)
		// Done when the erasure log has its entry, the erasure's last step.
		deadline := time.Now().Add(10 * time.Second)
		for {
			log, err := b.identity.Events(ctx, identity.ErasureLog, 10)
			if err == nil && len(log) > 0 {
				break
			}
			if time.Now().After(deadline) {
				_, err := b.identity.Customer(ctx, cust.ID)
				t.Fatalf("account not erased after its grace: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := b.identity.Customer(ctx, cust.ID); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("customer after the grace: %v", err)
		}
		if _, err := b.identity.CustomerByEmail(ctx, email); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("email index after the grace: %v", err)
		}
		log, _ := b.identity.Events(ctx, identity.ErasureLog, 10)
		if len(log) == 0 || log[0].Detail != "grace_ended" {
			t.Fatalf("erasure log: %+v", log)
		}
		consentAnonymised(t, b, cust.ID, 2) // terms granted, marketing refused
	}}})
}

// consentAnonymised checks that an erased customer's n consent records
// are kept under the keyed pseudonym only, none under the id.
func consentAnonymised(t *testing.T, b *backend, id string, n int) {
	t.Helper()
	ctx := context.Background()
	if rs, err := b.consent.Records(ctx, id); err != nil || len(rs) != 0 {
		t.Fatalf("consent records under the erased id: %+v %v", rs, err)
	}
	pseudonym := consent.Pseudonym(b.erasureKey, id)
	rs, err := b.consent.Records(ctx, pseudonym)
	if err != nil || len(rs) != n {
		t.Fatalf("anonymised consent records: %+v %v, want %d", rs, err, n)
	}
	for _, r := range rs {
		if r.CustomerID != pseudonym {
			t.Fatalf("anonymised record names %q", r.CustomerID)
		}
	}
}

func adminDo(t *testing.T, g *gateway, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+g.admin+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCustomersAdmin: an operator looks a customer up, exports and erases
// them through the admin API, each recorded with the reason; no path of
// the admin API or the site edits or removes an audit record.
func TestCustomersAdmin(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{global: consentGlobal}, []scenario{{"admin", func(t *testing.T, g *gateway) {
		ctx := context.Background()
		const email = "ada@example.com"
		c := g.signUpConsenting(email, "terms", "marketing")
		b := backendOf(t)
		status, body := adminGet(t, g, "/frontdoor/customers?email=Ada@Example.com&reason=ticket+42")
		var found struct {
			Customers []struct{ ID, Store string }
		}
		if err := json.Unmarshal([]byte(body), &found); status != http.StatusOK || err != nil || len(found.Customers) != 1 {
			t.Fatalf("lookup: %d %s", status, body)
		}
		id := found.Customers[0].ID
		if st, _ := adminGet(t, g, "/frontdoor/customers?email=nobody@example.com"); st != http.StatusNotFound {
			t.Fatalf("lookup of an unknown address: %d", st)
		}
		status, body = adminGet(t, g, "/frontdoor/customers/"+id+"/export?reason=ticket+42")
		if status != http.StatusOK {
			t.Fatalf("admin export: %d %s", status, body)
		}
		x := validExport(t, body)
		if x["profile"].(map[string]any)["id"] != id {
			t.Fatalf("admin export of another: %s", body)
		}
		before, err := b.identity.Events(ctx, id, 100)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]string{}
		for _, e := range before {
			kinds[e.Kind] = e.Detail
		}
		if kinds[identity.EventAdminLookup] != "operator: ticket 42" || kinds[identity.EventExported] != "operator: ticket 42" {
			t.Fatalf("the trail does not record the operator's reason: %+v", before)
		}

		// No path edits or removes an audit record.
		for _, m := range []string{http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete} {
			for _, p := range []string{"/frontdoor/customers/" + id + "/audit", "/frontdoor/customers/" + id + "/events",
				"/frontdoor/customers/" + id + "/audit/0", "/frontdoor/audit", "/frontdoor/customers/" + id + "/export",
				"/frontdoor/customers/" + identity.ErasureLog + "/audit", "/frontdoor/customers"} {
				if st, _ := adminDo(t, g, m, p, `{"reason":"x","kind":"nothing"}`); st < 400 {
					t.Errorf("admin %s %s: %d", m, p, st)
				}
			}
			for _, p := range []string{"/.frontdoor/account/audit", "/.frontdoor/account/events", "/.frontdoor/audit", "/.frontdoor/account/activity"} {
				form := url.Values{"csrf_token": {g.csrf(c, "/.frontdoor/account")}}
				if r := g.do(c, m, p, form, nil); r.status < 300 {
					t.Errorf("site %s %s: %d", m, p, r.status)
				}
			}
		}
		after, _ := b.identity.Events(ctx, id, 100)
		if len(after) != len(before) {
			t.Fatalf("audit trail changed by those requests: %d → %d events", len(before), len(after))
		}

		if st, body := adminDo(t, g, http.MethodDelete, "/frontdoor/customers/"+id, ""); st != http.StatusBadRequest {
			t.Fatalf("erasure without a reason: %d %s", st, body)
		}
		if st, body := adminDo(t, g, http.MethodDelete, "/frontdoor/customers/"+id, `{"reason":"letter of 3 May"}`); st != http.StatusOK {
			t.Fatalf("admin erasure: %d %s", st, body)
		}
		if r := g.get(c, "/app/x", navigate); r.status != http.StatusFound {
			t.Fatalf("session after admin erasure: %d", r.status)
		}
		consentAnonymised(t, b, id, 2)
		if st, _ := adminGet(t, g, "/frontdoor/customers?email="+email); st != http.StatusNotFound {
			t.Fatalf("lookup after erasure: %d", st)
		}
		if st, _ := adminDo(t, g, http.MethodDelete, "/frontdoor/customers/"+id, `{"reason":"again"}`); st != http.StatusNotFound {
			t.Fatalf("second erasure: %d", st)
		}
		log, _ := b.identity.Events(ctx, identity.ErasureLog, 100)
		if len(log) == 0 || log[0].Detail != "operator: letter of 3 May" {
			t.Fatalf("erasure log: %+v", log)
		}
		if ev, _ := b.identity.Events(ctx, id, 100); len(ev) != 0 {
			t.Fatalf("the customer's trail outlived them: %+v", ev)
		}
	}}})
}

// TestErasureTwoNodes: an erasure on one node ends the customer's
// sessions on the other within its 2 s cache bound.
func TestErasureTwoNodes(t *testing.T) {
	bin := buildBinary(t)
	r := redistest.Start(t)
	o := gatewayOpts{store: "store redis " + r.URL(), site: "origin https://shop.test", global: "session {\n\t\t\tcache 2s\n\t\t}"}
	a := startProcess(t, bin, o)
	b := startProcess(t, bin, o)
	shareRoots(t, a, b)
	c := a.signUp("nod@example.com")
	onB := b.withCookie(a.sessionCookie(c))
	if res := b.get(onB, "/app/x", nil); res.status != http.StatusOK {
		t.Fatalf("node B with A's session: %d", res.status)
	}
	if res := a.postVia(c, "/.frontdoor/account/delete", "/.frontdoor/account/delete", url.Values{"confirm": {"1"}}); res.status != http.StatusOK {
		t.Fatalf("erasure on A: %d %s", res.status, res.body)
	}
	refusedWithin(t, "B after erasure on A", time.Now(), 2*time.Second, func() int {
		return b.get(onB, "/app/x", navigate).status
	})
}
