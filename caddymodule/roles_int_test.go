package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/oidctest"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
)

// rolesSite is a members' area, a B2B portal and a beta behind rules on
// who the customer is, and a site that hands the backend two attributes.
const rolesSite = `attributes plan org
		require /members/* {
			role member premium
		}
		require /b2b/* {
			attribute org acme globex
			email_domain acme.com
		}
		require /beta/* {
			expression "'beta' in roles && auth_time > now - duration('1h')"
		}`

// customerID looks a customer up by address.
func (g *gateway) customerID(email string) string {
	g.t.Helper()
	c, err := backendOf(g.t).identity.CustomerByEmail(context.Background(), email)
	if err != nil {
		g.t.Fatal(err)
	}
	return c.ID
}

// wantForbidden checks a request is refused for missing, as an API caller
// (JSON) and as a browser (a 403 page, never a sign-in redirect).
func (g *gateway) wantForbidden(c *http.Client, path, missing string) {
	g.t.Helper()
	r := g.get(c, path, apiAccept)
	if r.status != http.StatusForbidden || r.body != `{"error":"forbidden","missing":"`+missing+`"}`+"\n" && r.body != `{"error":"forbidden","missing":"`+missing+`"}` {
		g.t.Fatalf("API %s: %d %q, want 403 missing %s", path, r.status, r.body, missing)
	}
	r = g.get(c, path, navigate)
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "This page is not open to your account") || !strings.Contains(r.body, "/.frontdoor/logout") {
		g.t.Fatalf("browser %s: %d %s\n%s", path, r.status, r.header.Get("Location"), r.body)
	}
}

// rolesIn reads the roles of an admin API answer.
func rolesIn(t *testing.T, body string) []string {
	t.Helper()
	var v struct{ Roles []string }
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v.Roles
}

