package caddymodule

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	jose "github.com/go-jose/go-jose/v4"
)

// DPoP (RFC 9449): a client proves, on every request, that it holds the
// private key its access token is bound to (cnf.jkt). The proof is a JWS
// of its own, header typ dpop+jwt, signed by the key it carries in its
// jwk header, over the request's method (htm) and URL (htu), issued a
// moment ago (iat) and used once (jti); at a resource it also carries the
// hash of the access token (ath). The token endpoint, the edge and
// userinfo all check proofs with checkDPoPProof and spend their jti in
// the backend's single-use set (dpopFirstUse). Server nonces (RFC 9449
// §8) are not used.

const (
	dpopHeader    = "DPoP"
	dpopType      = "dpop+jwt"
	dpopScheme    = "DPoP"
	dpopErrorCode = "invalid_dpop_proof"
	// dpopWindow is how old a proof may be; clockSkew how far ahead.
	dpopWindow = 60 * time.Second
	// dpopMaxProof bounds the header read (an RSA 4096 proof is ~1.5 KB).
	dpopMaxProof = 8 << 10
	dpopMaxJTI   = 64
)

// dpopAlgs are the proof algorithms taken: asymmetric only (never none,
// never an HMAC, whose key the server would have to share).
var dpopAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256, jose.PS256, jose.EdDSA}

// dpopAlgNames is dpopAlgs as discovery and WWW-Authenticate spell them.
func dpopAlgNames() []string {
	out := make([]string, len(dpopAlgs))
	for i, a := range dpopAlgs {
		out[i] = string(a)
	}
	return out
}

// errDPoP is a proof refused; its text says why (logged, and the
// error_description of the token endpoint's answer).
type errDPoP string

func (e errDPoP) Error() string { return string(e) }

// dpopClaims are the proof's claims.
type dpopClaims struct {
	HTM string   `json:"htm"`
	HTU string   `json:"htu"`
	IAT *float64 `json:"iat"`
	JTI string   `json:"jti"`
	ATH string   `json:"ath"`
}

// dpopProof is a proof that passed checkDPoPProof, its jti not yet spent.
type dpopProof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's key,
	// base64url: what a bound token's cnf.jkt holds.
	JKT string
	HTU string // normalised, as matched
	JTI string
	IAT time.Time
}

// checkDPoPProof checks a proof against a request: its shape and
// signature, its method, its URL (one of htus, normalised), its age at
// now, and, when accessToken is not "", its ath. The jti is the caller's
// to spend (dpopFirstUse).
func checkDPoPProof(raw, method string, htus []string, now time.Time, accessToken string) (*dpopProof, error) {
	if raw == "" {
		return nil, errDPoP("no DPoP proof")
	}
	if len(raw) > dpopMaxProof || strings.Count(raw, ".") != 2 {
		return nil, errDPoP("DPoP proof is not a compact JWS")
	}
	jws, err := jose.ParseSignedCompact(raw, dpopAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errDPoP("DPoP proof is not a JWS signed with " + strings.Join(dpopAlgNames(), ", "))
	}
	hdr := jws.Signatures[0].Protected
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, dpopType) {
		return nil, errDPoP("DPoP proof typ is not dpop+jwt")
	}
	jwk := hdr.JSONWebKey
	if jwk == nil || !jwk.Valid() {
		return nil, errDPoP("DPoP proof has no jwk header")
	}
	if !jwk.IsPublic() {
		return nil, errDPoP("DPoP proof jwk is not a public key")
	}
	if k, ok := jwk.Key.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		return nil, errDPoP("DPoP proof RSA key is shorter than 2048 bits")
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return nil, errDPoP("DPoP proof signature does not verify with its jwk")
	}
	var c dpopClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errDPoP("DPoP proof claims are not a JSON object")
	}
	if c.HTM != method {
		return nil, errDPoP("DPoP proof htm is not this request's method")
	}
	htu, ok := normalHTU(c.HTU)
	if !ok || !containsString(htus, htu) {
		return nil, errDPoP("DPoP proof htu is not this request's URL")
	}
	if c.IAT == nil || math.IsNaN(*c.IAT) || math.IsInf(*c.IAT, 0) || math.Abs(*c.IAT) > 1e12 {
		return nil, errDPoP("DPoP proof has no iat")
	}
	iat := time.Unix(int64(*c.IAT), 0)
	if iat.After(now.Add(clockSkew)) || iat.Before(now.Add(-dpopWindow)) {
		return nil, errDPoP("DPoP proof iat is outside the accepted window")
	}
	if c.JTI == "" || len(c.JTI) > dpopMaxJTI {
		return nil, errDPoP("DPoP proof jti is missing or longer than 64 characters")
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		if c.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) {
			return nil, errDPoP("DPoP proof ath is not the hash of the access token")
		}
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, errDPoP("DPoP proof jwk has no thumbprint")
	}
	return &dpopProof{JKT: base64.RawURLEncoding.EncodeToString(tp), HTU: htu, JTI: c.JTI, IAT: iat}, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// normalHTU is an htu (or a request's URL) as compared (RFC 9449 §4.3,
