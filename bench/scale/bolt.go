//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/frontdoorhq/frontdoor/caddymodule/stores/storeopen"
	"github.com/frontdoorhq/frontdoor/identity"
	"github.com/frontdoorhq/frontdoor/session"
)

// boltBuckets are the buckets the gateway's file holds (identity/bolt.go,
// session/bolt.go), in the order the report lists them.
var boltBuckets = []string{"customers", "customer_email", "sessions", "user_sessions"}

// startInput is what the start-up measurement needs from the loaded file.
type startInput struct {
	path       string
	cookieKeys []byte
	data       *dataset
	sample     int // the records of data whose tokens are kept
}

// runBolt fills a fresh bbolt file with n customers and sessions through
// the identity and session stores' APIs, then reopens it as the gateway
// does and measures lookups. With start non-nil the file is kept for the
// start-up measurement and start is filled in.
func runBolt(ctx context.Context, o options, dir string, n int, hash string, start *startInput) (*result, error) {
	r := &result{store: "bolt", n: n}
	sub := filepath.Join(dir, fmt.Sprintf("bolt-%d", n))
	path := filepath.Join(sub, "frontdoor.db")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return nil, err
	}
	logf("bolt, %d: generating the data set", n)
	d := newDataset(n, o.sampleKeys, hash)

	// Loading only: no fsync per transaction (a power cut would lose the
	// file, which here is disposable). The stores' constructors create the
	// buckets, as the gateway's OpenStores does.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: true})
	if err != nil {
		return nil, err
	}
	ids, err := identity.NewBoltStore(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	sessions, err := session.NewBoltStore(db)
	if err != nil {
		db.Close()
		return nil, err
	}
	r.sizeEmpty, r.hwmEmpty = boltSize(db, path)
	r.loadCustomers, err = parallel(ctx, fmt.Sprintf("bolt %d customers", n), n, o.boltConc, func(i int) error {
		return ids.CreateCustomer(ctx, d.customer(i))
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	r.sizeCustomers, r.hwmCustomers = boltSize(db, path)
	r.loadSessions, err = parallel(ctx, fmt.Sprintf("bolt %d sessions", n), n, o.boltConc, func(i int) error {
		return sessions.Create(ctx, d.session(i))
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	r.sizeSessions, r.hwmSessions = boltSize(db, path)
	r.perCustomer = float64(r.hwmCustomers-r.hwmEmpty) / float64(n)
	r.perSession = float64(r.hwmSessions-r.hwmCustomers) / float64(n)
	if r.buckets, err = bucketStats(db); err != nil {
		db.Close()
		return nil, err
	}
	r.freePages = db.Stats().FreePageN
	if err := db.Sync(); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	logf("bolt, %d: file %s, %.0f bytes per session, %.0f per customer", n, mib(r.sizeSessions), r.perSession, r.perCustomer)

	// Reopen exactly as the gateway does, with the file out of the page
	// cache: the first lookups read from disk.
	if err := evictFromPageCache(path); err != nil {
		return nil, err
	}
	stores, open, err := openAsGateway(ctx, func(ctx context.Context) (*storeopen.Stores, error) { return storeopen.Bolt(ctx, path) })
	if err != nil {
		return nil, err
	}
	r.open = open
	closeStores := sync.OnceValue(stores.Close)
	defer closeStores()
	m, cs := lookupManager(stores.Sessions, d)
	if o.cold > 0 {
		if r.cold, err = measureLookups(ctx, m, cs, d.keys, min(o.cold, n), 1); err != nil {
			return nil, err
		}
		logf("bolt, %d: cold: %s", n, r.cold)
	}

	// The sweep the gateway runs 1–2 minutes after start and every 10
	// minutes: every session read, a slice per read transaction.
	bs, ok := stores.Sessions.(*session.BoltStore)
	if !ok {
		return nil, fmt.Errorf("the bolt backend's session store is a %T", stores.Sessions)
	}
	t := time.Now()
	r.swept, err = bs.SweepExpired(ctx, time.Now(), session.DefaultIdle)
	r.sweep = time.Since(t)
	if err != nil {
		return nil, err
	}
	if r.swept > 0 {
		return nil, fmt.Errorf("the sweep deleted %d sessions: they went idle while loading (stamped %s ago)", r.swept, time.Since(d.stamp).Round(time.Second))
	}
	// Again with the file in the page cache, as every 10 minutes.
	t = time.Now()
	if _, err := bs.SweepExpired(ctx, time.Now(), session.DefaultIdle); err != nil {
		return nil, err
	}
	r.sweepWarm = time.Since(t)
	logf("bolt, %d: sweep over every session: %s, then %s with the file in the page cache", n,
		r.sweep.Round(time.Millisecond), r.sweepWarm.Round(time.Millisecond))

	if err := measureBoth(ctx, r, m, cs, d.keys, o.lookups, fmt.Sprintf("bolt, %d", n)); err != nil {
		return nil, err
	}

	if start != nil {
		// The gateway takes its cookie keys from the store, creating them
		// once: create them now, so cookies can be minted here.
		keys, err := stores.Sessions.Secret(ctx, "cookie-keys", session.GenerateCookieKeys)
		if err != nil {
			return nil, err
		}
		*start = startInput{path: path, cookieKeys: keys, data: d, sample: len(d.tokens)}
		return r, nil
	}
	if err := closeStores(); err != nil {
		return nil, err
	}
	if !o.keep {
		return r, os.RemoveAll(sub)
	}
	return r, nil
}

// boltSize returns the file's size and the database's size up to its
// high-water mark (pages in use or free), which grows page by page while
// the file grows in steps of up to 1 GiB.
func boltSize(db *bolt.DB, path string) (file, hwm int64) {
	if fi, err := os.Stat(path); err == nil {
		file = fi.Size()
	}
	_ = db.View(func(tx *bolt.Tx) error {
		hwm = tx.Size()
		return nil
	})
	return file, hwm
}

type bucketRow struct {
	name                                    string
	keys, depth, leafPages, branchPages     int
	overflow                                int
	leafAlloc, leafInuse, branchAlloc, used int
}

func bucketStats(db *bolt.DB) ([]bucketRow, error) {
	var rows []bucketRow
	err := db.View(func(tx *bolt.Tx) error {
		for _, name := range boltBuckets {
			b := tx.Bucket([]byte(name))
			if b == nil {
				return errors.New("no bucket " + name)
			}
			s := b.Stats()
			rows = append(rows, bucketRow{name: name, keys: s.KeyN, depth: s.Depth, leafPages: s.LeafPageN,
				branchPages: s.BranchPageN, overflow: s.LeafOverflowN + s.BranchOverflowN,
				leafAlloc: s.LeafAlloc, leafInuse: s.LeafInuse, branchAlloc: s.BranchAlloc,
				used: s.LeafInuse + s.BranchInuse})
		}
		return nil
	})
	return rows, err
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// openAsGateway opens stores through open — storeopen, the code and
// options the gateway's store modules use — and says how long opening took.
func openAsGateway(ctx context.Context, open func(context.Context) (*storeopen.Stores, error)) (*storeopen.Stores, time.Duration, error) {
	t := time.Now()
	stores, err := open(ctx)
	return stores, time.Since(t), err
}
