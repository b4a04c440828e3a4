// Package webauthntest provides a software WebAuthn authenticator (a "virtual
// security key") for tests that drive a real WebAuthn relying party over HTTP.
//
// An [Authenticator] plays the part of both the browser (the WebAuthn client)
// and the authenticator: it consumes the PublicKeyCredentialCreationOptions /
// PublicKeyCredentialRequestOptions JSON a relying party sends to its
// front-end, and produces exactly the JSON a browser's
// PublicKeyCredential.toJSON() yields for navigator.credentials.create() and
// navigator.credentials.get(), ready to be POSTed back to the relying party.
//
// Keys are ECDSA P-256 (COSE ES256, alg -7), attestation is "none", every
// credential is client-side discoverable (resident) and all binary values in
// the produced JSON are base64url without padding.
//
// Deliberate differences from a real browser/authenticator, useful for
// negative tests of the relying party:
//
//   - The UV flag is whatever [Authenticator.UV] says, even when the options
//     say userVerification "required"; a real client would fail the ceremony
//     instead. This lets a test check that the relying party enforces UV.
//   - BE/BS are whatever [Authenticator.BackupEligible] and
//     [Authenticator.BackupState] say at the time of each ceremony, so a test
//     can simulate an authenticator whose BE flag changes or the invalid
//     BE=0/BS=1 combination.
//
// Like a browser it does refuse to create a credential when excludeCredentials
// names one it holds ([ErrCredentialExcluded]), when ES256 is not among
// pubKeyCredParams ([ErrUnsupportedAlgorithm]) and when the RP ID is not the
// origin's host or a parent domain of it ([ErrRPIDMismatch]); and Get fails
// with [ErrNoCredential] when it holds no usable credential.
package webauthntest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator flag bits (WebAuthn §6.1 authenticator data).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagBE = 0x08 // backup eligible
	flagBS = 0x10 // backup state
	flagAT = 0x40 // attested credential data included
)

// coseAlgES256 is the COSE algorithm identifier for ECDSA w/ SHA-256.
const coseAlgES256 = -7

// credentialIDLength is the number of random bytes in a credential ID.
const credentialIDLength = 32

var (
	// ErrNoCredential is returned by Get when the authenticator holds no
	// credential for the requested RP ID (or none from allowCredentials). A
	// browser reports this as a NotAllowedError.
	ErrNoCredential = errors.New("webauthntest: no matching credential")
	// ErrCredentialExcluded is returned by Create when excludeCredentials
	// lists a credential this authenticator holds for the RP ID. A browser
	// reports this as an InvalidStateError.
	ErrCredentialExcluded = errors.New("webauthntest: authenticator already holds an excluded credential")
	// ErrUnsupportedAlgorithm is returned by Create when pubKeyCredParams is
	// non-empty and does not allow ES256 (-7). A browser reports this as a
	// NotSupportedError.
	ErrUnsupportedAlgorithm = errors.New("webauthntest: ES256 (-7) not in pubKeyCredParams")
	// ErrRPIDMismatch is returned when the RP ID is neither the origin's host
	// nor a parent domain of it. A browser reports this as a SecurityError.
	ErrRPIDMismatch = errors.New("webauthntest: rp id is not valid for the origin")
)

// Credential is a credential held by an [Authenticator].
type Credential struct {
	// ID is the credential ID (32 random bytes).
	ID []byte
	// UserHandle is the user.id the credential was created for.
	UserHandle []byte
	// RPID is the relying party ID the credential is scoped to.
	RPID string
	// Key is the credential's private key.
	Key *ecdsa.PrivateKey
	// SignCount is the signature counter last reported for this credential.
	SignCount uint32
}

// Authenticator is a software WebAuthn authenticator together with the
// browser-side client logic. Its exported fields may be changed between
// ceremonies (not concurrently with them); its methods are safe for
// concurrent use.
type Authenticator struct {
	// Origin is the web origin reported in clientDataJSON.origin, e.g.
	// "https://localhost:8443".
	Origin string
	// UV sets the UV (user verified) flag. UP (user present) is always set.
	UV bool
	// BackupEligible and BackupState set the BE and BS flags.
	BackupEligible, BackupState bool
	// AAGUID is reported in the attested credential data on Create.
	AAGUID [16]byte

	mu    sync.Mutex
	creds []*Credential // in creation order
}

// New returns an Authenticator for origin that performs user verification
// (UV true) and creates device-bound credentials (BE and BS false).
func New(origin string) *Authenticator {
	return &Authenticator{Origin: origin, UV: true}
}

