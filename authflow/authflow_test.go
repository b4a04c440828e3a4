package authflow_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/consent"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/internal/redistest"
	"github.com/frontdoorhq/frontdoor/risk"
	"github.com/frontdoorhq/frontdoor/session"
)

// The journeys run here without Caddy, over the real bbolt and Redis
// stores and the real argon2id hasher; only mail is recorded instead of
// sent (the through-Caddy tests read real .eml files).

// TestImports: authflow stays below the HTTP side: it imports neither
// Caddy nor net/http itself, and nothing it depends on is Caddy. (net/http
// is among its dependencies only through zap, which identity logs with.)
func TestImports(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "github.com/frontdoorhq/frontdoor/authflow").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if imp == "net/http" || strings.HasPrefix(imp, "net/http/") || strings.Contains(imp, "caddyserver") {
			t.Errorf("authflow imports %s", imp)
		}
	}
	deps, err := exec.Command("go", "list", "-deps", "github.com/frontdoorhq/frontdoor/authflow").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(deps)) {
		if strings.Contains(dep, "caddyserver") || strings.HasSuffix(dep, "frontdoor/caddymodule") {
			t.Errorf("authflow depends on %s", dep)
		}
	}
}

// env is one store's journeys, with a movable clock and recorded mail.
type env struct {
	flows    *authflow.Flows
	clock    *clock
	mail     *mailbox
	store    identity.Store
	consent  consent.Store
	sessions *session.Manager
	queue    *queue
	limit    *failures
}

// failures is the edge's count of wrong answers per account, kept here
// (botdefense's own suite tests the real one).
type failures struct {
	mu  sync.Mutex
	n   map[string]int
	max int // 0: no limit
}

func (f *failures) Over(_ context.Context, account string) (bool, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.max > 0 && f.n[account] >= f.max, time.Minute, nil
}

func (f *failures) Failed(_ context.Context, account string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[account]++
	return nil
}

// eachStore runs f on a fresh bbolt store and on a fresh Redis.
func eachStore(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("bolt", func(t *testing.T) {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "fd.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := identity.NewBoltStore(db)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := session.NewBoltStore(db)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := consent.NewBoltStore(db)
		if err != nil {
			t.Fatal(err)
		}
		f(t, newEnv(t, s, ss, cs))
	})
	t.Run("redis", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts redis-server")
		}
		c := redistest.Start(t).Client(t)
		f(t, newEnv(t, identity.NewRedisStore(c, "fd:"), session.NewRedisStore(c, "fd:"), consent.NewRedisStore(c, "fd:")))
	})
}

var (
	hasherOnce sync.Once
	hasher     *identity.Hasher
)

