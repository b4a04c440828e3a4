package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket layout of the bbolt session store:
//
//	sessions       key → Session (JSON)
//	user_sessions  user id "\x00" key → nil   (all sessions of a customer, no scan)
//	secrets        name → bytes
//	ended          hash of (user id, sid) → until (bolt_ended.go)
var (
	bktSessions     = []byte("sessions")
	bktUserSessions = []byte("user_sessions")
	bktSecrets      = []byte("secrets")
)

// BoltStore is the embedded session Store. The *bolt.DB is shared with the
// identity store and owned by whoever opened it.
type BoltStore struct {
	db *bolt.DB
}

// NewBoltStore creates the buckets it needs in db.
func NewBoltStore(db *bolt.DB) (*BoltStore, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bktSessions, bktUserSessions, bktSecrets, bktEnded} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("session: bolt: create buckets: %w", err)
	}
	return &BoltStore{db: db}, nil
}

func userIndexKey(userID, key string) []byte {
	return append(append([]byte(userID), 0), key...)
}

// Create implements Store.
func (s *BoltStore) Create(_ context.Context, sess *Session) error {
	buf, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktSessions)
		if b.Get([]byte(sess.Key)) != nil {
			return errors.New("session key exists")
		}
		if err := tx.Bucket(bktUserSessions).Put(userIndexKey(sess.UserID, sess.Key), nil); err != nil {
			return err
		}
		return b.Put([]byte(sess.Key), buf)
	})
	if err != nil {
		return fmt.Errorf("session: bolt: create: %w", err)
	}
	return nil
}

// boltErr wraps a bbolt failure with the operation; ErrNotFound passes
// through as is.
func boltErr(op string, err error) error {
	if err == nil || errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("session: bolt: %s: %w", op, err)
}

// Get implements Store.
func (s *BoltStore) Get(_ context.Context, key string) (*Session, error) {
	var sess *Session
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		sess, err = getSession(tx, key)
		return err
	})
	return sess, boltErr("get", err)
}

func getSession(tx *bolt.Tx, key string) (*Session, error) {
	v := tx.Bucket(bktSessions).Get([]byte(key))
	if v == nil {
		return nil, ErrNotFound
	}
	var sess Session
	if err := json.Unmarshal(v, &sess); err != nil {
		return nil, fmt.Errorf("session: bolt: decode: %w", err)
	}
	return &sess, nil
}

// Touch implements Store.
func (s *BoltStore) Touch(_ context.Context, key string, lastSeen time.Time) error {
	return boltErr("touch", s.db.Update(func(tx *bolt.Tx) error {
		sess, err := getSession(tx, key)
		if err != nil {
			return err
		}
		if !lastSeen.After(sess.LastSeen) {
			return nil
		}
		sess.LastSeen = lastSeen
		buf, err := json.Marshal(sess)
		if err != nil {
			return err
		}
		return tx.Bucket(bktSessions).Put([]byte(key), buf)
	}))
}

// Delete implements Store.
func (s *BoltStore) Delete(_ context.Context, key string) error {
	return boltErr("delete", s.db.Update(func(tx *bolt.Tx) error { return deleteSession(tx, key) }))
}

func deleteSession(tx *bolt.Tx, key string) error {
	sess, err := getSession(tx, key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		// Undecodable record: remove it anyway.
		return tx.Bucket(bktSessions).Delete([]byte(key))
	}
	if err := tx.Bucket(bktUserSessions).Delete(userIndexKey(sess.UserID, key)); err != nil {
		return err
	}
	return tx.Bucket(bktSessions).Delete([]byte(key))
}

// DeleteUser implements Store.
func (s *BoltStore) DeleteUser(_ context.Context, userID string) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		keys, err := userKeys(tx, userID)
		if err != nil {
			return err
		}
		idx := tx.Bucket(bktUserSessions)
		for _, k := range keys {
			if err := tx.Bucket(bktSessions).Delete([]byte(k)); err != nil {
				return err
			}
			if err := idx.Delete(userIndexKey(userID, k)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, boltErr("delete user", err)
}

func userKeys(tx *bolt.Tx, userID string) ([]string, error) {
	prefix := userIndexKey(userID, "")
	var keys []string
	c := tx.Bucket(bktUserSessions).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, string(k[len(prefix):]))
	}
	return keys, nil
}