// credentialDescriptor is a PublicKeyCredentialDescriptorJSON.
type credentialDescriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// creationOptions is the subset of PublicKeyCredentialCreationOptionsJSON
// the authenticator looks at.
type creationOptions struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Challenge        string `json:"challenge"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int    `json:"alg"`
	} `json:"pubKeyCredParams"`
	ExcludeCredentials []credentialDescriptor `json:"excludeCredentials"`
	Extensions         map[string]any         `json:"extensions"`
}

// requestOptions is the subset of PublicKeyCredentialRequestOptionsJSON the
// authenticator looks at.
type requestOptions struct {
	Challenge        string                 `json:"challenge"`
	RPID             string                 `json:"rpId"`
	AllowCredentials []credentialDescriptor `json:"allowCredentials"`
}

// clientData is CollectedClientData; field order matches what browsers emit
// and crossOrigin is always present.
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

type registrationResponseJSON struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AuthenticatorData  string   `json:"authenticatorData"`
	Transports         []string `json:"transports"`
	PublicKey          string   `json:"publicKey"`
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
	AttestationObject  string   `json:"attestationObject"`
}

type authenticationResponseJSON struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle"`
}

type publicKeyCredentialJSON[R any] struct {
	ID                      string         `json:"id"`
	RawID                   string         `json:"rawId"`
	Response                R              `json:"response"`
	AuthenticatorAttachment string         `json:"authenticatorAttachment"`
	ClientExtensionResults  map[string]any `json:"clientExtensionResults"`
	Type                    string         `json:"type"`
}

var b64 = base64.RawURLEncoding

// decodeB64URL decodes base64url, tolerating padding like browsers'
// parse*OptionsFromJSON do.
func decodeB64URL(s string) ([]byte, error) {
	return b64.DecodeString(strings.TrimRight(s, "="))
}

// unwrapOptions returns the object under "publicKey" when optionsJSON is a
// CredentialCreationOptions/CredentialRequestOptions wrapper (the shape of
// go-webauthn's protocol.CredentialCreation and protocol.CredentialAssertion),
// or optionsJSON itself when it is the bare options object.
func unwrapOptions(optionsJSON []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(optionsJSON, &top); err != nil {
		return nil, fmt.Errorf("webauthntest: options are not a JSON object: %w", err)
	}
	if pk, ok := top["publicKey"]; ok {
		if _, bare := top["challenge"]; !bare {
			return pk, nil
		}
	}
	return optionsJSON, nil
}

// challengeForClientData returns the challenge as a browser writes it into
// clientDataJSON: the challenge bytes base64url-encoded without padding. For
// the (unpadded, canonical) strings go-webauthn produces this is the options'
// challenge string unchanged.
func challengeForClientData(s string) (string, error) {
	if s == "" {
		return "", errors.New("webauthntest: options have no challenge")
	}
	raw, err := decodeB64URL(s)
	if err != nil {
		return "", fmt.Errorf("webauthntest: challenge is not base64url: %w", err)
	}
	return b64.EncodeToString(raw), nil
}

// rpIDFor returns rpID, or the origin's host when rpID is empty, after
// checking it is valid for the origin the way a browser does (it must equal
// the origin's host or be a parent domain of it; the public suffix list is not
// consulted).
func (a *Authenticator) rpIDFor(rpID string) (string, error) {
	u, err := url.Parse(a.Origin)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("webauthntest: invalid origin %q", a.Origin)
	}
	host := strings.ToLower(u.Hostname())
	if rpID == "" {
		return host, nil
	}
	id := strings.ToLower(rpID)
	if id != host && !strings.HasSuffix(host, "."+id) {
		return "", fmt.Errorf("%w: rp id %q, origin %q", ErrRPIDMismatch, rpID, a.Origin)
	}
	return rpID, nil
}

func (a *Authenticator) flags() byte {
	f := byte(flagUP)
	if a.UV {
		f |= flagUV
	}
	if a.BackupEligible {
		f |= flagBE
	}
	if a.BackupState {
		f |= flagBS
	}
	return f
}