func newEnv(t *testing.T, s identity.Store, ss session.Store, cs consent.Store) *env {
	hasherOnce.Do(func() {
		var err error
		if hasher, err = identity.NewHasher(identity.DefaultArgon2, 2); err != nil {
			t.Fatal(err)
		}
	})
	e := &env{clock: &clock{t: time.Now().UTC()}, mail: &mailbox{}, store: s, consent: cs, queue: &queue{}, limit: &failures{}}
	e.sessions = session.NewManager(ss, session.Config{}, e.clock.now)
	e.flows = &authflow.Flows{
		Customers: s, Tokens: s, Hasher: hasher, Policy: identity.DefaultPasswordPolicy,
		Notify: e.mail, Later: e.queue, Clock: e.clock.now, Sessions: e.sessions, Events: s,
		SecondFactorLimit: e.limit, Consent: cs, Site: "shop.example.com",
		OnError: func(msg string, err error) { t.Errorf("queued work failed: %s: %v", msg, err) },
		OnWarn:  func(msg string, err error) { t.Errorf("best-effort work failed: %s: %v", msg, err) },
	}
	return e
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// queue runs queued work at once (the order a real queue keeps), or
// refuses it when full.
type queue struct{ full bool }

func (q *queue) Do(job func(context.Context)) bool {
	if q.full {
		return false
	}
	job(context.Background())
	return true
}

// mailbox records what the journeys mail.
type mailbox struct {
	mu   sync.Mutex
	sent []mail
}

type mail struct {
	kind, to, secret string
	passkey          bool
	code             string
}

func (m *mailbox) Verify(_ context.Context, c *identity.Customer, secret string, passkey bool) {
	m.add(mail{kind: "verify", to: c.Email, secret: secret, passkey: passkey})
}
func (m *mailbox) AlreadyRegistered(_ context.Context, c *identity.Customer) {
	m.add(mail{kind: "already", to: c.Email})
}
func (m *mailbox) ConfirmNewEmail(_ context.Context, email, secret string) {
	m.add(mail{kind: "new_email", to: email, secret: secret})
}
func (m *mailbox) EmailInUse(_ context.Context, email string) {
	m.add(mail{kind: "email_in_use", to: email})
}
func (m *mailbox) EmailChanged(_ context.Context, old, new string) {
	m.add(mail{kind: "email_changed", to: old})
}
func (m *mailbox) Invitation(_ context.Context, email, secret, role string, _ time.Time) {
	m.add(mail{kind: "invitation:" + role, to: email, secret: secret})
}
func (m *mailbox) Reset(_ context.Context, c *identity.Customer, secret string) {
	m.add(mail{kind: "reset", to: c.Email, secret: secret})
}
func (m *mailbox) SignInLink(_ context.Context, c *identity.Customer, secret, code string) {
	m.add(mail{kind: "signin", to: c.Email, secret: secret, code: code})
}
func (m *mailbox) NewSignIn(_ context.Context, c *identity.Customer, s risk.Sighting, _ risk.Decision) {
	m.add(mail{kind: "new_sign_in", to: c.Email, secret: s.Browser})
}
func (m *mailbox) RiskCode(_ context.Context, c *identity.Customer, code string) {
	m.add(mail{kind: "risk_code", to: c.Email, code: code})
}
func (m *mailbox) SupportCode(_ context.Context, c *identity.Customer, code string) {
	m.add(mail{kind: "support_code", to: c.Email, code: code})
}
func (m *mailbox) FactorRemoval(_ context.Context, c *identity.Customer, _ time.Time, secret string) {
	m.add(mail{kind: "factor_removal", to: c.Email, secret: secret})
}
func (m *mailbox) add(x mail) {
	m.mu.Lock()
	m.sent = append(m.sent, x)
	m.mu.Unlock()
}

// take returns and forgets the mails sent so far.
func (m *mailbox) take() []mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.sent
	m.sent = nil
	return out
}

// signUp signs up email and returns the verification link's secret and the
// browser's nonce.
func (e *env) signUp(t *testing.T, email, password string, passkey bool) (secret, nonce string) {
	t.Helper()
	method := authflow.PurposePasswordSignUp
	if passkey {
		method = authflow.PurposePasskeySignUp
	}
	return e.signUpWith(t, authflow.SignUpInput{Email: email, Password: password, Method: method})
}