func (g *gateway) wantIn(c *http.Client, path string) {
	g.t.Helper()
	if r := g.get(c, path, nil); r.status != http.StatusOK || !strings.Contains(r.body, `"backend":true`) {
		g.t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
}

// TestRoles: rules on roles, attributes, email domain and a CEL
// expression, fed by the admin API; what the backend is told; forged
// headers dropped; the trail records each change.
func TestRoles(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{site: rolesSite}, []scenario{{"roles", func(t *testing.T, g *gateway) {
		ctx := context.Background()
		clk := useClock(t)
		c := g.signUp("mo@example.com")
		id := g.customerID("mo@example.com")

		// No role: refused, and a forged roles header changes nothing.
		g.wantForbidden(c, "/members/news", "role")
		if r := g.get(c, "/members/news", map[string]string{"X-Frontdoor-Roles": "member", "Accept": "application/json"}); r.status != http.StatusForbidden {
			t.Fatalf("a forged roles header let the customer in: %d", r.status)
		}
		g.get(c, "/app/x", map[string]string{"X-Frontdoor-Roles": "admin", "X-Frontdoor-Attr-Plan": "gold", "X-Frontdoor-Attr_Org": "acme"})
		if h := g.backend.lastHeaders(); h.Get("X-Frontdoor-Roles") != "" || h.Get("X-Frontdoor-Attr-Plan") != "" || h.Get("X-Frontdoor-Attr-Org") != "" {
			t.Fatalf("forged headers reached the backend: %v", h)
		}

		// Granted through the admin API: in at once on this node.
		st, body := adminDo(t, g, http.MethodPut, "/frontdoor/customers/"+id+"/roles/member?reason=paid+invoice+7", "")
		if st != http.StatusOK || strings.Join(rolesIn(t, body), ",") != "member" {
			t.Fatalf("grant: %d %s", st, body)
		}
		g.wantIn(c, "/members/news")
		h := g.backend.lastHeaders()
		if h.Get("X-Frontdoor-Roles") != "member" {
			t.Fatalf("roles header: %v", h)
		}
		if roles, _ := assertionClaims(t, g)["roles"].([]any); len(roles) != 1 || roles[0] != "member" {
			t.Fatalf("roles claim: %v", assertionClaims(t, g))
		}
		// Twice is once; a second role is listed beside it.
		adminDo(t, g, http.MethodPut, "/frontdoor/customers/"+id+"/roles/member", "")
		adminDo(t, g, http.MethodPut, "/frontdoor/customers/"+id+"/roles/beta", `{"reason":"tester"}`)
		g.wantIn(c, "/app/x")
		if h := g.backend.lastHeaders(); h.Get("X-Frontdoor-Roles") != "beta,member" {
			t.Fatalf("roles header with two: %q", h.Get("X-Frontdoor-Roles"))
		}
		// The CEL rule: beta, signed in within the hour.
		g.wantIn(c, "/beta/new")
		for range 4 { // an hour and a bit, the session kept alive
			clk.advance(16 * time.Minute)
			g.wantIn(c, "/app/x")
		}
		g.wantForbidden(c, "/beta/new", "expression")
		g.login(c, "mo@example.com", testPassword, "/")
		g.wantIn(c, "/beta/new")

		// Removed: refused at once.
		if st, body := adminDo(t, g, http.MethodDelete, "/frontdoor/customers/"+id+"/roles/member", ""); st != http.StatusOK || strings.Join(rolesIn(t, body), ",") != "beta" {
			t.Fatalf("remove: %d %s", st, body)
		}
		g.wantForbidden(c, "/members/news", "role")

		// Attributes and the email domain.
		g.wantForbidden(c, "/b2b/orders", "attribute")
		if st, body := adminDo(t, g, http.MethodPut, "/frontdoor/customers/"+id+"/attributes?reason=contract", `{"org":"acme","plan":"premium"}`); st != http.StatusOK {
			t.Fatalf("attributes: %d %s", st, body)
		}
		g.wantForbidden(c, "/b2b/orders", "email_domain") // mo@example.com is not at acme.com
		g.wantIn(c, "/app/x")
		h = g.backend.lastHeaders()
		if h.Get("X-Frontdoor-Attr-Plan") != "premium" || h.Get("X-Frontdoor-Attr-Org") != "acme" {
			t.Fatalf("attribute headers: %v", h)
		}
		if attrs, _ := assertionClaims(t, g)["attrs"].(map[string]any); attrs["plan"] != "premium" || attrs["org"] != "acme" {
			t.Fatalf("attrs claim: %v", assertionClaims(t, g))
		}
		staff := g.signUp("ann@acme.com")
		staffID := g.customerID("ann@acme.com")
		g.wantForbidden(staff, "/b2b/orders", "attribute")
		adminDo(t, g, http.MethodPut, "/frontdoor/customers/"+staffID+"/attributes", `{"org":"globex"}`)
		g.wantIn(staff, "/b2b/orders")
		adminDo(t, g, http.MethodPut, "/frontdoor/customers/"+staffID+"/attributes", `{"org":"initech"}`)
		g.wantForbidden(staff, "/b2b/orders", "attribute")

		// Bad calls are refused with a reason and change nothing.
		for _, bad := range []struct{ method, path, body string }{
			{http.MethodPut, "/frontdoor/customers/" + id + "/roles/Not%20A%20Role", ""},
			{http.MethodPut, "/frontdoor/customers/" + id + "/roles/a,b", ""},
			{http.MethodPut, "/frontdoor/customers/" + id + "/attributes", `["plan"]`},
			{http.MethodPut, "/frontdoor/customers/" + id + "/attributes", `{"Plan-X":"1"}`},
			{http.MethodPut, "/frontdoor/customers/" + id + "/attributes", `{"plan":"a\nb"}`},
			{http.MethodPut, "/frontdoor/customers/" + id + "/attributes", `{"plan":1}`},
		} {
			if st, body := adminDo(t, g, bad.method, bad.path, bad.body); st != http.StatusBadRequest {
				t.Errorf("%s %s %s: %d %s", bad.method, bad.path, bad.body, st, body)
			}
		}
		if st, _ := adminDo(t, g, http.MethodPut, "/frontdoor/customers/u_nobody/roles/member", ""); st != http.StatusNotFound {
			t.Errorf("grant to no one: %d", st)
		}
		if st, _ := adminDo(t, g, http.MethodPost, "/frontdoor/customers/"+id+"/roles/member", ""); st != http.StatusMethodNotAllowed {
			t.Errorf("POST a role: %d", st)
		}
		st, body = adminGet(t, g, "/frontdoor/customers/"+id+"/roles")
		var view struct {
			Roles      []string
			Attributes map[string]string
		}
		if err := json.Unmarshal([]byte(body), &view); st != http.StatusOK || err != nil || strings.Join(view.Roles, ",") != "beta" || view.Attributes["plan"] != "premium" {
			t.Fatalf("roles view: %d %s", st, body)
		}

		// The export holds them; erasure takes them with the account.
		st, body = adminGet(t, g, "/frontdoor/customers/"+id+"/export?reason=check")
		x := validExport(t, body)
		if p := x["profile"].(map[string]any); st != http.StatusOK || fmt.Sprint(p["roles"]) != "[beta]" || fmt.Sprint(p["attributes"]) != "map[org:acme plan:premium]" {
			t.Fatalf("export profile: %d %v", st, p)
		}

		// The trail: each change with who made it and why.
		evs, err := backendOf(t).identity.Events(ctx, id, 100)
		if err != nil {
			t.Fatal(err)
		}
		var trail []string
		for _, e := range evs {
			switch e.Kind {
			case identity.EventRoleGranted, identity.EventRoleRemoved, identity.EventAttributesSet:
				trail = append(trail, e.Kind+": "+e.Detail)
			}
		}
		for _, want := range []string{"role_granted: member by operator: paid invoice 7", "role_granted: beta by operator: tester",
			"role_removed: member by operator", "attributes_set: org, plan by operator: contract"} {
			found := false
			for _, got := range trail {
				found = found || got == want
			}
			if !found {
				t.Errorf("trail %q lacks %q", trail, want)
			}
		}
		if n := strings.Count(strings.Join(trail, "\n"), "role_granted: member"); n != 1 {
			t.Errorf("a repeated grant was recorded %d times", n)
		}
	}}})
}