// authData builds authenticator data: rpIdHash || flags || signCount ||
// attestedCredentialData (when attested is non-nil, which also sets AT).
func (a *Authenticator) authData(rpID string, signCount uint32, attested []byte) []byte {
	rpIDHash := sha256.Sum256([]byte(rpID))
	flags := a.flags()
	if attested != nil {
		flags |= flagAT
	}
	out := make([]byte, 0, 37+len(attested))
	out = append(out, rpIDHash[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, signCount)
	return append(out, attested...)
}

var cborEnc = func() cbor.EncMode {
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// coseKey encodes pub as a COSE_Key: {1: 2 (EC2), 3: -7 (ES256), -1: 1
// (P-256), -2: x, -3: y}, CTAP2 canonical CBOR.
func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	pt, err := pub.Bytes() // 0x04 || x(32) || y(32)
	if err != nil {
		return nil, err
	}
	return cborEnc.Marshal(map[int]any{
		1:  2,
		3:  coseAlgES256,
		-1: 1,
		-2: pt[1:33],
		-3: pt[33:65],
	})
}

// holds reports whether the authenticator holds credential id for rpID.
// Callers hold a.mu.
func (a *Authenticator) holds(rpID string, id []byte) *Credential {
	for _, c := range a.creds {
		if c.RPID == rpID && bytes.Equal(c.ID, id) {
			return c
		}
	}
	return nil
}

// Create answers a PublicKeyCredentialCreationOptions JSON, either wrapped
// ({"publicKey":{...}}, as go-webauthn's protocol.CredentialCreation
// marshals) or bare. It creates a resident ES256 credential for rp.id (or the
// origin's host when absent) and user.id, replacing any credential it already
// holds for the same RP ID and user handle (as real authenticators do), and
// returns the JSON that PublicKeyCredential.toJSON() gives for
// navigator.credentials.create() together with a copy of the new credential.
//
// The authenticator data carries sign count 0. The "credProps" client
// extension output ({"rk":true}) is included only when the options request
// it; otherwise clientExtensionResults is {}.
func (a *Authenticator) Create(optionsJSON []byte) ([]byte, *Credential, error) {
	raw, err := unwrapOptions(optionsJSON)
	if err != nil {
		return nil, nil, err
	}
	var opts creationOptions
	if err := json.Unmarshal(raw, &opts); err != nil {
		return nil, nil, fmt.Errorf("webauthntest: decoding creation options: %w", err)
	}
	challenge, err := challengeForClientData(opts.Challenge)
	if err != nil {
		return nil, nil, err
	}
	rpID, err := a.rpIDFor(opts.RP.ID)
	if err != nil {
		return nil, nil, err
	}
	userHandle, err := decodeB64URL(opts.User.ID)
	if err != nil || len(userHandle) == 0 {
		return nil, nil, fmt.Errorf("webauthntest: user.id %q is not non-empty base64url", opts.User.ID)
	}
	if len(opts.PubKeyCredParams) > 0 {
		ok := false
		for _, p := range opts.PubKeyCredParams {
			if p.Type == "public-key" && p.Alg == coseAlgES256 {
				ok = true
				break
			}
		}
		if !ok {
			return nil, nil, ErrUnsupportedAlgorithm
		}
	}

	a.mu.Lock()
	defer a.mu.Unlock()

	for _, d := range opts.ExcludeCredentials {
		id, err := decodeB64URL(d.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("webauthntest: excludeCredentials id %q is not base64url", d.ID)
		}
		if a.holds(rpID, id) != nil {
			return nil, nil, ErrCredentialExcluded
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	credID := make([]byte, credentialIDLength)
	if _, err := rand.Read(credID); err != nil {
		return nil, nil, err
	}
	cose, err := coseKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}

	attested := make([]byte, 0, 16+2+len(credID)+len(cose))
	attested = append(attested, a.AAGUID[:]...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(credID)))
	attested = append(attested, credID...)
	attested = append(attested, cose...)
	authData := a.authData(rpID, 0, attested)

	attObj, err := cborEnc.Marshal(map[string]any{
		"fmt":      "none",
		"attStmt":  map[string]any{},
		"authData": authData,
	})
	if err != nil {
		return nil, nil, err
	}
	cdj, err := json.Marshal(clientData{
		Type:      "webauthn.create",
		Challenge: challenge,
		Origin:    a.Origin,
	})
	if err != nil {
		return nil, nil, err
	}

	ext := map[string]any{}
	if v, ok := opts.Extensions["credProps"].(bool); ok && v {
		ext["credProps"] = map[string]any{"rk": true}
	}

	out, err := json.Marshal(publicKeyCredentialJSON[registrationResponseJSON]{
		ID:    b64.EncodeToString(credID),
		RawID: b64.EncodeToString(credID),
		Response: registrationResponseJSON{
			ClientDataJSON:     b64.EncodeToString(cdj),
			AuthenticatorData:  b64.EncodeToString(authData),
			Transports:         []string{"internal"},
			PublicKey:          b64.EncodeToString(spki),
			PublicKeyAlgorithm: coseAlgES256,
			AttestationObject:  b64.EncodeToString(attObj),
		},
		AuthenticatorAttachment: "platform",
		ClientExtensionResults:  ext,
		Type:                    "public-key",
	})
	if err != nil {
		return nil, nil, err
	}

	cred := &Credential{ID: credID, UserHandle: userHandle, RPID: rpID, Key: key}
	kept := a.creds[:0]
	for _, c := range a.creds {
		if c.RPID != rpID || !bytes.Equal(c.UserHandle, userHandle) {
			kept = append(kept, c)
		}
	}
	a.creds = append(kept, cred)
	cp := *cred
	return out, &cp, nil
}

// Get answers a PublicKeyCredentialRequestOptions JSON, either wrapped
// ({"publicKey":{...}}, as go-webauthn's protocol.CredentialAssertion
// marshals) or bare. With an empty allowCredentials (discoverable login) it
// uses the most recently created credential for rpId (or the origin's host
// when absent); otherwise the first allowed credential it holds for that RP
// ID. It increments that credential's sign counter by one, then signs
// authenticatorData || SHA-256(clientDataJSON) with ECDSA (ASN.1 DER) and
// returns the JSON PublicKeyCredential.toJSON() gives for
// navigator.credentials.get(), including the userHandle.
func (a *Authenticator) Get(optionsJSON []byte) ([]byte, error) {
	raw, err := unwrapOptions(optionsJSON)
	if err != nil {
		return nil, err
	}
	var opts requestOptions
	if err := json.Unmarshal(raw, &opts); err != nil {
		return nil, fmt.Errorf("webauthntest: decoding request options: %w", err)
	}
	challenge, err := challengeForClientData(opts.Challenge)
	if err != nil {
		return nil, err
	}
	rpID, err := a.rpIDFor(opts.RPID)
	if err != nil {
		return nil, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()

	var cred *Credential
	if len(opts.AllowCredentials) == 0 {
		for i := len(a.creds) - 1; i >= 0; i-- {
			if a.creds[i].RPID == rpID {
				cred = a.creds[i]
				break
			}
		}
	} else {
		for _, d := range opts.AllowCredentials {
			id, err := decodeB64URL(d.ID)
			if err != nil {
				return nil, fmt.Errorf("webauthntest: allowCredentials id %q is not base64url", d.ID)
			}
			if cred = a.holds(rpID, id); cred != nil {
				break
			}
		}
	}
	if cred == nil {
		return nil, fmt.Errorf("%w for rp id %q", ErrNoCredential, rpID)
	}

	cred.SignCount++
	authData := a.authData(rpID, cred.SignCount, nil)
	cdj, err := json.Marshal(clientData{
		Type:      "webauthn.get",
		Challenge: challenge,
		Origin:    a.Origin,
	})
	if err != nil {
		return nil, err
	}
	cdh := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(authData[:len(authData):len(authData)], cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.Key, digest[:])
	if err != nil {
		return nil, err
	}

	return json.Marshal(publicKeyCredentialJSON[authenticationResponseJSON]{
		ID:    b64.EncodeToString(cred.ID),
		RawID: b64.EncodeToString(cred.ID),
		Response: authenticationResponseJSON{
			ClientDataJSON:    b64.EncodeToString(cdj),
			AuthenticatorData: b64.EncodeToString(authData),
			Signature:         b64.EncodeToString(sig),
			UserHandle:        b64.EncodeToString(cred.UserHandle),
		},
		AuthenticatorAttachment: "platform",
		ClientExtensionResults:  map[string]any{},
		Type:                    "public-key",
	})
}

// SetSignCount sets the signature counter of credential credID, e.g. to
// simulate a cloned key whose counter lags behind. The next Get reports n+1.
// It does nothing if the authenticator does not hold credID.
func (a *Authenticator) SetSignCount(credID []byte, n uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.creds {
		if bytes.Equal(c.ID, credID) {
			c.SignCount = n
		}
	}
}

// Credentials returns copies of the credentials the authenticator holds, in
// creation order. Changing them does not affect the authenticator (use
// SetSignCount); the private keys are shared.
func (a *Authenticator) Credentials() []*Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*Credential, len(a.creds))
	for i, c := range a.creds {
		cp := *c
		out[i] = &cp
	}
	return out
}
