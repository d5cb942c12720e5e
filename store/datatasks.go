package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/switchboard/switchboard/bot"
)

// dataTasks are the one-time data changes a migration may schedule in
// the data_tasks table; Open runs each scheduled one and removes its row.
// They are Go, not SQL, because they read sealed fields.
var dataTasks = map[string]func(db *DB, ctx context.Context) (int, error){
	"command-text": (*DB).scrubCommandText,
	resealTask:     (*DB).resealRows,
}

// runDataTasks runs the scheduled data tasks, in name order, each to
// completion before its row is removed, so a crash runs it again (they
// are idempotent). Format-1 fields open while reseal-rows is scheduled
// (tasks before it read them too), and never once its row is gone.
func (db *DB) runDataTasks(ctx context.Context) error {
	write, read, _, err := db.handles()
	if err != nil {
		return err
	}
	rows, err := read.QueryContext(ctx, "SELECT name FROM data_tasks ORDER BY name")
	if err != nil {
		return fmt.Errorf("data tasks: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("data tasks: %w", err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("data tasks: %w", err)
	}
	db.keys.fieldV1.Store(slices.Contains(names, resealTask))
	for _, name := range names {
		task, ok := dataTasks[name]
		if !ok {
			return fmt.Errorf("data task %q: unknown (written by a newer version?)", name)
		}
		n, err := task(db, ctx)
		if err != nil {
			return fmt.Errorf("data task %s: %w", name, err)
		}
		if _, err := write.ExecContext(ctx, "DELETE FROM data_tasks WHERE name = ?", name); err != nil {
			return fmt.Errorf("data task %s: %w", name, err)
		}
		if name == resealTask {
			db.keys.fieldV1.Store(false)
		}
		db.log.Info().Str("task", name).Int("rows", n).Msg("data task done")
	}
	return nil
}

// scrubCommandText re-seals every stored inbound command as its name only
// (bot.CommandText): commands are not conversation, and their arguments
// name other people. Rows whose subject key is gone are skipped (they
// cannot be read by anyone). It ends with a checkpoint when it changed
// rows, so the old ciphertext leaves the WAL.
func (db *DB) scrubCommandText(ctx context.Context) (int, error) {
	_, read, _, err := db.handles()
	if err != nil {
		return 0, err
	}
	type fix struct {
		id   int64
		sk   *subjectKey
		text string
	}
	changed := 0
	for after := int64(0); ; {
		rows, err := read.QueryContext(ctx, `SELECT id, subject_id, text FROM messages
			WHERE dir = 'in' AND kind = 'text' AND text IS NOT NULL AND id > ? ORDER BY id LIMIT 500`, after)
		if err != nil {
			return changed, err
		}
		var fixes []fix
		n := 0
		for rows.Next() {
			n++
			var subject string
			var sealed []byte
			if err := rows.Scan(&after, &subject, &sealed); err != nil {
				rows.Close()
				return changed, err
			}
			sk, err := db.subjectKey(ctx, bot.SubjectID(subject))
			if err != nil {
				continue // key gone: unreadable
			}
			text, err := sk.openString("messages", "text", rowID(after), sealed)
			if err != nil {
				continue
			}
			if cmd, ok := bot.ParseCommand(text); ok && text != bot.CommandText(cmd) {
				fixes = append(fixes, fix{after, sk, bot.CommandText(cmd)})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return changed, err
		}
		if len(fixes) > 0 {
			err := db.tx(ctx, func(tx *sql.Tx) error {
				for _, f := range fixes {
					if _, err := tx.ExecContext(ctx, "UPDATE messages SET text = ? WHERE id = ?",
						f.sk.sealString("messages", "text", rowID(f.id), f.text), f.id); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return changed, err
			}
			changed += len(fixes)
		}
		if n < 500 {
			break
		}
	}
	if changed > 0 {
		if err := db.Checkpoint(ctx); err != nil {
			return changed, err
		}
	}
	return changed, nil
}
