package events_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/frontdoorhq/frontdoor/events"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// The signature is the specification's: the reference library verifies
// it, and our verifier takes the library's.
func TestSignatureStandardWebhooks(t *testing.T) {
	secret, err := events.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"evt_1","type":"customer.created"}`)
	now := time.Now()
	h := http.Header{}
	events.SetHeaders(h, secret, "evt_1", now, body)
	if err := ref.Verify(body, h); err != nil {
		t.Fatalf("reference verifier: %v", err)
	}
	refSig, err := ref.Sign("evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if refSig != h.Get(events.HeaderSignature) {
		t.Fatalf("signature %q, reference %q", h.Get(events.HeaderSignature), refSig)
	}
	if err := events.Verify(secret, h, body, now); err != nil {
		t.Fatal(err)
	}
	// Several signatures (secret rotation): any one matching is enough.
	h.Set(events.HeaderSignature, "v1,bm90IGl0 "+refSig)
	if err := events.Verify(secret, h, body, now); err != nil {
		t.Fatalf("rotation: %v", err)
	}

	for name, c := range map[string]struct {
		h    func(http.Header)
		body []byte
		now  time.Time
		want error
	}{
		"tampered body": {func(http.Header) {}, []byte(`{"id":"evt_1","type":"customer.deleted"}`), now, events.ErrSignature},
		"other id":      {func(h http.Header) { h.Set(events.HeaderID, "evt_2") }, body, now, events.ErrSignature},
		"old":           {func(http.Header) {}, body, now.Add(6 * time.Minute), events.ErrTimestamp},
		"future":        {func(http.Header) {}, body, now.Add(-6 * time.Minute), events.ErrTimestamp},
		"no signature":  {func(h http.Header) { h.Del(events.HeaderSignature) }, body, now, events.ErrMissingHeaders},
		"v2 only":       {func(h http.Header) { h.Set(events.HeaderSignature, strings.Replace(refSig, "v1,", "v2,", 1)) }, body, now, events.ErrSignature},
	} {
		t.Run(name, func(t *testing.T) {
			hh := http.Header{}
			events.SetHeaders(hh, secret, "evt_1", now, body)
			c.h(hh)
			if err := events.Verify(secret, hh, c.body, c.now); err != c.want {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	if _, err := events.ParseSecret(strings.TrimPrefix(testSecret, "whsec_")); err != nil {
		t.Fatalf("without prefix: %v", err)
	}
	for _, bad := range []string{"", "whsec_", "whsec_not base64!", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65))} {
		_, err := events.ParseSecret(bad)
		if err == nil {
			t.Fatalf("%q accepted", bad)
		}
		if bad != "" && len(bad) > 8 && strings.Contains(err.Error(), bad[6:]) {
			t.Fatalf("error repeats the secret: %v", err)
		}
	}
}
