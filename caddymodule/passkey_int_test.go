package caddymodule

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/webauthntest"
)

// pkVault is the route of the test site that needs aal2.
const pkVault = "/app/vault/x"

// TestPasskey runs every passkey scenario through a real Caddy on the bolt
// store and on Redis, with a software authenticator in place of the
// browser's. Scenarios share one gateway per store; each uses its own
// addresses.
func TestPasskey(t *testing.T) {
	runOnBothStoresSite(t, "require /app/vault/* {\n\t\t\taal aal2\n\t\t}", []scenario{
		{"passkey-first sign-up", pkFirstSignUp},
		{"discoverable sign-in", pkDiscoverableSignIn},
		{"replay", pkReplay},
		{"counter rollback", pkCounterRollback},
		{"ceremony binding", pkCeremonyBinding},
		{"rp id and origin from configuration", pkRPFromConfig},
		{"user verification and autofill", pkUserVerification},
		{"second factor", pkSecondFactor},
		{"removing the last passkey", pkRemoveLast},
		{"a password sign-up's link does not sign in", pkPasswordLinkOnlyConfirms},
	})
}

// pkPasswordLinkOnlyConfirms: the button of a passkey-first sign-up
// (POST /verify) signs in only with a passkey sign-up's link; a password
// sign-up's link posted there only confirms the address.
func pkPasswordLinkOnlyConfirms(t *testing.T, g *gateway) {
	const email = "pk-pwlink@example.com"
	c := g.newClient()
	if r := g.post(c, "/.frontdoor/register", url.Values{"email": {email}, "password": {testPassword}}); r.status != http.StatusOK {
		t.Fatalf("register: %d", r.status)
	}
	link := g.mailLink(email, "/.frontdoor/verify?token=")
	token := strings.SplitN(link, "token=", 2)[1]
	r := g.postVia(c, "/.frontdoor/login", "/.frontdoor/verify", url.Values{"token": {token}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Email confirmed") || g.sessionCookie(c) != "" {
		t.Fatalf("password sign-up link posted to the passkey button: %d, session %q", r.status, g.sessionCookie(c))
	}
	if cu := pkCustomer(t, email); !cu.EmailVerified || cu.PasswordHash == "" {
		t.Fatalf("customer %+v", cu)
	}
}

// pkFirstSignUp: sign-up without a password, a mailed link whose GET
// only shows a button, the button signs in and leads to creating the
// passkey, which the account page then lists; no password works.
func pkFirstSignUp(t *testing.T, g *gateway) {
	const email = "pk-first@example.com"
	c, _, credID := pkSignUp(t, g, email)
	acct := g.get(c, "/.frontdoor/account", nil)
	if acct.status != http.StatusOK || !strings.Contains(acct.body, `name="id" value="`+b64(credID)+`"`) ||
		!strings.Contains(acct.body, "Password: none") || strings.Contains(acct.body, "Create your passkey") {
		t.Fatalf("account page after adding the passkey: %d %s", acct.status, acct.body)
	}
	cu := pkCustomer(t, email)
	if cu.PasswordHash != "" || !cu.EmailVerified || len(cu.Passkeys) != 1 || !cu.Passkeys[0].UserVerified {
		t.Fatalf("customer after passkey-first sign-up: %+v", cu)
	}
	// No password signs in: not the empty one, not any other.
	for _, pw := range []string{"", testPassword, "anything at all 123"} {
		r := g.post(g.newClient(), "/.frontdoor/login", url.Values{"email": {email}, "password": {pw}, "rd": {"/app/x"}})
		if r.status == http.StatusSeeOther || (r.status == http.StatusOK && strings.Contains(r.body, "Two-step verification")) {
			t.Fatalf("password %q signed in a passkey-only account: %d", pw, r.status)
		}
	}
}

// pkDiscoverableSignIn: signed out, the passkey alone (no email typed)
// signs in, lands on rd, and counts as aal2 with amr hwk and mfa: a route
// that needs aal2 answers at once.
func pkDiscoverableSignIn(t *testing.T, g *gateway) {
	const email = "pk-login@example.com"
	c, a, _ := pkSignUp(t, g, email)
	pkLogout(t, g, c)
	if r := g.get(c, pkVault, navigate); r.status != http.StatusFound {
		t.Fatalf("signed out, the vault answered %d", r.status)
	}
	_, r := pkLogin(t, g, c, a, pkVault)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != pkVault || g.sessionCookie(c) == "" {
		t.Fatalf("passkey sign-in: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	if ck := cookieOf(g, c, ceremonyCookie); ck != "" {
		t.Fatal("the ceremony cookie outlived the sign-in")
	}
	hits := g.backend.count()
	if r := g.get(c, pkVault, navigate); r.status != http.StatusOK || g.backend.count() != hits+1 {
		t.Fatalf("aal2 route after a passkey sign-in: %d %s", r.status, r.header.Get("Location"))
	}
	h := g.backend.lastHeaders()
	amr := strings.Fields(h.Get("X-Frontdoor-AMR"))
	if h.Get("X-Frontdoor-Email") != email || !slices.Contains(amr, "mfa") || !(slices.Contains(amr, "hwk") || slices.Contains(amr, "swk")) {
		t.Fatalf("backend headers: %v", h)
	}
	jwks := g.get(c, "/.well-known/frontdoor/jwks.json", nil)
	claims := verifyAssertion(t, jwks.body, h.Get("X-Frontdoor-Assertion"), g.aud())
	if claims.ACR != "aal2" || !slices.Equal(claims.AMR, amr) || claims.Email != email {
		t.Fatalf("assertion claims: %+v", claims)
	}
	cu := pkCustomer(t, email)
	if cu.Passkeys[0].SignCount != 1 || cu.Passkeys[0].LastUsedAt.IsZero() || cu.LastLoginAt.IsZero() {
		t.Fatalf("use not recorded: %+v", cu.Passkeys[0])
	}

	// A synced passkey (backup eligible and backed up) is a software key.
	synced := webauthntest.New(g.url(""))
	synced.BackupEligible, synced.BackupState = true, true
	sc, _, _ := pkSignUpWith(t, g, "pk-synced@example.com", synced)
	if acct := g.get(sc, "/.frontdoor/account", nil); !strings.Contains(acct.body, `<span class="badge">synced</span>`) {
		t.Fatalf("account page does not show the synced passkey: %s", acct.body)
	}
	if _, r := pkLogin(t, g, sc, synced, pkVault); r.status != http.StatusSeeOther {
		t.Fatalf("synced passkey sign-in: %d %s", r.status, r.body)
	}
	if r := g.get(sc, pkVault, navigate); r.status != http.StatusOK || g.backend.lastHeaders().Get("X-Frontdoor-AMR") != "swk mfa" {
		t.Fatalf("synced passkey: %d, amr %q", r.status, g.backend.lastHeaders().Get("X-Frontdoor-AMR"))
	}
}

// pkReplay: an answer works once. Posted again — by the same browser with
// its ceremony cookie put back, or by another holding a copy — it is
// refused before its signature counter is even looked at, so the replay
// neither signs in nor flags the genuine passkey.
func pkReplay(t *testing.T, g *gateway) {
	const email = "pk-replay@example.com"
	c, a, _ := pkSignUp(t, g, email)
	pkLogout(t, g, c)
	csrf := g.csrf(c, "/.frontdoor/login")
	opts := pkOptions(t, g, c, csrf, "login", nil)
	nonce := cookieOf(g, c, ceremonyCookie)
	assertion, err := a.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"credential": {string(assertion)}, "rd": {"/app/x"}, "csrf_token": {csrf}}
	if r := g.do(c, http.MethodPost, "/.frontdoor/passkey/login", form, nil); r.status != http.StatusSeeOther {
		t.Fatalf("first use: %d %s", r.status, r.body)
	}
	pkLogout(t, g, c)

	other := g.newClient()
	for name, b := range map[string]*http.Client{"same browser": c, "another browser": other} {
		pkSetCookie(g, b, ceremonyCookie, nonce)
		form.Set("csrf_token", g.csrf(b, "/.frontdoor/login"))
		r := g.do(b, http.MethodPost, "/.frontdoor/passkey/login", form, nil)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "That passkey was not accepted") || g.sessionCookie(b) != "" {
			t.Fatalf("%s: replay answered %d (session %t) %s", name, r.status, g.sessionCookie(b) != "", r.body)
		}
	}
	if cu := pkCustomer(t, email); cu.Passkeys[0].Flagged || cu.Passkeys[0].SignCount != 1 {
		t.Fatalf("a replay changed the passkey: %+v", cu.Passkeys[0])
	}
	if _, r := pkLogin(t, g, g.newClient(), a, "/app/x"); r.status != http.StatusSeeOther {
		t.Fatalf("the genuine passkey after a replay: %d %s", r.status, r.body)
	}
}

