package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchboard/switchboard/bot"
)

// Steps of the erasure journal (table erasures). A row names a subject and
// the step its erasure reached; it holds no identifier of the person. It is
// written in the transaction that deletes the subject's rows, so once that
// commits the rows are gone and the journal says what is left: destroying
// the key in keys.db (a separate file, so a separate commit), then the
// TRUNCATE checkpoint. The row is deleted when both are done. An erasure
// cut off by a crash is finished by the next Open (resumeErasures).
const (
	eraseStepKey        = "key"
	eraseStepCheckpoint = "checkpoint"
)

// journalErasure records, inside the transaction that deletes the rows of
// s, that s's erasure has begun and that its key is next.
func (db *DB) journalErasure(ctx context.Context, tx *sql.Tx, s bot.SubjectID) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO erasures (subject_id, step, started_at) VALUES (?, ?, ?)
		ON CONFLICT (subject_id) DO UPDATE SET step = excluded.step`, string(s), eraseStepKey, ts(db.now()))
	if err != nil {
		return fmt.Errorf("erasure journal: %w", err)
	}
	return nil
}

// queueCardRemovals moves the posted cards of s to card_removals inside the
// erasure's transaction, so that a card posted about s is deleted from the
// platform even if the process stops before the channels forget s (the
// router removes them; see PendingCardRemovals). Only the platform's
// conversation and activity ids are kept, never the subject.
func (db *DB) queueCardRemovals(ctx context.Context, tx *sql.Tx, s bot.SubjectID) error {
	rows, err := tx.QueryContext(ctx, "SELECT conversation, activity_id FROM cards WHERE subject_id = ? AND activity_id <> '' ORDER BY id", string(s))
	if err != nil {
		return fmt.Errorf("queue card removals: %w", err)
	}
	var refs []bot.CardRef
	for rows.Next() {
		var r bot.CardRef
		if err := rows.Scan(&r.Conversation, &r.ActivityID); err != nil {
			_ = rows.Close()
			return fmt.Errorf("queue card removals: %w", err)
		}
		refs = append(refs, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("queue card removals: %w", err)
	}
	for _, r := range refs {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("queue card removals: %w", err)
		}
		id, err := db.nextID(ctx, tx, "card_removals")
		if err != nil {
			return fmt.Errorf("queue card removals: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO card_removals (id, ref, created_at) VALUES (?, ?, ?)",
			id, db.keys.sealRow("card_removals", "ref", id, b), ts(db.now())); err != nil {
			return fmt.Errorf("queue card removals: %w", err)
		}
	}
	return nil
}

// setErasureStep moves s's journal row to step, or deletes it when step is
// "" (the erasure is complete).
func (db *DB) setErasureStep(ctx context.Context, s bot.SubjectID, step string) error {
	write, _, _, err := db.handles()
	if err != nil {
		return err
	}
	if step == "" {
		_, err = write.ExecContext(ctx, "DELETE FROM erasures WHERE subject_id = ?", string(s))
	} else {
		_, err = write.ExecContext(ctx, "UPDATE erasures SET step = ? WHERE subject_id = ?", step, string(s))
	}
	if err != nil {
		return fmt.Errorf("erasure journal: %w", err)
	}
	return nil
}

// UnfinishedErasures returns the subjects whose erasure began but did not
// complete (the journal), oldest first.
func (db *DB) UnfinishedErasures(ctx context.Context) ([]bot.SubjectID, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return nil, err
	}
	rows, err := read.QueryContext(ctx, "SELECT subject_id FROM erasures ORDER BY started_at, subject_id")
	if err != nil {
		return nil, fmt.Errorf("unfinished erasures: %w", err)
	}
	defer rows.Close()
	var out []bot.SubjectID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("unfinished erasures: %w", err)
		}
		out = append(out, bot.SubjectID(s))
	}
	return out, rows.Err()
}

// Recovery counts what Open finished or cleaned up after an earlier process
// stopped without closing the store.
type Recovery struct {
	// Erasures is the number of interrupted erasures completed.
	Erasures int
	// OrphanKeys is the number of subject keys destroyed because no subject
	// uses them: spare keys of the key pool, the key of a subject whose
	// creation was rolled back or that was merged into another, the key of
	// an erasure cut off before its journal existed, the key of a forget
	// record that was never written or was completed (see forgets.go).
	OrphanKeys int
	// LostForgets is the number of forget records deleted because keys.db
	// no longer holds their key (an older keys.db next to this
	// switchboard.db): the channels they owed were not told, and Open
	// logged their subjects.
	LostForgets int
}

// LastRecovery returns what the last Open recovered.
func (db *DB) LastRecovery() Recovery {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.recovery
}

// orphanKeySafety bounds the orphan sweep: it never destroys more keys than
// a crash can leave (a few pool refills) when that would be more than the
// subjects the main database holds, nor more than one refill when the main
// database holds no subject at all: either means the two files do not
// belong together (an empty or much older switchboard.db next to a used
// keys.db). Destroying them would make every copy of the data unreadable,
// so Open then leaves the keys and logs an error for the operator.
const orphanKeySafety = 4 * maxSpareKeys

// recover finishes what a crash left: it completes journaled erasures,
// destroys keys that neither a subject nor a forget record uses, and drops
// forget records whose key is gone. It runs in Open before anything else
// uses the store. Forget records themselves are the privacy engine's to
// finish, once the channels exist (PendingForgets).
func (db *DB) recover(ctx context.Context) (Recovery, error) {
	var rec Recovery
	subs, err := db.UnfinishedErasures(ctx)
	if err != nil {
		return rec, err
	}
	for _, s := range subs {
		if _, err := db.DeleteSubject(ctx, s); err != nil && !errors.Is(err, bot.ErrNotFound) {
			return rec, fmt.Errorf("resume erasure of %s: %w", s, err)
		}
		db.log.Info().Str("subject", string(s)).Msg("interrupted erasure completed")
		rec.Erasures++
	}
	n, err := db.destroyOrphanKeys(ctx)
	rec.OrphanKeys = n
	if err != nil {
		return rec, err
	}
	rec.LostForgets, err = db.dropKeylessForgets(ctx)
	return rec, err
}

// destroyOrphanKeys deletes the keys of keys.db whose subject is not in the
// main database, and returns how many it deleted. A forget record's key
// (id "f_…") is live while its record exists; once the record is gone
// (completed, or never committed) its key is an orphan like any other.
// The key pool must be empty (no spare key is in memory), and no erasure
// running, as during Open.
func (db *DB) destroyOrphanKeys(ctx context.Context) (int, error) {
	_, read, kdb, err := db.handles()
	if err != nil {
		return 0, err
	}
	live := map[string]bool{}
	rows, err := read.QueryContext(ctx, "SELECT id FROM subjects")
	if err != nil {
		return 0, fmt.Errorf("orphan keys: %w", err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			_ = rows.Close()
			return 0, fmt.Errorf("orphan keys: %w", err)
		}
		live[s] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("orphan keys: %w", err)
	}
	forgets, err := db.liveForgets(ctx, read)
	if err != nil {
		return 0, fmt.Errorf("orphan keys: %w", err)
	}
	for _, id := range forgets {
		live[id] = true
	}
	rows, err = kdb.QueryContext(ctx, "SELECT subject_id FROM subject_keys")
	if err != nil {
		return 0, fmt.Errorf("orphan keys: %w", err)
	}
	var orphans []any
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			_ = rows.Close()
			return 0, fmt.Errorf("orphan keys: %w", err)
		}
		if !live[s] {
			orphans = append(orphans, s)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("orphan keys: %w", err)
	}
	if len(orphans) == 0 {
		return 0, nil
	}
	if (len(orphans) > orphanKeySafety && len(orphans) > len(live)) || (len(live) == 0 && len(orphans) > maxSpareKeys) {
		db.log.Error().Int("orphan_keys", len(orphans)).Int("subjects", len(live)).
			Msg("keys.db holds many more keys than switchboard.db has subjects: the files may not belong together; no key destroyed")
		return 0, nil
	}
	tx, err := kdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("orphan keys: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, "DELETE FROM subject_keys WHERE subject_id = ?")
	if err != nil {
		return 0, fmt.Errorf("orphan keys: %w", err)
	}
	defer stmt.Close()
	for _, s := range orphans {
		if _, err := stmt.ExecContext(ctx, s); err != nil {
			return 0, fmt.Errorf("orphan keys: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("orphan keys: %w", err)
	}
	db.log.Info().Int("keys", len(orphans)).Msg("subject keys without a subject destroyed")
	return len(orphans), nil
}
