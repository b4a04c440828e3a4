package webauthntest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

const testOrigin = "https://localhost:8443"

type testUser struct {
	id    []byte
	name  string
	creds []webauthn.Credential
}

func (u *testUser) WebAuthnID() []byte                         { return u.id }
func (u *testUser) WebAuthnName() string                       { return u.name }
func (u *testUser) WebAuthnDisplayName() string                { return u.name }
func (u *testUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// update stores the credential record returned by a successful login, as a
// relying party must (sign count, flags).
func (u *testUser) update(c *webauthn.Credential) {
	for i := range u.creds {
		if bytes.Equal(u.creds[i].ID, c.ID) {
			u.creds[i] = *c
		}
	}
}

func newRP(t *testing.T) *webauthn.WebAuthn {
	t.Helper()
	w, err := webauthn.New(&webauthn.Config{
		RPID:          "localhost",
		RPDisplayName: "x",
		RPOrigins:     []string{testOrigin},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func newUser(name string) *testUser {
	return &testUser{id: []byte("user-handle-" + name), name: name}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register runs a full registration ceremony and stores the credential on u.
func register(t *testing.T, w *webauthn.WebAuthn, a *Authenticator, u *testUser, uv protocol.UserVerificationRequirement) (*webauthn.Credential, *Credential) {
	t.Helper()
	creation, session, err := w.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: uv}),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
	)
	if err != nil {
		t.Fatal(err)
	}
	resp, cred, err := a.Create(mustJSON(t, creation))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		t.Fatalf("ParseCredentialCreationResponseBytes: %v", err)
	}
	rc, err := w.CreateCredential(u, *session, parsed)
	if err != nil {
		t.Fatalf("CreateCredential: %v", err)
	}
	u.creds = append(u.creds, *rc)
	return rc, cred
}

func handlerFor(t *testing.T, users ...*testUser) webauthn.DiscoverableUserHandler {
	return func(rawID, userHandle []byte) (webauthn.User, error) {
		for _, u := range users {
			if bytes.Equal(u.id, userHandle) {
				return u, nil
			}
		}
		t.Errorf("handler: unknown user handle %q", userHandle)
		return nil, errors.New("unknown user")
	}
}

// discoverableLogin runs BeginDiscoverableLogin → Get → ValidateDiscoverableLogin.
func discoverableLogin(t *testing.T, w *webauthn.WebAuthn, a *Authenticator, uv protocol.UserVerificationRequirement, users ...*testUser) (*webauthn.Credential, *protocol.ParsedCredentialAssertionData, error) {
	t.Helper()
	assertion, session, err := w.BeginDiscoverableLogin(webauthn.WithUserVerification(uv))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Get(mustJSON(t, assertion))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(resp)
	if err != nil {
		t.Fatalf("ParseCredentialRequestResponseBytes: %v", err)
	}
	c, err := w.ValidateDiscoverableLogin(handlerFor(t, users...), *session, parsed)
	return c, parsed, err
}

func errDetails(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Details + " / " + pe.DevInfo
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRegisterAndDiscoverableLogin(t *testing.T) {
	w := newRP(t)
	a := New(testOrigin)
	a.AAGUID = [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	u := newUser("alice")

	rc, cred := register(t, w, a, u, protocol.VerificationRequired)

	if !bytes.Equal(rc.ID, cred.ID) || len(cred.ID) != 32 {
		t.Errorf("credential id: rp %x, authenticator %x", rc.ID, cred.ID)
	}
	if !bytes.Equal(cred.UserHandle, u.id) || cred.RPID != "localhost" || cred.SignCount != 0 {
		t.Errorf("authenticator credential = %+v", cred)
	}
	if f := rc.Flags; !f.UserPresent || !f.UserVerified || f.BackupEligible || f.BackupState {
		t.Errorf("registration flags = %+v", f)
	}
	if rc.AttestationFormat != "none" || rc.AttestationType != "none" {
		t.Errorf("attestation fmt/type = %q/%q", rc.AttestationFormat, rc.AttestationType)
	}
	if !bytes.Equal(rc.Authenticator.AAGUID, a.AAGUID[:]) {
		t.Errorf("AAGUID = %x", rc.Authenticator.AAGUID)
	}
	if rc.Authenticator.SignCount != 0 || rc.Authenticator.Attachment != protocol.Platform {
		t.Errorf("authenticator record = %+v", rc.Authenticator)
	}
	if len(rc.Transport) != 1 || rc.Transport[0] != protocol.Internal {
		t.Errorf("transports = %v", rc.Transport)
	}

	for want := uint32(1); want <= 3; want++ {
		lc, parsed, err := discoverableLogin(t, w, a, protocol.VerificationRequired, u)
		if err != nil {
			t.Fatalf("login %d: %v (%s)", want, err, errDetails(err))
		}
		if lc.Authenticator.SignCount != want || lc.Authenticator.CloneWarning {
			t.Errorf("login %d: authenticator record = %+v", want, lc.Authenticator)
		}
		if !parsed.Response.AuthenticatorData.Flags.UserVerified() || !bytes.Equal(parsed.Response.UserHandle, u.id) {
			t.Errorf("login %d: flags %08b userHandle %q", want, parsed.Response.AuthenticatorData.Flags, parsed.Response.UserHandle)
		}
		u.update(lc)
	}
	if got := a.Credentials()[0].SignCount; got != 3 {
		t.Errorf("authenticator SignCount = %d, want 3", got)
	}
}

// TestCounterRollback documents what go-webauthn v0.18.2 does when the
// signature counter does not increase: validateLogin calls
// Authenticator.UpdateCounter(authData.signCount), which — when
// signCount <= stored count and the two are not both 0 — sets
// Credential.Authenticator.CloneWarning = true and leaves
// Authenticator.SignCount at the stored value. No error is returned; whether
// to reject the login is left to the relying party.
func TestCounterRollback(t *testing.T) {
	w := newRP(t)
	a := New(testOrigin)
	u := newUser("bob")
	_, cred := register(t, w, a, u, protocol.VerificationRequired)

	for range 5 {
		lc, _, err := discoverableLogin(t, w, a, protocol.VerificationRequired, u)
		if err != nil {
			t.Fatal(err)
		}
		u.update(lc)
	}
	if got := u.creds[0].Authenticator.SignCount; got != 5 {
		t.Fatalf("stored SignCount = %d, want 5", got)
	}

	// A clone whose counter is at 2 reports 3 next: below the stored 5.
	a.SetSignCount(cred.ID, 2)
	lc, parsed, err := discoverableLogin(t, w, a, protocol.VerificationRequired, u)
	if err != nil {
		t.Fatalf("rollback login returned error: %v", err)
	}
	if parsed.Response.AuthenticatorData.Counter != 3 {
		t.Errorf("authData counter = %d, want 3", parsed.Response.AuthenticatorData.Counter)
	}
	if !lc.Authenticator.CloneWarning || lc.Authenticator.SignCount != 5 {
		t.Errorf("rollback: authenticator record = %+v, want CloneWarning true and SignCount 5", lc.Authenticator)
	}

	// An equal counter (stored 5, reported 5) is also a clone warning.
	a.SetSignCount(cred.ID, 4)
	lc, _, err = discoverableLogin(t, w, a, protocol.VerificationRequired, u)
	if err != nil {
		t.Fatal(err)
	}
	if !lc.Authenticator.CloneWarning || lc.Authenticator.SignCount != 5 {
		t.Errorf("equal counter: authenticator record = %+v", lc.Authenticator)
	}
}

func TestBackupFlags(t *testing.T) {
	w := newRP(t)
	a := New(testOrigin)
	a.BackupEligible, a.BackupState = true, true
	u := newUser("carol")
	rc, _ := register(t, w, a, u, protocol.VerificationRequired)
	if !rc.Flags.BackupEligible || !rc.Flags.BackupState {
		t.Fatalf("registration flags = %+v", rc.Flags)
	}

	lc, parsed, err := discoverableLogin(t, w, a, protocol.VerificationRequired, u)
	if err != nil {
		t.Fatal(err)
	}
	if f := parsed.Response.AuthenticatorData.Flags; !f.HasBackupEligible() || !f.HasBackupState() {
		t.Errorf("assertion flags = %08b", f)
	}
	if !lc.Flags.BackupEligible || !lc.Flags.BackupState {
		t.Errorf("login flags = %+v", lc.Flags)
	}
	u.update(lc)

	// BS may change between ceremonies (a synced passkey not yet backed up).
	a.BackupState = false
	lc, _, err = discoverableLogin(t, w, a, protocol.VerificationRequired, u)
	if err != nil {
		t.Fatalf("BS change: %v", err)
	}
	if !lc.Flags.BackupEligible || lc.Flags.BackupState {
		t.Errorf("login flags after BS change = %+v", lc.Flags)
	}
	u.update(lc)

	// BE must never change: go-webauthn rejects the assertion.
	a.BackupEligible = false
	_, _, err = discoverableLogin(t, w, a, protocol.VerificationRequired, u)
	if err == nil || !strings.Contains(errDetails(err), "Backup Eligible flag inconsistency") {
		t.Errorf("BE change: err = %v (%s), want Backup Eligible flag inconsistency", err, errDetails(err))
	}

	// BE=0 with BS=1 is invalid at login ...
	a.BackupState = true
	_, _, err = discoverableLogin(t, w, a, protocol.VerificationRequired, u)
	if err == nil {
		t.Error("BE=0/BS=1 login accepted")
	}

	// ... and at registration.
	b := New(testOrigin)
	b.BackupState = true
	creation, session, err := w.BeginRegistration(newUser("dave"))
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := b.Create(mustJSON(t, creation))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.CreateCredential(newUser("dave"), *session, pr); err == nil || !strings.Contains(errDetails(err), "Backup State Flag is true but Backup Eligible flag is false") {
		t.Errorf("BE=0/BS=1 registration: err = %v (%s)", err, errDetails(err))
	}
}

func TestUserVerificationFalse(t *testing.T) {
	w := newRP(t)
	a := New(testOrigin)
	a.UV = false
	u := newUser("erin")

	// An RP requiring UV rejects the registration.
	creation, session, err := w.BeginRegistration(u,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired}),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
	)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := a.Create(mustJSON(t, creation))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.CreateCredential(u, *session, parsed); err == nil || !strings.Contains(errDetails(err), "User verification required") {
		t.Errorf("UV-required registration without UV: err = %v (%s)", err, errDetails(err))
	}

	// With UV preferred it succeeds, reported as not verified.
	rc, _ := register(t, w, a, u, protocol.VerificationPreferred)
	if !rc.Flags.UserPresent || rc.Flags.UserVerified {
		t.Errorf("registration flags = %+v", rc.Flags)
	}
	lc, p, err := discoverableLogin(t, w, a, protocol.VerificationPreferred, u)
	if err != nil {
		t.Fatal(err)
	}
	if p.Response.AuthenticatorData.Flags.UserVerified() || !p.Response.AuthenticatorData.Flags.UserPresent() {
		t.Errorf("assertion flags = %08b", p.Response.AuthenticatorData.Flags)
	}
	if lc.Flags.UserVerified {
		t.Errorf("login flags = %+v", lc.Flags)
	}
	u.update(lc)

	// An RP requiring UV at login rejects the assertion.
	if _, _, err := discoverableLogin(t, w, a, protocol.VerificationRequired, u); err == nil || !strings.Contains(errDetails(err), "User verification required") {
		t.Errorf("UV-required login without UV: err = %v (%s)", err, errDetails(err))
	}
}

func TestNonDiscoverableLoginAndBareOptions(t *testing.T) {
	w := newRP(t)
	a := New(testOrigin)
	alice, bob := newUser("alice"), newUser("bob")

	// Bare options object (no {"publicKey":...} wrapper).
	creation, session, err := w.BeginRegistration(alice)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := a.Create(mustJSON(t, creation.Response))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := w.CreateCredential(alice, *session, parsed)
	if err != nil {
		t.Fatal(err)
	}
	alice.creds = append(alice.creds, *rc)
	bobRC, _ := register(t, w, a, bob, protocol.VerificationPreferred)

	// BeginLogin with allowCredentials picks alice's credential even though
	// bob's was created last.
	assertion, lsession, err := w.BeginLogin(alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]byte{mustJSON(t, assertion), mustJSON(t, assertion.Response)} {
		gresp, err := a.Get(opts)
		if err != nil {
			t.Fatal(err)
		}
		p, err := protocol.ParseCredentialRequestResponseBytes(gresp)
		if err != nil {
			t.Fatal(err)
		}
		lc, err := w.ValidateLogin(alice, *lsession, p)
		if err != nil {
			t.Fatalf("ValidateLogin: %v (%s)", err, errDetails(err))
		}
		if !bytes.Equal(lc.ID, rc.ID) {
			t.Errorf("logged in with %x, want %x", lc.ID, rc.ID)
		}
		alice.update(lc)
	}

	// Discoverable login uses the most recent credential (bob's).
	lc, _, err := discoverableLogin(t, w, a, protocol.VerificationPreferred, alice, bob)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(lc.ID, bobRC.ID) {
		t.Errorf("discoverable login used %x, want bob's %x", lc.ID, bobRC.ID)
	}

	// Another authenticator holds none of alice's credentials.
	if _, err := New(testOrigin).Get(mustJSON(t, assertion)); !errors.Is(err, ErrNoCredential) {
		t.Errorf("foreign authenticator Get: err = %v", err)
	}
	// Nor any credential at all.
	da, _, _ := w.BeginDiscoverableLogin()
	if _, err := New(testOrigin).Get(mustJSON(t, da)); !errors.Is(err, ErrNoCredential) {
		t.Errorf("empty authenticator Get: err = %v", err)
	}
}

func TestExclusionAndReplacement(t *testing.T) {
	w := newRP(t)
	a := New(testOrigin)
	u := newUser("frank")
	rc, _ := register(t, w, a, u, protocol.VerificationRequired)

	creation, _, err := w.BeginRegistration(u, webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Create(mustJSON(t, creation)); !errors.Is(err, ErrCredentialExcluded) {
		t.Errorf("excluded Create: err = %v", err)
	}
	// A different authenticator is not excluded.
	if _, _, err := New(testOrigin).Create(mustJSON(t, creation)); err != nil {
		t.Errorf("other authenticator Create: %v", err)
	}

	// Re-registering the same user on the same authenticator replaces the
	// resident credential.
	rc2, _ := register(t, w, a, u, protocol.VerificationRequired)
	creds := a.Credentials()
	if len(creds) != 1 || !bytes.Equal(creds[0].ID, rc2.ID) || bytes.Equal(rc.ID, rc2.ID) {
		t.Errorf("after re-registration authenticator holds %d credentials", len(creds))
	}
}

func TestRPRejectsWrongOriginAndChallenge(t *testing.T) {
	w := newRP(t)
	a := New(testOrigin)
	u := newUser("grace")
	register(t, w, a, u, protocol.VerificationRequired)

	// Wrong origin (same host, different port): RP ID still valid for the
	// browser, but the RP rejects the origin.
	evil := New("https://localhost:9999")
	evil.creds = a.Credentials()
	if _, _, err := discoverableLogin(t, w, evil, protocol.VerificationRequired, u); err == nil || !strings.Contains(errDetails(err), "origin") {
		t.Errorf("wrong origin: err = %v (%s)", err, errDetails(err))
	}

	// Answer to one challenge presented for another session.
	as1, _, _ := w.BeginDiscoverableLogin()
	_, s2, _ := w.BeginDiscoverableLogin()
	resp, err := a.Get(mustJSON(t, as1))
	if err != nil {
		t.Fatal(err)
	}
	p, err := protocol.ParseCredentialRequestResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ValidateDiscoverableLogin(handlerFor(t, u), *s2, p); err == nil || !strings.Contains(errDetails(err), "challenge") {
		t.Errorf("wrong challenge: err = %v (%s)", err, errDetails(err))
	}

	// RP ID not valid for the origin: refused client-side like a browser.
	as3, _, _ := w.BeginDiscoverableLogin(webauthn.WithLoginRelyingPartyID("example.com"))
	if _, err := a.Get(mustJSON(t, as3)); !errors.Is(err, ErrRPIDMismatch) {
		t.Errorf("foreign rp id: err = %v", err)
	}
}

func TestCredPropsExtension(t *testing.T) {
	w := newRP(t)
	a := New(testOrigin)
	u := newUser("heidi")
	creation, session, err := w.BeginRegistration(u, webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := a.Create(mustJSON(t, creation))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(resp)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := w.CreateCredential(u, *session, parsed)
	if err != nil {
		t.Fatalf("CreateCredential: %v (%s)", err, errDetails(err))
	}
	if rc.Extensions.RK == nil || !*rc.Extensions.RK {
		t.Errorf("credProps rk not recorded: %+v", rc.Extensions)
	}
}

// TestWireFormat checks the JSON shape and binary encodings independently of
// go-webauthn.
func TestWireFormat(t *testing.T) {
	w := newRP(t)
	a := New(testOrigin)
	a.AAGUID[0] = 0x42
	u := newUser("ivan")
	creation, _, err := w.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	resp, cred, err := a.Create(mustJSON(t, creation))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(resp), "=") {
		t.Errorf("padding in %s", resp)
	}

	var reg struct {
		ID, RawID, Type, AuthenticatorAttachment string
		ClientExtensionResults                   map[string]any
		Response                                 struct {
			ClientDataJSON, AuthenticatorData, AttestationObject, PublicKey string
			Transports                                                      []string
			PublicKeyAlgorithm                                              int
		}
	}
	if err := json.Unmarshal(resp, &reg); err != nil {
		t.Fatal(err)
	}
	rawID := b64.EncodeToString(cred.ID)
	if reg.ID != rawID || reg.RawID != rawID || reg.Type != "public-key" || reg.AuthenticatorAttachment != "platform" ||
		reg.ClientExtensionResults == nil || len(reg.ClientExtensionResults) != 0 ||
		len(reg.Response.Transports) != 1 || reg.Response.Transports[0] != "internal" || reg.Response.PublicKeyAlgorithm != -7 {
		t.Errorf("registration JSON = %s", resp)
	}

	cdj := mustB64(t, reg.Response.ClientDataJSON)
	wantCDJ := `{"type":"webauthn.create","challenge":"` + creation.Response.Challenge.String() + `","origin":"` + testOrigin + `","crossOrigin":false}`
	if string(cdj) != wantCDJ {
		t.Errorf("clientDataJSON = %s, want %s", cdj, wantCDJ)
	}

	var att struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}
	if err := cbor.Unmarshal(mustB64(t, reg.Response.AttestationObject), &att); err != nil {
		t.Fatal(err)
	}
	ad := att.AuthData
	if att.Fmt != "none" || att.AttStmt == nil || len(att.AttStmt) != 0 || !bytes.Equal(ad, mustB64(t, reg.Response.AuthenticatorData)) {
		t.Errorf("attestation object = %+v", att)
	}
	rpHash := sha256.Sum256([]byte("localhost"))
	if !bytes.Equal(ad[:32], rpHash[:]) || ad[32] != flagUP|flagUV|flagAT || !bytes.Equal(ad[33:37], []byte{0, 0, 0, 0}) ||
		!bytes.Equal(ad[37:53], a.AAGUID[:]) || !bytes.Equal(ad[53:55], []byte{0, 32}) || !bytes.Equal(ad[55:87], cred.ID) {
		t.Errorf("authData = %x", ad)
	}
	var cose map[int]any
	if err := cbor.Unmarshal(ad[87:], &cose); err != nil {
		t.Fatal(err)
	}
	pt, _ := cred.Key.PublicKey.Bytes()
	if cose[1] != uint64(2) || cose[3] != int64(-7) || cose[-1] != uint64(1) ||
		!bytes.Equal(cose[-2].([]byte), pt[1:33]) || !bytes.Equal(cose[-3].([]byte), pt[33:]) {
		t.Errorf("COSE key = %v", cose)
	}

	assertion, _, err := w.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	gresp, err := a.Get(mustJSON(t, assertion))
	if err != nil {
		t.Fatal(err)
	}
	var get struct {
		ID, RawID, Type, AuthenticatorAttachment string
		ClientExtensionResults                   map[string]any
		Response                                 struct {
			ClientDataJSON, AuthenticatorData, Signature, UserHandle string
		}
	}
	if err := json.Unmarshal(gresp, &get); err != nil {
		t.Fatal(err)
	}
	if get.ID != rawID || get.RawID != rawID || get.Type != "public-key" || get.AuthenticatorAttachment != "platform" ||
		get.ClientExtensionResults == nil || !bytes.Equal(mustB64(t, get.Response.UserHandle), u.id) {
		t.Errorf("assertion JSON = %s", gresp)
	}
	gcdj := mustB64(t, get.Response.ClientDataJSON)
	if want := `{"type":"webauthn.get","challenge":"` + assertion.Response.Challenge.String() + `","origin":"` + testOrigin + `","crossOrigin":false}`; string(gcdj) != want {
		t.Errorf("clientDataJSON = %s", gcdj)
	}
	gad := mustB64(t, get.Response.AuthenticatorData)
	if len(gad) != 37 || !bytes.Equal(gad[:32], rpHash[:]) || gad[32] != flagUP|flagUV || !bytes.Equal(gad[33:], []byte{0, 0, 0, 1}) {
		t.Errorf("assertion authData = %x", gad)
	}
	cdh := sha256.Sum256(gcdj)
	digest := sha256.Sum256(append(gad, cdh[:]...))
	if !ecdsa.VerifyASN1(&cred.Key.PublicKey, digest[:], mustB64(t, get.Response.Signature)) {
		t.Error("signature does not verify")
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return b
}
