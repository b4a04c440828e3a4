package authflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/frontdoorhq/frontdoor/authflow"
	"github.com/frontdoorhq/frontdoor/identity"
)

// fakeRecord stands for consent.Record until the consent package lands:
// ConsentOf must adapt any record type.
type fakeRecord struct {
	Purpose string `json:"purpose"`
	Granted bool   `json:"granted"`
}

type fakeConsent struct {
	records    map[string][]fakeRecord
	anonymised map[string][]byte
}

func (f *fakeConsent) Records(_ context.Context, id string) ([]fakeRecord, error) {
	return f.records[id], nil
}

func (f *fakeConsent) Anonymise(_ context.Context, id string, key []byte) error {
	f.anonymised[id] = key
	delete(f.records, id)
	return nil
}

// The consent store as the journeys take it.
var _ authflow.ConsentSource[fakeRecord] = (*fakeConsent)(nil)

func withErasure(e *env) {
	e.flows.Data, e.flows.SessionList, e.flows.ErasureKey = e.store, e.sessions, []byte("erasure-key")
}

func TestExportConsentRecords(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		withErasure(e)
		ctx := context.Background()
		c := e.verified(t, "exp@example.com")
		// No consent store yet: an empty list.
		x, err := e.flows.Export(ctx, authflow.ExportInput{CustomerID: c.ID})
		if err != nil || x.ConsentRecords == nil || len(x.ConsentRecords) != 0 {
			t.Fatalf("export without consent store: %+v %v", x, err)
		}
		if len(x.Audit) == 0 || x.Audit[0].Kind != identity.EventExported {
			t.Fatalf("export not in the trail it carries: %+v", x.Audit)
		}
		fc := &fakeConsent{records: map[string][]fakeRecord{c.ID: {{Purpose: "terms", Granted: true}}}, anonymised: map[string][]byte{}}
		e.flows.ConsentData = authflow.ConsentOf[fakeRecord](fc)
		x, err = e.flows.Export(ctx, authflow.ExportInput{CustomerID: c.ID})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(x.ConsentRecords)
		if string(b) != `[{"purpose":"terms","granted":true}]` {
			t.Fatalf("consent records exported as %s", b)
		}
		if _, err := e.flows.Export(ctx, authflow.ExportInput{CustomerID: identity.NewID()}); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("export of nobody: %v", err)
		}
	})
}

func TestEraseAnonymisesConsentAndForgetsAccount(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		withErasure(e)
		ctx := context.Background()
		fc := &fakeConsent{records: map[string][]fakeRecord{}, anonymised: map[string][]byte{}}
		e.flows.ConsentData = authflow.ConsentOf[fakeRecord](fc)
		var forgot []string
		e.flows.ForgetAccount = func(_ context.Context, email string) error { forgot = append(forgot, email); return nil }
		c := e.verified(t, "gone@example.com")
		out, err := e.flows.Erase(ctx, authflow.EraseInput{CustomerID: c.ID})
		if _, ok := out.(authflow.Erased); err != nil || !ok {
			t.Fatalf("erase: %#v %v", out, err)
		}
		if string(fc.anonymised[c.ID]) != "erasure-key" || len(forgot) != 1 || forgot[0] != c.Email {
			t.Fatalf("anonymised %q, forgot %v", fc.anonymised, forgot)
		}
		if _, err := e.store.Customer(ctx, c.ID); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("customer after erasure: %v", err)
		}
		if out, _ := e.flows.Erase(ctx, authflow.EraseInput{CustomerID: c.ID}); out != (authflow.NoSuchCustomer{}) {
			t.Fatalf("second erasure: %#v", out)
		}
		log, _ := e.store.Events(ctx, identity.ErasureLog, 10)
		if len(log) != 1 || log[0].Detail != authflow.ErasedByCustomer {
			t.Fatalf("erasure log: %+v", log)
		}
	})
}

func TestErasureGraceCancelledBySignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, e *env) {
		withErasure(e)
		e.flows.ErasureGrace = 14 * 24 * time.Hour
		ctx := context.Background()
		c := e.verified(t, "stay@example.com")
		out, err := e.flows.Erase(ctx, authflow.EraseInput{CustomerID: c.ID})
		sched, ok := out.(authflow.ErasureScheduled)
		if err != nil || !ok || !sched.At.Equal(e.clock.now().Add(e.flows.ErasureGrace)) {
			t.Fatalf("erase with grace: %#v %v", out, err)
		}
		// An operator's erasure does not wait.
		c2 := e.verified(t, "now@example.com")
		if out, _ := e.flows.Erase(ctx, authflow.EraseInput{CustomerID: c2.ID, Operator: true, Reason: "r"}); out != (authflow.Erased{}) {
			t.Fatalf("operator's erasure: %#v", out)
		}
		stored, _ := e.store.Customer(ctx, c.ID)
		_, kept, err := e.flows.StartSessionCancelling(ctx, authflow.StartSessionInput{Due: authflow.SessionDue{Customer: stored}})
		if err != nil || !kept {
			t.Fatalf("sign-in during the grace: kept=%v %v", kept, err)
		}
		e.clock.advance(15 * 24 * time.Hour)
		if n, err := e.flows.EraseDue(ctx, 10); err != nil || n != 0 {
			t.Fatalf("erased after a cancel: %d %v", n, err)
		}
		stored, _ = e.store.Customer(ctx, c.ID)
		if _, err := e.flows.Erase(ctx, authflow.EraseInput{CustomerID: c.ID}); err != nil {
			t.Fatal(err)
		}
		if n, _ := e.flows.EraseDue(ctx, 10); n != 0 {
			t.Fatalf("erased before the grace ended: %d", n)
		}
		e.clock.advance(15 * 24 * time.Hour)
		if n, err := e.flows.EraseDue(ctx, 10); err != nil || n != 1 {
			t.Fatalf("due erasures: %d %v", n, err)
		}
		if _, err := e.store.Customer(ctx, stored.ID); !errors.Is(err, identity.ErrNotFound) {
			t.Fatalf("customer after the grace: %v", err)
		}
	})
}
