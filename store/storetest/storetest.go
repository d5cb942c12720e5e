// Package storetest opens real SQLite stores for other packages' tests: a
// fresh data directory under t.TempDir(), closed when the test ends. There
// is no fake store.
package storetest

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/switchboard/switchboard/store"
)

// MasterKey returns the fixed master key Open uses, so a test can reopen
// the same directory (a restart) with OpenWith.
func MasterKey() []byte { return bytes.Repeat([]byte{0x5b}, 32) }

// Open returns an open store in a new temporary directory.
func Open(t testing.TB) *store.DB {
	t.Helper()
	return OpenWith(t, store.Options{})
}

// OpenWith opens a store with opts; an empty Dir is a new temporary
// directory and an empty MasterKey is MasterKey(). The store is closed when
// the test ends (closing it earlier is fine).
func OpenWith(t testing.TB, opts store.Options) *store.DB {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = filepath.Join(t.TempDir(), "data")
	}
	if opts.MasterKey == nil {
		opts.MasterKey = MasterKey()
	}
	db, err := store.New(opts)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	if err := db.Open(context.Background()); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	return db
}
