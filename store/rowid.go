package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Row ids before the row.
//
// A sealed field names its row in its additional data (fieldAAD), so an
// INSERT needs the row's id before its ciphertext exists. The store takes
// the id itself, inside the writer's transaction, and inserts it
// explicitly: one above the largest id the table holds and, for an
// AUTOINCREMENT table, above the largest it ever held (sqlite_sequence),
// which is the id SQLite would pick. An explicit id above the sequence
// moves sqlite_sequence on, so ids are still never reused. No other insert
// comes between the read and the INSERT: only the writer connection
// writes, and every write transaction is BEGIN IMMEDIATE.
//
// identities has no AUTOINCREMENT: as with SQLite's own choice, the id of
// the newest identity can come back after it was deleted, which only an
// erasure does (its key destroyed with it), so no old ciphertext opens
// under the id again. Inserting first and sealing in an UPDATE after
// would write each row twice and need placeholders in NOT NULL columns.

// rowTables are the tables whose rows hold sealed fields bound to an
// integer id; the writer prepares the nextID query of each.
var rowTables = []string{"identities", "messages", "drafts", "decisions", "outbox", "media", "card_removals"}

// nextIDSQL is the query nextID runs for table.
func nextIDSQL(table string) string {
	return "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '" + table + "'), 0), " +
		"COALESCE((SELECT max(id) FROM " + table + "), 0)) + 1"
}

// nextID returns the id the next row of table (one of rowTables) takes;
// tx must be the writer's transaction the row is inserted in.
func (db *DB) nextID(ctx context.Context, tx *sql.Tx, table string) (int64, error) {
	w, err := db.writeStatements()
	if err != nil {
		return 0, err
	}
	st, ok := w.nextID[table]
	if !ok {
		return 0, fmt.Errorf("next %s id: not one of rowTables", table)
	}
	return scanNextID(tx.StmtContext(ctx, st).QueryRowContext(ctx), table)
}

func scanNextID(row *sql.Row, table string) (int64, error) {
	var id int64
	if err := row.Scan(&id); err != nil {
		return 0, fmt.Errorf("next %s id: %w", table, err)
	}
	return id, nil
}