// RFC 3986 §6.2.2–6.2.3): an absolute http(s) URL, scheme and host in
// lower case, the scheme's default port left out, an empty path as "/",
// without query and fragment.
func normalHTU(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return scheme + "://" + host + p, true
}

// requestHTUs are the URLs a proof for r may name: the one the client
// reached (the scheme of the connection, the Host it sent, the path
// before any rewrite) and the same path on the site's origin (behind a
// proxy the public address).
func requestHTUs(r *http.Request, origin string) []string {
	path := r.URL.EscapedPath()
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.URL != nil {
		path = or.URL.EscapedPath()
	}
	if path == "" {
		path = "/"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	var out []string
	if host := r.Host; host != "" && !strings.ContainsAny(host, "/?#@\\") {
		if u, ok := normalHTU(scheme + "://" + host + path); ok {
			out = append(out, u)
		}
	}
	if origin != "" {
		if u, ok := normalHTU(origin + path); ok && !containsString(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// dpopFirstUse spends a proof's jti: true the first time, false for a
// replay within the window. The id is keyed by the key's thumbprint and
// the URL (a jti is the client's, unique per key); it is kept for as
// long as the proof could pass. On Redis the set is shared by every
// node (SET NX with an expiry); on bolt (one node) it is in memory,
// bounded (a full set refuses proofs rather than grow).
func (b *backend) dpopFirstUse(ctx context.Context, p *dpopProof, now time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(p.JKT + "\x00" + p.HTU + "\x00" + p.JTI))
	until := p.IAT.Add(dpopWindow + time.Second)
	if !until.After(now) {
		until = now.Add(time.Second)
	}
	return b.dpopSeen.FirstUse(ctx, "dpop:"+base64.RawURLEncoding.EncodeToString(sum[:]), now, until)
}

// proveDPoP checks the request's DPoP proof (for accessToken at a
// resource, "" at the token endpoint) and spends its jti. A refused proof
// is an errDPoP; any other error is the store's.
func (h *Handler) proveDPoP(ctx context.Context, r *http.Request, accessToken string) (*dpopProof, error) {
	vals := r.Header.Values(dpopHeader)
	if len(vals) != 1 {
		if len(vals) == 0 {
			return nil, errDPoP("no DPoP proof")
		}
		return nil, errDPoP("more than one DPoP header")
	}
	b := h.app.backend
	now := b.clock.Now()
	p, err := checkDPoPProof(strings.TrimSpace(vals[0]), r.Method, requestHTUs(r, h.origin), now, accessToken)
	if err != nil {
		return nil, err
	}
	first, err := b.dpopFirstUse(ctx, p, now)
	if err != nil {
		return nil, err
	}
	if !first {
		return nil, errDPoP("DPoP proof jti was used already")
	}
	return p, nil
}

// authScheme returns the Authorization header's scheme, as sent.
func authScheme(r *http.Request) string {
	s, _, _ := strings.Cut(strings.TrimSpace(authorization(r)), " ")
	return s
}

// dpopRefused answers a resource request whose token or proof is refused
// (RFC 9449 §7.1): 401 with a DPoP challenge.
func dpopRefused(w http.ResponseWriter, code string) error {
	w.Header().Set("WWW-Authenticate", dpopScheme+` error="`+code+`", algs="`+strings.Join(dpopAlgNames(), " ")+`"`)
	w.Header().Set("Cache-Control", "no-store")
	return writeJSONError(w, http.StatusUnauthorized, code)
}

// isDPoPError reports whether err is a refused proof (not a store
// failure).
func isDPoPError(err error) bool {
	var e errDPoP
	return errors.As(err, &e)
}

// dpopCall checks, at the edge, the proof that comes with a token bound
// to jkt: this request's method and URL, the token's hash, fresh and
// unused, signed by the bound key. It answers the request itself and
// returns true when it is refused.
func (h *Handler) dpopCall(w http.ResponseWriter, r *http.Request, raw, jkt string) (bool, error) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.app.StoreTimeout))
	defer cancel()
	p, err := h.proveDPoP(ctx, r, raw)
	switch {
	case err == nil && p.JKT == jkt:
		return false, nil
	case err == nil || isDPoPError(err):
		return true, dpopRefused(w, dpopErrorCode)
	default:
		return true, h.unavailable(w, r)
	}
}