// pkCounterRollback: an answer whose signature counter went backwards (a
// copy of the key) is refused and flags the passkey for good — a higher
// counter afterwards is refused too — and the account page and the audit
// trail say so.
func pkCounterRollback(t *testing.T, g *gateway) {
	const email = "pk-rollback@example.com"
	first, a, credID := pkSignUp(t, g, email) // first stays signed in (amr email)
	if _, r := pkLogin(t, g, g.newClient(), a, "/app/x"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.status)
	}
	if n := pkCustomer(t, email).Passkeys[0].SignCount; n != 1 {
		t.Fatalf("stored counter %d, want 1", n)
	}
	a.SetSignCount(credID, 0) // the copy's next answer says 1 again
	c := g.newClient()
	_, r := pkLogin(t, g, c, a, "/app/x")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "copied") || g.sessionCookie(c) != "" {
		t.Fatalf("rolled-back counter: %d %s", r.status, r.body)
	}
	if cu := pkCustomer(t, email); !cu.Passkeys[0].Flagged || cu.HasUsablePasskey() {
		t.Fatalf("passkey not flagged: %+v", cu.Passkeys[0])
	}
	a.SetSignCount(credID, 1000)
	if _, r := pkLogin(t, g, c, a, "/app/x"); r.status != http.StatusUnauthorized || g.sessionCookie(c) != "" {
		t.Fatalf("a flagged passkey with a higher counter: %d %s", r.status, r.body)
	}
	acct := g.get(first, "/.frontdoor/account", nil)
	if acct.status != http.StatusOK || !strings.Contains(acct.body, "refused: may be copied") {
		t.Fatalf("account page does not show the flagged passkey: %d %s", acct.status, acct.body)
	}
	events, err := backendOf(t).identity.Events(t.Context(), pkCustomer(t, email).ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e identity.Event) bool { return e.Kind == identity.EventPasskeyFlagged }) {
		t.Fatalf("no %s in the audit trail: %+v", identity.EventPasskeyFlagged, events)
	}
}