// signUpWith is signUp of a whole form.
func (e *env) signUpWith(t *testing.T, in authflow.SignUpInput) (secret, nonce string) {
	t.Helper()
	email, passkey := in.Email, in.Method == authflow.PurposePasskeySignUp
	out, err := e.flows.SignUp(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	acc, ok := out.(authflow.SignUpAccepted)
	if !ok || acc.Nonce == "" {
		t.Fatalf("sign-up of %s: %#v", email, out)
	}
	mails := e.mail.take()
	if len(mails) != 1 || mails[0].kind != "verify" || mails[0].passkey != passkey {
		t.Fatalf("sign-up of %s mailed %+v, want one verification link", email, mails)
	}
	return mails[0].secret, acc.Nonce
}

func (e *env) confirm(t *testing.T, in authflow.ConfirmInput) authflow.Outcome {
	t.Helper()
	out, err := e.flows.ConfirmEmail(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) signIn(t *testing.T, email, password string) authflow.Outcome {
	t.Helper()
	out, err := e.flows.PasswordSignIn(context.Background(), authflow.PasswordSignInInput{Email: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	ownerPassword    = "the owner's own passphrase"
	attackerPassword = "what the squatter typed here"
)

func TestSignUpJourneys(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"confirmed in the sign-up's browser", func(t *testing.T, e *env) {
			secret, nonce := e.signUp(t, "Ann@Example.com", ownerPassword, false)
			if _, ok := e.signIn(t, "ann@example.com", ownerPassword).(authflow.Unverified); !ok {
				t.Fatal("signed in before the address was confirmed")
			}
			e.mail.take()
			if out := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce}); out != (authflow.EmailConfirmed{Bound: true}) {
				t.Fatalf("confirming: %#v", out)
			}
			out, ok := e.signIn(t, "ann@example.com", ownerPassword).(authflow.FirstFactorPassed)
			if !ok || out.Customer.Email != "ann@example.com" || strings.Join(out.AMR, " ") != "pwd" {
				t.Fatalf("signing in: %#v", out)
			}
			if _, ok := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce}).(authflow.LinkExpired); !ok {
				t.Fatal("a link used twice")
			}
		}},
		{"a squatter's password never takes effect", func(t *testing.T, e *env) {
			secret, _ := e.signUp(t, "victim@example.com", attackerPassword, false)
			// The owner reads the link in their own browser: no nonce.
			if _, ok := e.confirm(t, authflow.ConfirmInput{Secret: secret}).(authflow.ChoosePassword); !ok {
				t.Fatal("confirming elsewhere did not ask for a password")
			}
			bad := e.confirm(t, authflow.ConfirmInput{Secret: secret, Chosen: true, Password: ownerPassword, Repeat: ownerPassword + "!"})
			if inv, ok := bad.(authflow.Invalid); !ok || !errors.Is(inv.Fields["password_confirm"], authflow.ErrPasswordMismatch) {
				t.Fatalf("mismatched passwords: %#v", bad)
			}
			if out := e.confirm(t, authflow.ConfirmInput{Secret: secret, Chosen: true, Password: ownerPassword, Repeat: ownerPassword}); out != (authflow.EmailConfirmed{PasswordChosen: true}) {
				t.Fatalf("choosing the password: %#v", out)
			}
			if _, ok := e.signIn(t, "victim@example.com", attackerPassword).(authflow.WrongCredentials); !ok {
				t.Fatal("the squatter's password works")
			}
			if _, ok := e.signIn(t, "victim@example.com", ownerPassword).(authflow.FirstFactorPassed); !ok {
				t.Fatal("the owner's password does not work")
			}
		}},
		{"a later sign-up's link wins, stale links only confirm", func(t *testing.T, e *env) {
			squat, squatNonce := e.signUp(t, "late@example.com", attackerPassword, false)
			own, ownNonce := e.signUp(t, "late@example.com", ownerPassword, false)
			if out := e.confirm(t, authflow.ConfirmInput{Secret: own, Nonce: ownNonce}); out != (authflow.EmailConfirmed{Bound: true}) {
				t.Fatalf("the owner's link: %#v", out)
			}
			if out := e.confirm(t, authflow.ConfirmInput{Secret: squat, Nonce: squatNonce}); out != (authflow.EmailConfirmed{Bound: true}) {
				t.Fatalf("the squatter's stale link in their browser: %#v", out)
			}
			if _, ok := e.signIn(t, "late@example.com", attackerPassword).(authflow.WrongCredentials); !ok {
				t.Fatal("a stale link changed the verified account's password")
			}
		}},
		{"a verified address's owner is told instead", func(t *testing.T, e *env) {
			secret, nonce := e.signUp(t, "known@example.com", ownerPassword, false)
			e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce})
			out, err := e.flows.SignUp(context.Background(), authflow.SignUpInput{Email: "known@example.com", Password: attackerPassword})
			if _, ok := out.(authflow.SignUpAccepted); err != nil || !ok {
				t.Fatalf("sign-up for a verified address: %#v %v", out, err)
			}
			if mails := e.mail.take(); len(mails) != 1 || mails[0].kind != "already" {
				t.Fatalf("mailed %+v, want the already-registered notice", mails)
			}
		}},
		{"passkey-first: signed in only in its own browser", func(t *testing.T, e *env) {
			secret, _ := e.signUp(t, "pk@example.com", "", true)
			if out := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: "another browser's nonce"}); out != (authflow.PasswordlessConfirmedElsewhere{Purpose: authflow.PurposePasskeySignUp}) {
				t.Fatalf("elsewhere: %#v", out)
			}
			secret, nonce := e.signUp(t, "pk2@example.com", "", true)
			out, ok := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce}).(authflow.PasswordlessConfirmed)
			if !ok || !out.Customer.EmailVerified || out.Customer.PasswordHash != "" || out.Purpose != authflow.PurposePasskeySignUp {
				t.Fatalf("in its own browser: %#v", out)
			}
		}},
		{"email sign-up: no password, signed in only in its own browser, back to rd", func(t *testing.T, e *env) {
			// A password typed beside the email method is neither checked nor kept.
			in := authflow.SignUpInput{Email: "em@example.com", Password: "x", Method: authflow.PurposeEmailSignUp, Redirect: "/orders?x=1"}
			secret, _ := e.signUpWith(t, in)
			if out := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: "another browser's nonce"}); out != (authflow.PasswordlessConfirmedElsewhere{Purpose: authflow.PurposeEmailSignUp}) {
				t.Fatalf("elsewhere: %#v", out)
			}
			if c, _ := e.store.CustomerByEmail(context.Background(), "em@example.com"); !c.EmailVerified || c.PasswordHash != "" {
				t.Fatalf("confirmed elsewhere: %+v", c)
			}
			in.Email = "em2@example.com"
			secret, nonce := e.signUpWith(t, in)
			out, ok := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce}).(authflow.PasswordlessConfirmed)
			if !ok || !out.Customer.EmailVerified || out.Customer.PasswordHash != "" || out.Purpose != authflow.PurposeEmailSignUp ||
				out.Redirect != "/orders?x=1" || out.Customer.LastLoginAt.IsZero() {
				t.Fatalf("in its own browser: %#v", out)
			}
			// A squatter's unconfirmed password goes when the mailbox's
			// reader signs up by email and confirms.
			e.signUp(t, "sq@example.com", attackerPassword, false)
			in.Email = "sq@example.com"
			secret, nonce = e.signUpWith(t, in)
			if out, ok := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce}).(authflow.PasswordlessConfirmed); !ok || out.Customer.PasswordHash != "" {
				t.Fatalf("over a squatter's sign-up: %#v", out)
			}
			// A verified address's owner is told instead, as for the other methods.
			in.Email = "em2@example.com"
			out2, err := e.flows.SignUp(context.Background(), in)
			if _, ok := out2.(authflow.SignUpAccepted); err != nil || !ok {
				t.Fatalf("email sign-up for a verified address: %#v %v", out2, err)
			}
			if mails := e.mail.take(); len(mails) != 1 || mails[0].kind != "already" {
				t.Fatalf("mailed %+v, want the already-registered notice", mails)
			}
		}},
		{"an unverified sign-in resends a link bound to that browser", func(t *testing.T, e *env) {
			e.signUp(t, "slow@example.com", ownerPassword, false)
			out, ok := e.signIn(t, "slow@example.com", ownerPassword).(authflow.Unverified)
			mails := e.mail.take()
			if !ok || len(mails) != 1 || mails[0].kind != "verify" {
				t.Fatalf("unverified sign-in: %#v, mailed %+v", out, mails)
			}
			if got := e.confirm(t, authflow.ConfirmInput{Secret: mails[0].secret, Nonce: out.Nonce}); got != (authflow.EmailConfirmed{Bound: true}) {
				t.Fatalf("the resent link: %#v", got)
			}
		}},
		{"links expire", func(t *testing.T, e *env) {
			secret, nonce := e.signUp(t, "late2@example.com", ownerPassword, false)
			e.clock.advance(identity.VerifyTokenTTL + time.Second)
			if _, ok := e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce}).(authflow.LinkExpired); !ok {
				t.Fatal("an expired link worked")
			}
		}},
		{"bad forms, a full queue", func(t *testing.T, e *env) {
			out, err := e.flows.SignUp(context.Background(), authflow.SignUpInput{Email: "not an address", Password: "short"})
			inv, ok := out.(authflow.Invalid)
			if err != nil || !ok || !errors.Is(inv.Fields["email"], authflow.ErrEmailInvalid) || inv.Fields["password"] == nil {
				t.Fatalf("bad sign-up: %#v %v", out, err)
			}
			out = e.signIn(t, "x@example.com", "")
			if inv, ok := out.(authflow.Invalid); !ok || !errors.Is(inv.Fields["password"], authflow.ErrPasswordMissing) {
				t.Fatalf("no password: %#v", out)
			}
			if _, ok := e.signIn(t, "nobody@example.com", ownerPassword).(authflow.WrongCredentials); !ok {
				t.Fatal("an unknown address")
			}
			e.queue.full = true
			if out, err := e.flows.SignUp(context.Background(), authflow.SignUpInput{Email: "full@example.com", Password: ownerPassword}); err != nil || out != (authflow.Busy{}) {
				t.Fatalf("full queue: %#v %v", out, err)
			}
			if _, err := e.store.CustomerByEmail(context.Background(), "full@example.com"); !errors.Is(err, identity.ErrNotFound) {
				t.Fatalf("a refused sign-up wrote: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { eachStore(t, tc.run) })
	}
}

// TestResetJourney: a reset link goes only to an account's address, the
// same answer for every address; a typo keeps the link; the link works
// once and expires; an account with a second factor waits for it.
func TestResetJourney(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		secret, nonce := e.signUp(t, "reset@example.com", ownerPassword, false)
		e.confirm(t, authflow.ConfirmInput{Secret: secret, Nonce: nonce})
		for _, addr := range []string{"reset@example.com", "nobody@example.com"} {
			out, err := e.flows.RequestReset(ctx, addr)
			if err != nil || out != (authflow.ResetRequested{Email: addr}) {
				t.Fatalf("reset for %s: %#v %v", addr, out, err)
			}
		}
		mails := e.mail.take()
		if len(mails) != 1 || mails[0].kind != "reset" || mails[0].to != "reset@example.com" {
			t.Fatalf("mailed %+v, want one reset link to the account", mails)
		}
		link := mails[0].secret
		const newPassword = "a brand new passphrase here"
		out, err := e.flows.ConfirmReset(ctx, authflow.ResetInput{Secret: link, Password: newPassword, Repeat: newPassword + "x"})
		if _, ok := out.(authflow.Invalid); err != nil || !ok {
			t.Fatalf("a typo: %#v %v", out, err)
		}
		out, err = e.flows.ConfirmReset(ctx, authflow.ResetInput{Secret: link, Password: newPassword, Repeat: newPassword})
		ready, ok := out.(authflow.ResetReady)
		if err != nil || !ok || ready.Customer.Email != "reset@example.com" || ready.PasswordHash == "" {
			t.Fatalf("confirming: %#v %v", out, err)
		}
		if out, _ := e.flows.ConfirmReset(ctx, authflow.ResetInput{Secret: link, Password: newPassword, Repeat: newPassword}); out != (authflow.LinkExpired{}) {
			t.Fatalf("a link used twice: %#v", out)
		}
		e.flows.RequestReset(ctx, "reset@example.com")
		link = e.mail.take()[0].secret
		e.clock.advance(identity.ResetTokenTTL + time.Second)
		if out, _ := e.flows.ConfirmReset(ctx, authflow.ResetInput{Secret: link, Password: newPassword, Repeat: newPassword}); out != (authflow.LinkExpired{}) {
			t.Fatalf("an expired link: %#v", out)
		}
		if _, err := e.store.UpdateCustomer(ctx, ready.Customer.ID, func(c *identity.Customer) error {
			c.TOTP = &identity.TOTP{Secret: "JBSWY3DPEHPK3PXP"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.flows.RequestReset(ctx, "reset@example.com")
		link = e.mail.take()[0].secret
		out, _ = e.flows.ConfirmReset(ctx, authflow.ResetInput{Secret: link, Password: newPassword, Repeat: newPassword})
		if _, ok := out.(authflow.ResetNeedsSecondFactor); !ok {
			t.Fatalf("an account with a second factor: %#v", out)
		}
	})
}
