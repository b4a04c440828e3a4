package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Ended marks in the bbolt store:
//
//	ended  endedID(user id, sid) → until, Unix ms (8 bytes, big-endian)
//
// A mark past its time reads as absent and SweepEnded removes it.
var bktEnded = []byte("ended")

func endedKey(userID, sid string) []byte { return []byte(endedID(userID, sid)) }

// endedID names a mark by a hash of the customer and the sid, not by the
// customer's id: a mark outlives the customer's erasure (their tokens
// must stay refused), and after erasure no record may name them.
func endedID(userID, sid string) string {
	h := sha256.Sum256([]byte(userID + "\x00" + sid))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// MarkEnded implements Store. A later time wins over an earlier one.
func (s *BoltStore) MarkEnded(_ context.Context, userID, sid string, until time.Time) error {
	if !until.After(time.Now()) {
		return nil
	}
	return boltErr("mark ended", s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bktEnded)
		if err != nil {
			return err
		}
		k := endedKey(userID, sid)
		if v := b.Get(k); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) >= until.UnixMilli() {
			return nil
		}
		return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(until.UnixMilli())))
	}))
}

// Ended implements Store.
func (s *BoltStore) Ended(_ context.Context, userID, sid string) (bool, error) {
	ended := false
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bktEnded); b != nil {
			v := b.Get(endedKey(userID, sid))
			ended = len(v) == 8 && time.Now().UnixMilli() < int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return ended, boltErr("ended", err)
}

// SweepEnded removes marks past their time; the gateway calls it with
// SweepExpired.
func (s *BoltStore) SweepEnded(ctx context.Context, now time.Time) (int, error) {
	var dead [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktEnded)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) != 8 || now.UnixMilli() >= int64(binary.BigEndian.Uint64(v)) {
				dead = append(dead, bytes.Clone(k))
			}
			return ctx.Err()
		})
	})
	if err != nil || len(dead) == 0 {
		return 0, boltErr("sweep ended", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktEnded)
		for _, k := range dead {
			// Re-check: marked again since with a later time.
			if v := b.Get(k); len(v) == 8 && now.UnixMilli() < int64(binary.BigEndian.Uint64(v)) {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return len(dead), boltErr("sweep ended", err)
}