// pkCeremonyBinding: a sign-in ceremony belongs to the browser that
// asked for it, an enrolment to the session that began it.
func pkCeremonyBinding(t *testing.T, g *gateway) {
	const email = "pk-binding@example.com"
	_, a, _ := pkSignUp(t, g, email)

	// Options fetched by A, the answer posted by B: without a ceremony
	// cookie, and with B's own.
	for _, ownCeremony := range []bool{false, true} {
		alice, bob := g.newClient(), g.newClient()
		opts := pkOptions(t, g, alice, g.csrf(alice, "/.frontdoor/login"), "login", nil)
		assertion, err := a.Get(opts)
		if err != nil {
			t.Fatal(err)
		}
		bobCSRF := g.csrf(bob, "/.frontdoor/login")
		if ownCeremony {
			pkOptions(t, g, bob, bobCSRF, "login", nil)
			if cookieOf(g, bob, ceremonyCookie) == "" || cookieOf(g, bob, ceremonyCookie) == cookieOf(g, alice, ceremonyCookie) {
				t.Fatal("browsers share a ceremony cookie")
			}
		}
		r := g.do(bob, http.MethodPost, "/.frontdoor/passkey/login", url.Values{
			"credential": {string(assertion)}, "rd": {"/app/x"}, "csrf_token": {bobCSRF}}, nil)
		if r.status != http.StatusUnauthorized || g.sessionCookie(bob) != "" {
			t.Fatalf("answer posted by another browser (own ceremony %t): %d", ownCeremony, r.status)
		}
	}

	// An enrolment begun by one session of a customer, finished by another.
	const pwEmail = "pk-binding-pw@example.com"
	s1 := g.signUp(pwEmail)
	s2 := g.newClient()
	g.login(s2, pwEmail, testPassword, "/app/x")
	key := webauthntest.New(g.url(""))
	opts := pkOptions(t, g, s1, g.csrf(s1, "/.frontdoor/account"), "register", nil)
	created, _, err := key.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := g.postVia(s2, "/.frontdoor/account", "/.frontdoor/passkey/register", url.Values{"credential": {string(created)}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Passkey not added") {
		t.Fatalf("enrolment finished by another session: %d %s", r.status, r.body)
	}
	// Nor does a signed-out browser finish it.
	anon := g.newClient()
	r = g.postVia(anon, "/.frontdoor/login", "/.frontdoor/passkey/register", url.Values{"credential": {string(created)}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/.frontdoor/login") {
		t.Fatalf("enrolment posted signed out: %d %q", r.status, r.header.Get("Location"))
	}
	if cu := pkCustomer(t, pwEmail); len(cu.Passkeys) != 0 {
		t.Fatalf("passkey added across sessions: %+v", cu.Passkeys)
	}
}

// pkRPFromConfig: the relying party id in the options is the configured
// site host whatever Host, X-Forwarded-Host or Forwarded say, and an
// answer made for another origin is refused, at enrolment and sign-in.
func pkRPFromConfig(t *testing.T, g *gateway) {
	const email = "pk-rp@example.com"
	c := g.signUp(email)
	forged := map[string]string{"Host": fmt.Sprintf("shop.test:%d", g.port+1), "X-Forwarded-Host": "evil.test",
		"X-Forwarded-Proto": "http", "Forwarded": "host=evil.test;proto=http"}
	var reg struct {
		PublicKey struct {
			RP struct{ ID string } `json:"rp"`
		} `json:"publicKey"`
	}
	pkDecode(t, pkOptions(t, g, c, g.csrf(c, "/.frontdoor/account"), "register", forged), &reg)
	if reg.PublicKey.RP.ID != "shop.test" {
		t.Fatalf("register options rp.id %q", reg.PublicKey.RP.ID)
	}
	var login struct {
		PublicKey struct {
			RPID string `json:"rpId"`
		} `json:"publicKey"`
	}
	anon := g.newClient()
	pkDecode(t, pkOptions(t, g, anon, g.csrf(anon, "/.frontdoor/login"), "login", forged), &login)
	if login.PublicKey.RPID != "shop.test" {
		t.Fatalf("login options rpId %q", login.PublicKey.RPID)
	}

	// Enrolment from another origin: a phishing site that is its own RP
	// (rp.id rewritten to its host), a sibling subdomain (the rp id still
	// fits, only the origin differs), and plain http.
	for _, tc := range []struct{ origin, rpID string }{
		{fmt.Sprintf("https://evil.test:%d", g.port), "evil.test"},
		{fmt.Sprintf("https://evil.shop.test:%d", g.port), ""},
		{fmt.Sprintf("http://shop.test:%d", g.port), ""},
	} {
		key := webauthntest.New(tc.origin)
		opts := pkOptions(t, g, c, g.csrf(c, "/.frontdoor/account"), "register", nil)
		if tc.rpID != "" {
			opts = []byte(strings.Replace(string(opts), `"id":"shop.test"`, `"id":"`+tc.rpID+`"`, 1))
		}
		created, _, err := key.Create(opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.origin, err)
		}
		r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/passkey/register", url.Values{"credential": {string(created)}})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Passkey not added") {
			t.Fatalf("enrolment from %s: %d %s", tc.origin, r.status, r.body)
		}
	}
	if cu := pkCustomer(t, email); len(cu.Passkeys) != 0 {
		t.Fatalf("passkey from another origin added: %+v", cu.Passkeys)
	}

	// Sign-in from another origin with a genuine passkey of the site.
	_, a, _ := pkSignUp(t, g, "pk-rp-login@example.com")
	for _, origin := range []string{fmt.Sprintf("https://evil.shop.test:%d", g.port), fmt.Sprintf("https://shop.test:%d", g.port+1)} {
		a.Origin = origin
		b := g.newClient()
		if _, r := pkLogin(t, g, b, a, "/app/x"); r.status != http.StatusUnauthorized || g.sessionCookie(b) != "" {
			t.Fatalf("sign-in from %s: %d", origin, r.status)
		}
	}
	a.Origin = g.url("")
	if _, r := pkLogin(t, g, g.newClient(), a, "/app/x"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in from the site's origin: %d %s", r.status, r.body)
	}
}