// CountUser implements UserCounter: the customer's index entries.
func (s *BoltStore) CountUser(_ context.Context, userID string) (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := userIndexKey(userID, "")
		c := tx.Bucket(bktUserSessions).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n, boltErr("count user", err)
}

// ListUser implements Store.
func (s *BoltStore) ListUser(_ context.Context, userID string) ([]*Session, error) {
	var out []*Session
	err := s.db.View(func(tx *bolt.Tx) error {
		keys, err := userKeys(tx, userID)
		if err != nil {
			return err
		}
		for _, k := range keys {
			sess, err := getSession(tx, k)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, sess)
		}
		return nil
	})
	return out, boltErr("list user", err)
}

// SweepExpired removes sessions whose absolute expiry is past, or that have
// been idle longer than idle; the gateway calls it periodically. It reads
// the sessions a few thousand at a time, each slice in its own short read
// transaction (so a store of millions never pins old pages or holds up a
// remap for long), and deletes in small write transactions, so it never
// blocks sign-ins for long either; it stops between slices when ctx ends.
func (s *BoltStore) SweepExpired(ctx context.Context, now time.Time, idle time.Duration) (int, error) {
	const batch = 500
	scan := sweepScan
	var after []byte // the last key of the previous slice
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var dead []string
		done := false
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bktSessions).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for i := 0; k != nil && i < scan; i++ {
				if sessionDead(v, now, idle) {
					dead = append(dead, string(k))
				}
				after = append(after[:0], k...)
				k, v = c.Next()
			}
			done = k == nil
			return nil
		})
		if err != nil {
			return n, boltErr("sweep", err)
		}
		for len(dead) > 0 {
			chunk := dead[:min(batch, len(dead))]
			dead = dead[len(chunk):]
			err := s.db.Update(func(tx *bolt.Tx) error {
				for _, k := range chunk {
					// Re-check: the session may have been touched since.
					sess, err := getSession(tx, k)
					if err == nil && now.Before(sess.ExpiresAt) && (idle <= 0 || now.Sub(sess.LastSeen) < idle) {
						continue
					}
					if err := deleteSession(tx, k); err != nil {
						return err
					}
					n++
				}
				return nil
			})
			if err != nil {
				return n, boltErr("sweep", err)
			}
		}
		if done {
			return n, nil
		}
	}
}

// sweepScan is how many sessions one read transaction of the sweep reads.
var sweepScan = 5000

// sessionDead reads only a stored session's two times (or finds it
// unreadable) to tell whether the sweep should remove it.
func sessionDead(v []byte, now time.Time, idle time.Duration) bool {
	var t struct {
		LastSeen  time.Time `json:"last_seen"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	return json.Unmarshal(v, &t) != nil || !now.Before(t.ExpiresAt) || (idle > 0 && now.Sub(t.LastSeen) >= idle)
}

// Secret implements Store.
func (s *BoltStore) Secret(_ context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktSecrets).Get([]byte(name)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	if err != nil || out != nil {
		return out, boltErr("secret", err)
	}
	fresh, err := create()
	if err != nil {
		return nil, fmt.Errorf("session: create secret %q: %w", name, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktSecrets)
		if v := b.Get([]byte(name)); v != nil {
			out = bytes.Clone(v) // someone else came first
			return nil
		}
		out = fresh
		return b.Put([]byte(name), fresh)
	})
	return out, boltErr("secret", err)
}

// SwapSecret implements Store.
func (s *BoltStore) SwapSecret(_ context.Context, name string, prev, next []byte) (bool, error) {
	swapped := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktSecrets)
		if !bytes.Equal(b.Get([]byte(name)), prev) {
			return nil
		}
		swapped = true
		return b.Put([]byte(name), next)
	})
	return swapped, boltErr("swap secret", err)
}

// Ping implements Store.
func (s *BoltStore) Ping(context.Context) error {
	return s.db.View(func(*bolt.Tx) error { return nil })
}

// Interface guards
var (
	_ Store       = (*BoltStore)(nil)
	_ UserCounter = (*BoltStore)(nil)
)
