package caddymodule

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoorhq/frontdoor/caddymodule/stores"
	"github.com/frontdoorhq/frontdoor/caddymodule/stores/storeopen"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// faultyBackend is a test store: the real bolt store, plus a switch that
// makes every call fail the way an unreachable store does.
type faultyBackend struct {
	stores.BoltBackend
}

var (
	storeFailing atomic.Bool
	errStoreDown = errors.New("test: store unreachable")
)

func init() {
	caddy.RegisterModule(faultyBackend{})
}

func (faultyBackend) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "frontdoor.stores.faulty", New: func() caddy.Module { return new(faultyBackend) }}
}

func (f *faultyBackend) StoreKey() string { return "faulty:" + f.BoltBackend.StoreKey() }

func (f *faultyBackend) OpenStores(ctx context.Context) (*storeopen.Stores, error) {
	s, err := f.BoltBackend.OpenStores(ctx)
	if err != nil {
		return nil, err
	}
	s.Identity = faultyIdentity{s.Identity}
	s.Sessions = faultySessions{s.Sessions}
	return s, nil
}

func (f *faultyBackend) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return f.BoltBackend.UnmarshalCaddyfile(d)
}

func down() error {
	if storeFailing.Load() {
		return errStoreDown
	}
	return nil
}

type faultyIdentity struct{ identity.Store }

func (f faultyIdentity) CreateCustomer(ctx context.Context, c *identity.Customer) error {
	if err := down(); err != nil {
		return err
	}
	return f.Store.CreateCustomer(ctx, c)
}

func (f faultyIdentity) Customer(ctx context.Context, id string) (*identity.Customer, error) {
	if err := down(); err != nil {
		return nil, err
	}
	return f.Store.Customer(ctx, id)
}

func (f faultyIdentity) CustomerByEmail(ctx context.Context, email string) (*identity.Customer, error) {
	if err := down(); err != nil {
		return nil, err
	}
	return f.Store.CustomerByEmail(ctx, email)
}

func (f faultyIdentity) UpdateCustomer(ctx context.Context, id string, fn func(*identity.Customer) error) (*identity.Customer, error) {
	if err := down(); err != nil {
		return nil, err
	}
	return f.Store.UpdateCustomer(ctx, id, fn)
}

func (f faultyIdentity) PutToken(ctx context.Context, t *identity.Token) error {
	if err := down(); err != nil {
		return err
	}
	return f.Store.PutToken(ctx, t)
}

func (f faultyIdentity) ConsumeToken(ctx context.Context, k identity.TokenKind, h []byte, now time.Time) (*identity.Token, error) {
	if err := down(); err != nil {
		return nil, err
	}
	return f.Store.ConsumeToken(ctx, k, h, now)
}

type faultySessions struct{ session.Store }

func (f faultySessions) Create(ctx context.Context, s *session.Session) error {
	if err := down(); err != nil {
		return err
	}
	return f.Store.Create(ctx, s)
}

func (f faultySessions) Get(ctx context.Context, key string) (*session.Session, error) {
	if err := down(); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, key)
}

func (f faultySessions) Touch(ctx context.Context, key string, t time.Time) error {
	if err := down(); err != nil {
		return err
	}
	return f.Store.Touch(ctx, key, t)
}

func (f faultySessions) Delete(ctx context.Context, key string) error {
	if err := down(); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}

func (f faultySessions) DeleteUser(ctx context.Context, id string) (int, error) {
	if err := down(); err != nil {
		return 0, err
	}
	return f.Store.DeleteUser(ctx, id)
}

func (f faultySessions) Ping(ctx context.Context) error {
	if err := down(); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}

func (f faultySessions) ListUser(ctx context.Context, id string) ([]*session.Session, error) {
	if err := down(); err != nil {
		return nil, err
	}
	return f.Store.ListUser(ctx, id)
}

func (f faultySessions) Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	if err := down(); err != nil {
		return nil, err
	}
	return f.Store.Secret(ctx, name, create)
}

func (f faultySessions) MarkEnded(ctx context.Context, id, sid string, until time.Time) error {
	if err := down(); err != nil {
		return err
	}
	return f.Store.MarkEnded(ctx, id, sid, until)
}

func (f faultySessions) Ended(ctx context.Context, id, sid string) (bool, error) {
	if err := down(); err != nil {
		return false, err
	}
	return f.Store.Ended(ctx, id, sid)
}

func (f faultySessions) SwapSecret(ctx context.Context, name string, prev, next []byte) (bool, error) {
	if err := down(); err != nil {
		return false, err
	}
	return f.Store.SwapSecret(ctx, name, prev, next)
}
