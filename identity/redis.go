package identity

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoorhq/frontdoor/internal/rediskey"
)

// Key layout of the Redis store (prefix defaults to "fd:"; the prefix, the
// hash tag and the id rule are internal/rediskey's, shared with session and
// botdefense):
//
//	<prefix>{u:<id>}:customer            STRING Customer as JSON, no expiry
//	<prefix>email:<normalised email>     STRING id of the customer owning the email
//	                                     (none for a phone-only customer: Email "")
//	<prefix>phone:<E.164 number>         STRING id of the customer owning the number
//	                                     (a claim like the email's: redis_phone.go)
//	<prefix>tok:<kind>:<base64url(hash)> STRING Token as JSON; PXAT = ExpiresAt,
//	                                     so Redis drops expired tokens by itself
//	<prefix>{u:<id>}:audit               LIST of Event JSON, newest first, trimmed
//	                                     to MaxEvents
//	<prefix>{u:<id>}:tokens              SET of the tok: keys issued for the customer,
//	                                     expiring with the latest of them (erasure
//	                                     finds them without SCAN)
//	<prefix>erasures                     ZSET id → Unix ms of a scheduled deletion
//
// Every key of one customer carries the hash tag {u:<id>}, so they all live
// in one Redis Cluster hash slot and a multi-key update of one customer
// (MULTI/EXEC or Lua) stays atomic on a cluster; records added later for a
// customer go under the same tag. The session store (session/redis.go) puts
// its per-customer keys under the same tag and prefix.
//
// The email index and the customer record hash to different slots, so no
// single command can write both. CreateCustomer writes the record first and
// claims the email second (SET NX): a claim thus never points at a record
// still being written, and two concurrent sign-ups cannot both win. A claim
// whose record is missing is an orphan (a failed sign-up whose claim landed
// though its reply was lost, so it removed its record; or a crash): the
// CustomerByEmail answer is ErrNotFound, and the next CreateCustomer for
// that email takes the claim over with a compare-and-set script.
//
// Ids are restricted to letters, digits, '_' and '-' (rediskey.ValidID), so
// no id can close the hash tag early. The prefix must not contain '{' or
// '}'. Braces are legal in an email's local part; such an index key just
// hashes to another slot, which is harmless: every command on it touches it
// alone.
// Nothing here uses SCAN or KEYS.

// DefaultRedisPrefix is the key prefix used when NewRedisStore gets "".
const DefaultRedisPrefix = rediskey.DefaultPrefix

const (
	// maxTxRetries bounds UpdateCustomer's optimistic retries; one customer
	// is rarely updated by more than a couple of requests at once.
	maxTxRetries = 16
	// maxClaimRetries bounds CreateCustomer's attempts at the email claim
	// when it keeps changing under it.
	maxClaimRetries = 3
	// tokenGrace is the least time Redis keeps a token (see tokenExpiry).
	tokenGrace = time.Minute
)

// replaceClaim hands an orphan email claim (KEYS[1] = ARGV[1]) over to
// ARGV[2], only if nobody replaced it first.
var replaceClaim = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	redis.call("SET", KEYS[1], ARGV[2])
	return 1