// pkUserVerification: an authenticator that does not verify the user
// neither enrols nor signs in (the options say "required"); the autofill
// request (mediation conditional) signs in like the button, through a
// ceremony cookie a script cannot read.
func pkUserVerification(t *testing.T, g *gateway) {
	const email = "pk-uv@example.com"
	c := g.signUp(email)
	noUV := webauthntest.New(g.url(""))
	noUV.UV = false
	if _, r := pkCreate(t, g, c, noUV); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Passkey not added") {
		t.Fatalf("enrolment without user verification: %d %s", r.status, r.body)
	}
	if cu := pkCustomer(t, email); len(cu.Passkeys) != 0 {
		t.Fatalf("passkey without user verification added: %+v", cu.Passkeys)
	}

	_, a, _ := pkSignUp(t, g, "pk-uv-login@example.com")
	a.UV = false
	b := g.newClient()
	if _, r := pkLogin(t, g, b, a, "/app/x"); r.status != http.StatusUnauthorized || g.sessionCookie(b) != "" {
		t.Fatalf("sign-in without user verification: %d", r.status)
	}
	a.UV = true

	csrf := g.csrf(b, "/.frontdoor/login")
	r := pkOptionsForm(t, g, b, url.Values{"csrf_token": {csrf}, "purpose": {"login"}, "mediation": {"conditional"}}, nil)
	var opts struct {
		Mediation string `json:"mediation"`
		PublicKey struct {
			RPID  string `json:"rpId"`
			UV    string `json:"userVerification"`
			Allow []any  `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	pkDecode(t, []byte(r.body), &opts)
	if opts.Mediation != "conditional" || opts.PublicKey.RPID != "shop.test" || opts.PublicKey.UV != "required" || len(opts.PublicKey.Allow) != 0 {
		t.Fatalf("autofill options: %s", r.body)
	}
	var ceremony *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == ceremonyCookie {
			ceremony = ck
		}
	}
	if ceremony == nil || !ceremony.Secure || !ceremony.HttpOnly || ceremony.SameSite != http.SameSiteStrictMode || ceremony.Path != "/" ||
		ceremony.MaxAge <= 0 || ceremony.MaxAge > int(identity.CeremonyTTL.Seconds()) {
		t.Fatalf("ceremony cookie: %q", r.header.Values("Set-Cookie"))
	}
	assertion, err := a.Get([]byte(r.body))
	if err != nil {
		t.Fatal(err)
	}
	r = g.do(b, http.MethodPost, "/.frontdoor/passkey/login", url.Values{"credential": {string(assertion)}, "rd": {"/app/x"}, "csrf_token": {csrf}}, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app/x" || g.sessionCookie(b) == "" {
		t.Fatalf("autofill sign-in: %d %s", r.status, r.body)
	}
}

// pkSecondFactor: a customer with a password adds a passkey; signing in
// with the password then asks for it, and the passkey as second factor
// makes the session aal2.
func pkSecondFactor(t *testing.T, g *gateway) {
	const email = "pk-mfa@example.com"
	c := g.signUp(email)
	a := webauthntest.New(g.url(""))
	if _, r := pkCreate(t, g, c, a); r.status != http.StatusSeeOther || r.header.Get("Location") != "/.frontdoor/account" {
		t.Fatalf("adding a passkey: %d %s", r.status, r.body)
	}
	pkLogout(t, g, c)
	r := g.post(c, "/.frontdoor/login", url.Values{"email": {email}, "password": {testPassword}, "rd": {pkVault}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Use a passkey") || g.sessionCookie(c) != "" {
		t.Fatalf("password sign-in with a passkey enrolled: %d %s", r.status, r.body)
	}
	csrf := csrfRE.FindStringSubmatch(r.body)[1]
	// A sign-in ceremony's answer is no second factor.
	loginOpts := pkOptions(t, g, c, csrf, "login", nil)
	wrong, err := a.Get(loginOpts)
	if err != nil {
		t.Fatal(err)
	}
	if r := g.do(c, http.MethodPost, "/.frontdoor/mfa", url.Values{"credential": {string(wrong)}, "csrf_token": {csrf}}, nil); r.status != http.StatusUnauthorized || g.sessionCookie(c) != "" {
		t.Fatalf("a sign-in answer as second factor: %d", r.status)
	}
	opts := pkOptions(t, g, c, csrf, "mfa", nil)
	var req struct {
		PublicKey struct {
			RPID  string `json:"rpId"`
			Allow []struct {
				ID string `json:"id"`
			} `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	pkDecode(t, opts, &req)
	if req.PublicKey.RPID != "shop.test" || len(req.PublicKey.Allow) != 1 || req.PublicKey.Allow[0].ID != b64(a.Credentials()[0].ID) {
		t.Fatalf("second-factor options: %s", opts)
	}
	assertion, err := a.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	r = g.do(c, http.MethodPost, "/.frontdoor/mfa", url.Values{"credential": {string(assertion)}, "csrf_token": {csrf}}, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != pkVault || g.sessionCookie(c) == "" {
		t.Fatalf("passkey as second factor: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	if r := g.get(c, pkVault, navigate); r.status != http.StatusOK {
		t.Fatalf("aal2 route after the second factor: %d %q", r.status, r.header.Get("Location"))
	}
	h := g.backend.lastHeaders()
	jwks := g.get(c, "/.well-known/frontdoor/jwks.json", nil)
	claims := verifyAssertion(t, jwks.body, h.Get("X-Frontdoor-Assertion"), g.aud())
	if claims.ACR != "aal2" || !slices.Contains(claims.AMR, "pwd") || !slices.Contains(claims.AMR, "hwk") || !slices.Contains(claims.AMR, "mfa") {
		t.Fatalf("assertion after password and passkey: %+v", claims)
	}

	// Waiting for the second factor of a customer with no passkey (an
	// authenticator app only), a hand-made passkey request is refused
	// cleanly: no ceremony, no server error.
	const totpEmail = "pk-mfa-totp@example.com"
	g.signUp(totpEmail)
	if _, err := backendOf(t).identity.UpdateCustomer(t.Context(), pkCustomer(t, totpEmail).ID, func(cu *identity.Customer) error {
		cu.TOTP = &identity.TOTP{Secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", CreatedAt: time.Now().UTC()}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b := g.newClient()
	r = g.post(b, "/.frontdoor/login", url.Values{"email": {totpEmail}, "password": {testPassword}, "rd": {"/app/x"}})
	if r.status != http.StatusOK || strings.Contains(r.body, "Use a passkey") || !strings.Contains(r.body, "authenticator app") {
		t.Fatalf("password sign-in with an authenticator app: %d %s", r.status, r.body)
	}
	r = g.do(b, http.MethodPost, "/.frontdoor/passkey/options", url.Values{"csrf_token": {csrfRE.FindStringSubmatch(r.body)[1]}, "purpose": {"mfa"}}, nil)
	if r.status < 400 || r.status >= 500 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("passkey options without a passkey: %d %s", r.status, r.body)
	}
}

// pkRemoveLast: removing a passkey needs a recent sign-in; removing the
// only one of a passkey-only account asks first, then removes it, and it
// no longer signs in.
func pkRemoveLast(t *testing.T, g *gateway) {
	const email = "pk-remove@example.com"
	c, a, credID := pkSignUp(t, g, email)
	pkLogout(t, g, c)
	if _, r := pkLogin(t, g, c, a, "/.frontdoor/account"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.status)
	}
	remove := url.Values{"id": {b64(credID)}}

	appClock := backendOf(t).clock
	t.Cleanup(func() { appClock.Set(nil) })
	later := time.Now().Add(authflow.AccountFreshness + time.Minute)
	appClock.Set(func() time.Time { return later })
	r := g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/passkey/remove", remove)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/.frontdoor/stepup?") {
		t.Fatalf("removal after %v: %d %q", authflow.AccountFreshness, r.status, r.header.Get("Location"))
	}
	appClock.Set(nil)
	if len(pkCustomer(t, email).Passkeys) != 1 {
		t.Fatal("a stale session removed the passkey")
	}

	r = g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/passkey/remove", remove)
	if r.status != http.StatusOK || !strings.Contains(r.body, "only way you can sign in") ||
		!strings.Contains(r.body, `name="confirm" value="1"`) || len(pkCustomer(t, email).Passkeys) != 1 {
		t.Fatalf("removing the last passkey, unconfirmed: %d %s", r.status, r.body)
	}
	remove.Set("confirm", "1")
	r = g.postVia(c, "/.frontdoor/account", "/.frontdoor/account/passkey/remove", remove)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Passkey removed") {
		t.Fatalf("removing the last passkey, confirmed: %d %s", r.status, r.body)
	}
	if cu := pkCustomer(t, email); len(cu.Passkeys) != 0 {
		t.Fatalf("passkey still there: %+v", cu.Passkeys)
	}
	if acct := g.get(c, "/.frontdoor/account", nil); strings.Contains(acct.body, b64(credID)) {
		t.Fatal("account page still lists the removed passkey")
	}
	b := g.newClient()
	if _, r := pkLogin(t, g, b, a, "/app/x"); r.status != http.StatusUnauthorized || g.sessionCookie(b) != "" {
		t.Fatalf("a removed passkey signed in: %d", r.status)
	}
}

// pkSignUp signs up email without a password and creates its passkey,
// checking each step; it returns the signed-in browser (amr email), its
// authenticator and the credential id.
func pkSignUp(t *testing.T, g *gateway, email string) (*http.Client, *webauthntest.Authenticator, []byte) {
	t.Helper()
	return pkSignUpWith(t, g, email, webauthntest.New(g.url("")))
}

// pkSignUpWith is pkSignUp with the given authenticator.
func pkSignUpWith(t *testing.T, g *gateway, email string, a *webauthntest.Authenticator) (*http.Client, *webauthntest.Authenticator, []byte) {
	t.Helper()
	c := g.newClient()
	r := g.post(c, "/.frontdoor/register", url.Values{"email": {email}, "method": {"passkey"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") {
		t.Fatalf("passkey-first register: %d %s", r.status, r.body)
	}
	link := g.mailLink(email, "/.frontdoor/verify?token=")
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("passkey") != "1" || !strings.HasPrefix(link, g.url("/.frontdoor/verify?")) {
		t.Fatalf("verification link %q", link)
	}
	token := u.Query().Get("token")
	// Opening the link (a mail scanner, then the customer) only shows the
	// button: nothing is used up, nobody is signed in.
	for range 2 {
		r := g.get(c, link, nil)
		if r.status != http.StatusOK || !strings.Contains(r.body, `id="confirm-email"`) ||
			!strings.Contains(r.body, `name="token" value="`+token+`"`) || g.sessionCookie(c) != "" {
			t.Fatalf("verification page: %d %s", r.status, r.body)
		}
	}
	if pkCustomer(t, email).EmailVerified {
		t.Fatal("opening the link confirmed the address")
	}
	r = g.postVia(c, link, "/.frontdoor/verify", url.Values{"token": {token}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/.frontdoor/account?welcome=passkey" || g.sessionCookie(c) == "" {
		t.Fatalf("confirming: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	if r := g.get(c, "/.frontdoor/account?welcome=passkey", nil); r.status != http.StatusOK || !strings.Contains(r.body, "Create your passkey") {
		t.Fatalf("welcome page: %d %s", r.status, r.body)
	}
	cred, r := pkCreate(t, g, c, a)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/.frontdoor/account" {
		t.Fatalf("creating the passkey: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	return c, a, cred.ID
}

// pkCreate runs an enrolment in the signed-in browser c with authenticator
// a, as passkey.js does from the account page.
func pkCreate(t *testing.T, g *gateway, c *http.Client, a *webauthntest.Authenticator) (*webauthntest.Credential, response) {
	t.Helper()
	csrf := g.csrf(c, "/.frontdoor/account")
	created, cred, err := a.Create(pkOptions(t, g, c, csrf, "register", nil))
	if err != nil {
		t.Fatal(err)
	}
	return cred, g.do(c, http.MethodPost, "/.frontdoor/passkey/register", url.Values{"credential": {string(created)}, "csrf_token": {csrf}}, nil)
}

// pkLogin runs a discoverable sign-in in browser c with authenticator a,
// as passkey.js does from the sign-in page; it returns the answer posted.
func pkLogin(t *testing.T, g *gateway, c *http.Client, a *webauthntest.Authenticator, rd string) ([]byte, response) {
	t.Helper()
	csrf := g.csrf(c, "/.frontdoor/login")
	assertion, err := a.Get(pkOptions(t, g, c, csrf, "login", nil))
	if err != nil {
		t.Fatal(err)
	}
	return assertion, g.do(c, http.MethodPost, "/.frontdoor/passkey/login", url.Values{
		"credential": {string(assertion)}, "rd": {rd}, "csrf_token": {csrf}}, nil)
}

// pkOptions asks for the options of a ceremony (purpose login, mfa or
// register) and returns the JSON; hdr may set Host too.
func pkOptions(t *testing.T, g *gateway, c *http.Client, csrf, purpose string, hdr map[string]string) []byte {
	t.Helper()
	return []byte(pkOptionsForm(t, g, c, url.Values{"csrf_token": {csrf}, "purpose": {purpose}}, hdr).body)
}

// pkOptionsForm is pkOptions with the whole form given, answering the
// whole response (200 with JSON, or the test fails).
func pkOptionsForm(t *testing.T, g *gateway, c *http.Client, form url.Values, hdr map[string]string) response {
	t.Helper()
	purpose := form.Get("purpose")
	req, err := http.NewRequest(http.MethodPost, g.url("/.frontdoor/passkey/options"), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s options: %d %s", purpose, resp.StatusCode, body)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func pkDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// pkLogout signs browser c out with the sign-out form.
func pkLogout(t *testing.T, g *gateway, c *http.Client) {
	t.Helper()
	if r := g.post(c, "/.frontdoor/logout", url.Values{}); r.status != http.StatusOK || g.sessionCookie(c) != "" {
		t.Fatalf("sign out: %d", r.status)
	}
}

func pkCustomer(t *testing.T, email string) *identity.Customer {
	t.Helper()
	cu, err := backendOf(t).identity.CustomerByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return cu
}

func pkSetCookie(g *gateway, c *http.Client, name, value string) {
	u, _ := url.Parse(g.url("/"))
	c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/", Secure: true}})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
