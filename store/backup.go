package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Backup writes consistent copies of both databases into dir (created 0700;
// the files must not exist yet) with VACUUM INTO, which copies live rows
// only. A file copy or SQLite's online backup API would also copy freed
// pages, and with them remnants of erased rows.
//
// Keep the two files apart: store keys.db backups separately from the
// main db backups and for a shorter time (at most 30 days). Once no keys.db
// copy holds an erased subject's key, every main db backup holding that
// subject's rows is unreadable for it (crypto-shredding). The master key is
// in neither file; back it up on its own. Media files (Dir/media) are not
// copied: copy that directory as it is. Each file is ciphertext under its
// own key, sealed in the main db with the subject's key, so it shreds with
// the subject like the rows do.
func (db *DB) Backup(ctx context.Context, dir string) error {
	_, read, kdb, err := db.handles()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("backup: create dir: %w", err)
	}
	for _, f := range []string{MainFile, KeysFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("backup: %s already exists in the target dir", f)
		}
	}
	if _, err := read.ExecContext(ctx, "VACUUM INTO ?", filepath.Join(dir, MainFile)); err != nil {
		return fmt.Errorf("backup main db: %w", err)
	}
	if _, err := kdb.ExecContext(ctx, "VACUUM INTO ?", filepath.Join(dir, KeysFile)); err != nil {
		return fmt.Errorf("backup keys db: %w", err)
	}
	for _, f := range []string{MainFile, KeysFile} {
		if err := os.Chmod(filepath.Join(dir, f), 0o600); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return nil
}