// TestRolesTwoNodes: a role removed through one node's admin API stops
// access on another node sharing Redis within the 2 s cache bound.
func TestRolesTwoNodes(t *testing.T) {
	bin := buildBinary(t)
	r := redistest.Start(t)
	o := gatewayOpts{store: "store redis " + r.URL(), site: "origin https://shop.test\n\t\t" + rolesSite, global: "session {\n\t\t\tcache 2s\n\t\t}"}
	a := startProcess(t, bin, o)
	b := startProcess(t, bin, o)
	shareRoots(t, a, b)
	c := a.signUp("two@example.com")
	var found struct {
		Customers []struct{ ID string }
	}
	_, body := adminGet(t, a, "/frontdoor/customers?email=two@example.com")
	if err := json.Unmarshal([]byte(body), &found); err != nil || len(found.Customers) != 1 {
		t.Fatalf("lookup: %s", body)
	}
	id := found.Customers[0].ID
	if st, body := adminDo(t, a, http.MethodPut, "/frontdoor/customers/"+id+"/roles/premium", ""); st != http.StatusOK {
		t.Fatalf("grant: %d %s", st, body)
	}
	onB := b.withCookie(a.sessionCookie(c))
	deadline := time.Now().Add(5 * time.Second)
	for b.get(onB, "/members/x", apiAccept).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("node B never let the new premium customer in")
		}
		time.Sleep(50 * time.Millisecond)
	}
	removed := time.Now()
	if st, body := adminDo(t, a, http.MethodDelete, "/frontdoor/customers/"+id+"/roles/premium", ""); st != http.StatusOK {
		t.Fatalf("remove: %d %s", st, body)
	}
	for {
		sent := time.Now()
		st := b.get(onB, "/members/x", apiAccept).status
		if st == http.StatusForbidden {
			break
		}
		if st != http.StatusOK {
			t.Fatalf("node B: %d", st)
		}
		if sent.Sub(removed) >= 2*time.Second {
			t.Fatalf("node B still let the customer in %v after the role was removed", sent.Sub(removed).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOIDCRoles: a provider's groups claim maps to roles through the
// operator's roles_claim map at each sign-in — only mapped groups count,
// a group the provider drops takes its role away at the next sign-in, the
// operator's own grants stay — and the trail records each change.
func TestOIDCRoles(t *testing.T) {
	skipShort(t)
	fake := oidctest.NewFake(t, "fd", "secret")
	mapping := "\t\t\troles_claim groups {\n\t\t\t\tacme-staff member\n\t\t\t\tacme-beta beta tester\n\t\t\t}\n"
	o := gatewayOpts{global: oidcBlock("fake", fake.Issuer, "fd", "secret", mapping), site: rolesSite}
	runOnBothStoresWith(t, o, []scenario{{"provider roles", func(t *testing.T, g *gateway) {
		signIn := func(groups any) *http.Client {
			t.Helper()
			fake.SetUser(oidctest.User{Subject: "staff-1", Email: "sam@example.org", EmailVerified: true, Extra: map[string]any{"groups": groups}})
			c := g.newClient()
			if r := g.get(c, fakeCallback(t, g, c, "fake", "/app/x"), nil); r.status != http.StatusSeeOther {
				t.Fatalf("provider sign-in: %d %s", r.status, r.body)
			}
			return c
		}
		rolesSeen := func(c *http.Client) string {
			t.Helper()
			g.wantIn(c, "/app/x")
			return g.backend.lastHeaders().Get("X-Frontdoor-Roles")
		}
		// A new customer: only the mapped group counts.
		c := signIn([]any{"acme-staff", "domain-admins", 7})
		if got := rolesSeen(c); got != "member" {
			t.Fatalf("roles after the first sign-in: %q", got)
		}
		g.wantIn(c, "/members/news")
		// The provider moves them: the old role goes at the next sign-in.
		c = signIn("acme-beta")
		if got := rolesSeen(c); got != "beta,tester" {
			t.Fatalf("roles after the groups changed: %q", got)
		}
		g.wantForbidden(c, "/members/news", "role")
		// The operator's grant is the operator's: the provider cannot take it.
		id := g.customerID("sam@example.org")
		adminDo(t, g, http.MethodPut, "/frontdoor/customers/"+id+"/roles/member", "")
		c = signIn([]any{})
		if got := rolesSeen(c); got != "member" {
			t.Fatalf("roles after the provider dropped every group: %q", got)
		}
		// A claim of another shape gives nothing, and breaks nothing.
		for _, odd := range []any{42, map[string]any{"acme-beta": true}, nil} {
			c = signIn(odd)
			if got := rolesSeen(c); got != "member" {
				t.Fatalf("groups %v: roles %q", odd, got)
			}
		}
		st, body := adminGet(t, g, "/frontdoor/customers/"+id+"/roles")
		if st != http.StatusOK || !strings.Contains(body, `"all_roles"`) {
			t.Fatalf("roles view: %d %s", st, body)
		}
		evs, _ := backendOf(t).identity.Events(context.Background(), id, 100)
		var trail []string
		for _, e := range evs {
			if e.Kind == identity.EventRoleGranted || e.Kind == identity.EventRoleRemoved {
				trail = append(trail, e.Kind+": "+e.Detail)
			}
		}
		for _, want := range []string{"role_removed: member by provider", "role_granted: beta by provider", "role_removed: tester by provider"} {
			if !slices.Contains(trail, want) {
				t.Errorf("trail %q lacks %q", trail, want)
			}
		}
	}}})
}

// TestInvitations: an operator invites an address to a role; opening the
// link changes nothing; a customer signed in with another address cannot
// use it (and it still works for the invited one); the invited customer —
// here signing up through the link — accepts it once; a second use is
// refused; bad calls are refused.
func TestInvitations(t *testing.T) {
	runOnBothStoresWith(t, gatewayOpts{site: rolesSite}, []scenario{{"invitations", func(t *testing.T, g *gateway) {
		invite := func(body string) (int, string) {
			t.Helper()
			return adminDo(t, g, http.MethodPost, "/frontdoor/invitations", body)
		}
		st, body := invite(`{"email":"Newbie@Example.com","role":"member","expires_days":3,"reason":"beta wave 2"}`)
		if st != http.StatusCreated || !strings.Contains(body, `"email": "newbie@example.com"`) || !strings.Contains(body, `"expires_at"`) {
			t.Fatalf("invite: %d %s", st, body)
		}
		link := g.mailLink("newbie@example.com", "/.frontdoor/invite?token=")
		path := strings.TrimPrefix(link, g.url(""))

		// Opened by a link scanner, or anyone not signed in: nothing
		// happens but a way to sign in that comes back.
		r := g.get(g.newClient(), path, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, "/.frontdoor/login?rd=%2F.frontdoor%2Finvite%3Ftoken%3D") {
			t.Fatalf("invitation page signed out: %d %s", r.status, r.body)
		}
		// Someone else, signed in, cannot take it.
		other := g.signUp("other@example.com")
		r = g.postVia(other, path, "/.frontdoor/invite", url.Values{"token": {tokenOf(t, link)}})
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "n***@example.com") {
			t.Fatalf("invitation used by another account: %d %s", r.status, r.body)
		}
		g.wantForbidden(other, "/members/x", "role")

		// The invited address signs up, and accepts.
		c := g.signUp("newbie@example.com")
		page := g.get(c, path, nil)
		if page.status != http.StatusOK || !strings.Contains(page.body, `action="/.frontdoor/invite"`) {
			t.Fatalf("invitation page signed in: %d %s", page.status, page.body)
		}
		g.wantForbidden(c, "/members/x", "role") // opening it granted nothing
		r = g.postVia(c, path, "/.frontdoor/invite", url.Values{"token": {tokenOf(t, link)}})
		if r.status != http.StatusOK || !strings.Contains(r.body, "Invitation accepted") {
			t.Fatalf("accept: %d %s", r.status, r.body)
		}
		g.wantIn(c, "/members/x")
		// Once only.
		if r := g.postVia(c, path, "/.frontdoor/invite", url.Values{"token": {tokenOf(t, link)}}); r.status != http.StatusGone {
			t.Fatalf("second use: %d %s", r.status, r.body)
		}
		evs, _ := backendOf(t).identity.Events(context.Background(), g.customerID("newbie@example.com"), 100)
		found := false
		for _, e := range evs {
			found = found || e.Kind == identity.EventRoleGranted && e.Detail == "member by invitation (operator: beta wave 2)"
		}
		if !found {
			t.Errorf("the trail does not record the invitation's grant: %+v", evs)
		}

		for _, bad := range []string{`{"email":"not an address","role":"member"}`, `{"email":"a@example.com","role":"Member"}`,
			`{"email":"a@example.com","role":"member","expires_days":90}`, `{"email":"a@example.com","role":"member","colour":"red"}`,
			`{"email":"a@example.com","role":"member","site":"https://elsewhere.example"}`, `not json`} {
			if st, body := invite(bad); st != http.StatusBadRequest {
				t.Errorf("invite %s: %d %s", bad, st, body)
			}
		}
		if st, _ := adminDo(t, g, http.MethodGet, "/frontdoor/invitations", ""); st != http.StatusMethodNotAllowed {
			t.Errorf("GET invitations: %d", st)
		}
	}}})
}