end
return 0`)

// RedisStore is the identity Store over Redis: one server, Sentinel or Redis
// Cluster through a go-redis UniversalClient. The client is owned by the
// caller (it is shared with other stores).
type RedisStore struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisStore returns a Store keeping its records under prefix.
func NewRedisStore(c redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{c: c, prefix: rediskey.Prefix(prefix)}
}

func (s *RedisStore) customerKey(id string) string {
	return rediskey.UserTag(s.prefix, id) + ":customer"
}
func (s *RedisStore) emailKey(email string) string { return s.prefix + "email:" + email }
func (s *RedisStore) auditKey(id string) string    { return rediskey.UserTag(s.prefix, id) + ":audit" }
func (s *RedisStore) tokenKey(kind TokenKind, hash []byte) string {
	return s.prefix + "tok:" + string(kind) + ":" + base64.RawURLEncoding.EncodeToString(hash)
}

// CreateCustomer implements Store.
func (s *RedisStore) CreateCustomer(ctx context.Context, c *Customer) error {
	if !rediskey.ValidID(c.ID) || c.Email == "" && c.Phone == "" {
		return errors.New("identity: redis: create customer: needs a valid id and an email or a phone")
	}
	if c.Phone != "" && !phoneValid(c.Phone) {
		return ErrBadPhone
	}
	buf, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("identity: redis: encode customer %q: %w", c.ID, err)
	}
	ckey := s.customerKey(c.ID)
	ok, err := s.c.SetNX(ctx, ckey, buf, 0).Result()
	if err != nil {
		s.c.Del(ctx, ckey) // the reply may be lost while the write landed
		return fmt.Errorf("identity: redis: create customer %q: %w", c.ID, err)
	}
	if !ok {
		return fmt.Errorf("identity: redis: create customer %q: id exists", c.ID)
	}
	// From here every failure removes the record again: a customer whose
	// creation reported an error must not exist. If that removal fails too,
	// the record is unreachable (no claim points at it) and harmless. The
	// claims made so far are released after it — only those: a phone-only
	// customer claims no email, and a claim that failed is not ours to
	// release (another customer's, or an orphan the next claimant replaces).
	var claimed []string
	undo := func() {
		s.c.Del(ctx, ckey)
		for _, k := range claimed {
			s.release(ctx, k, c.ID)
		}
	}
	if c.Email != "" {
		ekey := s.emailKey(c.Email)
		if err := s.claimEmail(ctx, ekey, c.ID); err != nil {
			undo()
			return err
		}
		claimed = append(claimed, ekey)
	}
	if c.Phone != "" {
		if err := s.claimPhone(ctx, c.Phone, c.ID); err != nil {
			undo()
			return err
		}
		claimed = append(claimed, s.phoneKey(c.Phone))
	}
	for _, li := range c.Identities {
		if err := s.claimIdentity(ctx, li, c.ID); err != nil {
			undo()
			return err
		}
		claimed = append(claimed, s.identityIndexKey(li.Issuer, li.Subject))
	}
	return nil
}

// claimEmail points the email index at id, unless another existing
// customer owns it (ErrEmailTaken).
func (s *RedisStore) claimEmail(ctx context.Context, ekey, id string) error {
	return s.claim(ctx, ekey, id, "email", func(owner string) (bool, error) {
		c, err := s.load(ctx, s.c, owner)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		// A record that moved to another address (ChangeEmail) no
		// longer owns this one.
		return s.emailKey(c.Email) == ekey, nil
	}, ErrEmailTaken)
}

// claim points an index key (the email index, a provider identity's) at
// id, unless owns says its present owner really has what it indexes
// (then taken). A claim whose owner does not — its record is gone, and
// since records are written before claims it is not one still being
// written — is an orphan, replaced.
func (s *RedisStore) claim(ctx context.Context, key, id, what string, owns func(owner string) (bool, error), taken error) error {
	for range maxClaimRetries {
		ok, err := s.c.SetNX(ctx, key, id, 0).Result()
		if err != nil {
			return fmt.Errorf("identity: redis: claim %s for %q: %w", what, id, err)
		}
		if ok {
			return nil
		}
		owner, err := s.c.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			continue // released meanwhile: try again
		}
		if err != nil {
			return fmt.Errorf("identity: redis: read %s claim: %w", what, err)
		}
		if owner == id {
			// go-redis retried a SET NX whose reply was lost: ours landed.
			return nil
		}
		has, err := owns(owner)
		if err != nil {
			return fmt.Errorf("identity: redis: check %s owner %q: %w", what, owner, err)
		}
		if has {
			return taken
		}
		done, err := replaceClaim.Run(ctx, s.c, []string{key}, owner, id).Int()
		if err != nil {
			return fmt.Errorf("identity: redis: replace orphan %s claim: %w", what, err)
		}
		if done == 1 {
			return nil
		}
		// Someone else replaced it first; look again.
	}
	return fmt.Errorf("identity: redis: claim %s for %q: claim kept changing", what, id)
}

// getter is what loading a customer needs: the client or a WATCH transaction.
type getter interface {
	Get(ctx context.Context, key string) *redis.StringCmd
}

func (s *RedisStore) load(ctx context.Context, g getter, id string) (*Customer, error) {
	if !rediskey.ValidID(id) {
		return nil, ErrNotFound // no customer can have it
	}
	v, err := g.Get(ctx, s.customerKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: redis: get customer %q: %w", id, err)
	}
	var c Customer
	if err := json.Unmarshal(v, &c); err != nil {
		return nil, fmt.Errorf("identity: redis: decode customer %q: %w", id, err)
	}
	return &c, nil
}

// Customer implements Store.
func (s *RedisStore) Customer(ctx context.Context, id string) (*Customer, error) {
	return s.load(ctx, s.c, id)
}

// CustomerByEmail implements Store.
func (s *RedisStore) CustomerByEmail(ctx context.Context, email string) (*Customer, error) {
	if email == "" {
		return nil, ErrNotFound
	}
	id, err := s.c.Get(ctx, s.emailKey(email)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: redis: look up email: %w", err)
	}
	c, err := s.load(ctx, s.c, id)
	if err != nil {
		return nil, err // ErrNotFound for an orphan claim
	}
	if c.Email != email {
		return nil, ErrNotFound
	}
	return c, nil
}

// UpdateCustomer implements Store: an optimistic transaction (WATCH, then
// MULTI/EXEC), retried when another writer got in between. fn may therefore
// run more than once and must not have side effects.
func (s *RedisStore) UpdateCustomer(ctx context.Context, id string, fn func(*Customer) error) (*Customer, error) {
	return s.update(ctx, id, fn, changeNothing)
}

// ChangeEmail implements Store. The record takes the new address first,
// then claims it (as a new customer's record exists before its claim), so
// a claim whose owner's record holds another address is an orphan; if the
// address is taken the record goes back, and the old claim is released
// only once the new one holds.
func (s *RedisStore) ChangeEmail(ctx context.Context, id, email string) (*Customer, error) {
	if email == "" {
		return nil, ErrBadEmail
	}
	var old string
	c, err := s.update(ctx, id, func(c *Customer) error {
		old = c.Email
		c.Email, c.EmailVerified = email, true
		return nil
	}, changeEmail)
	if err != nil {
		return nil, err
	}
	if err := s.claimEmail(ctx, s.emailKey(email), id); err != nil {
		_, _ = s.update(ctx, id, func(c *Customer) error {
			if c.Email == email {
				c.Email = old
			}
			return nil
		}, changeEmail) // if this fails too, the old claim still finds the record by id; its address is the new one
		return nil, err
	}
	if old != "" && old != email { // a phone-only customer had no claim
		s.release(ctx, s.emailKey(old), id)
	}
	return c, nil
}

// What update may change besides the ordinary fields.
const (
	changeNothing = iota
	changeIdentities
	changeEmail
	changeAPIKeys
	changePhone
)

// update is UpdateCustomer; linking may change the linked identities
// (whose index claims the caller keeps), changing the email the email.
func (s *RedisStore) update(ctx context.Context, id string, fn func(*Customer) error, may int) (*Customer, error) {
	if !rediskey.ValidID(id) {
		return nil, ErrNotFound
	}
	key := s.customerKey(id)
	var (
		out   *Customer
		final error // fn's error, or a refused change: returned as is
	)
	txf := func(tx *redis.Tx) error {
		c, err := s.load(ctx, tx, id)
		if err != nil {
			final = err
			return err
		}
		email, linked, keys, phone := c.Email, identityKeys(c), apiKeyHashes(c), c.Phone
		if err := fn(c); err != nil {
			final = err
			return err
		}
		if may != changeAPIKeys && apiKeyHashes(c) != keys {
			final = fmt.Errorf("identity: redis: update customer %q: API keys change only through AddAPIKey and RevokeAPIKey", id)
			return final
		}
		if may != changeIdentities && identityKeys(c) != linked {
			final = fmt.Errorf("identity: redis: update customer %q: linked identities change only through LinkIdentity and UnlinkIdentity", id)
			return final
		}
		if c.ID != id {
			final = fmt.Errorf("identity: redis: update customer %q: must not change the id", id)
			return final
		}
		if c.Phone != phone && may != changePhone {
			final = fmt.Errorf("identity: redis: update customer %q: a phone number changes only through SetPhone", id)
			return final
		}
		if c.Email != email && may != changeEmail {
			final = fmt.Errorf("identity: redis: update customer %q: must not change the email", id)
			return final
		}
		buf, err := json.Marshal(c)
		if err != nil {
			final = fmt.Errorf("identity: redis: encode customer %q: %w", id, err)
			return final
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, buf, 0)
			return nil
		})
		if err == nil {
			out = c
		}
		return err
	}
	for range maxTxRetries {
		final = nil
		err := s.c.Watch(ctx, txf, key)
		switch {
		case err == nil:
			return out, nil
		case final != nil:
			return nil, final
		case errors.Is(err, redis.TxFailedErr):
			continue
		default:
			return nil, fmt.Errorf("identity: redis: update customer %q: %w", id, err)
		}
	}
	return nil, fmt.Errorf("identity: redis: update customer %q: %d conflicting writes: %w", id, maxTxRetries, redis.TxFailedErr)
}

// tokenExpiry is when Redis may drop t: its ExpiresAt, but never sooner than
// tokenGrace from now. Validity is ConsumeToken's check against the caller's
// clock; Redis's clock only collects garbage, so it must not remove a token
// the caller's clock still calls live (clock skew between nodes, or a test
// clock fixed in the past).
func tokenExpiry(t *Token) time.Time {
	exp := t.ExpiresAt
	// Wall time: PXAT is read by Redis's clock, not the caller's.
	if least := time.Now().Add(tokenGrace); exp.Before(least) {
		exp = least
	}
	return exp.Truncate(time.Millisecond).Add(time.Millisecond) // PXAT, rounded up
}

// PutToken implements Store.
func (s *RedisStore) PutToken(ctx context.Context, t *Token) error {
	if t.Kind == "" || len(t.Hash) == 0 {
		return errors.New("identity: redis: put token: needs a kind and a hash")
	}
	buf, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("identity: redis: encode %s token: %w", t.Kind, err)
	}
	key, exp := s.tokenKey(t.Kind, t.Hash), tokenExpiry(t)
	err = s.c.SetArgs(ctx, key, buf, redis.SetArgs{ExpireAt: exp}).Err()
	if err != nil {
		return fmt.Errorf("identity: redis: put %s token: %w", t.Kind, err)
	}
	return s.indexToken(ctx, t.CustomerID, key, exp)
}

// ConsumeToken implements Store. GETDEL makes it single use: of two
// concurrent calls only one gets the value. An expired token is removed too.
func (s *RedisStore) ConsumeToken(ctx context.Context, kind TokenKind, hash []byte, now time.Time) (*Token, error) {
	if kind == "" || len(hash) == 0 {
		return nil, ErrNotFound
	}
	v, err := s.c.GetDel(ctx, s.tokenKey(kind, hash)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: redis: consume %s token: %w", kind, err)
	}
	var t Token
	if err := json.Unmarshal(v, &t); err != nil {
		return nil, fmt.Errorf("identity: redis: decode %s token: %w", kind, err)
	}
	s.unindexToken(ctx, t.CustomerID, s.tokenKey(kind, hash))
	if t.Kind != kind || !bytes.Equal(t.Hash, hash) || !now.Before(t.ExpiresAt) {
		return nil, ErrNotFound
	}
	return &t, nil
}

// AppendEvent implements Auditor: LPUSH and LTRIM in one transaction on
// one key.
func (s *RedisStore) AppendEvent(ctx context.Context, customerID string, e Event) error {
	if !rediskey.ValidID(customerID) {
		return fmt.Errorf("identity: redis: append event: invalid customer id %q", customerID)
	}
	buf, err := json.Marshal(e)
	if err != nil {
		return err
	}
	key := s.auditKey(customerID)
	_, err = s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, key, buf)
		p.LTrim(ctx, key, 0, MaxEvents-1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("identity: redis: append event for %s: %w", customerID, err)
	}
	return nil
}

// Events implements Auditor.
func (s *RedisStore) Events(ctx context.Context, customerID string, limit int) ([]Event, error) {
	if !rediskey.ValidID(customerID) || limit <= 0 {
		return nil, nil
	}
	raw, err := s.c.LRange(ctx, s.auditKey(customerID), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("identity: redis: events of %s: %w", customerID, err)
	}
	out := make([]Event, 0, len(raw))
	for _, r := range raw {
		var e Event
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("identity: redis: decode event of %s: %w", customerID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Ping implements Store.
func (s *RedisStore) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("identity: redis: ping: %w", err)
	}
	return nil
}

// Interface guards
var _ Store = (*RedisStore)(nil)
